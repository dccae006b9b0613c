"""The embedded dataset: scikit-learn's bundled handwritten digits (UCI optdigits, 1,797
images of 8x8 pixels, 16 grey levels), upsampled to a configurable resolution and scaled
to [-1, 1]. It ships inside scikit-learn, so genq's default study runs fully offline.

The held-out split is fixed (stratified, seeded) so that every run, the classifier's
accuracy and the FID reference statistics use the same images.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from genq.data.checks import SPLITS
from genq.errors import check_choice



@dataclass(frozen=True)
class DigitsSplit:
    """Images in [-1, 1], shape (N, 1, R, R), and integer labels, shape (N,)."""

    images: torch.Tensor
    labels: torch.Tensor


def load_digits(split: str = "train", resolution: int = 16, test_fraction: float = 0.2,
                split_seed: int = 0) -> DigitsSplit:
    """Return one split of the embedded digits at ``resolution`` x ``resolution``.

    Pixels go from scikit-learn's 0..16 grey levels to [-1, 1]; upsampling is bilinear
    (antialiasing is irrelevant when enlarging), so the 8x8 originals stay recognisable.
    """
    check_choice("data.split", split, SPLITS)
    if resolution < 8:
        raise ValueError(f"data.resolution={resolution} is too small; accepted: 8 or more.")
    from sklearn.datasets import load_digits as sk_load_digits
    from sklearn.model_selection import train_test_split

    bunch = sk_load_digits()
    images = torch.from_numpy(bunch.images.astype(np.float32) / 16.0).unsqueeze(1)
    if resolution != 8:
        images = F.interpolate(images, size=(resolution, resolution), mode="bilinear",
                               align_corners=False)
    images = (images * 2.0 - 1.0).clamp(-1.0, 1.0)
    labels = torch.from_numpy(bunch.target.astype(np.int64))
    if split == "all":
        return DigitsSplit(images, labels)
    idx = np.arange(len(labels))
    train_idx, test_idx = train_test_split(idx, test_size=test_fraction, random_state=split_seed,
                                           stratify=bunch.target)
    chosen = np.sort(train_idx if split == "train" else test_idx)
    return DigitsSplit(images[chosen], labels[chosen])
