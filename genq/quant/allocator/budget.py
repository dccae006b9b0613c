"""What a configuration of cells costs, as linear functions of its one-hot (cell, option)
indicators, for the allocator's integer program.

Kinds (``quant.budget.kind``):

- ``effective_w_bits``: the record's ``effective_w_bits`` (:mod:`genq.quant.effective_bits`:
  format bits plus scales over every covered layer's weights, FP layers at their dtype).
  When a layer's precision differs between windows of the sampler's steps, it is the
  *step-weighted mean*: each window counts in proportion to the steps it holds, i.e. the
  weight bits one network call reads averaged over the trajectory. A cell (group g, window
  k) at option o adds ``steps_k / T x bits_g(o)``; the budget is ``value x (weight
  elements)``. Linear in x.
- ``model_bytes``: what must be stored to run every window: each distinct option a group
  uses in any window stored once (an FP window needs the FP weights next to a quantized
  copy), plus every other parameter and buffer at its dtype. Linear with one binary
  ``y[g, o] >= x[(g, k), o]`` per group, option and window. (Two options with the same
  weight format are counted twice here although a schedule shares that weight: an upper
  bound; the record's ``weight_bytes_stored`` counts it once.)
- ``latency_ms``: not offered. It needs per-layer, per-format latencies from a real-kernel
  backend; genq's real backends (``genq.bench.backends``) time the whole sampler only, and
  per-layer times of compiled/fused graphs are not additive. See docs/attribution.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from genq.errors import GenqError

KINDS = ("effective_w_bits", "model_bytes")


@dataclass
class CostModel:
    """Costs of one attribution grid: ``bits[g, o]`` per group and option, weight elements
    per group, what lies outside the groups and the steps per window."""

    bits: np.ndarray                 # (groups, options)
    elements: np.ndarray             # (groups,)
    other_weight_bits: float
    other_weight_elements: int
    other_bytes: float
    window_steps: list[int] = field(default_factory=list)

    @classmethod
    def from_table(cls, table: dict[str, Any]) -> "CostModel":
        return cls(np.asarray(table["weight_bits"], dtype=float), np.asarray(table["weight_elements"], dtype=float),
                   float(table["other_weight_bits"]), int(table["other_weight_elements"]),
                   float(table["other_bytes"]), [int(s) for s in table["window_steps"]])

    @property
    def n_windows(self) -> int:
        return len(self.window_steps)

    @property
    def total_elements(self) -> float:
        return float(self.elements.sum() + self.other_weight_elements)

    def step_share(self) -> np.ndarray:
        steps = np.asarray(self.window_steps, dtype=float)
        return steps / steps.sum()

    def cell_bits(self) -> np.ndarray:
        """(cells, options): the step-weighted weight bits each cell adds (cell = g x K + k)."""
        share = self.step_share()
        return (self.bits[:, None, :] * share[None, :, None]).reshape(-1, self.bits.shape[1])

    # --- the two budgets, evaluated on a configuration ----------------------------------
    def effective_w_bits(self, config: np.ndarray) -> float:
        cb = self.cell_bits()
        total = cb[np.arange(len(config)), config].sum() + self.other_weight_bits
        return float(total / self.total_elements)

    def model_bytes(self, config: np.ndarray) -> float:
        used = np.asarray(config).reshape(len(self.elements), self.n_windows)
        bits = sum(self.bits[g, o] for g in range(len(used)) for o in set(used[g].tolist()))
        return float((bits + self.other_weight_bits) / 8 + self.other_bytes)

    def evaluate(self, kind: str, config: np.ndarray) -> float:
        check_kind(kind)
        return self.effective_w_bits(config) if kind == "effective_w_bits" else self.model_bytes(config)


def check_kind(kind: str) -> None:
    if kind == "latency_ms":
        raise GenqError("quant.budget.kind=latency_ms needs per-layer latencies of every format "
                        "from a real-kernel backend; genq's backends time the whole sampler only "
                        "(docs/attribution.md); accepted: effective_w_bits, model_bytes.")
    if kind not in KINDS:
        raise GenqError(f"quant.budget.kind={kind!r}; accepted: {', '.join(KINDS)}.")
