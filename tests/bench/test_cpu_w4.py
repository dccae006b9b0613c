"""W4 Linear layers on torch's int4 CPU kernels (bench=cpu_w4a16 / cpu_w4a8): the packed
layer equals its dequantized weights, the simulated model's own codes are packed, and the
real model agrees with the simulated one within a stated tolerance on a tiny DiT."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from genq.bench.backends.cpu_w4 import Int4Linear, build_cpu_w4, int4_codes
from genq.errors import GenqError

# Relative RMS of the real outputs against the simulated ones after the sampler: W4A16 runs
# its activations in bf16 (8 mantissa bits, ~4e-3 per op), W4A8 matches the dynamic per-token
# int8 simulation up to float summation order.
TOL = {"cpu_w4a16": 0.02, "cpu_w4a8": 0.005}


@pytest.mark.parametrize("symmetric", [False, True])
def test_int4_codes_dequantize_to_the_rounded_weights(symmetric):
    w = torch.randn(8, 64)
    u, scale, zero = int4_codes(w, 32, symmetric)
    assert u.min() >= 0 and u.max() <= 15 and torch.equal(u, u.round())
    deq = ((u.reshape(8, 2, 32) - 8) * scale[..., None] + zero[..., None]).reshape(8, 64)
    step = scale.repeat_interleave(32, dim=1)
    assert ((deq - w).abs() <= step / 2 + 1e-6).all()          # round to nearest on the group's grid


@pytest.mark.parametrize("kind", ["cpu_w4a16", "cpu_w4a8"])
def test_int4_linear_equals_its_dequantized_weights(kind):
    torch.manual_seed(0)
    lin = nn.Linear(64, 16)
    u, scale, zero = int4_codes(lin.weight.detach(), 32, symmetric=kind == "cpu_w4a8")
    deq = ((u.reshape(16, 2, 32) - 8) * scale[..., None] + zero[..., None]).reshape(16, 64)
    x = torch.randn(3, 5, 64)
    ref = x @ deq.t() + lin.bias.detach()
    out = Int4Linear(kind, u, scale, zero, lin.bias, 32)(x)
    assert out.shape == (3, 5, 16)
    rel = (out - ref).norm() / ref.norm()
    assert rel < (0.01 if kind == "cpu_w4a16" else 0.02), rel   # bf16 activations / int8 activations


def test_bad_group_size_and_no_linear_are_refused():
    with pytest.raises(GenqError, match="w4_group_size=48.*accepted: 32, 64, 128, 256"):
        build_cpu_w4("cpu_w4a16", nn.Sequential(nn.Linear(96, 4)), 48)
    with pytest.raises(GenqError, match=r"no Linear layer.*0 \(Conv2d: no int4 kernel"):
        build_cpu_w4("cpu_w4a16", nn.Sequential(nn.Conv2d(3, 4, 3)), 32)


@pytest.mark.parametrize("backend", ["cpu_w4a16", "cpu_w4a8"])
def test_w4_backend_agrees_with_the_simulated_model(tmp_path, smoke_cfg, backend):
    from genq.run import run_experiment

    recipe = (["quant=w4a16", "quant.w_symmetric=false"] if backend == "cpu_w4a16" else
              ["quant=w4a8", "quant.a_dynamic=true", "quant.a_granularity=per_token"])
    cfg = smoke_cfg("model=speed_dit_xl2", f"bench={backend}", "bench.w4_group_size=32",
                    "bench.baselines=[fp32_eager]", "bench.repeats=1", "bench.warmup=0", "quant.layers=[Linear]",
                    "quant.granularity=per_group", "quant.group_size=32", *recipe)
    run_experiment(cfg, tmp_path)
    s = json.loads((tmp_path / "result.json").read_text())["speed"]
    variant = backend[4:]
    assert s["variant"] == variant and s["coverage"]["by_type"]["Linear"] == {"low": 20, "fallback": 0}
    assert s["coverage"]["by_type"]["Conv2d"] == {"low": 0, "fallback": 1}
    assert "20 with the simulated model's codes" in s["notes"][0]
    assert s["agreement"]["rel_rms_real_vs_simulated"][variant] < TOL[backend]
    assert s["agreement"]["rel_rms_vs_fp"][variant] > 10 * s["agreement"]["rel_rms_real_vs_simulated"][variant]
