"""Classifier vs generator: the seed observation that classifiers tolerate a quantization
recipe while generators lose visible quality, measured on one scale, the fraction of FP
quality kept: accuracy_Q / accuracy_FP for the classifier, FID_FP / FID_Q for a generator
(1.0: nothing lost; 0.5: FID doubled)."""

from __future__ import annotations

import copy
from typing import Any

import torch

from genq.analysis.common import as_recipe
from genq.metrics import extract, feature_lpips
from genq.metrics.distribution import fid_from_features
from genq.models.base import GeneratorAdapter
from genq.quant import quantize_


@torch.no_grad()
def classifier_kept(classifier: torch.nn.Module, quant_cfg: Any, calib_images: torch.Tensor,
                    test_images: torch.Tensor, test_labels: torch.Tensor) -> dict[str, float]:
    """Accuracy of the classifier before and after quantization, and prediction agreement."""
    q = copy.deepcopy(classifier).eval()
    quantize_(q, as_recipe(quant_cfg), calib=[calib_images])
    pred_fp = classifier(test_images).argmax(1)
    pred_q = q(test_images).argmax(1)
    acc_fp = float((pred_fp == test_labels).float().mean())
    acc_q = float((pred_q == test_labels).float().mean())
    return {"accuracy_fp": acc_fp, "accuracy_q": acc_q, "agreement_with_fp": float((pred_fp == pred_q).float().mean()),
            "quality_kept": acc_q / acc_fp}


@torch.no_grad()
def generator_kept(fp: GeneratorAdapter, q: GeneratorAdapter, noise: torch.Tensor, extractor: Any,
                   real_feats: torch.Tensor, batch_size: int = 256) -> dict[str, float]:
    a, b = fp.sample(noise, batch_size), q.sample(noise, batch_size)
    fid_fp = fid_from_features(real_feats, extract(extractor, a))
    fid_q = fid_from_features(real_feats, extract(extractor, b))
    return {"fid_fp": fid_fp, "fid_q": fid_q, "quality_kept": fid_fp / fid_q,
            "lpips_vs_fp": float(feature_lpips(extractor.classifier, b, a).mean())}
