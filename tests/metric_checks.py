"""Assertions on metric values that a NaN cannot pass.

``x <= bound`` is False for NaN, but ``not x > bound``, ``abs(x - y) < tol`` in a negated
form, or a plain ``isinstance(x, float)`` are True for it: a metric that became NaN would
slip through such checks. Tests that assert on a record's numbers call these first.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any


def finite_numbers(values: Mapping[str, Any], prefix: str = "") -> dict[str, float]:
    """Every int/float leaf (bools excluded) of a nested mapping, by dotted key."""
    out: dict[str, float] = {}
    for key, value in values.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(finite_numbers(value, f"{name}."))
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            out[name] = value
    return out


def assert_finite(value: Any, what: str = "value") -> float:
    """``value`` is a real number (int or float, not bool) and finite; returned as float."""
    assert isinstance(value, (int, float)) and not isinstance(value, bool), f"{what}={value!r} is not a number"
    assert math.isfinite(value), f"{what}={value!r} is not finite"
    return float(value)


def assert_finite_metrics(record: Mapping[str, Any], required: Iterable[str] = ()) -> dict[str, float]:
    """A run record's (or a bare metrics dict's) numeric metrics are all finite, and each of
    ``required`` is present and numeric. Returns the numeric metrics."""
    metrics = record.get("metrics", record) if isinstance(record, Mapping) else record
    for key in required:
        assert key in metrics, f"metric {key!r} missing; got {sorted(metrics)}"
        assert_finite(metrics[key], f"metrics.{key}")
    numbers = finite_numbers(metrics)
    bad = {k: v for k, v in numbers.items() if not math.isfinite(v)}
    assert not bad, f"non-finite metrics: {bad}"
    return numbers
