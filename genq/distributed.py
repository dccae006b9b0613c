"""Data-parallel sampling and scoring under ``accelerate launch``.

``accelerate launch --multi_gpu --num_processes N -m genq.run ...`` (or ``torchrun
--nproc_per_node N -m genq.run ...``; on a machine without CUDA the processes form a gloo
group on CPU, which is how the tests run it) starts N copies of the run. Each
builds the same FP and quantized model (same seed), takes a contiguous shard of the noise
bank, samples it, and the shards are gathered back in order; feature extraction and the
paired distances are sharded the same way. Every process then holds the full sample set,
so the metrics are those of one process for the same seed (up to floating-point batching
effects). Only the main process times, writes the record and logs.

Why our own few lines on top of accelerate's process group rather than
``accelerate.utils.gather``: that one needs equal shapes on every process, and a noise bank
of N samples rarely splits evenly, so shards are padded here, gathered, and trimmed.

accelerate keeps its state in process-wide singletons (``PartialState``,
``AcceleratorState``) that refuse a later ``Accelerator`` asking for another device ("cannot
be changed, restart your runtime") and silently keep an earlier mixed-precision setting.
Hydra's basic launcher runs a sweep's jobs in one process, so :func:`job_accelerator` gives
each job the state it asks for (accelerate's own tests reset the singletons the same way,
with the private ``_reset_state``).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, Union

import torch

Gathered = Union[torch.Tensor, dict[str, torch.Tensor]]


def launched_world_size() -> int:
    """Processes started by ``accelerate launch``/``torchrun`` (1 for a plain run)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def job_accelerator(cpu: bool, **kwargs: Any) -> Any:
    """An ``accelerate.Accelerator`` for one job of this process, on the device it asks for.

    A plain process (no ``accelerate launch``) drops whatever accelerate state an earlier
    job left (a CUDA QAT job followed by a CPU one, or another mixed precision) before
    building it. Under a launch, the process group in ``PartialState`` belongs to the whole
    run and stays; only the per-job ``AcceleratorState`` is dropped."""
    from accelerate import Accelerator
    from accelerate.state import AcceleratorState, GradientState

    AcceleratorState._reset_state(reset_partial_state=launched_world_size() == 1)
    GradientState._reset_state()          # gradient accumulation settings are per job too
    return Accelerator(cpu=cpu, **kwargs)


class DataParallel:
    """The process group of one run: shard a batch dimension, compute, gather in order.

    With one process every method is the identity, and no process group is created.
    """

    def __init__(self, cpu: bool | None = None) -> None:
        """``cpu``: a gloo process group on CPU (default: when CUDA is absent)."""
        self.world_size = launched_world_size()
        self.rank = 0
        self.device: torch.device | None = None
        if self.world_size > 1:
            from accelerate import PartialState

            state = PartialState(cpu=not torch.cuda.is_available() if cpu is None else cpu)
            self.world_size, self.rank, self.device = state.num_processes, state.process_index, state.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    def bounds(self, n: int) -> list[tuple[int, int]]:
        """[start, end) of each process's contiguous shard of ``n`` items (sizes differ by <= 1)."""
        base, extra = divmod(n, self.world_size)
        out, start = [], 0
        for r in range(self.world_size):
            end = start + base + (1 if r < extra else 0)
            out.append((start, end))
            start = end
        return out

    def barrier(self) -> None:
        if self.enabled:
            torch.distributed.barrier()

    def _gather(self, local: torch.Tensor, sizes: list[int]) -> torch.Tensor:
        longest = max(sizes)
        padded = local.new_zeros((longest, *local.shape[1:]))
        padded[:local.shape[0]] = local
        parts = [torch.empty_like(padded) for _ in range(self.world_size)]
        torch.distributed.all_gather(parts, padded.contiguous())
        return torch.cat([p[:s] for p, s in zip(parts, sizes)])

    def map(self, fn: Callable[..., Gathered], *tensors: torch.Tensor) -> Gathered:
        """``fn(*tensors)`` with the first dimension of every tensor split across processes;
        returns what one process computing all of it would (a tensor or a dict of tensors)."""
        if not self.enabled:
            return fn(*tensors)
        n = tensors[0].shape[0]
        if n < self.world_size:
            from genq.errors import GenqError

            raise GenqError(f"{n} items cannot be split across {self.world_size} processes; "
                            f"accepted: at least one per process (raise metrics.n_samples).")
        bounds = self.bounds(n)
        start, end = bounds[self.rank]
        local = fn(*(t[start:end] for t in tensors))
        sizes = [e - s for s, e in bounds]
        on = self.device if self.device is not None and self.device.type == "cuda" else None
        if isinstance(local, dict):
            return {k: self._gather(v.to(on) if on else v, sizes).cpu() for k, v in local.items()}
        return self._gather(local.to(on) if on else local, sizes).cpu()

    def broadcast_object(self, obj: Any) -> Any:
        """The main process's ``obj`` on every process."""
        if not self.enabled:
            return obj
        box = [obj]
        torch.distributed.broadcast_object_list(box, src=0)
        return box[0]
