"""Tiny models and calibration data shared by the PTQ-method tests."""

from __future__ import annotations

import torch

from genq.config_ptq import CalibrationConfig, ReconstructionConfig
from genq.quant import QuantRecipe


def tiny_unet():
    from diffusers import UNet2DModel

    torch.manual_seed(0)
    return UNet2DModel(sample_size=8, in_channels=1, out_channels=1, layers_per_block=1,
                       block_out_channels=(8, 16), norm_num_groups=4, attention_head_dim=8,
                       down_block_types=("DownBlock2D", "AttnDownBlock2D"),
                       up_block_types=("AttnUpBlock2D", "UpBlock2D")).eval()


def unet_batches(timesteps=(900, 100), n: int = 16, seed: int = 0) -> list[tuple]:
    """One batch per timestep; the x_t scale grows with t as along a real trajectory."""
    gen = torch.Generator().manual_seed(seed)
    return [(torch.randn(n, 1, 8, 8, generator=gen) * (0.3 + t / 500), torch.full((n,), t))
            for t in timesteps]


def recipe(w_bits=4, a_bits=8, **kw) -> QuantRecipe:
    r = QuantRecipe(w_bits=w_bits, a_bits=a_bits)
    r.calibration = CalibrationConfig(**kw.pop("calibration", {}))
    r.reconstruction = ReconstructionConfig(**{"progress": False, **kw.pop("reconstruction", {})})
    for k, v in kw.items():
        setattr(r, k, v)
    return r


@torch.no_grad()
def output_of(model, name: str, batches: list[tuple]) -> torch.Tensor:
    got = []
    h = model.get_submodule(name).register_forward_hook(lambda m, a, o: got.append(o.clone()))
    try:
        for b in batches:
            model(*b)
    finally:
        h.remove()
    return torch.cat(got)
