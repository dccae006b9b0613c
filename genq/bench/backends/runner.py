"""Running a backend's forward function inside an adapter's own sampler, and timing several
backends interleaved in one process.

The adapter (DDIM loop, GAN latents) stays as it is; only its ``network`` is swapped for a
module that calls the backend, so every backend pays the same sampler overhead and the
timings compare the networks' kernels. Backends are timed round-robin (one call of each
per round, median over rounds), so that load from other processes on a shared machine
spreads over all of them instead of biasing whichever ran last.
"""

from __future__ import annotations

import copy
import inspect
import sys
import threading
import time
from collections.abc import Callable
from types import SimpleNamespace

import torch
from torch import nn

from genq.errors import GenqError

from genq.models.base import GeneratorAdapter


class BackendNetwork(nn.Module):
    """Stands in for an adapter's ``network``: calls ``fn`` (args -> tensor) and returns
    the output in the form the adapter expects (diffusers-style ``.sample`` or a tensor)."""

    def __init__(self, fn: Callable[..., torch.Tensor], wrap_sample: bool, device: str = "cpu",
                 signature: inspect.Signature | None = None) -> None:
        super().__init__()
        self.fn, self.wrap_sample, self.device = fn, wrap_sample, device
        self.signature = signature             # the replaced network's forward, to bind keywords

    def positional(self, args: tuple, kwargs: dict) -> tuple:
        """The call as positional inputs (the sampler calls denoisers by keyword; compiled and
        exported backends take positions), bound through the replaced network's signature."""
        if not kwargs:
            return args
        if self.signature is None:
            raise GenqError(f"a backend network was called with keywords {sorted(kwargs)} but knows no "
                            "signature to bind them to; accepted: positional inputs.")
        bound = self.signature.bind(*args, **kwargs)
        if bound.kwargs:
            raise GenqError(f"the inputs {sorted(bound.kwargs)} cannot be passed by position to the "
                            "backend network; accepted: a network whose inputs are all positional.")
        return tuple(bound.args)

    def forward(self, *args: torch.Tensor, **kwargs: torch.Tensor):
        args = self.positional(args, kwargs)
        # A sampler that already runs on the backend's device (the noise was put there) pays
        # no copies; one running on the CPU gets its outputs back on the CPU.
        source = args[0].device
        args = tuple(a.to(self.device) for a in args)
        out = self.fn(*args).float().to(source)
        return SimpleNamespace(sample=out) if self.wrap_sample else out


def returns_sample_object(network: nn.Module, example_args: tuple) -> bool:
    with torch.no_grad():
        return hasattr(network(*example_args), "sample")


def with_backend(fp: GeneratorAdapter, fn: Callable[..., torch.Tensor], wrap_sample: bool,
                 device: str = "cpu") -> GeneratorAdapter:
    """A shallow copy of ``fp`` whose network runs ``fn``."""
    adapter = copy.copy(fp)
    adapter.network = BackendNetwork(fn, wrap_sample, device, inspect.signature(fp.network.forward))
    return adapter


def forward_fn(network: nn.Module) -> Callable[..., torch.Tensor]:
    """``network``'s forward returning a tensor."""
    def fn(*args: torch.Tensor) -> torch.Tensor:
        out = network(*args)
        return out.sample if hasattr(out, "sample") else out
    return fn


class PeakRSS:
    """Peak growth of the process's resident memory while the block runs (sampled every
    millisecond by a thread; memory freed earlier and reused does not show as growth)."""

    def __enter__(self) -> "PeakRSS":
        import psutil

        self._proc = psutil.Process()
        self.start = self.peak = self._proc.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()
        return self

    def _poll(self) -> None:
        while not self._stop.wait(0.001):
            self.peak = max(self.peak, self._proc.memory_info().rss)

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._proc.memory_info().rss)

    @property
    def growth(self) -> int:
        return int(self.peak - self.start)


def time_interleaved(calls: dict[str, Callable[[], object]], warmup: int, repeats: int,
                     sync: Callable[[], None] | None = None) -> dict[str, list[float]]:
    """Seconds per call of each entry of ``calls``, ``repeats`` round-robin rounds after
    ``warmup`` calls of each."""
    sync = sync or (lambda: None)
    with torch.inference_mode():
        for fn in calls.values():
            for _ in range(warmup):
                fn()
        sync()
        times: dict[str, list[float]] = {k: [] for k in calls}
        for r in range(repeats):
            for name, fn in calls.items():
                start = time.perf_counter()
                fn()
                sync()
                times[name].append(time.perf_counter() - start)
            round_s = sum(t[-1] for t in times.values())
            if round_s > SLOW_ROUND_S:         # a full-size model: say how far the timing is
                print(f"genq: timing round {r + 1}/{repeats} ({round_s:.1f} s): "
                      + ", ".join(f"{k} {t[-1]:.2f} s" for k, t in times.items()), file=sys.stderr, flush=True)
    return times


SLOW_ROUND_S = 5.0      # rounds longer than this print a progress line
