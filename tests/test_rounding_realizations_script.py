"""scripts/rounding_realizations.py quantizes weights on genq's own grids: its round-to-nearest
per-group and per-channel weights equal the engine's fake quantization of the same weight."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("rounding_realizations", ROOT / "scripts" / "rounding_realizations.py")
rr = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(rr)


def test_round_to_nearest_matches_genq_per_group_and_per_channel() -> None:
    """Same grids as the engine. The symmetric min-max scale (amax / 7.5) puts a negative
    extreme exactly on the tie -7.5, which x / scale and the engine's x * (1 / scale) may
    round to -8 or -7: those elements, and only they, may differ by one step."""
    from genq.quant.granularity import PerChannel, PerGroup
    from genq.quant.primitives import fake_quantize_tensor

    w = torch.randn(16, 64, 3, 3)
    for granularity, g, amax in (
            ("per_channel", PerChannel(0), w.abs().amax(dim=(1, 2, 3), keepdim=True)),
            ("per_group", PerGroup(32, 1),
             w.movedim(1, -1).reshape(16, 3, 3, 2, 32).abs().amax(-1, keepdim=True)
             .expand(16, 3, 3, 2, 32).reshape(16, 3, 3, 64).movedim(-1, 1))):
        ours = rr.quantize(w, 4, granularity, "rtn", None, group_size=32)
        engine = fake_quantize_tensor(w, 4, True, g)
        differ = (ours - engine).abs() > 1e-6
        assert torch.equal(differ & (w.abs() != amax), torch.zeros_like(differ)), granularity
        assert ((ours - engine).abs() <= amax / 7.5 * 1.0001).all(), granularity


def test_per_group_falls_back_to_per_channel_where_the_group_does_not_divide() -> None:
    w = torch.randn(8, 3, 3, 3)                    # 3 input channels: no group of 32
    assert torch.equal(rr.quantize(w, 4, "per_group", "rtn", None, 32), rr.quantize(w, 4, "per_channel", "rtn", None))


def test_stochastic_draws_differ_and_stay_on_the_grid() -> None:
    w = torch.randn(8, 64)
    a = rr.quantize(w, 4, "per_group", "stochastic", torch.Generator().manual_seed(1), 32)
    b = rr.quantize(w, 4, "per_group", "stochastic", torch.Generator().manual_seed(2), 32)
    assert not torch.equal(a, b)
    scale = w.reshape(8, 2, 32).abs().amax(-1, keepdim=True) / 7.5
    steps = a.reshape(8, 2, 32) / scale
    assert torch.allclose(steps, steps.round(), atol=1e-4) and steps.abs().max() <= 8
