"""Inception-v3 features for the standard FID, KID, IS and precision/recall: torch-fidelity's
``FeatureExtractorInceptionV3`` ("inception-v3-compat"), the network torchmetrics' FID/KID/IS
wrap as ``NoTrainInceptionV3``, run as torch-fidelity runs it.

Generated images in [-1, 1] (1 or 3 channels, any size) become what that extractor expects:
3 channels (grey repeated) and uint8, by ``x * 127.5 + 128`` clamped and truncated (round
half up, as StyleGAN2-ADA's metrics quantize generator output). The resize to 299x299 is the
extractor's own TF1-compatible bilinear interpolation (``interpolate_bilinear_2d_like_
tensorflow1x``), the path of the original TF FID code; it is named in every record.
One forward pass gives the 2048-d pool features (FID, KID, PR) and the 1008 unbiased logits
(IS, as torch-fidelity's ``feature_layer_isc``).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from genq.errors import GenqError
from genq.metrics.weights import INCEPTION_FILE, describe_weights, load_state_dict

NAME = "inception-v3-compat"


def to_uint8_rgb(images: torch.Tensor) -> torch.Tensor:
    """[-1, 1] float images (N, 1|3, H, W) -> uint8 (N, 3, H, W)."""
    if images.dim() != 4 or images.shape[1] not in (1, 3):
        raise ValueError(f"expected images of shape (N, 1 or 3, H, W), got {tuple(images.shape)}")
    x = (images.float() * 127.5 + 128.0).clamp(0, 255).to(torch.uint8)
    return x.expand(-1, 3, -1, -1).contiguous() if x.shape[1] == 1 else x


class InceptionFeatures(nn.Module):
    """torch-fidelity's Inception-v3 behind genq's extractor interface: ``embed`` maps
    [-1, 1] images to ``{"features": (N, 2048), "logits": (N, 1008)}`` (float32)."""

    name = NAME
    num_features = 2048

    def __init__(self, weights_path: str | Path) -> None:
        super().__init__()
        from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

        # Read once with weights_only=True first: a file that is not a plain state dict
        # fails here with a clear message instead of running code in torch-fidelity's load.
        load_state_dict(weights_path, "Inception-v3")
        try:
            self.net = FeatureExtractorInceptionV3(NAME, ["2048", "logits_unbiased"],
                                                   feature_extractor_weights_path=str(weights_path))
        except RuntimeError as err:   # e.g. pytorch-fid's pt_inception file: other layer names
            raise GenqError(f"Inception-v3 weights file {str(weights_path)!r} is not torch-fidelity's "
                            f"{INCEPTION_FILE} ({str(err).splitlines()[0][:160]}).") from err
        self.weights = describe_weights(weights_path, INCEPTION_FILE)

    @staticmethod
    def resize(height: int, width: int) -> str:
        return (f"torch-fidelity bilinear (TF1-compatible) {height}x{width} -> 299x299, "
                "uint8 input")

    @torch.no_grad()
    def embed(self, images: torch.Tensor, logits: bool = True) -> dict[str, torch.Tensor]:
        device = next(self.net.parameters()).device
        features, unbiased = self.net(to_uint8_rgb(images).to(device))
        out = {"features": features.float().cpu()}
        if logits:
            out["logits"] = unbiased.float().cpu()
        return out

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.embed(images, logits=False)["features"]
