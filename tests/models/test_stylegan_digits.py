"""model=stylegan_digits (issue 17): a tiny untrained StyleGAN2 generator through the adapter
conformance suite, the modulated convolution's quantized forward against a hand-computed
reference, truncation, the mapping/style-affine layer group kept FP by a recipe, the coverage
report, PTQ end to end and the int8 backend's refusal naming the modulated convolutions."""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from adapter_mixin import AdapterTests, ConformanceTests
from conftest import compose
from genq.errors import GenqError
from genq.models.registry import load_generator
from genq.models.stylegan import ModulatedConv2d
from genq.models.stylegan_adapter import StyleGANAdapter
from genq.quant import QuantRecipe, quantize_

# the synthesis containers hold the learned 4x4 constant, the noise strengths and the biases,
# added in floating point after each (quantized) modulated convolution
STYLEGAN_FP_TYPES = {"SynthesisBlock", "SynthesisLayer", "ToRGB"}
MAPPING_GROUP = ["mapping.*", "*.affine"]


def tiny_stylegan(truncation: float = 1.0) -> StyleGANAdapter:
    cfg = compose("model=stylegan_digits", "experiment=smoke", f"model.truncation={truncation}").model
    cfg.weights = None
    adapter = load_generator(cfg)
    assert isinstance(adapter, StyleGANAdapter)
    with torch.random.fork_rng(devices=[]):      # untrained noise strengths are 0: give them a say
        torch.manual_seed(0)
        for name, p in adapter.network.named_parameters():
            if name.endswith("noise_strength"):
                p.data.fill_(0.1)
    return adapter


class TestStyleGANAdapter(ConformanceTests, AdapterTests):
    family, model_name = "gan", "stylegan_digits"
    extra_fp_types = STYLEGAN_FP_TYPES

    def make_adapter(self):
        return tiny_stylegan()


def test_noise_bank_holds_latent_and_per_pixel_noise():
    adapter = tiny_stylegan()
    g = adapter.network
    bank = adapter.make_noise(3, 0)
    assert bank.shape == (3, g.z_dim + g.noise_dim) and g.noise_dim == 16 + 2 * 64 + 2 * 256
    other = bank.clone()
    other[:, g.z_dim:] = adapter.make_noise(3, 1)[:, g.z_dim:]     # same z, other pixel noise
    a, b = adapter.sample(bank), adapter.sample(other)
    assert not torch.equal(a, b) and (a - b).abs().mean() < (a - adapter.sample(adapter.make_noise(3, 1))).abs().mean()


def _fake_quant(x, scale, zp, qmin, qmax):
    """x * (1 / scale), as torch's fake-quant kernel computes it (the weight's extreme value
    sits on a rounding tie, +-7.5, which x / scale can round the other way)."""
    return (torch.clamp(torch.round(x * (1.0 / scale)) + zp, qmin, qmax) - zp) * scale


def test_modulated_conv_quantized_forward_matches_hand_reference():
    """W4 per out channel (symmetric min-max) on the base weight, A8 per tensor (asymmetric
    min-max) on the modulated input x * style, conv, then the demodulation of the quantized
    base weight as a per-sample, per-output-channel scale."""

    class Layer(nn.Module):
        def __init__(self):
            super().__init__()
            self.modconv = ModulatedConv2d(3, 4, 3)

        def forward(self, x, style):
            return self.modconv(x * style[:, :, None, None], style)

    torch.manual_seed(0)
    layer = Layer()
    x, style = torch.randn(2, 3, 5, 5), torch.rand(2, 3) + 0.5
    q = Layer()
    q.load_state_dict(layer.state_dict())
    report = quantize_(q, QuantRecipe(w_bits=4, a_bits=8, layers=["ModulatedConv2d"]), calib=[(x, style)])
    assert [r.type for r in report.layers if r.status == "quantized"] == ["ModulatedConv2d"]
    with torch.no_grad():
        out = q(x, style)
        # by hand: weight scale = max|W[o]| / 7.5 (int4 [-8, 7]); activation range [min, max] on 0..255
        w = layer.modconv.weight
        w_scale = w.abs().amax(dim=(1, 2, 3), keepdim=True) / 7.5
        wq = _fake_quant(w, w_scale, 0.0, -8, 7)
        xm = x * style[:, :, None, None]
        lo, hi = min(xm.min().item(), 0.0), max(xm.max().item(), 0.0)
        a_scale = (hi - lo) / 255
        xq = _fake_quant(xm, a_scale, min(max(-round(lo / a_scale), 0), 255), 0, 255)
        # StyleGAN2's definition: d[n, o] = 1 / sqrt(sum_{c,k} (Wq[o, c, k] * style[n, c])^2 + eps)
        demod = torch.stack([torch.rsqrt((wq * s[None, :, None, None]).pow(2).sum(dim=(1, 2, 3)) + 1e-8)
                             for s in style])                                   # (N, C_out)
        ref = F.conv2d(xq, wq, padding=1) * demod[:, :, None, None]
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)
    assert not torch.allclose(out, layer(x, style), atol=1e-3)           # it was quantized


def test_truncation_one_is_none_and_zero_is_w_avg():
    adapter = tiny_stylegan()
    g = adapter.network
    g.w_avg.normal_()
    z = torch.randn(5, g.z_dim)
    with torch.no_grad():
        w = g.mapping(z)
        torch.testing.assert_close(g.map(z, truncation=1.0), w, atol=0, rtol=0)
        torch.testing.assert_close(g.map(z, truncation=0.0), g.w_avg.expand(5, -1), atol=1e-6, rtol=0)
        torch.testing.assert_close(g.map(z, truncation=0.5), (w + g.w_avg) / 2, atol=1e-6, rtol=0)
    noise = adapter.make_noise(4, 0)
    plain = adapter.sample(noise)
    adapter.truncation = 1.0
    assert torch.equal(adapter.sample(noise), plain)
    adapter.truncation = 0.0       # every sample from w_avg: the samples differ by their pixel noise only
    same_noise = noise.clone()
    same_noise[:, g.z_dim:] = noise[:1, g.z_dim:]
    a = adapter.sample(same_noise)
    assert torch.allclose(a, a[:1].expand_as(a), atol=1e-6)


def test_truncation_comes_from_the_config_and_is_range_checked(smoke_cfg):
    assert tiny_stylegan(0.7).truncation == 0.7 and tiny_stylegan().truncation == 1.0
    from genq.config import validate

    with pytest.raises(GenqError, match="model.truncation=1.5"):
        validate(smoke_cfg("model=stylegan_digits", "model.truncation=1.5"))


def test_mapping_group_can_be_kept_fp_or_quantized_alone():
    fp = tiny_stylegan()
    calib = fp.calibration_inputs(fp.make_noise(4, 1), batch_size=4)
    q = fp.clone()
    report = quantize_(q.network, QuantRecipe(w_bits=8, a_bits=8, exclude=MAPPING_GROUP), calib=calib)
    status = {r.name: r.status for r in report.layers}
    group = [n for n in status if n.startswith("mapping.net.") or n.endswith(".affine")]
    assert len(group) == 2 + 8 and all(status[n] == "skipped" for n in group)
    assert all(s == "quantized" for n, s in status.items() if n.endswith(".modconv"))
    assert not any("Quant" in type(m).__name__ for n, m in q.network.named_modules() if n in group)
    only = fp.clone()
    report = quantize_(only.network, QuantRecipe(w_bits=8, a_bits=8, include=MAPPING_GROUP), calib=calib)
    quantized = {r.name for r in report.layers if r.status == "quantized"}
    assert quantized == set(group)


def test_coverage_report_names_the_modulated_conv_and_quant_layers_selects_it():
    fp = tiny_stylegan()
    calib = fp.calibration_inputs(fp.make_noise(4, 1), batch_size=4)
    report = quantize_(fp.clone().network, QuantRecipe(w_bits=4, a_bits=8), calib=calib)
    by_type = report.counts()["by_type"]
    assert by_type["ModulatedConv2d"] == {"quantized": 8, "skipped": 0}          # 5 convs + 3 ToRGB
    assert by_type["Linear"] == {"quantized": 10, "skipped": 0}                  # mapping + affines
    report = quantize_(fp.clone().network, QuantRecipe(w_bits=4, a_bits=8, layers=["Linear"]), calib=calib)
    assert report.counts()["by_type"]["ModulatedConv2d"]["quantized"] == 0


@pytest.mark.parametrize("recipe", ["w4a4"])          # W8A8: the conformance tests and the int8 test
def test_ptq_runs_end_to_end_and_the_record_carries_truncation(recipe, tmp_path, smoke_cfg):
    from genq.run import run_experiment

    run_experiment(smoke_cfg("model=stylegan_digits", f"quant={recipe}", "model.truncation=0.8"), tmp_path)
    record = json.loads((tmp_path / "result.json").read_text())
    assert record["truncation"] == 0.8 and record["quant"]["recipe"] == recipe
    assert record["quant"]["coverage"]["by_type"]["ModulatedConv2d"]["quantized"] == 8
    for key in ("fid", "fid_fp", "qfid", "lpips_vs_fp"):
        assert isinstance(record["metrics"][key], float), key


def test_cpu_int8_refuses_naming_the_modulated_convs(tmp_path, smoke_cfg):
    from genq.run import run_experiment

    with pytest.raises(GenqError, match=r"synthesis\.0\.conv1\.modconv.*ModulatedConv2d"):
        run_experiment(smoke_cfg("model=stylegan_digits", "quant=w8a8", "bench=cpu_int8"), tmp_path)
