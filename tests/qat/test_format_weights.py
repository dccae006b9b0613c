"""QAT on non-integer formats: block-scaled weights recompute their scales from the current
weight while training, pass gradients straight through, and freeze on the final weight at
convert (so the deployed model is PTQ of the trained weights); minifloat quantizers keep
their calibrated scale; integer quantizers still become LSQ."""

from __future__ import annotations

import torch
from torch import nn

from conftest import compose
from genq.models import load_generator
from genq.qat.format_weights import TrackingBlockQuantizer, freeze_block_weights, track_block_weights
from genq.qat.lsq import LSQQuantizer, make_learnable
from genq.qat.pipeline import run_qat
from genq.quant import QuantRecipe, quantize_
from genq.quant.formats import parse_format
from genq.quant.modules import QuantMixin
from genq.quant.quantizer import FakeQuantizer

FAST = ("quant.qat.steps=3", "quant.qat.batch_size=4", "quant.qat.progress=false", "quant.qat.lr=1e-2")


def _mlp(**recipe) -> nn.Module:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(64, 32), nn.GELU(), nn.Linear(32, 32))
    quantize_(net, QuantRecipe(**recipe), calib=[torch.randn(8, 64)])
    return net


def test_block_weights_track_the_current_weight_with_a_straight_through_gradient():
    net = _mlp(w_bits=None, a_bits=None, w_format="nvfp4", a_format="nvfp4")
    assert make_learnable(net) == 0                    # no integer grid: nothing becomes LSQ
    assert track_block_weights(net) == 2
    layer = net[0]
    assert isinstance(layer.weight_quantizer, TrackingBlockQuantizer)
    nvfp4 = parse_format("nvfp4")
    with torch.no_grad():
        layer.weight_fp.mul_(3.0)                      # the scales must follow the new weight
    layer.train()
    layer.weight_fp.requires_grad_(True)
    w = layer.weight
    assert torch.equal(w, nvfp4.fake_quantize_blocks(layer.weight_fp.detach(), -1))
    coeff = torch.randn_like(w)
    (w * coeff).sum().backward()
    # every element of a block-scaled tensor lies inside its own block's range: gradient = coeff
    torch.testing.assert_close(layer.weight_fp.grad, coeff)


def test_convert_freezes_block_scales_on_the_final_weight():
    net = _mlp(w_bits=None, a_bits=None, w_format="mxfp4", a_format="mxfp8_e4m3")
    track_block_weights(net)
    with torch.no_grad():
        for layer in (net[0], net[2]):
            layer.weight_fp.add_(0.05 * torch.randn_like(layer.weight_fp))
    assert freeze_block_weights(net) == 2
    for layer in (net[0], net[2]):
        wq = layer.weight_quantizer
        assert isinstance(wq, FakeQuantizer) and wq.mode == "quant"
        fresh = FakeQuantizer(parse_format("mxfp4"), granularity=wq.granularity)
        fresh.calibrate_from(layer.weight_fp.detach())
        torch.testing.assert_close(wq.scale, fresh.scale, rtol=0, atol=0)
        with torch.no_grad():
            assert torch.equal(layer.weight, fresh(layer.weight_fp))


def test_integer_quantizers_still_become_lsq_next_to_minifloats():
    net = _mlp(w_bits=4, a_bits=8, a_format="fp8_e4m3")
    assert make_learnable(net) == 2                    # the two int4 weight quantizers
    assert all(isinstance(m.weight_quantizer, LSQQuantizer) for m in (net[0], net[2]))
    assert all(isinstance(m.input_quantizer, FakeQuantizer) and m.input_quantizer.format.name == "fp8_e4m3"
               for m in (net[0], net[2]))


def test_qat_on_nvfp4_trains_the_weights_and_deploys_ptq_of_them():
    cfg = compose("experiment=smoke", "logger=none", "model=dcgan_digits", "quant=qat_lsq_w4a4",
                  "quant.w_format=nvfp4", "quant.a_format=nvfp4", "quant.exclude=[]",
                  "quant.qat.feature_weight=0", *FAST)
    fp = load_generator(cfg.model)
    out = run_qat(fp, cfg.quant, seed=0)
    qat = out.info["qat"]
    assert qat["learnable_quantizers"] == 0 and qat["tracked_block_weights"] > 0
    assert qat["trained_parameters"] > 0 and qat["learn_weights"] is True
    net = out.model.network
    fp_weights = dict(fp.network.named_parameters())
    changed = 0
    for name, layer in net.named_modules():
        if isinstance(layer, QuantMixin) and layer.weight_quantizer is not None:
            wq = layer.weight_quantizer
            assert isinstance(wq, FakeQuantizer) and wq.format.name == "nvfp4"
            fresh = FakeQuantizer(wq.format, granularity=wq.granularity)
            fresh.block_axis = wq.block_axis
            fresh.calibrate_from(layer.weight_fp)
            assert torch.equal(layer.weight, fresh(layer.weight_fp))
            changed += not torch.equal(layer.weight_fp, fp_weights[f"{name}.{layer.genq_target.weight}"])
    assert changed > 0                                  # the weights did train
    images = out.model.sample(fp.make_noise(4, 0))
    assert torch.isfinite(images).all()


def test_qat_on_per_channel_fp4_keeps_the_calibrated_scales():
    cfg = compose("experiment=smoke", "logger=none", "model=dcgan_digits", "quant=qat_lsq_w4a8",
                  "quant.w_format=fp4_e2m1", "quant.a_format=fp8_e4m3", "quant.exclude=[]",
                  "quant.qat.feature_weight=0", *FAST)
    out = run_qat(load_generator(cfg.model), cfg.quant, seed=0)
    qat = out.info["qat"]
    assert qat["learnable_quantizers"] == 0 and qat["tracked_block_weights"] == 0
    assert qat["fixed_scale_quantizers"] > 0
    assert qat["loss_final"] is not None and torch.isfinite(torch.tensor(qat["loss_final"]))
