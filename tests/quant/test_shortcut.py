"""Shortcut splitting (Q-Diffusion): the concatenated skip inputs get one scale per half."""

from __future__ import annotations

import copy

import torch

from genq.quant import quantize_
from genq.quant.api import run_calibration
from genq.quant.shortcut import SplitActQuantizer, SplitWeightQuantizer, apply_shortcut_split, find_concat_splits
from ptq_tiny import output_of, recipe, tiny_unet, unet_batches


def test_splits_found_at_each_concatenation():
    unet = tiny_unet()
    splits = find_concat_splits(unet, unet_batches(n=1)[0])
    # up block 0 (16 ch): resnet 0 takes h=16 + skip, resnet 1 h=16 + skip; up block 1 likewise at 8
    assert splits == {"up_blocks.0.resnets.0.conv_shortcut": 16, "up_blocks.0.resnets.1.conv_shortcut": 16,
                      "up_blocks.1.resnets.0.conv_shortcut": 16, "up_blocks.1.resnets.1.conv_shortcut": 8}


def test_split_lowers_block_output_error_against_naive_minmax():
    fp = tiny_unet()
    batches = unet_batches()
    splits = find_concat_splits(fp, batches[0])
    naive, split = copy.deepcopy(fp), copy.deepcopy(fp)
    quantize_(naive, recipe(4, 4), calib=batches)

    def calibrate(model):
        assert apply_shortcut_split(model, splits) == list(splits)
        run_calibration(model, batches)

    quantize_(split, recipe(4, 4), calib=calibrate)
    layer = split.get_submodule("up_blocks.1.resnets.0.conv_shortcut")
    assert isinstance(layer.input_quantizer, SplitActQuantizer)
    assert isinstance(layer.weight_quantizer, SplitWeightQuantizer)
    assert all(p.mode == "quant" for p in layer.input_quantizer.parts)
    for name in ("up_blocks.0.resnets.0", "up_blocks.1.resnets.0"):
        ref = output_of(fp, name, batches)
        err_naive = (output_of(naive, name, batches) - ref).pow(2).mean()
        err_split = (output_of(split, name, batches) - ref).pow(2).mean()
        assert err_split < err_naive, name


def test_split_quantizes_each_half_with_its_own_range():
    from genq.quant.quantizer import FakeQuantizer

    base = FakeQuantizer(4, False)
    base.set_mode("observe")
    q = SplitActQuantizer(base, 2)
    x = torch.cat([torch.rand(8, 2, 3, 3) * 0.01, torch.rand(8, 3, 3, 3) * 100], dim=1)
    q(x)
    for p in q.parts:
        p.freeze()
    err = (q(x) - x)[:, :2].abs().max()
    assert err <= q.parts[0].scale / 2 + 1e-6 and q.parts[0].scale < 0.001 < q.parts[1].scale
