"""The worked example of docs/extending.md ("Adding an adapter family"): the adapter class is
taken from the doc's code block, then sampled, calibrated and quantized (W8A8, and with
per-timestep scales) end to end on a tiny model."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

from conftest import compose
from genq.quant.pipeline import quantize_adapter
from genq.quant.timestep_quant import timestep_context

DOC = Path(__file__).resolve().parents[2] / "docs" / "extending.md"
ARCH = {"sample_size": 8, "in_channels": 1, "out_channels": 2, "layers_per_block": 1,
        "block_out_channels": [8, 16], "norm_num_groups": 4, "attention_head_dim": 8,
        "down_block_types": ["DownBlock2D", "AttnDownBlock2D"],
        "up_block_types": ["AttnUpBlock2D", "UpBlock2D"], "num_class_embeds": 3}


def doc_adapter_class():
    """The class defined by the first python block of the doc's "Adding an adapter family"."""
    section = DOC.read_text().split("## Adding an adapter family", 1)[1].split("\n## ", 1)[0]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    namespace: dict = {}
    exec(compile(code, str(DOC), "exec"), namespace)
    return namespace["ClassConditionalAdapter"]


@pytest.fixture(scope="module")
def adapter():
    torch.manual_seed(0)
    return doc_adapter_class()(ARCH, num_inference_steps=4)


def quant_cfg(recipe: str):
    q = compose("model=ddpm_digits", f"quant={recipe}").quant
    q.calib_samples, q.calib_batch_size = 4, 4
    return q


def test_the_new_family_samples_through_the_shared_loop(adapter):
    noise = adapter.make_noise(4, 0)
    steps = []
    images = adapter.sample(noise, batch_size=2, callbacks=[lambda i, t: steps.append((i, int(t)))])
    assert images.shape == (4, 1, 8, 8) and images.abs().max() <= 1
    assert [i for i, _ in steps] == [0, 1, 2, 3] * 2                      # two batches of 4 steps
    assert [t for _, t in steps[:4]] == sorted((t for _, t in steps[:4]), reverse=True)
    torch.testing.assert_close(adapter.sample(noise, batch_size=4), images, atol=1e-5, rtol=0)
    assert adapter.is_denoiser and adapter.describe_sampler() == "DDIM eta=0, 4 steps"


def test_its_calibration_calls_are_keyword_calls_with_step_context(adapter):
    calls = adapter.calibration_calls(adapter.make_noise(3, 1), batch_size=3)
    assert len(calls) == 4
    assert set(calls[0].kwargs) == {"sample", "timestep", "class_labels"} and calls[0].args == ()
    assert calls[0].kwargs["class_labels"].tolist() == [0, 1, 2]
    assert [c.step.tolist() for c in calls] == [[i] * 3 for i in range(4)]
    assert torch.equal(calls[1].t, calls[1].kwargs["timestep"])
    positional = calls[0].positional(adapter.network)                   # (sample, timestep, class_labels)
    assert positional[2] is calls[0].kwargs["class_labels"]


def test_the_new_family_quantizes_w8a8_end_to_end(adapter):
    outcome = quantize_adapter(adapter, quant_cfg("w8a8"), 0)
    assert outcome.report.counts()["quantized"] > 0
    assert outcome.info["calibration"]["trajectory_steps"] == 4
    noise = adapter.make_noise(4, 0)
    fp, q = adapter.sample(noise), outcome.model.sample(noise)
    assert not torch.equal(fp, q) and (fp - q).abs().mean() < 0.05
    assert not any("Quant" in type(m).__name__ for m in adapter.network.modules())   # FP untouched


def test_per_timestep_scales_follow_the_sampler_steps(adapter):
    outcome = quantize_adapter(adapter, quant_cfg("w8a8_tdq"), 0)
    ctx = timestep_context(outcome.model.network)
    assert outcome.info["calibration"]["timestep_buckets"] > 0 and ctx is not None
    outcome.model.sample(adapter.make_noise(2, 0))
    assert ctx.step == 3 and not ctx._in_loop                           # told every step by the loop
