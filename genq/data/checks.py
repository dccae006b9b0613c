"""Checks of the data config that need no torch (run by the CLI before torch loads):
names, ranges, an image folder that exists and holds images, a torchvision set that is on
disk or may be downloaded."""

from __future__ import annotations

from typing import Any

from genq.data.image_folder import list_images
from genq.data.torchvision_sets import TORCHVISION_SETS, check_torchvision_root
from genq.errors import GenqError, check_choice

SPLITS = ("train", "test", "all")
DATASETS = ("digits", *TORCHVISION_SETS, "image_folder")


def check_data_config(data_cfg: Any, resolution: int | None = None, channels: int | None = None) -> None:
    """Every data setting checked before any long work (one sentence per problem): names,
    ranges, an image folder that exists and holds images, a torchvision set that is on disk
    or may be downloaded. ``resolution``/``channels`` (the model's) are checked when given."""
    check_choice("data.name", data_cfg.name, DATASETS)
    if data_cfg.name != "image_folder":
        check_choice("data.reference_split", data_cfg.reference_split, SPLITS)
    if data_cfg.max_images is not None and data_cfg.max_images < 1:
        raise GenqError(f"data.max_images={data_cfg.max_images} must be at least 1, or null for all images.")
    if (resolution is not None and resolution < 1) or (channels is not None and channels not in (1, 3)):
        raise GenqError(f"reference images of {channels} channels at {resolution}x{resolution} are not "
                        "supported; accepted: 1 or 3 channels, resolution >= 1.")
    if data_cfg.name == "image_folder":
        list_images(data_cfg.root)
    elif data_cfg.name in TORCHVISION_SETS:
        check_torchvision_root(data_cfg.name, data_cfg.root, data_cfg.download)
