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


def test_the_timestep_is_read_by_name_for_keyword_and_pixart_style_calls():
    from genq.quant.timestep_quant import TimestepContext

    class PixArtLike(torch.nn.Module):         # forward(hidden_states, encoder_hidden_states, timestep)
        def forward(self, hidden_states, encoder_hidden_states=None, timestep=None):
            return hidden_states

    net = PixArtLike()
    ctx = install_timestep_context(net, 1000, 4)
    net(torch.zeros(2, 3), torch.zeros(2, 5), torch.tensor([900, 900]))       # positional, third
    assert ctx.t.tolist() == [900, 900] and ctx.uniform == 3
    net(torch.zeros(2, 3), timestep=torch.tensor([10, 600]))                  # keyword, two buckets
    assert ctx.uniform is None and ctx.current_buckets().tolist() == [0, 2]
    import pytest

    from genq.errors import GenqError
    with pytest.raises(GenqError, match="timestep"):
        net(torch.zeros(2, 3), torch.zeros(2, 5))
    assert isinstance(ctx, TimestepContext)


def test_the_sampler_loop_publishes_the_step_before_each_network_call():
    from genq.models.diffusion import DiffusionAdapter

    fp = DiffusionAdapter(dict(sample_size=8, in_channels=1, out_channels=1, layers_per_block=1,
                               block_out_channels=(8, 16), norm_num_groups=4,
                               down_block_types=("DownBlock2D", "DownBlock2D"),
                               up_block_types=("UpBlock2D", "UpBlock2D")), num_inference_steps=3)
    ctx = install_timestep_context(fp.network, 1000, 2)
    seen = []
    fp.network.register_forward_pre_hook(lambda m, a, k: seen.append((ctx.step, ctx.t.tolist(), ctx._in_loop)),
                                         with_kwargs=True)
    fp.sample(fp.make_noise(2, 0))
    timesteps = [int(t) for t in fp.sampling_scheduler().timesteps]
    assert seen == [(i, [t], True) for i, t in enumerate(timesteps)] and not ctx._in_loop
    clone = fp.clone()                                                 # the listener follows the copy
    assert timestep_context(clone.network) is not ctx
    from genq.models.sampler import step_listeners
    assert step_listeners(clone.network) == [timestep_context(clone.network)]
