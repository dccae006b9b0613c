"""Interrupts lose nothing (issue 21): SIGINT or SIGTERM in the middle of a CLI sweep keeps
every finished record intact, leaves no temporary file, exits with one line; rerunning the
same command in the same hydra.sweep.dir skips the finished runs and completes the rest. A
corrupt result.json in a sweep folder is recomputed on the rerun and the others are kept."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# three tiny GAN runs (seeds 0, 1, 2): seconds each
SWEEP = ("-m", "experiment=smoke", "logger=none", "model=dcgan_digits", "quant=w8a8", "seed=0,1,2",
         "metrics.bootstrap=0")


def _env(tmp_path: Path) -> dict:
    return {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1",
            "GENQ_CACHE": str(tmp_path / "cache")}


def _cmd(sweep_dir: Path) -> list[str]:
    return [sys.executable, "-m", "genq.run", *SWEEP, f"hydra.sweep.dir={sweep_dir}"]


def _records(sweep_dir: Path) -> dict[Path, dict]:
    return {p: json.loads(p.read_text()) for p in sorted(sweep_dir.rglob("result.json"))}


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal_mid_sweep_keeps_finished_records_and_resumes(tmp_path, signum, genq_cli):
    sweep_dir = tmp_path / "sweep"
    # SIGINT at its default disposition in the child: a shell starts a background job (`make
    # test &`, some CI runners) with SIGINT ignored, and Python then installs no KeyboardInterrupt
    proc = subprocess.Popen(_cmd(sweep_dir), cwd=tmp_path, env=_env(tmp_path), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 600
    while not list(sweep_dir.rglob("result.json")):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "no run finished in time"
        time.sleep(0.2)
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 128 + signum, (proc.returncode, err[-3000:])
    assert "Traceback" not in err, err[-3000:]
    assert f"genq: interrupted by {signal.Signals(signum).name}" in err
    finished = _records(sweep_dir)
    assert 1 <= len(finished) < 3
    assert all(r["status"] == "ok" for r in finished.values())
    assert not [p for p in sweep_dir.rglob("*") if p.name.endswith(".tmp")]
    stamps = {p: p.stat().st_mtime_ns for p in finished}

    rerun = genq_cli(_cmd(sweep_dir)[3:], cwd=tmp_path, env=_env(tmp_path), timeout=900)   # no signal: warm fork
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert rerun.stdout.count("already holds the result of this config") == len(finished)
    after = _records(sweep_dir)
    assert len(after) == 3 and all(r["status"] == "ok" for r in after.values())
    assert {p: p.stat().st_mtime_ns for p in finished} == stamps      # finished runs untouched
    assert sorted(r["seed"] for r in after.values()) == [0, 1, 2]


def test_corrupt_record_in_sweep_is_recomputed_and_others_kept(tmp_path, genq_cli):
    sweep_dir = tmp_path / "sweep"
    args = [*SWEEP[:-2], "seed=0,1", f"hydra.sweep.dir={sweep_dir}"]      # no signal: a warm fork will do
    first = genq_cli(args, cwd=tmp_path, env=_env(tmp_path), timeout=900)
    assert first.returncode == 0, first.stderr[-3000:]
    records = sorted(_records(sweep_dir))
    assert len(records) == 2
    broken, kept = records
    broken.write_text(broken.read_text()[: 200])               # a half-written record
    kept_stamp = kept.stat().st_mtime_ns
    rerun = genq_cli(args, cwd=tmp_path, env=_env(tmp_path), timeout=900)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert rerun.stdout.count("already holds the result of this config") == 1
    assert json.loads(broken.read_text())["status"] == "ok"      # recomputed
    assert kept.stat().st_mtime_ns == kept_stamp                 # kept as it was
