"""Feature extractors for FID/KID. Offline, genq's digits classifier stands in for
Inception (the "domain classifier FID" practice for MNIST-like data); every record names
the extractor that produced its numbers."""

from __future__ import annotations

import torch
from torch import nn

from genq.errors import check_choice

EXTRACTORS = ("digits_classifier",)


class ClassifierFeatures(nn.Module):
    """Normalised penultimate-layer features of a classifier (``classifier.embedding``);
    images in [-1, 1] in, (N, D) out."""

    def __init__(self, classifier: nn.Module, name: str) -> None:
        super().__init__()
        self.classifier = classifier.eval()
        self.name = name
        self.num_features = classifier.feature_dim

    @torch.no_grad()
    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.classifier.embedding(images.float())


def load_feature_extractor(name: str) -> ClassifierFeatures:
    """The feature network ``metrics.feature_extractor`` names."""
    check_choice("metrics.feature_extractor", name, EXTRACTORS)
    from genq.models.registry import load_classifier

    return ClassifierFeatures(load_classifier("embedded", name), name)


@torch.no_grad()
def extract(extractor: nn.Module, images: torch.Tensor, batch_size: int = 500) -> torch.Tensor:
    """Features of ``images`` in batches (the result does not depend on the batch size)."""
    return torch.cat([extractor(chunk) for chunk in images.split(batch_size)])
