"""The real images that FID/KID compare against, for any dataset genq knows, in one call:
``load_reference(data_cfg, resolution, channels)`` -> float32 (N, channels, R, R) in [-1, 1].

- ``digits``: scikit-learn's bundled digits (``load_digits``, the offline default);
- ``cifar10`` / ``mnist``: torchvision, downloaded only with ``data.download=true``;
- ``image_folder``: every image below ``data.root``.

Images are brought to the *model's* resolution and channels (the caller passes the
generator's ``image_shape``): torchvision sets are resized with antialiased bilinear
interpolation, folders with PIL bicubic; grey -> RGB repeats the channel, RGB -> grey takes
ITU-R 601-2 luma. ``data.max_images`` keeps a seeded random subset (``data.split_seed``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from genq.data.checks import check_data_config
from genq.data.digits import load_digits
from genq.data.image_folder import list_images, load_image_folder
from genq.data.torchvision_sets import TORCHVISION_SETS, default_root, load_torchvision_images
from genq.errors import GenqError
_LUMA = (0.299, 0.587, 0.114)
_CHUNK = 4096   # images converted and resized at a time (bounds the float32 peak)


def _subset_index(n: int, max_images: int | None, seed: int) -> torch.Tensor | None:
    if max_images is None or max_images >= n:
        return None
    gen = torch.Generator().manual_seed(seed)
    return torch.randperm(n, generator=gen)[:max_images].sort().values


def match_channels(images: torch.Tensor, channels: int) -> torch.Tensor:
    """Grey -> RGB (repeat) or RGB -> grey (ITU-R 601-2 luma); other counts are refused."""
    c = images.shape[1]
    if c == channels:
        return images
    if c == 1 and channels == 3:
        return images.repeat(1, 3, 1, 1)
    if c == 3 and channels == 1:
        w = torch.tensor(_LUMA, dtype=images.dtype).view(1, 3, 1, 1)
        return (images * w).sum(1, keepdim=True)
    raise GenqError(f"reference images have {c} channels and the model makes {channels}; accepted: "
                    "1 <-> 3 channel conversions.")


def to_model_range(images: torch.Tensor, resolution: int, channels: int) -> torch.Tensor:
    """uint8 (N, C, H, W) -> float32 (N, channels, resolution, resolution) in [-1, 1]."""
    out = []
    for chunk in images.split(_CHUNK):
        x = chunk.float() / 127.5 - 1.0
        if x.shape[-2:] != (resolution, resolution):
            x = F.interpolate(x, size=(resolution, resolution), mode="bilinear", align_corners=False,
                              antialias=True)
        out.append(match_channels(x, channels).clamp(-1.0, 1.0))
    return torch.cat(out) if out else torch.empty(0, channels, resolution, resolution)


def load_reference(data_cfg: Any, resolution: int, channels: int) -> torch.Tensor:
    """The reference images of ``data_cfg`` as float32 (N, channels, resolution, resolution)
    in [-1, 1]; ``resolution`` and ``channels`` are the generator's (``image_shape``)."""
    check_data_config(data_cfg, resolution, channels)
    name, seed = data_cfg.name, data_cfg.split_seed
    if name == "digits":
        images = load_digits(data_cfg.reference_split, resolution, data_cfg.test_fraction, seed).images
        idx = _subset_index(len(images), data_cfg.max_images, seed)
        return match_channels(images if idx is None else images[idx], channels)
    if name == "image_folder":
        files = list_images(data_cfg.root)   # listed again: the folder may have changed since the check
        idx = _subset_index(len(files), data_cfg.max_images, seed)
        files = files if idx is None else [files[i] for i in idx.tolist()]
        return to_model_range(load_image_folder(files, resolution, channels), resolution, channels)
    images = load_torchvision_images(name, data_cfg.root, data_cfg.reference_split, data_cfg.download)
    idx = _subset_index(len(images), data_cfg.max_images, seed)
    return to_model_range(images if idx is None else images[idx], resolution, channels)


def describe_reference(data_cfg: Any, resolution: int, channels: int) -> dict[str, Any]:
    """What the reference set is (for the record and the statistics cache key)."""
    info: dict[str, Any] = {"name": data_cfg.name, "resolution": resolution, "channels": channels,
                            "max_images": data_cfg.max_images}
    if data_cfg.name != "image_folder":
        info["split"] = data_cfg.reference_split
    if data_cfg.name == "digits":
        info.update(test_fraction=data_cfg.test_fraction, split_seed=data_cfg.split_seed)
    elif data_cfg.max_images is not None:
        info["split_seed"] = data_cfg.split_seed
    if data_cfg.name in TORCHVISION_SETS or data_cfg.name == "image_folder":
        root = data_cfg.root or (default_root(data_cfg.name) if data_cfg.name in TORCHVISION_SETS else None)
        info["root"] = str(Path(root).expanduser().resolve()) if root else None
    return info
