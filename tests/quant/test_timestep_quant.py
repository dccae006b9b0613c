"""Per-timestep activation scales (light TDQ): calibrated per bucket, looked up by the
timestep of the call actually running."""

from __future__ import annotations

import copy

import torch

from genq.quant import quantize_
from genq.quant.api import run_calibration
from genq.quant.timestep_quant import (TimestepFakeQuantizer, install_timestep_context,
                                       timestep_context, use_timestep_quantizers)
from ptq_tiny import output_of, recipe, tiny_unet, unet_batches


def _tdq(fp, batches, buckets=2):
    model = copy.deepcopy(fp)

    def calibrate(m):
        ctx = install_timestep_context(m, 1000, buckets)
        assert use_timestep_quantizers(m, ctx) > 10
        run_calibration(m, batches)

    quantize_(model, recipe(8, 4), calib=calibrate)
    return model


def test_scales_are_looked_up_by_the_timestep_actually_used():
    fp = tiny_unet()
    model = _tdq(fp, unet_batches((900, 100)))
    q = model.conv_in.input_quantizer
    assert isinstance(q, TimestepFakeQuantizer) and q.calibrated_buckets == [0, 1]
    assert q.bucket_scale[1] > 1.5 * q.bucket_scale[0]         # larger x_t at large t
    used = []
    q.register_forward_hook(lambda m, a, o: used.append(m.lookup(a[0])[0].clone()))
    x = torch.randn(3, 1, 8, 8)
    with torch.no_grad():
        model(x, torch.full((3,), 950))
        model(x, 40)                                          # scalar timestep
        model(x, torch.tensor([40, 950, 40]))                 # one batch, two buckets
    assert torch.equal(used[0], q.bucket_scale[1]) and torch.equal(used[1], q.bucket_scale[0])
    assert used[2].flatten().tolist() == [q.bucket_scale[i].item() for i in (0, 1, 0)]
    assert timestep_context(model).t.tolist() == [40, 950, 40]
    copied = copy.deepcopy(model)                             # the hook follows the copy
    with torch.no_grad():
        copied(x, 950)
    assert timestep_context(copied).t.tolist() == [950] and timestep_context(model).t.tolist() != [950]


def test_uncalibrated_bucket_falls_back_to_the_global_scale():
    model = _tdq(tiny_unet(), unet_batches((900,)), buckets=4)
    q = model.conv_in.input_quantizer
    assert q.calibrated_buckets == [3]
    assert torch.equal(q.bucket_scale[0], q.scale.reshape(()))


def test_per_timestep_scales_lower_block_output_error_against_naive_minmax():
    fp = tiny_unet()
    batches = unet_batches((900, 100))
    naive = copy.deepcopy(fp)
    quantize_(naive, recipe(8, 4), calib=batches)
    tdq = _tdq(fp, batches)
    low_t = batches[1:]                                       # small t: the global range is too wide there
    for name in ("down_blocks.0.resnets.0", "up_blocks.1.resnets.1", "conv_out"):
        ref = output_of(fp, name, low_t)
        err_naive = (output_of(naive, name, low_t) - ref).pow(2).mean()
        err_tdq = (output_of(tdq, name, low_t) - ref).pow(2).mean()
        assert err_tdq < err_naive, name
