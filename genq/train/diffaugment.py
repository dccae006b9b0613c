"""Differentiable augmentation (Zhao et al., 2020, "Differentiable Augmentation for
Data-Efficient GAN Training", arXiv:2006.10738): the same random, differentiable transforms
are applied to real and generated images before the discriminator sees them, so a small
training set (1,437 digits) does not let it memorise the reals. Policies follow the
reference implementation: ``translation`` (shift by up to 1/8 of the size, zero padding) and
``cutout`` (zero a square of side ``cutout_ratio`` x the size at a random place; images
in [-1, 1], so cut pixels read as mid-grey, as in the reference code)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from genq.errors import GenqError

POLICIES = ("translation", "cutout")


def check_policy(policy: str) -> list[str]:
    names = [p for p in policy.split(",") if p]
    for p in names:
        if p not in POLICIES:
            raise GenqError(f"augment policy {p!r} is not known; accepted: {', '.join(POLICIES)} "
                            "(comma-separated), or '' for none.")
    return names


def translation(x: torch.Tensor, ratio: float = 0.125) -> torch.Tensor:
    n, _, h, w = x.shape
    sx, sy = int(h * ratio + 0.5), int(w * ratio + 0.5)
    tx = torch.randint(-sx, sx + 1, (n, 1, 1), device=x.device)
    ty = torch.randint(-sy, sy + 1, (n, 1, 1), device=x.device)
    gb, gx, gy = torch.meshgrid(torch.arange(n, device=x.device), torch.arange(h, device=x.device),
                                torch.arange(w, device=x.device), indexing="ij")
    gx = torch.clamp(gx + tx + 1, 0, h + 1)
    gy = torch.clamp(gy + ty + 1, 0, w + 1)
    pad = F.pad(x, [1, 1, 1, 1, 0, 0, 0, 0])
    return pad.permute(0, 2, 3, 1).contiguous()[gb, gx, gy].permute(0, 3, 1, 2)


def cutout(x: torch.Tensor, ratio: float = 0.5) -> torch.Tensor:
    n, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    ox = torch.randint(0, h + (1 - ch % 2), (n, 1, 1), device=x.device)
    oy = torch.randint(0, w + (1 - cw % 2), (n, 1, 1), device=x.device)
    gb, gx, gy = torch.meshgrid(torch.arange(n, device=x.device), torch.arange(ch, device=x.device),
                                torch.arange(cw, device=x.device), indexing="ij")
    gx = torch.clamp(gx + ox - ch // 2, 0, h - 1)
    gy = torch.clamp(gy + oy - cw // 2, 0, w - 1)
    mask = torch.ones(n, h, w, dtype=x.dtype, device=x.device)
    mask[gb, gx, gy] = 0
    return x * mask.unsqueeze(1)


def diff_augment(x: torch.Tensor, policy: str, cutout_ratio: float = 0.5) -> torch.Tensor:
    """Apply the comma-separated ``policy`` (translation, cutout) to a batch (N, C, H, W)."""
    for p in check_policy(policy):
        x = translation(x) if p == "translation" else cutout(x, cutout_ratio)
    return x
