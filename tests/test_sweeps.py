"""The researcher's loop: resumable sweeps, failure records, launchers, reports, wandb read-back."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import compose
from genq.report.cli import build_report
from genq.run import run_experiment

GENQ = [sys.executable, "-m", "genq.run"]
SWEEP = ["-m", "experiment=smoke", "model=dcgan_digits", "quant=w8a8,w4a8,w8a16", "logger=none"]


def _records(root: Path) -> list[Path]:
    return sorted(root.rglob("result.json"))


def test_killed_sweep_resumes_only_what_is_missing(tmp_path, genq_cli):
    sweep_dir = tmp_path / "sweep"
    cmd = [*GENQ, *SWEEP, f"hydra.sweep.dir={sweep_dir}"]
    proc = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    deadline = time.time() + 240
    while not _records(sweep_dir) and time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    first = _records(sweep_dir)
    assert 1 <= len(first) < 3, "the sweep should have been killed part-way"
    before = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in first}

    out = genq_cli(cmd[len(GENQ):], cwd=tmp_path, timeout=300)          # the resume: a warm fork will do
    assert out.returncode == 0, out.stderr[-2000:]
    assert "skipped" in out.stdout
    records = _records(sweep_dir)
    assert len(records) == 3
    assert {json.loads(p.read_text())["quant"]["recipe"] for p in records} == {"w8a8", "w4a8", "w8a16"}
    for p, (mtime, content) in before.items():   # the finished runs are untouched
        assert p.stat().st_mtime_ns == mtime and p.read_bytes() == content


def test_failing_run_is_recorded_and_the_sweep_goes_on(tmp_path, genq_cli):
    sweep_dir = tmp_path / "sweep"
    out = genq_cli(["-m", "experiment=smoke", "model=dcgan_digits", "logger=none", "quant.w_bits=8,1",
                    f"hydra.sweep.dir={sweep_dir}"], cwd=tmp_path, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    records = [json.loads(p.read_text()) for p in _records(sweep_dir)]
    status = {r["quant"]["w_bits"]: r for r in records}
    assert status[8]["status"] == "ok"
    assert status[1]["status"] == "failed"
    assert "quant.w_bits=1 is out of range" in status[1]["error"]
    assert "quant.w_bits=1" in out.stderr


def test_report_writes_tables_and_figures(tmp_path, smoke_cfg):
    for recipe in ("fp32", "w8a8", "w4a4"):
        run_experiment(smoke_cfg("model=dcgan_digits", f"quant={recipe}"), tmp_path / "runs" / recipe)
    (tmp_path / "runs" / "broken").mkdir()
    (tmp_path / "runs" / "broken" / "result.json").write_text(json.dumps(
        {"status": "failed", "error": "boom", "model": "dcgan_digits", "quant": {"recipe": "w2a8"}}))
    written = build_report([str(tmp_path / "runs")], tmp_path / "report")
    for key in ("md", "csv", "tex", "bits", "pareto", "montage"):
        assert written[key].exists() and written[key].stat().st_size > 0, key
    md = written["md"].read_text()
    assert md.count("dcgan_digits") == 3 and "w2a8" not in md
    assert "\\begin{tabular}" in written["tex"].read_text()
    assert written["csv"].read_text().splitlines()[0].startswith("model,recipe")


def test_offline_wandb_run_reads_back_with_wandb_leet(tmp_path):
    record = run_experiment(compose("experiment=smoke", "model=dcgan_digits", "logger=wandb"), tmp_path)
    run_dir = next((tmp_path / "wandb").glob("offline-run-*"))
    wandb_bin = Path(sys.executable).with_name("wandb")
    out = subprocess.run([str(wandb_bin), "leet", "inspect", "--summary", "--json", str(run_dir)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    summary = data["summary"]
    assert summary["metrics.fid"] == pytest.approx(record["metrics"]["fid"])
    assert summary["speed.latency_ms_per_image"] == pytest.approx(record["speed"]["latency_ms_per_image"])
    assert summary["quant.recipe"] == "w8a8"
    assert "quant/coverage" in summary and "samples/fp_vs_quantized" in summary
    assert data["config"]["model"]["name"] == "dcgan_digits"
    assert set(data["tags"]) >= {"dcgan_digits", "w8a8", "smoke"}


@pytest.mark.parametrize("launcher, target", [
    ("joblib", "hydra_plugins.hydra_joblib_launcher.joblib_launcher.JoblibLauncher"),
    ("slurm", "hydra_plugins.hydra_submitit_launcher.submitit_launcher.SlurmLauncher"),
])
def test_launchers_compose(launcher, target):
    cfg = compose(f"hydra/launcher={launcher}", return_hydra_config=True)
    assert cfg.hydra.launcher._target_ == target
    if launcher == "slurm":
        assert cfg.hydra.launcher.gpus_per_node == 1


def test_summary_and_study_tables_skip_failed_runs(tmp_path, smoke_cfg, capsys):
    from genq.report.summary import main as summary_main
    from genq.report.tables import collect

    run_experiment(smoke_cfg("model=dcgan_digits"), tmp_path / "sweep" / "0")
    (tmp_path / "sweep" / "1").mkdir()
    (tmp_path / "sweep" / "1" / "result.json").write_text(json.dumps({"status": "failed", "error": "boom"}))
    assert summary_main([str(tmp_path / "sweep")]) == 0
    records = collect([str(tmp_path / "sweep")], tmp_path / "study")
    assert len(records) == 1 and (tmp_path / "study" / "records" / "0" / "result.json").exists()
    assert "boom" in capsys.readouterr().err


def test_failure_record_states_a_named_formats_bits(tmp_path):
    """A failed run's record says w_bits/a_bits as a finished one would: the named format's."""
    from genq.tracking.resume import write_failure

    cfg = compose("quant=w4a4", "quant.w_format=fp8_e4m3", "quant.a_format=nvfp4")
    record = json.loads(write_failure(tmp_path, cfg, "abc", RuntimeError("boom")).read_text())
    assert record["status"] == "failed"
    q = record["quant"]
    assert (q["w_bits"], q["a_bits"], q["w_format"], q["a_format"]) == (8, 4, "fp8_e4m3", "nvfp4")
    bad = compose("quant=w4a4")
    bad.quant.w_format = "fp9_nonsense"          # the failure itself: an unknown format name
    q = json.loads(write_failure(tmp_path, bad, "abc", RuntimeError("boom")).read_text())["quant"]
    assert (q["w_bits"], q["w_format"]) == (4, "fp9_nonsense")
