"""The production confirmation rule (cockpit/confirmation.py), shared by the CLI and the TUI."""

from __future__ import annotations

from cockpit.confirmation import TypedConfirmation


def test_production_needs_the_name_exactly():
    rule = TypedConfirmation.of(True, "web")
    assert rule.required
    assert rule.accepts("web")
    for wrong in ("", "we", "webb", "Web", "WEB", "w eb", "web1"):
        assert not rule.accepts(wrong), wrong


def test_surrounding_spaces_and_a_pasted_newline_do_not_count():
    rule = TypedConfirmation.of(True, "web")
    assert rule.accepts("  web ")
    assert rule.accepts("web\n")
    assert not rule.accepts("w eb")


def test_outside_production_nothing_is_typed():
    rule = TypedConfirmation.of(False, "web")
    assert not rule.required
    assert rule.word is None
    assert rule.accepts("") and rule.accepts("anything")
    assert rule.refusal("anything") == ""


def test_the_refusal_names_what_was_typed_and_what_is_wanted():
    rule = TypedConfirmation.of(True, "t1")
    assert rule.refusal("") == "nothing typed; type 't1' exactly"
    assert rule.refusal("   ") == "nothing typed; type 't1' exactly"
    assert rule.refusal(" t ") == "you typed 't'; type 't1' exactly"
    assert rule.refusal("t1") == ""
