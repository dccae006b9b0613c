"""Feature extractors for FID/KID/IS/precision-recall, behind one small interface:
``name``, ``num_features``, ``resize(h, w)`` (how images reach the network, for the record),
``embed(images, logits)`` -> ``{"features": (N, D)[, "logits": (N, C)]}``, images in [-1, 1].

- ``digits_classifier``: offline, genq's digits classifier stands in for Inception (the
  "domain classifier FID" practice for MNIST-like data).
- ``inception``: the standard Inception-v3 of torch-fidelity (:mod:`genq.metrics.inception`).

Every record names the extractor (and its weights) that produced its numbers.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from genq.errors import check_choice
from genq.metrics.checks import EXTRACTORS


class ClassifierFeatures(nn.Module):
    """Normalised penultimate-layer features of a classifier (``classifier.embedding``);
    images in [-1, 1] in, (N, D) out; its class logits serve the Inception Score."""

    def __init__(self, classifier: nn.Module, name: str) -> None:
        super().__init__()
        self.classifier = classifier.eval()
        self.name = name
        self.num_features = classifier.feature_dim
        self.weights = None

    @staticmethod
    def resize(height: int, width: int) -> str:
        return f"none (native {height}x{width})"

    @torch.no_grad()
    def embed(self, images: torch.Tensor, logits: bool = False) -> dict[str, torch.Tensor]:
        x = images.float().to(next(self.classifier.parameters()).device)
        out = {"features": self.classifier.embedding(x)}
        if logits:
            out["logits"] = self.classifier(x)
        return out

    @torch.no_grad()
    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.classifier.embedding(images.float())


def load_feature_extractor(name: str, weights: str | Path | None = None) -> nn.Module:
    """The feature network ``metrics.feature_extractor`` names; ``weights`` is the Inception
    file (default: the torch hub cache, see :func:`genq.metrics.weights.check_metric_weights`)."""
    check_choice("metrics.feature_extractor", name, EXTRACTORS)
    if name == "inception":
        from genq.metrics.inception import InceptionFeatures
        from genq.metrics.weights import inception_weights_path

        return InceptionFeatures(inception_weights_path(None if weights is None else str(weights)))
    from genq.models.registry import load_classifier

    return ClassifierFeatures(load_classifier("embedded", name), name)


@torch.no_grad()
def extract(extractor: nn.Module, images: torch.Tensor, batch_size: int = 500) -> torch.Tensor:
    """Features of ``images`` in batches (the result does not depend on the batch size)."""
    return torch.cat([extractor(chunk) for chunk in images.split(batch_size)])


@torch.no_grad()
def extract_all(extractor: nn.Module, images: torch.Tensor, batch_size: int = 500,
                logits: bool = False) -> dict[str, torch.Tensor]:
    """``extractor.embed`` over ``images`` in batches, concatenated (CPU tensors)."""
    parts = [extractor.embed(chunk, logits=logits) for chunk in images.split(batch_size)]
    return {key: torch.cat([p[key] for p in parts]).cpu() for key in parts[0]}
