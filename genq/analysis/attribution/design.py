"""Which configurations an attribution measures: the uniform ones (every cell at one
option), one cell changed at a time, and random mixed ones (to fit interactions and, drawn
apart, to validate on). Their number is ``options + cells x (options - 1) x modes +
n_random + n_heldout``: it grows with the cells, never with the number of configurations
the fitted model can then score (options ** cells).

One-cell-at-a-time changes are the ablations of causal attribution: ``restore`` keeps one
cell in FP in the uniformly quantized model (the loss it removes, "leave one out");
``quantize`` quantizes one cell of the FP model (the loss it makes alone). Random
configurations draw a fraction ``p`` of FP cells, ``p ~ U(0, 1)`` per configuration, the
other cells a quantized option uniformly, so the sample spans light to heavy quantization.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from genq.analysis.attribution.cells import FP, CellGrid
from genq.errors import GenqError

MODES = ("restore", "quantize", "both")


@dataclass
class Design:
    """Configurations (rows of option indices) with what each one is."""

    configs: list[np.ndarray]
    kinds: list[str]

    def __len__(self) -> int:
        return len(self.configs)


def one_at_a_time(grid: CellGrid, mode: str = "restore") -> Design:
    """Every cell changed alone, for every quantized option (module docstring)."""
    if mode not in MODES:
        raise GenqError(f"one-at-a-time mode {mode!r}; accepted: {', '.join(MODES)}.")
    configs, kinds = [], []
    for o in range(1, grid.n_options):
        for c in range(grid.n_cells):
            if mode in ("restore", "both"):
                x = grid.uniform(o)
                x[c] = FP
                configs.append(x)
                kinds.append("restore")
            if mode in ("quantize", "both"):
                x = grid.uniform(FP)
                x[c] = o
                configs.append(x)
                kinds.append("quantize")
    return Design(configs, kinds)


def random_configs(grid: CellGrid, n: int, seed: int, kind: str = "random") -> Design:
    """``n`` random mixed configurations (module docstring), reproducible from ``seed``."""
    rng = np.random.default_rng(seed)
    configs = []
    for _ in range(n):
        p_fp = rng.uniform()
        quantized = rng.integers(1, grid.n_options, size=grid.n_cells)
        configs.append(np.where(rng.uniform(size=grid.n_cells) < p_fp, FP, quantized).astype(np.int64))
    return Design(configs, [kind] * n)


def training_design(grid: CellGrid, n_random: int, seed: int, mode: str = "restore") -> Design:
    """The uniform configurations (FP included), the one-at-a-time ones and ``n_random``."""
    uniform = Design([grid.uniform(o) for o in range(grid.n_options)], ["uniform"] * grid.n_options)
    parts = [uniform, one_at_a_time(grid, mode), random_configs(grid, n_random, seed)]
    return Design([x for p in parts for x in p.configs], [k for p in parts for k in p.kinds])
