"""CIFAR-10 and MNIST through torchvision, as uint8 image tensors (N, C, H, W).

torchvision downloads a set only when genq is told it may (``data.download=true``);
otherwise the set must already be in ``data.root`` (default ``$GENQ_CACHE/datasets/<name>``),
and a missing one fails with one sentence that names the folder and the flag.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
if TYPE_CHECKING:
    import torch

from genq.errors import GenqError

# name -> (torchvision class, what torchvision expects inside root, display name)
TORCHVISION_SETS = {"cifar10": ("CIFAR10", "cifar-10-batches-py/", "CIFAR-10"),
                    "mnist": ("MNIST", "MNIST/raw/", "MNIST")}


def default_root(name: str) -> Path:
    """``$GENQ_CACHE/datasets/<name>`` (``$GENQ_CACHE`` defaults to ``~/.cache/genq``)."""
    return Path(os.environ.get("GENQ_CACHE", Path.home() / ".cache" / "genq")) / "datasets" / name


def _missing(title: str, root: Path, inside: str) -> GenqError:
    return GenqError(f"{title} is not in data.root={str(root)!r} (torchvision looks for {inside} there "
                     "and checks it); set data.root to the folder that holds it, or set "
                     "data.download=true to let torchvision download it there.")


def check_torchvision_root(name: str, root: str | None, download: bool) -> None:
    """Fail at once when the set's folder is absent and may not be downloaded (the full
    integrity check is torchvision's, when the set loads)."""
    folder = Path(root).expanduser() if root else default_root(name)
    _, inside, title = TORCHVISION_SETS[name]
    if not download and not (folder / inside).is_dir():
        raise _missing(title, folder, inside)


def _one_split(name: str, root: Path, train: bool, download: bool) -> torch.Tensor:
    import torch
    import torchvision.datasets as tvd

    cls_name, inside, title = TORCHVISION_SETS[name]
    try:
        dataset = getattr(tvd, cls_name)(str(root), train=train, download=download)
    except RuntimeError as err:   # torchvision: "Dataset not found or corrupted ..."
        if download:
            raise GenqError(f"{title} in data.root={str(root)!r} is still missing or corrupt after "
                            f"torchvision's download ({err}); delete that folder and try again.") from err
        raise _missing(title, root, inside) from err
    except OSError as err:         # the download itself failed (no network, disk full, ...)
        raise GenqError(f"downloading {title} into data.root={str(root)!r} failed ({err}); download it "
                        "on a machine with network access and set data.root to that folder.") from err
    data = dataset.data
    if isinstance(data, np.ndarray):          # CIFAR-10: (N, H, W, C) uint8
        return torch.from_numpy(data).permute(0, 3, 1, 2).contiguous()
    return data.unsqueeze(1).contiguous()      # MNIST: (N, H, W) uint8 tensor


def load_torchvision_images(name: str, root: str | None, split: str, download: bool) -> torch.Tensor:
    """The uint8 images (N, C, H, W) of ``split`` (train | test | all) of CIFAR-10 or MNIST."""
    import torch

    folder = Path(root).expanduser() if root else default_root(name)
    if download:
        folder.mkdir(parents=True, exist_ok=True)
    splits = {"train": (True,), "test": (False,), "all": (True, False)}[split]
    return torch.cat([_one_split(name, folder, train, download) for train in splits])
