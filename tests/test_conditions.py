"""Threshold conditions (`< 0.001`, `>= 1000`) and Prometheus's sample values, at their edges."""

from __future__ import annotations

import math

import pytest

from cockpit.conditions import Condition, parse_sample_value


@pytest.mark.parametrize(
    ("text", "value", "holds"),
    [
        ("< 1", 0.999, True),
        ("< 1", 1.0, False),
        ("<= 1", 1.0, True),
        ("<= 1", 1.001, False),
        ("> 1", 1.0, False),
        ("> 1", 1.001, True),
        (">= 1", 1.0, True),
        (">= 1", 0.999, False),
        ("== 2", 2.0, True),
        ("== 2", 2.5, False),
        ("!= 2", 2.5, True),
        ("!= 2", 2.0, False),
        ("< 0.001", math.inf, False),
        ("> 5", math.inf, True),
        ("> -5", -math.inf, False),
    ],
)
def test_each_operator_at_its_boundary(text, value, holds):
    assert Condition.parse(text).holds(value) is holds


def test_nan_is_no_data_whatever_the_operator():
    for op in ("<", "<=", ">", ">=", "==", "!="):
        assert Condition.parse(f"{op} 1").holds(math.nan) is None


@pytest.mark.parametrize(
    ("text", "op", "threshold"),
    [
        ("<0.5", "<", 0.5),
        ("  >=  1000  ", ">=", 1000.0),
        ("< .5", "<", 0.5),
        ("> -2", ">", -2.0),
        ("> +2", ">", 2.0),
        ("<= 1e-3", "<=", 0.001),
        ("== 5.", "==", 5.0),
        ("!= 2E3", "!=", 2000.0),
    ],
)
def test_conditions_parse_with_any_spacing_and_number_form(text, op, threshold):
    parsed = Condition.parse(text)
    assert (parsed.op, parsed.threshold) == (op, threshold)


@pytest.mark.parametrize("text", ["", "1", "< ", "=< 1", "<< 1", "< 1 2", "< one", "≤ 1", "x< 1"])
def test_anything_else_is_refused_with_an_example(text):
    with pytest.raises(ValueError, match=r"is not a condition; write an operator and a number"):
        Condition.parse(text)
    with pytest.raises(ValueError, match=r"e\.g\. '< 0\.001'"):
        Condition.parse(text)


def test_a_condition_reads_as_it_was_written():
    assert str(Condition.parse("<0.0010")) == "< 0.001"
    assert str(Condition.parse(">= 1000")) == ">= 1000"


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        ("0.5", 0.5),
        (" 2 ", 2.0),
        (3, 3.0),
        (1.5, 1.5),
        ("+Inf", math.inf),
        ("inf", math.inf),
        ("INF", math.inf),
        ("-Inf", -math.inf),
        (" -inf ", -math.inf),
    ],
)
def test_prometheus_sample_values(raw, value):
    parsed = parse_sample_value(raw)
    assert parsed == value and isinstance(parsed, float)


def test_nan_and_garbage_sample_values():
    assert math.isnan(parse_sample_value("NaN"))
    with pytest.raises(ValueError):
        parse_sample_value("fast")
