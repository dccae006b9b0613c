"""AdaRound / BRECQ reconstruction: lower block-output error than nearest rounding, and
soft rounding that ends at hard 0/1 decisions."""

from __future__ import annotations

import copy
import importlib

import pytest
import torch
from torch import nn

from genq.models.dcgan import DCGANGenerator
from genq.quant import quantize_
from genq.quant.calibration import CalibrationSet
from genq.quant.reconstruction import AdaRoundQuantizer, find_blocks, reconstruct
from genq.quant.reconstruction.adaround import beta_schedule
from ptq_tiny import recipe, tiny_unet, unet_batches

recon_module = importlib.import_module("genq.quant.reconstruction.reconstruct")


def test_adaround_starts_at_fp_and_hardens_to_floor_or_ceil():
    torch.manual_seed(0)
    w = torch.randn(4, 6)
    scale = torch.full((4, 1), 0.3)
    ada = AdaRoundQuantizer(w, scale, torch.zeros(4, 1), -8, 7)
    inside = (w / scale).abs() < 7
    assert torch.allclose(ada(w)[inside], w[inside], atol=1e-4)   # soft start = FP weight
    ada.harden()
    grid = ada(w) / scale
    assert torch.equal(grid, grid.round())
    assert (torch.isin(grid - torch.floor(w / scale), torch.tensor([0.0, 1.0])) | ~inside).all()
    assert beta_schedule(0, 100, 0.2, 20, 2) is None and beta_schedule(20, 100, 0.2, 20, 2) == 20
    assert beta_schedule(99, 100, 0.2, 20, 2) == pytest.approx(2.225)


def _gan(seed=0):
    torch.manual_seed(seed)
    g = DCGANGenerator(latent_dim=16, base_channels=16).eval()
    z = torch.randn(256, 16)
    g.train()
    with torch.no_grad():                      # "trained" BN statistics
        for m in g.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.momentum = None
        g(z)
    return g.eval(), [(c,) for c in z.split(64)]


def test_adaround_soft_rounding_ends_at_hard_decisions(monkeypatch):
    fp, batches = _gan()
    q = copy.deepcopy(fp)
    quantize_(q, recipe(3, None), calib=None)
    seen = {}
    original = recon_module._bake

    def spy(layers, originals):
        seen["h"] = [l.weight_quantizer.rectified().detach() for l in layers
                     if isinstance(l.weight_quantizer, AdaRoundQuantizer)]
        seen["soft"] = [l.weight_quantizer.soft for l in layers]
        seen["decisions"] = [l.weight_quantizer.decisions() for l in layers]
        original(layers, originals)

    monkeypatch.setattr(recon_module, "_bake", spy)
    cfg = recipe(3, None, reconstruction=dict(method="adaround", iters=300, samples=128,
                                                         lr=5e-2)).reconstruction
    info = reconstruct(fp, q, CalibrationSet(batches), cfg)
    h = torch.cat([x.flatten() for x in seen["h"]])
    assert not any(seen["soft"])
    assert all(set(d.unique().tolist()) <= {0.0, 1.0} for d in seen["decisions"])
    assert ((h == 0) | (h == 1)).float().mean() > 0.9             # the regulariser drove h to 0/1
    assert info["block_error_after"] < info["block_error_before"]
    assert info["soft_rounding_converged"] > 0.9
    for layer in (q.net[0], q.net[3], q.net[6]):                  # baked weights lie on the grid
        wq = layer.weight_quantizer
        grid = layer.weight / wq.scale
        assert torch.allclose(grid, grid.round(), atol=1e-3)


def test_brecq_blocks_are_the_gan_upsampling_blocks_and_unet_blocks():
    fp, _ = _gan()
    quantize_(fp, recipe(4, None), calib=None)
    assert [b.members for b in find_blocks(fp, "brecq")] == [["net.0", "net.1", "net.2"],
                                                             ["net.3", "net.4", "net.5"], ["net.6", "net.7"]]
    unet = tiny_unet()
    quantize_(unet, recipe(4, None), calib=None)
    kinds = [b.kind for b in find_blocks(unet, "brecq")]
    assert kinds.count("resnet") == 8 and kinds.count("attention") == 4
    assert len(find_blocks(unet, "adaround")) == sum(1 for b in find_blocks(unet, "brecq") for _ in b.layers)


@pytest.mark.parametrize("method", ["adaround", pytest.param("brecq", marks=pytest.mark.slow)])
def test_reconstruction_lowers_gan_output_error_against_naive_minmax(method):
    fp, batches = _gan()
    naive = copy.deepcopy(fp)
    quantize_(naive, recipe(4, 8), calib=batches)
    rec = copy.deepcopy(naive)
    cfg = recipe(reconstruction=dict(method=method, iters=300, samples=128, learn_act_scale=True,
                                     act_iters=20)).reconstruction
    info = reconstruct(fp, rec, CalibrationSet(batches), cfg)
    assert info["units"] == 3 and info["units_improved"] == 3
    z = torch.randn(128, 16, generator=torch.Generator().manual_seed(1))   # held-out latents
    with torch.no_grad():
        ref = fp(z)
        assert (rec(z) - ref).pow(2).mean() < (naive(z) - ref).pow(2).mean()


@pytest.mark.slow
def test_brecq_lowers_unet_block_output_error():
    fp = tiny_unet()
    batches = unet_batches((900, 500, 100), n=16)
    q = copy.deepcopy(fp)
    quantize_(q, recipe(4, 8), calib=batches)
    cfg = recipe(reconstruction=dict(method="brecq", iters=40, samples=48, batch_size=16)).reconstruction
    info = reconstruct(fp, q, CalibrationSet(batches), cfg)
    assert info["kinds"] == {"attention": 4, "layer": 6, "resnet": 8}
    assert info["block_error_after"] < info["block_error_before"]
    assert info["units_improved"] >= info["units"] - 2


def test_a_nan_reconstruction_loss_stops_with_one_sentence(monkeypatch):
    from genq.errors import GenqError

    fp, batches = _gan()
    q = copy.deepcopy(fp)
    quantize_(q, recipe(4, None), calib=None)
    monkeypatch.setattr(recon_module, "block_loss", lambda out, target: (out - target).sum() * float("nan"))
    cfg = recipe(4, None, reconstruction=dict(method="adaround", iters=5, samples=64)).reconstruction
    with pytest.raises(GenqError, match="non-finite loss .* rounding iteration 0"):
        reconstruct(fp, q, CalibrationSet(batches), cfg)
