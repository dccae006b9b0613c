"""Cells of a causal error attribution: a group of layers (one layer, or one block) times a
window of the sampler's steps (diffusion), or a group alone (a one-pass generator: one
window). Every cell takes one of the *options*: FP (index 0) or a quantized precision (a
recipe's plan, index 1..). A *configuration* gives every cell an option.

This is the per-layer x per-timestep search space of mixed-precision diffusion
quantization (MixDQ, Zhao et al. 2024, arXiv:2405.17873, allocates per layer; ViDiT-Q,
Zhao et al. 2024, arXiv:2406.02540, and the first/last-steps rules vary precision over
timesteps); here both axes at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np

from genq.errors import GenqError
from genq.quant.plan import QuantPlan

FP = 0        # option index of floating point in every configuration


@dataclass(frozen=True)
class Cell:
    """Layers ``layers`` of group ``group`` during sampler steps ``start .. end - 1``
    (window index ``window``); a one-pass generator has one window, steps 0 .. 0."""

    group: str
    layers: tuple[str, ...]
    window: int
    start: int
    end: int

    @property
    def label(self) -> str:
        return f"{self.group}@[{self.start},{self.end})"


@dataclass
class Option:
    """A precision a cell can take: a name (the recipe's) and the plan it gives the model."""

    name: str
    plan: Optional[QuantPlan] = None          # None: FP


@dataclass
class CellGrid:
    """Groups x windows, in that order (cell index = group index * windows + window)."""

    groups: dict[str, list[str]]
    windows: list[tuple[int, int]]
    options: list[Option]
    cells: list[Cell] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.options or self.options[0].plan is not None:
            raise GenqError("the first attribution option must be FP (plan None).")
        self.cells = [Cell(g, tuple(layers), k, s, e) for g, layers in self.groups.items()
                      for k, (s, e) in enumerate(self.windows)]

    @property
    def n_cells(self) -> int:
        return len(self.cells)

    @property
    def n_options(self) -> int:
        return len(self.options)

    @property
    def num_steps(self) -> int:
        return self.windows[-1][1]

    def index(self, group: str, window: int) -> int:
        return list(self.groups).index(group) * len(self.windows) + window

    def uniform(self, option: int) -> np.ndarray:
        return np.full(self.n_cells, option, dtype=np.int64)

    def check(self, config: np.ndarray) -> np.ndarray:
        config = np.asarray(config, dtype=np.int64)
        if config.shape != (self.n_cells,) or config.min() < 0 or config.max() >= self.n_options:
            raise GenqError(f"an attribution configuration needs one option index in 0 .. "
                            f"{self.n_options - 1} per cell ({self.n_cells} cells); got shape "
                            f"{config.shape} and values {sorted(set(config.ravel().tolist()))[:6]}.")
        return config

    def describe(self) -> dict[str, Any]:
        return {"groups": self.groups, "windows": [list(w) for w in self.windows],
                "options": [o.name for o in self.options],
                "cells": [{"group": c.group, "window": c.window, "start": c.start, "end": c.end,
                           "label": c.label} for c in self.cells]}


def split_steps(num_steps: int, windows: int | list[int]) -> list[tuple[int, int]]:
    """Windows ``[start, end)`` of ``num_steps`` sampler steps: ``windows`` equal parts (an
    int; the remainder spread over the first ones), or the explicit edges
    ``[0, e1, ..., num_steps]``."""
    if isinstance(windows, int):
        if not 1 <= windows <= num_steps:
            raise GenqError(f"--windows {windows} does not split {num_steps} sampler steps; "
                            f"accepted: 1 .. {num_steps}.")
        edges = [round(i * num_steps / windows) for i in range(windows + 1)]
    else:
        edges = [int(e) for e in windows]
        if len(edges) < 2 or edges[0] != 0 or edges[-1] != num_steps or any(
                b <= a for a, b in zip(edges, edges[1:])):
            raise GenqError(f"window edges {edges} are not increasing from 0 to {num_steps}; "
                            f"accepted: e.g. [0, 2, {num_steps - 2}, {num_steps}].")
    return list(zip(edges[:-1], edges[1:]))


def layer_groups(plans: list[QuantPlan], units: dict[str, list[str]]) -> dict[str, list[str]]:
    """``units`` (genq.analysis.common.units) restricted to layers some option quantizes;
    groups left empty are dropped (a cell every option leaves in FP has nothing to attribute)."""
    quantized = {s.name for p in plans for s in p.layers if not s.keep_fp}
    groups = {g: [n for n in layers if n in quantized] for g, layers in units.items()}
    groups = {g: layers for g, layers in groups.items() if layers}
    if not groups:
        raise GenqError("no option quantizes any layer; accepted: quantized recipes such as w8a8, w4a4.")
    return groups
