"""QAT end to end on the tiny smoke models: the record, GAN distillation with feature and
adversarial losses, the LoRA option, convert, snapshots, and bad input refused early."""

from __future__ import annotations

import pytest
import torch
from torch.nn.utils import parametrize

from conftest import compose
from genq.errors import GenqError
from genq.models import load_generator
from genq.qat.lsq import LSQQuantizer
from genq.qat.pipeline import run_qat
from genq.qat.snapshot import load_student
from genq.quant.modules import QuantMixin
from genq.run import run_experiment

FAST = ("quant.qat.steps=2", "quant.qat.batch_size=4", "quant.qat.progress=false")


def _tiny(model: str, recipe: str, *overrides: str):
    cfg = compose("experiment=smoke", "logger=none", f"model={model}", f"quant={recipe}", *FAST, *overrides)
    return load_generator(cfg.model), cfg.quant


@pytest.mark.slow
def test_diffusion_qat_run_writes_an_honest_record(tmp_path, smoke_cfg):
    record = run_experiment(smoke_cfg("model=ddpm_digits", "quant=qat_lsq_w4a8", *FAST,
                                      "quant.qat.checkpoint_every=1", "quant.qat.log_every=1",
                                      "quant.observer=minmax", "quant.w_observer=minmax"), tmp_path)
    q = record["quant"]
    assert (q["recipe"], q["method"], q["w_bits"], q["a_bits"]) == ("qat_lsq_w4a8", "qat", 4, 8)
    assert q["calibration"] == "fp_trajectory" and q["coverage"]["quantized"] > 0
    qat = q["qat"]
    assert qat["steps"] == 2 and qat["teacher"] == "fp_trajectory_eps"
    assert qat["train_s"] > 0 and "shared" in qat["train_device"]
    assert len(qat["history"]) == 2 and all(r["loss"] > 0 for r in qat["history"])
    assert qat["heldout_loss_before"] > 0 and qat["heldout_loss_after"] > 0
    assert isinstance(record["metrics"]["qfid"], float)
    from metric_checks import assert_finite_metrics
    assert_finite_metrics(record, required=("fid", "qfid"))
    assert (tmp_path / "qat" / "log.jsonl").read_text().count("\n") == 2
    assert (tmp_path / "qat" / "checkpoints" / "step_000002" / "model.safetensors").is_file()


def test_diffusion_qat_distils_on_the_teacher_trajectory(tmp_path):
    fp, q = _tiny("ddpm_digits", "qat_lsq_w4a4", "quant.observer=minmax", "quant.w_observer=minmax",
                  "quant.qat.checkpoint_every=2")
    out = run_qat(fp, q, seed=0, run_dir=tmp_path)
    qat = out.info["qat"]
    assert qat["teacher"] == "fp_trajectory_eps" and out.info["calibration"] == "fp_trajectory"
    assert qat["train_inputs"] == "calibration noise: 8 noises -> 16 (x_t, t) pairs"   # x 2 DDIM steps
    assert qat["heldout_loss_before"] > 0 and qat["steps"] == 2
    assert (tmp_path / "qat" / "checkpoints" / "step_000002" / "state.json").is_file()
    assert not any(p.requires_grad for p in out.model.network.parameters())


def test_gan_qat_with_feature_and_adversarial_losses_then_convert():
    fp, q = _tiny("dcgan_digits", "qat_lsq_w4a4", "quant.qat.adv_weight=0.1")
    before = {k: v.clone() for k, v in fp.network.state_dict().items()}
    out = run_qat(fp, q, seed=0)
    assert out.info["qat"]["teacher"] == "fp_outputs_pixel+features+adversarial"
    assert {"pixel", "feature", "adversarial"} <= out.info["qat"]["history"][-1].keys()
    assert all(torch.equal(before[k], v) for k, v in fp.network.state_dict().items())   # teacher untouched
    net = out.model.network
    assert not any(p.requires_grad for p in net.parameters()) and not net.training
    assert any(isinstance(m, LSQQuantizer) for m in net.modules())
    images = out.model.sample(fp.make_noise(4, 0))
    assert images.shape == (4, 1, 16, 16) and torch.isfinite(images).all()


def test_lora_updates_are_merged_into_the_quantized_weights():
    fp, q = _tiny("dcgan_digits", "qat_lsq_w4a8", "quant.qat.lora_rank=2", "quant.qat.lr=1e-2",
                  "quant.qat.feature_weight=0")
    out = run_qat(fp, q, seed=0)
    layers = [m for m in out.model.network.modules() if isinstance(m, QuantMixin)]
    assert layers and not any(parametrize.is_parametrized(m) for m in layers)
    assert out.info["qat"]["lora_rank"] == 2 and out.info["qat"]["learn_weights"] is False
    fp_weights = [m.weight for m in fp.network.modules() if isinstance(m, torch.nn.ConvTranspose2d)]
    assert any(not torch.equal(a.weight, b) for a, b in zip(layers, fp_weights))   # the update landed


def test_eval_at_snapshots_reload_to_the_same_model(tmp_path):
    fp, q = _tiny("dcgan_digits", "qat_lsq_w4a8", "quant.qat.eval_at=[0,2]")
    out = run_qat(fp, q, seed=0, run_dir=tmp_path)
    snaps = sorted((tmp_path / "qat" / "snapshots").iterdir())
    assert [p.name for p in snaps] == ["step_000000.safetensors", "step_000002.safetensors"]
    noise = fp.make_noise(4, 0)
    reloaded = load_student(fp, q, snaps[-1])          # mse observers in q: not rerun
    assert torch.equal(reloaded.sample(noise), out.model.sample(noise))
    assert not torch.equal(load_student(fp, q, snaps[0]).sample(noise), out.model.sample(noise))


@pytest.mark.parametrize("override, message", [
    ("quant.qat.steps=0", "quant.qat.steps=0 must be at least 1"),
    ("quant.qat.adv_weight=0.5", "apply to GANs"),
    ("quant.qat.loss=output", "quant.qat.loss='output' is not supported"),
    ("quant.qat.eval_at=[99]", "eval_at has step 99"),
])
def test_bad_qat_settings_fail_before_any_work(override, message):
    fp, q = _tiny("ddpm_digits", "qat_lsq_w4a8", override)
    with pytest.raises(GenqError, match=message):
        run_qat(fp, q, seed=0)


def test_gan_refuses_a_training_pool():
    fp, q = _tiny("dcgan_digits", "qat_lsq_w4a8", "quant.qat.train_samples=128")
    with pytest.raises(GenqError, match="train_samples=128 applies to diffusion"):
        run_qat(fp, q, seed=0)


def test_the_qat_loss_curve_reaches_wandb():
    from genq.tracking.wandb_logger import WandbLogger

    class FakeRun:
        def __init__(self):
            self.summary, self.logged = {}, []

        def log(self, row):
            self.logged.append(row)

    logger = WandbLogger.__new__(WandbLogger)
    logger.run = FakeRun()
    history = [{"step": 10, "loss": 0.5, "lr": 1e-3}, {"step": 20, "loss": 0.25, "lr": 5e-4}]
    logger.log_record({"quant": {"method": "qat", "qat": {"history": history}}, "metrics": {}})
    assert logger.run.logged == [{"qat/step": 10, "qat/loss": 0.5, "qat/lr": 1e-3},
                                 {"qat/step": 20, "qat/loss": 0.25, "qat/lr": 5e-4}]


def test_gan_training_latents_are_fresh_and_held_out_loss_is_recorded():
    fp, q = _tiny("dcgan_digits", "qat_lsq_w4a4", "quant.qat.feature_weight=0")
    out = run_qat(fp, q, seed=0)
    qat = out.info["qat"]
    assert qat["train_inputs"] == "fresh N(0, I) latents every step"
    assert 0 < qat["heldout_loss_before"] < float("inf") and 0 < qat["heldout_loss_after"] < float("inf")
