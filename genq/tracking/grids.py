"""Sample grids: FP | quantized images from the same noise, side by side."""

from __future__ import annotations

import math
from pathlib import Path

import torch
from torchvision.utils import make_grid, save_image


def image_grid(images: torch.Tensor, nrow: int | None = None) -> torch.Tensor:
    """(N, C, H, W) in [-1, 1] -> one (C, H', W') grid in [0, 1]."""
    nrow = nrow or max(1, int(math.sqrt(images.shape[0])))
    return make_grid((images.float() + 1) / 2, nrow=nrow, padding=1, pad_value=1.0).clamp(0, 1)


def paired_grid(fp: torch.Tensor, quantized: torch.Tensor | None) -> torch.Tensor:
    """FP grid on the left, quantized grid (same noise) on the right, a white gap between."""
    left = image_grid(fp)
    if quantized is None:
        return left
    right = image_grid(quantized)
    gap = torch.ones(left.shape[0], left.shape[1], 4)
    return torch.cat([left, gap, right], dim=2)


def save_grid(grid: torch.Tensor, path: str | Path, upscale: int = 4) -> Path:
    """Save a [0, 1] grid as PNG, upscaled with nearest neighbour so small digits are visible."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    big = torch.nn.functional.interpolate(grid.unsqueeze(0), scale_factor=upscale, mode="nearest")[0]
    save_image(big, str(path))
    return path
