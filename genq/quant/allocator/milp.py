"""The allocator's integer program: choose one option per cell to minimise the fitted
loss (:mod:`genq.analysis.attribution.additive`) under a budget (:mod:`.budget`), solved
exactly by ``scipy.optimize.milp`` (HiGHS branch and bound). MixDQ (arXiv:2405.17873) and
ViDiT-Q (arXiv:2406.02540) also solve integer programs over per-layer bit widths; here the
variables are (layer group x timestep window, option) and the objective is a measured,
validated additive model of qFID (optionally with pairwise terms, linearised exactly by
z = q_c q_d, z >= q_c + q_d - 1, z <= q_c, z <= q_d)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Optional

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp

from genq.errors import GenqError
from genq.quant.allocator.budget import CostModel, check_kind


@dataclass
class Allocation:
    config: np.ndarray               # option index per cell
    predicted: float                 # fitted loss (intercept included)
    cost: float                      # the budget's quantity at this configuration


def predicted_loss(effects: np.ndarray, intercept: float, config: np.ndarray,
                   pairs: Optional[np.ndarray] = None) -> float:
    config = np.asarray(config)
    loss = intercept + effects[np.arange(len(config)), config].sum()
    if pairs is not None:
        q = (config > 0).astype(float)
        loss += float(q @ np.triu(pairs, 1) @ q)
    return float(loss)


def allocate(effects: np.ndarray, costs: CostModel, kind: str, value: float, intercept: float = 0.0,
             pairs: Optional[np.ndarray] = None, time_limit: float = 60.0) -> Allocation:
    """The configuration of least predicted loss whose ``kind`` is at most ``value``."""
    check_kind(kind)
    C, O = effects.shape
    G, K = len(costs.elements), costs.n_windows
    if C != G * K or costs.bits.shape[1] != O:
        raise GenqError(f"the fitted effects ({C} cells x {O} options) do not match the cost table "
                        f"({G} groups x {K} windows, {costs.bits.shape[1]} options).")
    n_x = C * O
    n_y = G * O if kind == "model_bytes" else 0
    pair_idx = list(itertools.combinations(range(C), 2)) if pairs is not None else []
    n = n_x + n_y + len(pair_idx)
    obj = np.zeros(n)
    obj[:n_x] = effects.reshape(-1)
    rows, lo, hi = [], [], []

    def add(row: np.ndarray, lb: float, ub: float) -> None:
        rows.append(row)
        lo.append(lb)
        hi.append(ub)

    for c in range(C):                                   # one option per cell
        r = np.zeros(n)
        r[c * O:(c + 1) * O] = 1
        add(r, 1, 1)
    upper = np.ones(n)
    if kind == "effective_w_bits":
        r = np.zeros(n)
        r[:n_x] = costs.cell_bits().reshape(-1)
        add(r, -np.inf, value * costs.total_elements - costs.other_weight_bits)
    elif kind == "latency_ms":
        cl = costs.cell_latency().reshape(-1)
        upper[:n_x][np.isnan(cl)] = 0                    # options the backend cannot run
        r = np.zeros(n)
        r[:n_x] = np.nan_to_num(cl)
        add(r, -np.inf, value - costs.base_latency())
    else:
        for g in range(G):
            for k in range(K):
                for o in range(O):                       # y[g, o] >= x[(g, k), o]
                    r = np.zeros(n)
                    r[n_x + g * O + o] = 1
                    r[((g * K + k) * O) + o] = -1
                    add(r, 0, np.inf)
        r = np.zeros(n)
        r[n_x:n_x + n_y] = costs.bits.reshape(-1) / 8
        add(r, -np.inf, value - costs.other_bytes - costs.other_weight_bits / 8)
    for j, (c, d) in enumerate(pair_idx):
        z = n_x + n_y + j
        obj[z] = pairs[c, d]
        qc, qd = np.zeros(n), np.zeros(n)
        qc[c * O + 1:(c + 1) * O] = 1
        qd[d * O + 1:(d + 1) * O] = 1
        e = np.zeros(n)
        e[z] = 1
        add(e - qc - qd, -1, np.inf)
        add(e - qc, -np.inf, 0)
        add(e - qd, -np.inf, 0)
    integrality = np.r_[np.ones(n_x + n_y), np.zeros(len(pair_idx))]
    res = milp(obj, constraints=LinearConstraint(np.array(rows), lo, hi), integrality=integrality,
               bounds=Bounds(0, upper), options={"time_limit": time_limit})
    if res.x is None:
        cheapest = _cheapest(costs, kind, C, O)
        raise GenqError(f"no configuration meets quant.budget {kind} <= {value:g} (the cheapest "
                        f"reachable is {cheapest:g}; solver: {res.message}); accepted: a larger "
                        "budget.value.")
    if res.status != 0:
        raise GenqError(f"the allocator's integer program did not finish ({res.message}); the "
                        "answer would not be proven optimal.")
    x = np.round(res.x[:n_x]).reshape(C, O)
    config = x.argmax(axis=1).astype(np.int64)
    return Allocation(config, predicted_loss(effects, intercept, config, pairs), costs.evaluate(kind, config))


def _cheapest(costs: CostModel, kind: str, C: int, O: int) -> float:
    if kind == "latency_ms":
        cl = costs.cell_latency()
        return costs.latency_ms(np.where(np.isnan(cl), np.inf, cl).argmin(axis=1))
    if kind == "effective_w_bits":
        return costs.effective_w_bits(costs.cell_bits().argmin(axis=1))
    return costs.model_bytes(np.repeat(costs.bits.argmin(axis=1), costs.n_windows))


def brute_force(effects: np.ndarray, costs: CostModel, kind: str, value: float, intercept: float = 0.0,
                pairs: Optional[np.ndarray] = None) -> Optional[Allocation]:
    """The same optimum by enumerating every configuration (small grids: a reference)."""
    C, O = effects.shape
    best: Optional[Allocation] = None
    for combo in itertools.product(range(O), repeat=C):
        config = np.array(combo, dtype=np.int64)
        cost = costs.evaluate(kind, config)
        if not cost <= value + 1e-9:                     # NaN: an option without a latency
            continue
        loss = predicted_loss(effects, intercept, config, pairs)
        if best is None or loss < best.predicted - 1e-12:
            best = Allocation(config, loss, cost)
    return best
