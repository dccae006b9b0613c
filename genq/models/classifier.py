"""A small convolutional digits classifier. genq uses it as the offline feature network
for FID/KID on the embedded digits (the usual "FID with a domain classifier" practice for
MNIST-like data, since Inception weights cannot be fetched offline) and as the classifier
side of the classifier-vs-generator comparison.
"""

from __future__ import annotations

import torch
from torch import nn


class DigitsClassifier(nn.Module):
    """(N, 1, R, R) in [-1, 1] -> logits (N, num_classes); ``features`` gives the
    penultimate ``feature_dim`` vector, ``feature_maps`` the four conv activations, and
    ``embedding`` the features divided by ``feature_scale`` (their RMS over the training
    images, set after training) so that, like Inception's pool features, x.y/d is of order
    one and KID's cubic kernel stays well conditioned."""

    def __init__(self, width: int = 32, feature_dim: int = 128, num_classes: int = 10,
                 channels: int = 1, resolution: int = 16) -> None:
        super().__init__()
        if resolution % 4:
            raise ValueError(f"resolution={resolution} is not supported; accepted: multiples of 4.")
        self.feature_dim = feature_dim
        self.blocks = nn.ModuleList([
            nn.Sequential(nn.Conv2d(channels, width, 3, padding=1), nn.ReLU()),
            nn.Sequential(nn.Conv2d(width, width, 3, padding=1), nn.ReLU()),
            nn.Sequential(nn.MaxPool2d(2), nn.Conv2d(width, 2 * width, 3, padding=1), nn.ReLU()),
            nn.Sequential(nn.Conv2d(2 * width, 2 * width, 3, padding=1), nn.ReLU()),
        ])
        self.head = nn.Sequential(nn.MaxPool2d(2), nn.Flatten(),
                                  nn.Linear(2 * width * (resolution // 4) ** 2, feature_dim), nn.ReLU())
        self.dropout = nn.Dropout(0.3)
        self.fc = nn.Linear(feature_dim, num_classes)
        self.register_buffer("feature_scale", torch.ones(()))

    def feature_maps(self, x: torch.Tensor) -> list[torch.Tensor]:
        maps = []
        for block in self.blocks:
            x = block(x)
            maps.append(x)
        return maps

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.feature_maps(x)[-1])

    def embedding(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x) / self.feature_scale

    @torch.no_grad()
    def set_feature_scale(self, images: torch.Tensor) -> float:
        """Set ``feature_scale`` to the RMS of the features of ``images``."""
        was_training = self.training
        self.eval()
        self.feature_scale.fill_(self.features(images).pow(2).mean().sqrt().item())
        self.train(was_training)
        return float(self.feature_scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.dropout(self.features(x)))
