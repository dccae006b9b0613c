"""End to end: experiment=smoke through genq.run, and the CLI's bad-input behaviour."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import compose
from genq.run import run_experiment
from metric_checks import assert_finite_metrics

RECORD_KEYS = {"schema", "run_id", "experiment", "model", "data", "quant", "metrics", "speed",
               "config", "env", "seed", "wall_s"}


@pytest.mark.parametrize("model", ["dcgan_digits", "ddpm_digits"])
def test_smoke_run_writes_a_complete_record(model, tmp_path, smoke_cfg):
    record = run_experiment(smoke_cfg(f"model={model}"), tmp_path)
    on_disk = json.loads((tmp_path / "result.json").read_text())
    assert on_disk == json.loads(json.dumps(record))      # what is returned is what was written
    assert RECORD_KEYS <= on_disk.keys() and on_disk["schema"] == 1
    q, m, s = on_disk["quant"], on_disk["metrics"], on_disk["speed"]
    assert (q["recipe"], q["method"], q["w_bits"], q["a_bits"]) == ("w8a8", "ptq", 8, 8)
    assert q["coverage"]["quantized"] > 0
    assert 8 < q["effective_w_bits"] < 32 and 8 <= q["effective_a_bits"] < 32   # scales; FP-kept layers
    for key in ("fid", "kid", "fid_fp", "qfid", "lpips_vs_fp", "psnr_vs_fp"):
        assert isinstance(m[key], float), key
    assert_finite_metrics(on_disk, required=("fid", "kid", "fid_fp", "qfid", "lpips_vs_fp", "psnr_vs_fp"))
    assert m["feature_extractor"] == "digits_classifier" and m["n_samples"] == 32
    assert s["backend"] == "fake-quant" and "speedup_vs_fp" not in s
    assert s["latency_ms_per_image"] > 0 and s["latency_ms_per_image_fp"] > 0
    assert s["model_bytes"] < s["model_bytes_fp"]
    assert on_disk["config"]["model"]["name"] == model
    assert on_disk["env"]["torch"] and on_disk["env"]["device"]
    assert (tmp_path / "samples.png").stat().st_size > 0


def test_fp_recipe_has_no_vs_fp_metrics(tmp_path, smoke_cfg):
    record = run_experiment(smoke_cfg("model=dcgan_digits", "quant=fp32"), tmp_path)
    m = assert_finite_metrics(record, required=("fid", "fid_fp"))
    assert m["fid"] == m["fid_fp"]
    assert record["quant"]["effective_w_bits"] == record["quant"]["effective_a_bits"] == 32.0
    assert "qfid" not in m and "lpips_vs_fp" not in m and "psnr_vs_fp" not in m
    assert record["speed"]["backend"] == "eager-fp32"


def test_same_seed_same_samples_same_metrics(tmp_path, smoke_cfg):
    a = run_experiment(smoke_cfg("model=ddpm_digits"), tmp_path / "a")
    b = run_experiment(smoke_cfg("model=ddpm_digits"), tmp_path / "b")
    volatile = {"scoring_s", "reference_stats", "fp_samples"}   # wall time; cache hits on the second run
    assert {k: v for k, v in a["metrics"].items() if k not in volatile} == \
        {k: v for k, v in b["metrics"].items() if k not in volatile}
    assert b["metrics"]["reference_stats"] == "cache"
    assert (tmp_path / "a" / "samples.png").read_bytes() == (tmp_path / "b" / "samples.png").read_bytes()
    c = run_experiment(smoke_cfg("model=ddpm_digits", "seed=1"), tmp_path / "c")
    assert_finite_metrics(a, required=("fid",))
    assert_finite_metrics(c, required=("fid",))          # NaN != NaN: the check below needs numbers
    assert c["metrics"]["fid"] != a["metrics"]["fid"]


def test_wandb_offline_run_is_written(tmp_path):
    cfg = compose("experiment=smoke", "model=dcgan_digits", "logger=wandb")
    run_experiment(cfg, tmp_path)
    runs = list((tmp_path / "wandb").glob("offline-run-*"))
    assert len(runs) == 1
    assert list(runs[0].glob("*.wandb"))


def _genq(*args: str, cwd: Path, runner=None) -> subprocess.CompletedProcess:
    """``genq *args logger=none experiment=smoke``: a fresh process, or through ``runner``
    (the ``genq_cli`` fixture, a fork of a warm process) for the cases that load a model."""
    env = {**os.environ, "HYDRA_FULL_ERROR": ""}
    env.pop("HYDRA_FULL_ERROR")
    args = (*args, "logger=none", "experiment=smoke")
    if runner is not None:
        return runner(list(args), cwd=cwd, env=env, timeout=300)
    return subprocess.run([sys.executable, "-m", "genq.run", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300, env=env)


@pytest.mark.parametrize("override, expected", [
    ("quant.w_bits=0", "quant.w_bits=0 is out of range; accepted: integers 2 to 16"),
    ("quant.a_bits=99", "quant.a_bits=99 is out of range; accepted: integers 2 to 16"),
    ("model=nope", "model=nope is not a config of group 'model'; accepted: dcgan_digits, ddpm_digits"),
])
def test_cli_bad_input_one_clear_message_no_traceback(override, expected, tmp_path):
    out = _genq(override, cwd=tmp_path)
    assert out.returncode != 0
    assert expected in out.stderr
    assert "Traceback" not in out.stderr + out.stdout
    assert not list(tmp_path.rglob("result.json"))


def test_cli_unreadable_checkpoint(tmp_path, genq_cli):
    bad = tmp_path / "ckpt"
    bad.mkdir()
    (bad / "config.json").write_text(json.dumps({"class": "DCGAN", "arch": {"latent_dim": 16}}))
    (bad / "model.safetensors").write_bytes(b"\x00garbage")
    out = _genq("model=dcgan_digits", f"model.weights={bad}", cwd=tmp_path, runner=genq_cli)
    assert out.returncode == 2
    assert "unreadable" in out.stderr and str(bad) in out.stderr
    assert "Traceback" not in out.stderr


def test_cli_smoke_run_writes_record(tmp_path, genq_cli):
    out = _genq("model=dcgan_digits", "hydra.run.dir=run", cwd=tmp_path, runner=genq_cli)
    assert out.returncode == 0, out.stderr[-2000:]
    record = json.loads((tmp_path / "run" / "result.json").read_text())
    assert record["experiment"] == "smoke"
    assert "FID (vs real)" in out.stdout


def test_genq_train_refuses_hub_models(tmp_path, genq_cli):
    out = genq_cli(["model=hub_ddpm", f"hydra.run.dir={tmp_path}"], cwd=os.getcwd(), timeout=300,
                   module="genq.train.cli")
    assert out.returncode == 2
    assert "genq-train trains the embedded models" in out.stderr and "Traceback" not in out.stderr
