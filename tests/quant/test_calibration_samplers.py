"""Timestep samplers: each picks the (step, trajectory) pairs its paper describes."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from genq.config.ptq import CalibrationConfig
from genq.errors import GenqError
from genq.quant.calibration import select_pairs, selected_timesteps

T = 1000
STEPS = list(range(960, -1, -40))          # DDIM-25, leading spacing: 960, 920, ..., 0


def cfg(**kw) -> CalibrationConfig:
    return CalibrationConfig(**kw)


def test_trajectory_keeps_every_pair():
    sel = select_pairs(STEPS, 7, cfg(), T)
    assert list(sel) == list(range(25)) and all(len(r) == 7 for r in sel.values())


def test_uniform_is_evenly_spaced_and_covers_both_ends():
    sel = select_pairs(STEPS, 4, cfg(sampler="uniform", n_steps=5), T)
    assert list(sel) == [0, 6, 12, 18, 24]
    t = selected_timesteps(sel, STEPS)
    assert sorted(set(t.tolist())) == [0, 240, 480, 720, 960]
    counts = torch.bincount(t // 240)
    assert (counts == 4).all()                                # equal mass per picked step


def test_normal_has_the_requested_mean_and_spread():
    n = 20000
    sel = select_pairs(STEPS, n, cfg(sampler="normal", mean=0.5, std=0.1, per_trajectory=1), T)
    t = selected_timesteps(sel, STEPS).float()
    assert t.numel() == n
    assert abs(t.mean().item() - 500) < 5
    # N(500, 100^2) snapped to a 40-spaced grid: sd^2 = 100^2 + 40^2/12
    assert abs(t.std().item() - (100 ** 2 + 40 ** 2 / 12) ** 0.5) < 4
    assert t.min() >= 80 and t.max() <= 920                   # 4 sigma: no mass at the ends


def test_normal_default_ptq4dm_leans_to_small_t_and_is_seeded():
    a = select_pairs(STEPS, 5000, cfg(sampler="normal"), T)
    b = select_pairs(STEPS, 5000, cfg(sampler="normal"), T)
    ta = selected_timesteps(a, STEPS).float()
    assert torch.equal(ta, selected_timesteps(b, STEPS).float())
    assert 350 < ta.mean().item() < 450                       # mean 0.4T, truncated at [0, T)
    assert (ta == 0).float().mean() > 0.1                     # the clipped lower tail


def test_single_is_the_last_step_by_default():
    sel = select_pairs(STEPS, 3, cfg(sampler="single"), T)
    assert list(sel) == [24] and selected_timesteps(sel, STEPS).tolist() == [0, 0, 0]
    assert list(select_pairs(STEPS, 3, cfg(sampler="single", step=2), T)) == [2]


def test_bad_sampler_and_step_are_rejected():
    with pytest.raises(GenqError, match="sampler"):
        select_pairs(STEPS, 3, cfg(sampler="random"), T)
    with pytest.raises(GenqError, match="step=30"):
        select_pairs(STEPS, 3, cfg(sampler="single", step=30), T)


def test_diffusion_calibration_batches_hold_one_timestep_each():
    from genq.models.diffusion import DiffusionAdapter
    from genq.quant.calibration import diffusion_calibration

    torch.manual_seed(0)
    fp = DiffusionAdapter(dict(sample_size=8, in_channels=1, out_channels=1, layers_per_block=1,
                               block_out_channels=(8, 16), norm_num_groups=4,
                               down_block_types=("DownBlock2D", "DownBlock2D"),
                               up_block_types=("UpBlock2D", "UpBlock2D")), num_inference_steps=5)
    calib = diffusion_calibration(fp, fp.make_noise(6, 1), 4, cfg(sampler="uniform", n_steps=3))
    assert calib.description["pairs"] == 18 and calib.description["timesteps"] == [800, 400, 0]
    assert all(len(set(b.t.tolist())) == 1 for b in calib.batches)           # one timestep per batch
    assert all(torch.equal(b.t, b.kwargs["timestep"]) for b in calib.batches)  # items carry t ...
    assert sorted({int(b.step[0]) for b in calib.batches}) == [0, 2, 4]          # ... and the step
    assert calib.pairs() == 18
    one = calib.subset(1, 0)[0]
    assert len(one) == 1 and set(one.kwargs) == {"sample", "timestep"}
    with pytest.raises(GenqError, match="latents"):
        from genq.quant.calibration import gan_calibration
        gan_calibration(SimpleNamespace(family="gan"), torch.zeros(2, 4), 2, cfg(sampler="uniform"))


def test_calibration_sets_take_tuples_dicts_and_tensors():
    from genq.quant.calibration import CalibrationSet, stack_inputs

    x, t = torch.randn(4, 2), torch.tensor([5, 5, 9, 9])
    calib = CalibrationSet([(x, t), {"sample": x, "timestep": t}, x])
    assert [b.t for b in calib.batches][2] is None and torch.equal(calib.batches[0].t, t)
    assert torch.equal(calib.batches[1].t, t) and calib.pairs() == 12
    both = stack_inputs(calib.batches[:1] + calib.batches[:1])
    assert len(both) == 8 and both.t.tolist() == [5, 5, 9, 9] * 2


def test_ptq_and_qat_build_calibration_with_the_same_function():
    import inspect

    from genq.qat import pipeline as qat_pipeline
    from genq.quant import ptq_pipeline

    assert qat_pipeline.build_calibration is ptq_pipeline.build_calibration
    assert "build_calibration(fp, q, seed)" in inspect.getsource(qat_pipeline.run_qat)
