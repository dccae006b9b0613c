"""Per-image sampling latency: warm-up, several timed repeats, the median. The FP and the
quantized model are timed in the same process, one after the other, on the same noise."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch


@dataclass
class Timing:
    median_s: float
    repeats_s: list[float]
    batch_size: int

    @property
    def ms_per_image(self) -> float:
        return 1000.0 * self.median_s / self.batch_size


def time_call(fn: Callable[[], object], batch_size: int, warmup: int = 1, repeats: int = 5) -> Timing:
    """Median wall time of ``fn()`` (which generates ``batch_size`` images)."""
    with torch.inference_mode():
        for _ in range(warmup):
            fn()
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
    return Timing(statistics.median(times), times, batch_size)


def device_name() -> str:
    """A human-readable name of the CPU (or GPU) that produced a timing."""
    if torch.cuda.is_available():
        return torch.cuda.get_device_name()
    from genq.bench.isa import cpu_info

    return f"{cpu_info()['model']} ({torch.get_num_threads()} threads)"
