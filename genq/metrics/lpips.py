"""LPIPS (Zhang et al., 2018, arXiv:1801.03924), v0.1 with learned linear layers, through
torchmetrics: the module ``LearnedPerceptualImagePatchSimilarity(net_type, normalize=False)``
wraps (``_NoTrainLpips``), with the same linear weights (shipped in torchmetrics) and the
same torchvision ImageNet backbone file. genq builds it with a random backbone and loads the
backbone from the resolved file (torch hub cache or ``metrics.lpips_weights``), so the
network never downloads; the numbers equal torchmetrics' own (checked in the tests).

Inputs are [-1, 1]; grey images are repeated to 3 channels. Images smaller than a backbone
accepts (AlexNet 31 px, SqueezeNet 17 px, VGG 16 px) are upsampled bilinearly to 64x64, the
patch size LPIPS was calibrated on (BAPPS), with torchmetrics' own ``resize``; larger images
are scored at native size (the CIFAR-10 practice). The record names the choice.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from genq.errors import GenqError
from genq.metrics.checks import LPIPS_MIN_SIDE as MIN_SIDE
from genq.metrics.weights import LPIPS_BACKBONES, describe_weights, load_state_dict

LPIPS_NETS = tuple(LPIPS_BACKBONES)
UPSAMPLE_TO = 64


def _load_backbone(lpips: nn.Module, net: str, path: str | Path) -> None:
    """Copy a torchvision ImageNet state dict into the LPIPS slices (same modules, same
    indices into ``features`` as torchmetrics' ``_get_tv_model_features``)."""
    import torchvision

    arch, _ = LPIPS_BACKBONES[net]
    with torch.device("meta"):   # structure only: the file's tensors are assigned below
        reference = getattr(torchvision.models, arch)(weights=None)
    state = load_state_dict(path, f"LPIPS backbone ({arch})")
    try:
        reference.load_state_dict(state, assign=True)
    except RuntimeError as err:
        raise GenqError(f"LPIPS backbone file {str(path)!r} is not a torchvision {arch} state dict "
                        f"({str(err).splitlines()[0][:200]}).") from err
    copied = 0
    for block in lpips.net.modules():   # the slices: Sequentials of features[i] named "i"
        if isinstance(block, nn.Sequential):
            for index, layer in block.named_children():
                layer.load_state_dict(reference.features[int(index)].state_dict())
                copied += sum(p.numel() for p in layer.parameters())
    if copied != sum(p.numel() for p in lpips.net.parameters()):
        raise RuntimeError(f"torchmetrics' LPIPS {net} backbone layout is not the one genq knows")


class LPIPS(nn.Module):
    """Per-pair LPIPS between image batches in [-1, 1]: ``forward(a, b) -> (N,)``."""

    def __init__(self, net: str, backbone_path: str | Path, resize: int | None = None) -> None:
        super().__init__()
        from torchmetrics.functional.image.lpips import _NoTrainLpips

        if net not in LPIPS_NETS:
            raise GenqError(f"metrics.lpips_net={net!r} is not a torchmetrics LPIPS network; "
                            f"accepted: {', '.join(LPIPS_NETS)}.")
        self.net_type = net
        self.lpips = _NoTrainLpips(net=net, pnet_rand=True)   # linear layers: torchmetrics' file
        _load_backbone(self.lpips, net, backbone_path)
        self.resize_to = resize
        self.weights = describe_weights(backbone_path, LPIPS_BACKBONES[net][1])

    def size_for(self, side: int) -> int | None:
        """The side images are resized to (None: native)."""
        if self.resize_to is not None:
            return None if self.resize_to == side else self.resize_to
        return None if side >= MIN_SIDE[self.net_type] else UPSAMPLE_TO

    def describe(self, height: int, width: int) -> tuple[str, str]:
        """(lpips_net, lpips_resize) for the record."""
        size = self.size_for(min(height, width))
        resize = (f"native {height}x{width}" if size is None
                  else f"bilinear {height}x{width} -> {size}x{size} (torchmetrics LPIPS resize)")
        return f"{self.net_type} (LPIPS v0.1, torchmetrics)", resize

    @torch.no_grad()
    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        device = next(self.lpips.parameters()).device
        self.lpips.resize = self.size_for(min(a.shape[-2:]))
        a, b = (x.float().clamp(-1, 1).to(device) for x in (a, b))
        if a.shape[1] == 1:
            a, b = a.expand(-1, 3, -1, -1), b.expand(-1, 3, -1, -1)
        return self.lpips(a, b, normalize=False).reshape(-1).cpu()


@torch.no_grad()
def lpips_distance(model: LPIPS, a: torch.Tensor, b: torch.Tensor, batch_size: int = 100) -> torch.Tensor:
    """Per-pair LPIPS (N,), in batches (independent of the batch size)."""
    return torch.cat([model(xa, xb) for xa, xb in zip(a.split(batch_size), b.split(batch_size))])
