"""Unit tests of gates.py, one rule at a time, each at its boundary.

Every threshold is tested on both sides and exactly on it: a gate that is off by one lets a
bad release through (or stops a good one) without any other test noticing.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest

from cockpit.analysis import ReleaseRun, RollbackTarget, RunStatus
from cockpit.config import MetricConfig
from cockpit.gates import (
    MAX_MEASUREMENTS,
    MetricState,
    Point,
    RolloutFact,
    VerdictInputs,
    classify,
    display_of,
    duration_text,
    evaluate,
    grid_ceil,
    grid_floor,
    measurements_of,
    stale_after_seconds,
    threshold_text,
    verdict,
)

T0 = datetime(2026, 12, 1, 12, 0, 0, tzinfo=UTC)  # on every step grid used here


def metric(**kw: object) -> MetricConfig:
    values: dict[str, object] = {"name": "p95", "query": "q", "fail": 100.0, "step": "30s"}
    values.update(kw)
    return MetricConfig(**values)  # type: ignore[arg-type]


def series(values: list[float], start: datetime = T0, step: int = 30) -> list[Point]:
    return [Point(start + timedelta(seconds=i * step), v) for i, v in enumerate(values)]


def judge(m: MetricConfig, values: list[float], **kw: object) -> MetricState:
    """Evaluate `values` (one per step from T0) as seen right after the newest point."""
    pts = series(values)
    last = pts[-1].at if pts else T0 + timedelta(minutes=5)
    options: dict[str, object] = {"started": T0, "fetched_at": last, "last_ok": last}
    options.update(kw)
    return evaluate(m, m.query, pts, **options)  # type: ignore[arg-type]


# --- one measurement ------------------------------------------------------------------------


def test_an_upper_bound_fails_at_the_threshold_and_passes_just_below_it():
    m = metric(fail=100.0)
    assert classify(m, 100.0) == "Failed"
    assert classify(m, 99.99) == "Successful"
    assert classify(m, 100.01) == "Failed"


def test_a_lower_bound_passes_at_the_threshold_and_fails_just_below_it():
    m = metric(direction="lower", fail=10.0)
    assert classify(m, 10.0) == "Successful"
    assert classify(m, 9.99) == "Failed"
    assert classify(m, 10.01) == "Successful"


def test_nan_is_no_data_never_a_pass_or_a_failure():
    assert classify(metric(), math.nan) == "NoData"
    assert classify(metric(direction="lower"), math.nan) == "NoData"


def test_a_metric_without_a_fail_threshold_never_fails():
    assert classify(metric(fail=None, gate=False), 1e12) == "Successful"


def test_display_tells_breach_from_warn_from_ok_at_each_threshold():
    m = metric(warn=50.0, fail=100.0)
    assert display_of(m, 100.0) == "breach"
    assert display_of(m, 99.0) == "warn"
    assert display_of(m, 50.0) == "warn"
    assert display_of(m, 49.0) == "ok"
    assert display_of(m, None) == "no data"
    assert display_of(m, math.nan) == "no data"
    low = metric(direction="lower", warn=20.0, fail=10.0)
    assert display_of(low, 9.0) == "breach"
    assert display_of(low, 10.0) == "warn"
    assert display_of(low, 19.0) == "warn"
    assert display_of(low, 20.0) == "ok"


def test_threshold_text_names_both_limits_with_the_sign_of_the_direction():
    assert threshold_text(metric(warn=50.0, fail=100.0, unit="ms")) == (
        "warns at 50 ms or above, fails at 100 ms or above"
    )
    low = metric(direction="lower", warn=20.0, fail=10.0, unit="%")
    assert threshold_text(low) == "warns below 20 %, fails below 10 %"
    assert threshold_text(metric(fail=None, gate=False)) == "no threshold"
    assert threshold_text(metric(fail=None, gate=False, warn=1.5)) == "warns at 1.5 or above"


def test_stale_after_defaults_to_three_steps_but_at_least_two_minutes():
    assert stale_after_seconds(metric(step="30s")) == 120.0
    assert stale_after_seconds(metric(step="40s")) == 120.0
    assert stale_after_seconds(metric(step="41s")) == 123.0
    assert stale_after_seconds(metric(step="1m")) == 180.0
    assert stale_after_seconds(metric(step="1m", stale_after="30s")) == 30.0


# --- the step grid --------------------------------------------------------------------------


def test_grid_floor_and_ceil_stay_on_a_grid_point_and_move_off_it():
    on = T0
    off = T0 + timedelta(seconds=1)
    assert grid_floor(on, 30) == on
    assert grid_floor(off, 30) == on
    assert grid_floor(T0 + timedelta(seconds=29), 30) == on
    assert grid_floor(T0 + timedelta(seconds=30), 30) == T0 + timedelta(seconds=30)
    assert grid_ceil(on, 30) == on
    assert grid_ceil(off, 30) == T0 + timedelta(seconds=30)
    assert grid_floor(off, 0.5) == off  # a step under a second is one second
    assert grid_ceil(T0 + timedelta(milliseconds=500), 0.5) == T0 + timedelta(seconds=1)
    assert grid_floor(off, 30).tzinfo is UTC


def test_one_measurement_per_step_between_the_grid_points_inclusive():
    m = metric()
    pts = series([1, 2, 3, 4, 5])
    found = measurements_of(m, pts, since=T0, until=T0 + timedelta(seconds=120))
    assert [x.value for x in found] == [1, 2, 3, 4, 5]
    assert [x.at for x in found] == [p.at for p in pts]
    # off-grid bounds: the first step at or after `since`, the last at or before `until`
    inner = measurements_of(
        m, pts, since=T0 + timedelta(seconds=1), until=T0 + timedelta(seconds=119)
    )
    assert [x.value for x in inner] == [2, 3, 4]


def test_a_point_off_the_grid_counts_for_its_step():
    m = metric()
    pts = [Point(T0 + timedelta(seconds=31), 7.0)]
    found = measurements_of(m, pts, since=T0, until=T0 + timedelta(seconds=30))
    assert [(x.at, x.value) for x in found][1] == (T0 + timedelta(seconds=30), 7.0)
    assert math.isnan(found[0].value) and found[0].outcome == "NoData"


def test_measurements_are_capped_at_the_newest_max_measurements():
    m = metric(step="1s")
    until = T0 + timedelta(seconds=MAX_MEASUREMENTS + 50)
    found = measurements_of(m, [], since=T0, until=until)
    assert len(found) == MAX_MEASUREMENTS + 1
    assert found[-1].at == until
    exact = measurements_of(m, [], since=T0, until=T0 + timedelta(seconds=MAX_MEASUREMENTS))
    assert len(exact) == MAX_MEASUREMENTS + 1 and exact[0].at == T0


# --- a metric's phase -----------------------------------------------------------------------


def test_failure_limit_zero_fails_on_the_first_failure():
    state = judge(metric(failure_limit=0), [50, 50, 100])
    assert state.phase == "Failed"
    assert state.reason == (
        "1 failed measurement(s) (limit 0); latest failure 100 at 12:01:00; fails at 100 or above"
    )


def test_failure_limit_is_the_number_of_failures_tolerated():
    m = metric(failure_limit=2, min_samples=1)
    assert judge(m, [50, 100, 50, 100, 50]).phase == "Successful"  # 2: tolerated
    assert judge(m, [100, 50, 100, 50, 100]).phase == "Failed"  # 3: one too many
    running = judge(metric(failure_limit=2, min_samples=5), [50, 100, 50])
    assert running.phase == "Running"
    assert running.reason == (
        "2 of 5 healthy measurements so far, 1 failed (limit 2); latest 50.0; fails at 100 or above"
    )


def test_the_latest_failure_is_named_not_the_first():
    state = judge(metric(unit="ms"), [150, 50, 120, 50])
    assert "2 failed measurement(s)" in state.reason
    assert "latest failure 120 ms at 12:01:00" in state.reason


def test_a_failed_metric_shows_breach_even_when_the_newest_value_is_fine():
    assert judge(metric(), [500, 50, 50]).display == "breach"
    assert judge(metric(warn=40.0), [500, 50, 50]).display == "warn"


def test_min_samples_counts_healthy_measurements_only():
    m = metric(min_samples=3)
    two = judge(m, [50, 50])
    assert two.phase == "Running"
    assert two.reason == "2 of 3 healthy measurements so far; latest 50.0; fails at 100 or above"
    three = judge(m, [50, 50, 50])
    assert three.phase == "Successful"
    assert three.reason == "3 measurements passed (fails at 100 or above); latest 50.0"
    # a tolerated failure is not a sample towards passing
    assert judge(metric(min_samples=3, failure_limit=1), [50, 100, 50]).phase == "Running"


def test_min_samples_one_passes_on_one_measurement():
    assert judge(metric(min_samples=1), [50]).phase == "Successful"


def test_no_data_fail_counts_each_empty_step_as_a_failure():
    m = metric(no_data="fail", failure_limit=1, min_samples=1)
    assert judge(m, [50, math.nan, 50]).phase == "Successful"  # one: tolerated
    state = judge(m, [math.nan, 50, math.nan, 50])
    assert state.phase == "Failed"
    assert "latest failure no data at 12:01:00" in state.reason
    # failures are ordered by time, whichever kind they are
    mixed = judge(metric(no_data="fail", min_samples=1), [math.nan, 150, 50])
    assert "latest failure 150 at 12:00:30" in mixed.reason


def test_no_data_inconclusive_and_pass_judge_only_the_newest_measurement():
    values = [50, 50, 50, math.nan]
    pending = judge(metric(no_data="inconclusive"), values)
    assert pending.phase == "Inconclusive" and pending.display == "no data"
    assert "a human decides" in pending.reason
    passing = judge(metric(no_data="pass"), values)
    assert passing.phase == "Successful" and passing.display == "no data"
    assert passing.reason == "no data, and no_data = pass"
    # no_data = pass never hides a failure
    assert judge(metric(no_data="pass"), [150, 50, math.nan]).phase == "Failed"


def test_no_data_ignored_by_default_is_not_a_failure():
    assert judge(metric(min_samples=1), [math.nan, 50]).phase == "Successful"


def test_an_empty_answer_is_no_data_for_each_step_of_the_run():
    later = T0 + timedelta(minutes=1)
    state = judge(metric(no_data="fail"), [], fetched_at=later, last_ok=later)
    assert state.phase == "Failed"
    assert state.reason.startswith("3 failed measurement(s)")  # 12:00:00, :30 and 12:01:00


def test_consecutive_errors_stale_until_the_limit_then_error():
    m = metric(consecutive_error_limit=2)
    stale = judge(m, [50, 50, 50], consecutive_errors=1, last_error="timeout")
    assert stale.phase == "Stale" and stale.display == "stale" and stale.stale
    assert stale.reason == "cannot see it: the last query failed: timeout"
    error = judge(m, [50, 50, 50], consecutive_errors=2, last_error="timeout")
    assert error.phase == "Error" and error.display == "error"
    assert error.reason == "2 queries in a row failed: timeout"


def test_a_failure_stands_while_the_query_fails():
    state = judge(metric(), [500, 50], consecutive_errors=1, last_error="boom")
    assert state.phase == "Failed"


def test_nothing_fetched_yet_is_pending():
    state = evaluate(metric(), "q", [], started=T0)
    assert state.phase == "Pending" and state.reason == "no measurement yet"
    assert not state.stale
    fetched_only = evaluate(metric(), "q", [], started=T0, fetched_at=T0)
    assert fetched_only.phase == "Pending"
    ok_only = evaluate(metric(), "q", series([50]), started=T0, last_ok=T0)
    assert ok_only.phase == "Pending"


def test_the_newest_point_just_over_the_staleness_limit_is_stale():
    m = metric(stale_after="2m", min_samples=1)
    pts = series([50, 50])
    exactly = pts[-1].at + timedelta(minutes=2)
    at_limit = evaluate(m, "q", pts, started=T0, fetched_at=exactly, last_ok=exactly)
    assert at_limit.phase == "Inconclusive"  # not stale: the steps since then are no data
    over = exactly + timedelta(seconds=1)
    state = evaluate(m, "q", pts, started=T0, fetched_at=over, last_ok=over)
    assert state.phase == "Stale"
    assert state.reason == (
        "cannot see it: newest point is 121s old at 12:00:30 (stale_after 120s)"
    )


def test_initial_delay_pending_until_it_ends_and_measures_only_after_it():
    m = metric(initial_delay="1m", min_samples=1)
    before = T0 + timedelta(seconds=59)
    early = judge(m, [500, 500], fetched_at=before, last_ok=before)
    assert early.phase == "Pending" and early.measurements == ()
    assert early.reason == "initial_delay 1m: measuring starts at 12:01:00"
    at_end = judge(m, [500, 500, 50])
    assert at_end.phase == "Successful"
    assert [x.at for x in at_end.measurements] == [T0 + timedelta(minutes=1)]


def test_between_the_end_of_the_delay_and_its_first_step_the_gate_waits():
    """A delay that ends off the step grid (started 12:00:00, delay 45s, step 30s): from
    12:00:45 until the 12:01:00 step nothing is measured yet, which is no "no data"."""
    m = metric(initial_delay="45s", min_samples=1)
    for seconds in (45, 59):
        moment = T0 + timedelta(seconds=seconds)
        waiting = judge(m, [500, 500], fetched_at=moment, last_ok=moment)
        assert waiting.phase == "Pending" and waiting.display != "no data", waiting.reason
        assert waiting.reason == "the first measurement is at 12:01:00"
    at_step = judge(m, [500, 500, 50])  # seen at 12:01:00 exactly: measured
    assert at_step.phase == "Successful"
    assert [x.at for x in at_step.measurements] == [T0 + timedelta(minutes=1)]


def test_without_a_run_measurements_start_at_the_first_point():
    state = judge(metric(min_samples=2), [50, 50], started=None)
    assert state.phase == "Successful" and len(state.measurements) == 2


def test_partial_answers_cannot_pass_but_a_failure_in_them_stands():
    warned = judge(metric(min_samples=1), [50, 50], warnings=("store down",))
    assert warned.phase == "Inconclusive" and warned.display == "warn"
    assert warned.reason.startswith("Prometheus warned the answer may be partial: store down")
    assert judge(metric(), [500, 50], warnings=("store down",)).phase == "Failed"


def test_the_sparkline_keeps_the_window_and_current_is_the_newest_value():
    m = metric(window="1m", min_samples=1)
    state = judge(m, [10, 20, 30, 40, math.nan])
    assert [p.value for p in state.points][:2] == [30, 40]  # 12:01:00 on: the last minute
    assert len(state.points) == 3
    assert state.current == 40
    assert MetricState(metric=m, query="q").current is None


def test_the_state_carries_what_the_pane_shows_with_it():
    state = judge(metric(), [50], warnings=("w",), details=("alert A",), last_error="e")
    assert state.query == "q" and state.run_started == T0
    assert state.details == ("alert A",) and state.warnings == ("w",)
    assert state.last_error == "e" and state.last_ok == state.fetched_at


# --- the verdict ----------------------------------------------------------------------------


def ok() -> MetricState:
    return judge(metric(min_samples=1), [50])


def test_everything_passing_is_go():
    result = verdict(VerdictInputs(metrics=(ok(),)))
    assert result.state == "GO" and result.reasons == ()
    assert str(result) == "GO"


def test_a_failed_gate_is_no_go_and_names_the_gate():
    failed = judge(metric(), [500])
    result = verdict(VerdictInputs(metrics=(ok(), failed)))
    assert result.state == "NO-GO"
    assert result.reasons == (f"gate p95 failed: {failed.reason}",)
    assert result.failure == result.reasons[0]
    assert not result.rollback_recommended  # nowhere to go: no run


def test_a_metric_that_is_not_a_gate_never_decides():
    failed = judge(metric(gate=False), [500])
    assert verdict(VerdictInputs(metrics=(failed,))).state == "GO"


def test_each_phase_lands_where_it_belongs():
    error = judge(metric(consecutive_error_limit=1), [50], consecutive_errors=1, last_error="x")
    stale = judge(metric(), [50], consecutive_errors=1, last_error="x")
    running = judge(metric(min_samples=5), [50])
    e = verdict(VerdictInputs(metrics=(error,)))
    assert e.state == "NO-GO" and e.reasons[0].startswith("cannot see metric p95: ")
    assert e.failure is None
    s = verdict(VerdictInputs(metrics=(stale,)))
    assert s.state == "PENDING" and s.reasons[0].startswith("cannot see metric p95: ")
    r = verdict(VerdictInputs(metrics=(running,)))
    assert r.state == "PENDING" and r.reasons[0].startswith("gate p95 running: 1 of 5")


def test_rollouts_fail_or_wait():
    failing = RolloutFact("web", complete=False, failing=True, message="CrashLoopBackOff")
    rolling = RolloutFact("api", complete=False, failing=False, message="1 of 3 updated")
    done = RolloutFact("db", complete=True, failing=False, message="done")
    assert verdict(VerdictInputs(rollouts=(done,))).state == "GO"
    waiting = verdict(VerdictInputs(rollouts=(rolling, done)))
    assert waiting.state == "PENDING" and waiting.reasons == ("rollout api: 1 of 3 updated",)
    no_go = verdict(VerdictInputs(rollouts=(failing, rolling)))
    assert no_go.state == "NO-GO" and no_go.reasons == ("rollout web: CrashLoopBackOff",)


def test_failed_items_unseen_clusters_and_the_error_tracker():
    item = verdict(VerdictInputs(failed_items=("Backup taken",)))
    assert item.state == "NO-GO" and item.reasons == ("checklist item failed: Backup taken",)
    assert item.failure is None  # the release did not fail: nothing to roll back
    unseen = verdict(VerdictInputs(unseen_clusters=("eu: HTTP 401",)))
    assert unseen.state == "PENDING" and unseen.reasons == ("eu: HTTP 401",)
    expected = {
        "spike": ("NO-GO", "errors spike: why"),
        "new": ("NO-GO", "errors: why"),
        "error": ("NO-GO", "cannot see the error tracker: why"),
        "unknown": ("PENDING", "errors: why"),
        "stale": ("PENDING", "errors: why"),
        "ok": ("GO", None),
    }
    for state, (want, reason) in expected.items():
        result = verdict(VerdictInputs(errors=state, errors_reason="why"))  # type: ignore[arg-type]
        assert result.state == want, state
        assert result.reasons == ((reason,) if reason else ()), state
    assert verdict(VerdictInputs(errors="spike", errors_reason="x")).failure == "errors spike: x"


def run_of(**kw: object) -> ReleaseRun:
    values: dict[str, object] = {"id": "r1", "kind": "release", "started": T0, "workloads": ()}
    values.update(kw)
    return ReleaseRun(**values)  # type: ignore[arg-type]


TARGET = RollbackTarget("prod", "web", 1, ("web:1.9",), "run r0 passed")


def test_a_release_failure_with_a_target_recommends_the_rollback():
    status = RunStatus(run_of(), bake_remaining=0.0, targets=(TARGET,))
    result = verdict(VerdictInputs(metrics=(judge(metric(), [500]),), run=status))
    assert result.state == "NO-GO" and result.rollback_recommended
    assert result.targets == (TARGET,) and result.run_id == "r1"


def test_a_run_failed_before_stays_no_go_and_says_so():
    failed_at = T0 + timedelta(minutes=3)
    run = run_of(failed="gate p95 failed", failed_at=failed_at)
    result = verdict(VerdictInputs(metrics=(ok(),), run=RunStatus(run, 0.0, (TARGET,))))
    assert result.state == "NO-GO"
    assert result.reasons == (
        "release analysis failed at 12:03:00, until a newer revision: gate p95 failed",
    )
    assert result.failure is None  # already recorded
    assert result.rollback_recommended
    # with a failure now too, the reason is not said twice
    again = verdict(
        VerdictInputs(metrics=(judge(metric(), [500]),), run=RunStatus(run, 0.0, (TARGET,)))
    )
    assert again.reasons[0] == "release analysis failed at 12:03:00, until a newer revision"
    assert len(again.reasons) == 2


def test_a_failure_with_nowhere_to_roll_back_says_why():
    status = RunStatus(run_of(), 0.0, (), no_target="no earlier revision passed")
    result = verdict(
        VerdictInputs(metrics=(judge(metric(), [500]),), failed_items=("x",), run=status)
    )
    assert not result.rollback_recommended
    assert result.reasons[-2:] == (
        "checklist item failed: x",
        "no rollback target: no earlier revision passed",
    )


def test_baking_is_pending_until_the_bake_time_is_over():
    run = run_of(workloads=())
    baking = verdict(VerdictInputs(metrics=(ok(),), run=RunStatus(run, 61.5)))
    assert baking.state == "PENDING" and baking.bake_remaining == 61.5
    assert baking.reasons == (f"baking {run.label}: 1m02s left",)
    assert baking.judging == run.label
    assert verdict(VerdictInputs(metrics=(ok(),), run=RunStatus(run, 0.0))).state == "GO"


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (0.2, "1s"),
        (1, "1s"),
        (59, "59s"),
        (59.5, "1m00s"),
        (60, "1m00s"),
        (61, "1m01s"),
        (-3, "0s"),
        (600, "10m00s"),
    ],
)
def test_duration_text_rounds_up_to_whole_seconds(seconds, text):
    assert duration_text(seconds) == text


def test_a_verdict_reads_as_its_state_and_every_reason():
    result = verdict(VerdictInputs(failed_items=("a", "b")))
    assert str(result) == "NO-GO: checklist item failed: a; checklist item failed: b"


# --- values and limits as the operator reads them ----------------------------------------------


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (math.nan, "NaN"),
        (math.inf, "∞"),
        (-math.inf, "-∞"),
        (0.0, "0"),
        (0.0009, "0.0009"),
        (0.001, "0.001"),
        (0.5, "0.500"),
        (1.0, "1.00"),
        (45.2853, "45.3"),
        (-45.3, "-45.3"),
        (99.96, "100"),
        (308.0, "308"),
        (999.4, "999"),
        (999.5, "1.00k"),  # exactly where a fourth digit would show: a k instead
        (2345.0, "2.35k"),
        (999_499.0, "999k"),
        (999_500.0, "1.00M"),
        (2_345_000.0, "2.35M"),
    ],
)
def test_a_value_is_shown_with_three_significant_digits(value, shown):
    from cockpit.gates import format_value

    assert format_value(value) == shown
    assert format_value(value, "ms") == f"{shown} ms"


def test_the_fail_limit_in_words_keeps_its_unit():
    from cockpit.gates import fail_words

    assert fail_words(metric(fail=100.0, unit="ms")) == "fails at 100 ms or above"
    assert fail_words(metric(fail=0.5, direction="lower", unit="req/s")) == "fails below 0.5 req/s"
    assert fail_words(metric(fail=None, warn=80.0, gate=False)) == "no fail limit"


def test_a_metric_not_yet_measured_or_stale_is_shown_as_such():
    never = evaluate(metric(), "q", [], started=T0)
    assert (never.phase, never.display, never.reason) == (
        "Pending",
        "pending",
        "no measurement yet",
    )
    old = judge(metric(), [50.0, 50.0], last_ok=T0 + timedelta(minutes=30))
    assert (old.phase, old.display) == ("Stale", "stale")
    assert old.reason.startswith("cannot see it: newest point is 1770s old at 12:00:30 ")


def test_a_spec_its_controller_has_not_observed_yet_is_judged_by_no_one():
    """`kubectl rollout undo` accepted, its controller not there yet: the failing pods are
    the revision being replaced, so no NO-GO (nor GO) until the new spec is observed."""
    crashing = RolloutFact("c/web", complete=False, failing=True, message="CrashLoopBackOff")
    assert verdict(VerdictInputs(rollouts=(crashing,))).state == "NO-GO"
    replaced = RolloutFact(
        "c/web", complete=False, failing=True, message="CrashLoopBackOff", unobserved=True
    )
    waiting = verdict(VerdictInputs(rollouts=(replaced,)))
    assert waiting.state == "PENDING" and not waiting.rollback_recommended
    assert waiting.reasons[0] == (
        "rollout c/web: its new spec is not observed by its controller yet "
        "(the revision to judge is not known)"
    )


def test_every_verdict_names_the_run_it_judges():
    """GO, NO-GO and PENDING alike carry the run (label and id): the audit log and `gate
    --wait` tie each verdict to the revision it is about."""
    from cockpit.gates import RolloutFact

    run = run_of()
    status = RunStatus(run, 0.0)
    cases = {
        "GO": VerdictInputs(metrics=(ok(),), run=status),
        "NO-GO": VerdictInputs(metrics=(ok(),), failed_items=("x",), run=status),
        "PENDING": VerdictInputs(
            rollouts=(RolloutFact("web", False, False, "", unobserved=True),), run=status
        ),
    }
    for state, inputs in cases.items():
        result = verdict(inputs)
        assert (result.state, result.judging, result.run_id) == (state, run.label, "r1")


def test_a_run_failed_without_a_recorded_time_says_so_without_one():
    run = run_of(failed="gate p95 failed")
    result = verdict(VerdictInputs(metrics=(ok(),), run=RunStatus(run, 0.0, (TARGET,))))
    assert result.reasons == ("release analysis failed, until a newer revision: gate p95 failed",)


def test_a_metric_shown_but_not_gated_hides_no_gate_after_it():
    shown = judge(metric(name="rps", gate=False), [500])
    gated = judge(metric(), [500])
    result = verdict(VerdictInputs(metrics=(shown, gated)))
    assert result.state == "NO-GO"
    assert [r.split(":")[0] for r in result.reasons] == ["gate p95 failed"]
