"""The QAT loop: a tiny run lowers the distillation loss, resume reproduces the
uninterrupted run exactly, and the NaN guard stops with the step and keeps the last good
checkpoint."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import load_file
from torch import nn

from genq.config.qat import QATConfig
from genq.errors import GenqError
from genq.qat.checkpoint import list_checkpoints
from genq.qat.distill import PoolDistiller
from genq.qat.loop import train
from genq.qat.lsq import make_learnable
from genq.qat.pipeline import param_groups, set_training
from genq.quant import quantize_
from genq.quant.api import QuantRecipe

QAT = QATConfig(steps=6, batch_size=16, lr=1e-3, scale_lr=1e-3, progress=False, log_every=1)


def _teacher() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, padding=1),
                         nn.ReLU(), nn.Conv2d(8, 1, 3, padding=1))


def _setup(qat: QATConfig = QAT):
    teacher = _teacher()
    pool = [(torch.randn(32, 1, 8, 8, generator=torch.Generator().manual_seed(i)),) for i in range(2)]
    student = _teacher()
    quantize_(student, QuantRecipe(w_bits=3, a_bits=3), calib=pool)
    make_learnable(student)
    groups = param_groups(student, qat)
    set_training(student, True)
    return student, PoolDistiller(teacher, pool, qat.batch_size), groups


def _pool_loss(student: nn.Module, distiller: PoolDistiller) -> float:
    with torch.no_grad():
        return F.mse_loss(student(*distiller.inputs), distiller.targets).item()


def test_tiny_qat_run_lowers_the_distillation_loss():
    qat = replace(QAT, steps=40)
    student, distiller, groups = _setup(qat)
    before = _pool_loss(student, distiller)
    result = train(student, distiller, groups, qat, None, seed=0)
    after = _pool_loss(student, distiller)
    assert result.steps == 40 and len(result.history) == 40
    assert after < 0.8 * before, (before, after)


def _state(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def test_resume_reproduces_the_uninterrupted_run(tmp_path: Path):
    qat = replace(QAT, checkpoint_every=3)
    student, distiller, groups = _setup(qat)
    full = train(student, distiller, groups, qat, tmp_path / "full", seed=0)
    expected = _state(student)

    student, distiller, groups = _setup(qat)
    calls = {"n": 0}

    def interrupted(model, gen):          # the process dies during step 5
        calls["n"] += 1
        if calls["n"] == 5:
            raise KeyboardInterrupt
        return distiller(model, gen)

    with pytest.raises(KeyboardInterrupt):
        train(student, interrupted, groups, qat, tmp_path / "cut", seed=0)
    student, distiller, groups = _setup(qat)      # a fresh process: same prepare, then resume
    resumed = train(student, distiller, groups, qat, tmp_path / "cut", seed=0)
    assert resumed.resumed_from == 3
    got = _state(student)
    assert got.keys() == expected.keys()
    for k in expected:
        assert torch.equal(got[k], expected[k]), k
    assert resumed.history == full.history and resumed.loss_final == full.loss_final


def test_checkpoints_keep_the_newest_and_hold_the_model(tmp_path: Path):
    qat = replace(QAT, checkpoint_every=2, keep_checkpoints=2)
    student, distiller, groups = _setup(qat)
    train(student, distiller, groups, qat, tmp_path, seed=0)
    done = list_checkpoints(tmp_path / "checkpoints")
    assert [p.name for p in done] == ["step_000004", "step_000006"]
    saved = load_file(str(done[-1] / "model.safetensors"))
    assert all(torch.equal(saved[k], v) for k, v in _state(student).items())


def test_nan_guard_names_the_step_and_keeps_the_last_good_checkpoint(tmp_path: Path):
    qat = replace(QAT, checkpoint_every=2)
    student, distiller, groups = _setup(qat)
    calls = {"n": 0}

    def poisoned(model, gen):
        calls["n"] += 1
        loss, parts = distiller(model, gen)
        return (loss * float("nan") if calls["n"] == 5 else loss), parts

    with pytest.raises(GenqError, match=r"step 5.*not finite.*step_000004"):
        train(student, poisoned, groups, qat, tmp_path, seed=0)
    good = list_checkpoints(tmp_path / "checkpoints")[-1]
    assert good.name == "step_000004"
    saved = load_file(str(good / "model.safetensors"))
    assert all(torch.isfinite(v).all() for v in saved.values())
    # the bad step never reached the weights: they equal the step-4 checkpoint
    assert all(torch.equal(saved[k], v) for k, v in _state(student).items())


def test_nan_gradient_is_caught_before_the_update(tmp_path: Path):
    student, distiller, groups = _setup()

    class NanGrad(torch.autograd.Function):
        forward = staticmethod(lambda ctx, x: x.clone())
        backward = staticmethod(lambda ctx, g: g * float("nan"))

    def bad_grad(model, gen):                    # a finite loss whose gradient is NaN
        loss, parts = distiller(model, gen)
        return loss + 0.0 * NanGrad.apply(groups[0]["params"][0]).sum(), parts

    before = _state(student)
    with pytest.raises(GenqError, match="step 1: the gradient norm"):
        train(student, bad_grad, groups, QAT, tmp_path, seed=0)
    assert all(torch.equal(before[k], v) for k, v in _state(student).items())
