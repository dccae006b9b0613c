"""One measurement of an attribution: sample the switchable model under a configuration on
the fixed noise bank (the same noise for every configuration and for FP: common random
numbers, so differences between configurations are not noise-bank differences) and score
it against the FP samples: qFID (FID between the FP and the quantized samples' features),
LPIPS-style distance to the paired FP sample (its mean, and per sample for the views of
:mod:`genq.analysis.attribution.views`), and optionally FID against real images."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Optional

import numpy as np
import torch

from genq.analysis.attribution.switch import CellSwitch
from genq.metrics import extract, feature_lpips
from genq.metrics.distribution import fid_from_features
from genq.models.base import GeneratorAdapter

METRICS = ("qfid", "lpips_vs_fp", "fid")


@dataclass
class Measurer:
    """Scores configurations of ``model`` (switched by ``switch``) on ``noise``."""

    fp: GeneratorAdapter
    model: GeneratorAdapter
    switch: CellSwitch
    noise: torch.Tensor
    extractor: Any
    real_features: Optional[torch.Tensor] = None
    batch_size: int = 256

    def __post_init__(self) -> None:
        with torch.no_grad():
            self.fp_images = self.fp.sample(self.noise, self.batch_size).float().cpu()
        self.fp_features = extract(self.extractor, self.fp_images)
        self.fp_fid = (fid_from_features(self.real_features, self.fp_features)
                       if self.real_features is not None else None)

    def measure(self, config: np.ndarray) -> dict[str, Any]:
        """The metrics of ``config`` and the seconds the measurement took."""
        start = time.perf_counter()
        self.switch.set_config(config)
        with torch.no_grad():
            images = self.model.sample(self.noise, self.batch_size).float().cpu()
        feats = extract(self.extractor, images)
        per_sample = feature_lpips(self.extractor.classifier, images, self.fp_images)
        row: dict[str, Any] = {
            "qfid": fid_from_features(self.fp_features, feats),
            "lpips_vs_fp": float(per_sample.mean()),
            # for the per-class / per-sample views (views.py): same noise bank, same order
            "lpips_per_sample": [round(float(v), 6) for v in per_sample],
        }
        if self.real_features is not None:
            row["fid"] = fid_from_features(self.real_features, feats)
        row["seconds"] = round(time.perf_counter() - start, 3)
        return row
