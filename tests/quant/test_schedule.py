"""Precision schedules: windows of sampler steps, each with its plan; the active window's
quantizers run, each window calibrated on its own steps, per-timestep scales one case."""

from __future__ import annotations

import copy
import json

import pytest
import torch

from genq.config.ptq import CalibrationConfig
from genq.errors import GenqError
from genq.models.diffusion import DiffusionAdapter
from genq.quant import make_plan, quantize_
from genq.quant.api import run_calibration
from genq.quant.calibration.data import trajectory_calibration
from genq.quant.schedule import (PrecisionSchedule, ScheduledQuantizer, Window, apply_schedule,
                                 calibrate_schedule, schedule_context)
from genq.quant.timestep_quant import (install_timestep_context, timestep_bucket_schedule,
                                       use_timestep_quantizers)
from ptq_tiny import recipe

STEPS = 4


def tiny_adapter(steps: int = STEPS) -> DiffusionAdapter:
    torch.manual_seed(0)
    return DiffusionAdapter(dict(sample_size=8, in_channels=1, out_channels=1, layers_per_block=1,
                                 block_out_channels=(8, 16), norm_num_groups=4, attention_head_dim=8,
                                 down_block_types=("DownBlock2D", "AttnDownBlock2D"),
                                 up_block_types=("AttnUpBlock2D", "UpBlock2D")),
                            num_inference_steps=steps)


@pytest.fixture(scope="module")
def fp():
    return tiny_adapter()


@pytest.fixture(scope="module")
def calib(fp):
    noise = fp.make_noise(8, 1)
    return trajectory_calibration(fp, fp.calibration_calls(noise, 4), 4, CalibrationConfig())


def two_windows(fp, a=(8, 8), b=(4, 8), split: int = STEPS // 2) -> PrecisionSchedule:
    net = fp.network
    return PrecisionSchedule([Window(0, split, make_plan(net, recipe(*a))),
                              Window(split, STEPS, make_plan(net, recipe(*b)))])


def scheduled(fp, schedule, calib, empty="error"):
    q = fp.clone()
    apply_schedule(q.network, schedule)
    calibrate_schedule(q.network, calib.batches, empty=empty)
    return q


def planned(fp, plan, calib):
    q = fp.clone()
    quantize_(q.network, plan=plan, calib=calib.run)
    return q


def test_one_window_is_the_plan_and_equal_data_free_windows_share_quantizers(fp, calib):
    noise = fp.make_noise(3, 5)
    plan = make_plan(fp.network, recipe(8, 8))
    one = scheduled(fp, PrecisionSchedule([Window(0, STEPS, plan)]), calib)
    assert torch.equal(one.sample(noise), planned(fp, plan, calib).sample(noise))
    # weights only (no data): two windows holding plan A are plan A, one shared quantizer
    wonly = make_plan(fp.network, recipe(4, None))
    two = scheduled(fp, PrecisionSchedule([Window(0, 1, wonly), Window(1, STEPS, copy.deepcopy(wonly))]), calib)
    assert not any(isinstance(m, ScheduledQuantizer) for m in two.network.modules())
    assert torch.equal(two.sample(noise), planned(fp, wonly, calib).sample(noise))


def test_the_active_quantizer_switches_at_the_window_boundary(fp, calib):
    q = scheduled(fp, two_windows(fp), calib)
    layer = q.network.conv_in
    aq, wq = layer.input_quantizer, layer.weight_quantizer
    assert isinstance(aq, ScheduledQuantizer) and isinstance(wq, ScheduledQuantizer)
    ran = []
    for k, member in enumerate(aq.quantizers):
        member.register_forward_hook(lambda m, a, o, k=k: ran.append((schedule_context(q.network).step, k)))
    weights = []
    q.sample(fp.make_noise(2, 3), callbacks=[lambda i, t: weights.append(layer.weight.clone())])
    assert ran == [(0, 0), (1, 0), (2, 1), (3, 1)]
    w = layer.weight_fp.detach()
    w8, w4 = (m(w) for m in wq.quantizers)
    assert wq.quantizers[0].bits == 8 and wq.quantizers[1].bits == 4
    assert all(torch.equal(weights[i], w8) for i in (0, 1))
    assert all(torch.equal(weights[i], w4) for i in (2, 3))
    assert not torch.equal(w8, w4)


def test_each_window_is_calibrated_on_its_own_steps_only(fp, calib):
    q = scheduled(fp, two_windows(fp), calib)
    members = q.network.conv_in.input_quantizer.quantizers
    for k, window in enumerate(((0, 2), (2, 4))):
        rows = [b.rows(torch.nonzero((b.step >= window[0]) & (b.step < window[1])).flatten())
                for b in calib.batches]
        x = torch.cat([r.kwargs["sample"] for r in rows if len(r.step)])   # conv_in sees the sample
        obs = members[k].observer
        assert torch.equal(obs.min_val.reshape(()), x.min()) and torch.equal(obs.max_val.reshape(()), x.max())
    assert not torch.equal(members[0].scale, members[1].scale)


def test_calibration_items_mixing_windows_are_split_by_window(fp, calib):
    mixed = [type(calib.batches[0]).cat(calib.batches)]          # one item, every step
    a = scheduled(fp, two_windows(fp), calib)
    b = fp.clone()
    apply_schedule(b.network, two_windows(fp))
    calibrate_schedule(b.network, mixed)
    first = [(ma.scale, mb.scale) for ma, mb in zip(a.network.conv_in.input_quantizer.quantizers,
                                                     b.network.conv_in.input_quantizer.quantizers)]
    assert all(torch.equal(sa, sb) for sa, sb in first)           # the network input: exactly
    for qa, qb in zip(a.network.modules(), b.network.modules()):  # deeper: up to batch-size float noise
        if isinstance(qa, ScheduledQuantizer) and hasattr(qa.quantizers[0], "observer"):
            for ma, mb in zip(qa.quantizers, qb.quantizers):
                assert torch.allclose(ma.scale, mb.scale, rtol=1e-4), qa.name


def test_timestep_buckets_are_a_schedule_bit_for_bit():
    """quant.calibration.timestep_buckets (TimestepFakeQuantizer) and the schedule
    timestep_bucket_schedule builds give the same samples, including a bucket no
    calibration pair reached (both fall back to the scales of every pair)."""
    steps, buckets = 5, 5
    fp = tiny_adapter(steps)
    cfg = CalibrationConfig(sampler="uniform", n_steps=3)          # steps 0, 2, 4: buckets 1, 3 empty
    calib = trajectory_calibration(fp, fp.calibration_calls(fp.make_noise(8, 1), 4), 4, cfg)
    tdq = fp.clone()

    def with_buckets(m):
        use_timestep_quantizers(m, install_timestep_context(m, 1000, buckets))
        run_calibration(m, calib.run)

    quantize_(tdq.network, recipe(8, 4), calib=with_buckets)
    timesteps = fp.sampling_scheduler().timesteps
    schedule = timestep_bucket_schedule(make_plan(fp.network, recipe(8, 4)), steps, timesteps, 1000, buckets)
    assert [(w.start, w.end) for w in schedule.windows] == [(i, i + 1) for i in range(5)]
    sch = scheduled(fp, schedule, calib, empty="all")
    noise = fp.make_noise(4, 7)
    assert torch.equal(tdq.sample(noise), sch.sample(noise))
    with pytest.raises(GenqError, match=r"no calibration item reached schedule window \[1, 2\)"):
        scheduled(fp, schedule, calib)                              # empty="error": say which


def test_save_load_round_trip(fp, calib, tmp_path):
    schedule = two_windows(fp)
    path = schedule.save(tmp_path / "s.json")
    loaded = PrecisionSchedule.load(path)
    assert loaded.to_dict() == schedule.to_dict()
    noise = fp.make_noise(2, 9)
    assert torch.equal(scheduled(fp, loaded, calib).sample(noise), scheduled(fp, schedule, calib).sample(noise))
    # a window may name a plan file, relative to the schedule file
    schedule.windows[0].plan.save(tmp_path / "a.json")
    data = json.loads(path.read_text())
    data["windows"][0]["plan"] = "a.json"
    path.write_text(json.dumps(data))
    assert PrecisionSchedule.load(path).to_dict() == schedule.to_dict()


def test_bad_schedules_are_rejected_naming_the_window(fp, tmp_path):
    plan = make_plan(fp.network, recipe(8, 8))
    with pytest.raises(GenqError, match=r"\[3, 4\) leaves steps 2 .. 2 uncovered"):
        PrecisionSchedule([Window(0, 2, plan), Window(3, 4, plan)])
    with pytest.raises(GenqError, match=r"\[1, 4\) overlaps"):
        PrecisionSchedule([Window(0, 2, plan), Window(1, 4, plan)])
    with pytest.raises(GenqError, match=r"\[2, 2\) is empty"):
        PrecisionSchedule([Window(0, 2, plan), Window(2, 2, plan)])
    with pytest.raises(GenqError, match="starting at step 0"):
        PrecisionSchedule([Window(1, 4, plan)])
    fewer = copy.deepcopy(plan)
    dropped = fewer.layers.pop(2).name
    with pytest.raises(GenqError, match=rf"window \[2, 4\) names other layers.*missing: \['{dropped}'\]"):
        PrecisionSchedule([Window(0, 2, plan), Window(2, 4, fewer)])
    with pytest.raises(GenqError, match="model samples 5 steps"):
        PrecisionSchedule([Window(0, 2, plan), Window(2, 4, plan)]).check_steps(5)
    with pytest.raises(GenqError, match="does not exist"):
        PrecisionSchedule.load(tmp_path / "missing.json")
    (tmp_path / "v.json").write_text(json.dumps({"genq_schedule_version": 9, "windows": []}))
    with pytest.raises(GenqError, match="version 9"):
        PrecisionSchedule.load(tmp_path / "v.json")
    net = copy.deepcopy(fp.network)
    apply_schedule(net, PrecisionSchedule([Window(0, 4, plan)]))
    with pytest.raises(GenqError, match="needs the sampler step"):
        calibrate_schedule(net, [(torch.randn(2, 1, 8, 8), torch.full((2,), 10))])


def test_a_scheduled_network_compiles_without_schedule_graph_breaks():
    """torch.compile (dynamo) traces the schedule: ``active`` is a Python int set once per
    step and the forward indexes a ModuleList with it, so the schedule adds no graph break
    (the breaks counted are the weight cache's, in both), compiled equals eager in every
    window, and recompiles stop after the first passes over the windows."""
    from torch import nn
    from torch._dynamo.testing import CompileCounter

    from genq.models.sampler import NetworkCall
    from genq.quant import QuantRecipe

    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 8)).eval()
    items = [NetworkCall((torch.randn(4, 8) * (1 + s),), {}, None, torch.full((4,), s)) for s in range(4)]
    pa, pb = (make_plan(net, QuantRecipe(w_bits=w, a_bits=8)) for w in (8, 4))
    plain = copy.deepcopy(net)
    quantize_(plain, plan=pa, calib=[i.args for i in items])
    sch = copy.deepcopy(net)
    ctx, _ = apply_schedule(sch, PrecisionSchedule([Window(0, 2, pa), Window(2, 4, pb)]))
    calibrate_schedule(sch, items)
    x = torch.randn(3, 8)
    with torch.no_grad():
        torch._dynamo.reset()
        base = torch._dynamo.explain(plain)(x).graph_break_count
        torch._dynamo.reset()
        assert torch._dynamo.explain(sch)(x).graph_break_count <= base
        torch._dynamo.reset()
        counter = CompileCounter()
        compiled = torch.compile(sch, backend=counter)
        frames = []
        for step in [0, 1, 2, 3] * 4:
            ctx.set_step(step)
            assert torch.equal(compiled(x), sch(x)), step
            frames.append(counter.frame_count)
    torch._dynamo.reset()
    assert len(set(frames[-8:])) == 1          # recompiles stop (the weight cache settles in two passes)


def test_attention_matmul_quantizers_follow_the_window(fp, calib):
    net = fp.network
    a = make_plan(net, recipe(8, 8, attn_bits=8, softmax_bits=8))
    b = make_plan(net, recipe(8, 8, attn_bits=8))                  # softmax output in FP here
    q = scheduled(fp, PrecisionSchedule([Window(0, 2, a), Window(2, STEPS, b)]), calib)
    wrapper = q.network.down_blocks[1].attentions[0].processor
    probs = wrapper.probs_quantizer
    assert isinstance(probs, ScheduledQuantizer) and isinstance(probs.quantizers[1], torch.nn.Identity)
    schedule_context(q.network).set_step(3)
    assert probs.active == 1 and wrapper.q_quantizer.active == 1


def test_the_docs_example_runs_as_written(tmp_path, monkeypatch):
    import re
    from pathlib import Path

    doc = Path(__file__).resolve().parents[2] / "docs" / "extending.md"
    section = doc.read_text().split("## Precision schedules", 1)[1].split("\n## ", 1)[0]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    adapter = tiny_adapter(25)
    calib = trajectory_calibration(adapter, adapter.calibration_calls(adapter.make_noise(4, 1), 4), 4,
                                   CalibrationConfig(sampler="uniform", n_steps=5))
    monkeypatch.chdir(tmp_path)
    scope = {"adapter": adapter, "calib": calib}
    exec(compile(code, str(doc), "exec"), scope)   # noqa: S102 - our own doc
    assert scope["images"].shape == (16, 1, 8, 8) and torch.isfinite(scope["images"]).all()
    assert PrecisionSchedule.load(tmp_path / "schedule.json").num_steps == 25
