"""How many quantization parameters a tensor gets: one (per-tensor), one per slice along
an axis (per-channel), or one per contiguous group of ``group_size`` elements along an axis
(per-group, as in GPTQ/AWQ-style weight quantization). Frozen so they can key caches."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Union

from genq.errors import GenqError


@dataclass(frozen=True)
class PerTensor:
    """One scale and zero point for the whole tensor."""


@dataclass(frozen=True)
class PerChannel:
    """One scale and zero point per index along ``axis`` (weights: output channels, which
    are axis 0 for Linear/Conv2d and axis 1 for ConvTranspose2d)."""

    axis: int = 0


@dataclass(frozen=True)
class PerGroup:
    """One scale and zero point per ``group_size`` consecutive elements along ``axis``,
    separately for every index of the other axes."""

    group_size: int
    axis: int = 1


@dataclass(frozen=True)
class PerBlock:
    """One scale and zero point per 2-D tile of ``block_out`` x ``block_in`` weights over the
    (output, input) channel axes, the kernel's spatial extent included in each tile (the
    128x128 blocks of DeepSeek-V3's FP8 weights, arXiv:2412.19437)."""

    block_out: int
    block_in: int
    out_axis: int = 0
    in_axis: int = 1


Granularity = Union[PerTensor, PerChannel, PerGroup, PerBlock]
GRANULARITY_NAMES = ("per_tensor", "per_channel", "per_group", "per_block")


def as_granularity(granularity: "str | Granularity", axis: int | None = None,
                   group_size: int | None = None) -> Granularity:
    """Accept a granularity object or its name ("per_tensor", "per_channel", "per_group")."""
    if isinstance(granularity, (PerTensor, PerChannel, PerGroup, PerBlock)):
        return granularity
    if granularity == "per_tensor":
        return PerTensor()
    if granularity == "per_channel":
        return PerChannel(0 if axis is None else axis)
    if granularity == "per_group":
        if group_size is None or group_size < 1:
            raise GenqError(f"granularity='per_group' needs a positive group_size, got {group_size!r}.")
        return PerGroup(group_size, 1 if axis is None else axis)
    if granularity == "per_block":
        if group_size is None or group_size < 1:
            raise GenqError(f"granularity='per_block' needs a positive block size, got {group_size!r}.")
        return PerBlock(group_size, group_size)
    raise GenqError(f"granularity={granularity!r} is not supported; accepted: "
                    f"{', '.join(GRANULARITY_NAMES)}.")
