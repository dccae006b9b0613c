"""Schema of the speed measurement (``bench=...``): which backend runs the timed model.

Kept apart from :mod:`genq.config` so the kernel backends own their settings in one file.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class BenchConfig:
    name: str = "simulated"
    backend: str = "fake-quant"                 # speed of the simulated model, labelled as such
    batch_size: int = 32
    warmup: int = 1
    repeats: int = 5
