"""Batches of positional network inputs (``(x, t, ...)`` tuples): the one place that knows
which items of a tuple are batched. An item is batched when it is a tensor whose first
dimension is the batch's row count (that of the first item); anything else (a 0-dim
timestep, a shared tensor, a non-tensor) is the same for every row and is kept as is."""

from __future__ import annotations

from typing import Any

import torch


def rows_of(batch: tuple | list) -> int:
    """The batch's row count: the first item's first dimension."""
    return int(batch[0].shape[0])


def is_batched(value: Any, n: int) -> bool:
    return isinstance(value, torch.Tensor) and value.dim() > 0 and value.shape[0] == n


def take_rows(batch: tuple | list, rows: torch.Tensor | slice) -> tuple:
    """The batch restricted to ``rows`` (an index tensor or a slice)."""
    n = rows_of(batch)
    return tuple(v[rows] if is_batched(v, n) else v for v in batch)


def split_batch(batch: tuple | list, size: int) -> list[tuple]:
    """Consecutive chunks of at most ``size`` rows."""
    n = rows_of(batch)
    return [take_rows(batch, slice(i, i + size)) for i in range(0, n, size)]


def stack_batches(batches: list[tuple]) -> tuple:
    """One batch from several (batched items concatenated in order; the others from the first)."""
    first = batches[0]
    n = rows_of(first)
    return tuple(torch.cat([b[i] for b in batches]) if is_batched(v, n) else v for i, v in enumerate(first))
