"""Shared pieces of genq's training loops: minibatches from a tensor, a progress bar,
and the NaN guard."""

from __future__ import annotations

from collections.abc import Iterator

import torch
from tqdm.auto import tqdm

from genq.progress import bar_options

from genq.errors import GenqError


def minibatches(data: torch.Tensor, batch_size: int, steps: int, seed: int,
                *extra: torch.Tensor) -> Iterator[tuple[torch.Tensor, ...]]:
    """``steps`` shuffled minibatches (reshuffled every epoch), reproducible from ``seed``."""
    gen = torch.Generator().manual_seed(seed)
    n, step = data.shape[0], 0
    batch_size = min(batch_size, n)
    while True:
        order = torch.randperm(n, generator=gen)
        for start in range(0, n - batch_size + 1, batch_size):
            if step == steps:
                return
            idx = order[start:start + batch_size]
            yield (data[idx], *(e[idx] for e in extra))
            step += 1


def progress(steps: int, desc: str) -> tqdm:
    return tqdm(total=steps, desc=desc, **bar_options())


def check_finite(loss: torch.Tensor, step: int, what: str) -> None:
    if not torch.isfinite(loss):
        raise GenqError(f"{what} loss became {loss.item()} at step {step}; lower model.train.lr "
                        "or check the data.")
