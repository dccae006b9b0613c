"""Tiny models and calibration data shared by the PTQ-method tests."""

from __future__ import annotations

import torch
from tiny_models import tiny_unet  # noqa: F401  (re-exported for the tests here)

from genq.config.ptq import CalibrationConfig, ReconstructionConfig
from genq.quant import QuantRecipe


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
