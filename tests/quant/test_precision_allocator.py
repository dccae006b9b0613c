"""The allocator's integer program (scipy.optimize.milp) returns the brute-force optimum on
small random instances, respects the budget, and refuses an unreachable one."""

from __future__ import annotations

import numpy as np
import pytest

from genq.errors import GenqError
from genq.quant.allocator import CostModel, allocate, brute_force


def instance(seed: int, groups: int = 3, windows: int = 2, options: int = 3):
    rng = np.random.default_rng(seed)
    elements = rng.integers(100, 5000, size=groups).astype(float)
    per_element = np.array([32.0] + sorted(rng.uniform(3, 9, size=options - 1), reverse=True))
    bits = elements[:, None] * per_element[None, :]
    costs = CostModel(bits, elements, other_weight_bits=32.0 * 50, other_weight_elements=50,
                      other_bytes=400.0, window_steps=list(rng.integers(1, 6, size=windows)))
    effects = np.zeros((groups * windows, options))
    effects[:, 1:] = rng.exponential(1.0, size=(groups * windows, options - 1))
    pairs = np.triu(rng.normal(0, 0.5, size=(groups * windows,) * 2), 1)
    return effects, costs, pairs


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("kind", ["effective_w_bits", "model_bytes"])
@pytest.mark.parametrize("with_pairs", [False, True])
def test_milp_is_the_brute_force_optimum_within_budget(seed, kind, with_pairs):
    effects, costs, pairs = instance(seed)
    pairs = pairs if with_pairs else None
    C = effects.shape[0]
    lo = costs.evaluate(kind, np.full(C, effects.shape[1] - 1))       # roughly the cheapest
    hi = costs.evaluate(kind, np.zeros(C, dtype=int))                 # all FP
    for value in np.linspace(lo, hi, 4)[1:-1]:
        got = allocate(effects, costs, kind, value, intercept=0.5, pairs=pairs)
        ref = brute_force(effects, costs, kind, value, intercept=0.5, pairs=pairs)
        assert got.cost <= value + 1e-6 and got.cost == pytest.approx(costs.evaluate(kind, got.config))
        assert got.predicted == pytest.approx(ref.predicted, abs=1e-7)


def test_effective_bits_are_step_weighted_and_storage_counts_each_precision_once():
    bits = np.array([[320.0, 80.0, 40.0]])                # one group of 10 weights: fp, w8, w4
    costs = CostModel(bits, np.array([10.0]), 0.0, 0, 0.0, window_steps=[1, 3])
    assert costs.effective_w_bits(np.array([0, 2])) == pytest.approx((32 * 1 + 4 * 3) / 4)
    assert costs.model_bytes(np.array([0, 2])) == pytest.approx((320 + 40) / 8)
    assert costs.model_bytes(np.array([2, 2])) == pytest.approx(40 / 8)


def test_an_unreachable_budget_says_what_is_reachable():
    effects, costs, _ = instance(0)
    with pytest.raises(GenqError, match="cheapest reachable"):
        allocate(effects, costs, "effective_w_bits", 1.0)
    with pytest.raises(GenqError, match="latency_ms needs the attribution's measured latency table"):
        allocate(effects, costs, "latency_ms", 1.0)


def _with_latency(seed: int, costs: CostModel, options: int = 3) -> CostModel:
    """A measured-looking latency table: option 1 faster than FP, option 2 (a format with
    no kernel) absent from the table."""
    rng = np.random.default_rng(seed)
    groups = len(costs.elements)
    delta = [[0.0, -float(rng.uniform(0.5, 3.0)), None] for _ in range(groups)]
    costs.latency = {"base_ms": 10.0, "delta_ms": delta}
    return costs


@pytest.mark.parametrize("seed", range(6))
def test_a_latency_budget_is_met_exactly_and_never_picks_an_option_without_a_kernel(seed):
    effects, costs, _ = instance(seed)
    costs = _with_latency(seed, costs)
    C = effects.shape[0]
    fp_ms = costs.latency_ms(np.zeros(C, dtype=int))
    assert fp_ms == pytest.approx(10.0 * sum(costs.window_steps))
    fastest = costs.latency_ms(np.ones(C, dtype=int))
    for value in np.linspace(fastest, fp_ms, 4)[:-1]:
        got = allocate(effects, costs, "latency_ms", value)
        ref = brute_force(effects, costs, "latency_ms", value)
        assert 2 not in got.config.tolist()
        assert got.cost <= value + 1e-6 and got.predicted == pytest.approx(ref.predicted, abs=1e-7)
    with pytest.raises(GenqError, match=f"cheapest reachable is {fastest:g}"):
        allocate(effects, costs, "latency_ms", fastest - 1.0)


def test_a_latency_table_that_failed_its_additivity_check_is_refused():
    effects, costs, _ = instance(0)
    costs = _with_latency(0, costs)
    costs.latency["check"] = {"max_rel_error": 0.58}
    with pytest.raises(GenqError, match="not additive.*up to 58%.*at most 25%"):
        allocate(effects, costs, "latency_ms", 100.0)
