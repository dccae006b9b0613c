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
- ``latency_ms``: milliseconds per image of the whole sampler on a real-kernel backend,
  from the attribution's measured latency table (``genq-analyze --attribution --latency``,
  :mod:`genq.analysis.attribution.latency`): ``steps x base + sum over cells of steps_k x
  delta[g][o]``, the marginal latency of group g at option o measured as whole-graph
  differences and checked for additivity on random configurations (a table that misses
  by more than ``MAX_LATENCY_ERROR`` is refused). Options the backend cannot run have no
  latency and are excluded. Linear in x.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np

from genq.errors import GenqError

KINDS = ("effective_w_bits", "model_bytes", "latency_ms")
# a latency table whose additivity check missed by more than this is refused
MAX_LATENCY_ERROR = 0.25


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
    latency: Optional[dict[str, Any]] = None     # genq.analysis.attribution.latency table

    @classmethod
    def from_table(cls, table: dict[str, Any]) -> "CostModel":
        return cls(np.asarray(table["weight_bits"], dtype=float), np.asarray(table["weight_elements"], dtype=float),
                   float(table["other_weight_bits"]), int(table["other_weight_elements"]),
                   float(table["other_bytes"]), [int(s) for s in table["window_steps"]], table.get("latency"))

    def cell_latency(self) -> np.ndarray:
        """(cells, options): ms per image each cell adds over the all-FP sampler (NaN: an
        option the backend cannot run)."""
        if self.latency is None:
            raise GenqError("quant.budget.kind=latency_ms needs the attribution's measured latency "
                            "table; accepted: an attribution.json written by genq-analyze "
                            "--attribution --latency (docs/attribution.md).")
        error = (self.latency.get("check") or {}).get("max_rel_error")
        if error is not None and error > MAX_LATENCY_ERROR:
            raise GenqError(f"this attribution's latency table is not additive: random configurations "
                            f"timed as one graph differ from its prediction by up to {error:.0%} "
                            f"(latency.check; accepted: at most {MAX_LATENCY_ERROR:.0%}). On small, "
                            "overhead-bound networks each int8 island pays its own quantize/dequantize "
                            "boundaries; budget effective_w_bits or model_bytes there instead.")
        delta = np.array([[np.nan if v is None else v for v in row] for row in self.latency["delta_ms"]])
        steps = np.asarray(self.window_steps, dtype=float)
        return (delta[:, None, :] * steps[None, :, None]).reshape(-1, delta.shape[1])

    def base_latency(self) -> float:
        """ms per image of the all-FP sampler through the same backend path."""
        self.cell_latency()
        return float(self.latency["base_ms"] * sum(self.window_steps))

    def latency_ms(self, config: np.ndarray) -> float:
        cl = self.cell_latency()
        return float(self.base_latency() + cl[np.arange(len(config)), config].sum())

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
        if kind == "latency_ms":
            return self.latency_ms(config)
        return self.effective_w_bits(config) if kind == "effective_w_bits" else self.model_bytes(config)


def check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise GenqError(f"quant.budget.kind={kind!r}; accepted: {', '.join(KINDS)}.")
