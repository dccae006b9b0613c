"""Measured latency of every (layer group, option) of an attribution grid on a real-kernel
backend, for the allocator's latency budget (``quant.budget.kind=latency_ms``, issue 19).

Per-layer times inside one compiled, fused graph are not observable, and summing layers
timed alone would leave out what fusion saves. So each entry is a *marginal* latency of the
whole network: the network with group ``g`` alone at option ``o`` (every other layer FP)
goes through the backend (``cpu_int8``: PT2E export, int8 conversion, Inductor; the
layers left FP run in float inside the same graph), and ``delta[g][o]`` is its time per
image minus that of the all-FP network through the same path. The latency of a
configuration is predicted as ``base + sum_g delta[g][o_g]`` per network call (the lookup
table of HAQ, Wang et al. 2019, arXiv:1811.08886, measured as a difference of whole-graph
timings), and this additivity is *checked*: random group configurations are built and
timed, and the table stores their measured and predicted times.

An option the backend cannot run (a floating-point format: no int8 kernel) has no latency:
it is listed in ``refused`` with the backend's reason and the allocator may not choose it
under a latency budget. Scales do not change speed, so each layer takes the quantizers
calibrated for the first window of its option.

A sampler step calls the network once (twice the rows with classifier-free guidance, which
the timing includes through the example inputs), so a cell (group ``g``, window ``k``)
costs ``steps_k x delta[g][o]`` milliseconds per image. A schedule whose groups switch
options between windows would hold one graph per window; switching costs nothing in the
prediction, and only configurations constant over windows can be timed in one graph.
"""

from __future__ import annotations

import copy
import time
from typing import Any, Optional

import numpy as np
import torch
from torch import nn

from genq.analysis.attribution.cells import FP, CellGrid
from genq.bench.isa import cpu_info, cpu_summary
from genq.bench.latency import time_call
from genq.errors import GenqError
from genq.progress import stage
from genq.quant.modules import quantize_layer
from genq.quant.schedule import ScheduledQuantizer

BACKENDS = ("cpu_int8",)


def _first_window(q: Optional[nn.Module]) -> Optional[nn.Module]:
    if isinstance(q, ScheduledQuantizer):
        return q.quantizers[0]
    return q


def mixed_network(fp_network: nn.Module, copies: list[nn.Module], grid: CellGrid,
                  group_options: list[int]) -> nn.Module:
    """A copy of ``fp_network`` whose group ``g`` runs option ``group_options[g]`` (its
    calibrated quantizers, first window's scales), FP where the option is FP."""
    net = copy.deepcopy(fp_network)
    modules = dict(net.named_modules())
    for (group, layers), option in zip(grid.groups.items(), group_options):
        if option == FP:
            continue
        src = dict(copies[option - 1].named_modules())
        for name in layers:
            wq = _first_window(getattr(src[name], "weight_quantizer", None))
            aq = _first_window(getattr(src[name], "input_quantizer", None))
            quantize_layer(modules[name], copy.deepcopy(wq), copy.deepcopy(aq))
    return net


class _Timer:
    """ms per image of a network: quantized ones through the int8 backend, the all-FP base
    as the FP32 graph compiled by Inductor with frozen weights."""

    def __init__(self, example_args: tuple, batch: int, repeats: int, compile: bool) -> None:
        self.args, self.batch, self.repeats, self.compile = example_args, batch, repeats, compile

    def __call__(self, net: nn.Module, quantized: bool) -> float:
        if quantized:
            from genq.bench.backends.cpu_int8 import build_cpu_int8

            fn = build_cpu_int8(net, self.args, compile=self.compile)["fn"]
        else:
            from genq.bench.backends.float_baselines import fp32_fn

            fn = fp32_fn(net, compile=self.compile)
        with torch.inference_mode():
            fn(*self.args)                                   # compile outside the timing
        return time_call(lambda: fn(*self.args), self.batch, warmup=1, repeats=self.repeats).ms_per_image


def latency_table(fp: Any, copies: list[nn.Module], grid: CellGrid, noise: torch.Tensor,
                  backend: str = "cpu_int8", batch_size: int = 1, repeats: int = 3, compile: bool = True,
                  n_check: int = 4, seed: int = 0) -> dict[str, Any]:
    """The table the module docstring describes: ``base_ms``, ``delta_ms[g][o]`` (None where
    ``refused``), ``window_steps``, ``check`` (measured vs predicted on ``n_check`` random
    group configurations) and how it was measured."""
    if backend not in BACKENDS:
        raise GenqError(f"attribution latency backend {backend!r}; accepted: {', '.join(BACKENDS)}.")
    args = fp.calibration_inputs(noise[:batch_size], batch_size)[0]
    timer = _Timer(args, batch_size, repeats, compile)
    t0 = time.perf_counter()
    G, O = len(grid.groups), grid.n_options
    with stage(f"latency table: all-FP network through {backend}"):
        base = timer(copy.deepcopy(fp.network), quantized=False)
    delta: list[list[Optional[float]]] = [[0.0] + [None] * (O - 1) for _ in range(G)]
    refused: dict[str, str] = {}
    for o in range(1, O):
        name = grid.options[o].name
        for g, group in enumerate(grid.groups):
            if name in refused:
                break
            config = [FP] * G
            config[g] = o
            with stage(f"latency table: {group} at {name} ({g + 1 + (o - 1) * G}/{G * (O - 1)})"):
                try:
                    ms = timer(mixed_network(fp.network, copies, grid, config), quantized=True)
                except GenqError as e:
                    refused[name] = str(e)
                    continue
            delta[g][o] = ms - base
    check = _check(fp, copies, grid, timer, base, delta, n_check, seed)
    return {"backend": backend, "compiled": compile, "batch_size": batch_size, "repeats": repeats,
            "cpu": cpu_summary(cpu_info()), "threads": torch.get_num_threads(),
            "base_ms": base, "delta_ms": delta, "refused": refused,
            "window_steps": [e - s for s, e in grid.windows], "check": check,
            "seconds": round(time.perf_counter() - t0, 1)}


def _check(fp: Any, copies: list[nn.Module], grid: CellGrid, timer: _Timer, base: float,
           delta: list[list[Optional[float]]], n: int, seed: int) -> dict[str, Any]:
    """Measured vs predicted ms per call of random group configurations (timeable options)."""
    rng = np.random.default_rng(seed)
    allowed = [o for o in range(grid.n_options) if all(row[o] is not None for row in delta)]
    rows = []
    for _ in range(n if len(allowed) > 1 else 0):
        config = rng.choice(allowed, size=len(grid.groups)).tolist()
        if all(o == FP for o in config):
            continue
        with stage("latency table: additivity check"):
            measured = timer(mixed_network(fp.network, copies, grid, config), quantized=True)
        predicted = base + sum(delta[g][o] for g, o in enumerate(config))
        rows.append({"groups": [grid.options[o].name for o in config], "measured_ms": measured,
                     "predicted_ms": predicted})
    errors = [abs(r["predicted_ms"] - r["measured_ms"]) / r["measured_ms"] for r in rows]
    return {"configs": rows, "max_rel_error": max(errors) if errors else None,
            "mean_rel_error": float(np.mean(errors)) if errors else None}
