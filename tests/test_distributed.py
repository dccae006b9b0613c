"""Data-parallel sampling and scoring: sharding arithmetic, and a real 2-process
``accelerate launch`` run on CPU that must give the metrics of one process."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from conftest import free_port
from genq.distributed import DataParallel
from genq.errors import GenqError
from metric_checks import assert_finite_metrics

BIN = Path(sys.executable).parent


def _fake(world: int, rank: int) -> DataParallel:
    dp = DataParallel()
    dp.world_size, dp.rank = world, rank
    return dp


def test_bounds_cover_every_item_once_in_order():
    for n in (1, 5, 32, 33):
        for world in (1, 2, 3):
            if n < world:
                continue
            b = _fake(world, 0).bounds(n)
            assert b[0][0] == 0 and b[-1][1] == n
            assert all(e == s2 for (_, e), (s2, _) in zip(b, b[1:]))
            sizes = [e - s for s, e in b]
            assert max(sizes) - min(sizes) <= 1


def test_single_process_map_is_the_function_itself():
    dp = DataParallel()
    assert not dp.enabled and dp.is_main
    x = torch.arange(6.0)
    assert torch.equal(dp.map(lambda t: t * 2, x), x * 2)


def test_too_few_items_for_the_processes_is_a_clear_error():
    with pytest.raises(GenqError, match="cannot be split across 2 processes"):
        _fake(2, 0).map(lambda t: t, torch.zeros(1))


def _metrics(run_dir: Path) -> dict:
    return json.loads((run_dir / "result.json").read_text())


@pytest.mark.skipif(shutil.which("accelerate", path=str(BIN)) is None, reason="accelerate CLI not installed")
def test_two_processes_give_the_metrics_of_one(tmp_path, genq_cli):
    # 33 samples: uneven shards (17 + 16). Sampling batches of 17 give one process the same
    # batches (17, 16) as the two shards: the conv kernels oneDNN picks depend on the batch
    # size, and their last-bit differences can flip an int8 rounding of the quantized model.
    common = ["experiment=smoke", "logger=none", "metrics.n_samples=33", "model.sample_batch_size=17"]
    # accelerate gives each process one thread; the single-process reference uses one too,
    # so the floating-point work is the same and the numbers must match exactly.
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    one, two = tmp_path / "one", tmp_path / "two"
    # the one-process reference: the genq CLI as a fork of the tests' warm process (conftest)
    single = genq_cli([*common, f"hydra.run.dir={one}"], cwd=tmp_path, env=env)
    assert single.returncode == 0, single.stderr[-3000:]
    launched = subprocess.run(
        [str(BIN / "accelerate"), "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
         "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", str(free_port()),
         "-m", "genq.run", *common, f"hydra.run.dir={two}"],
        env=env, capture_output=True, text=True, cwd=tmp_path)
    assert launched.returncode == 0, launched.stderr[-3000:]
    r1, r2 = _metrics(one), _metrics(two)
    assert r1["processes"] == 1 and r2["processes"] == 2
    assert r2["metrics"]["n_samples"] == 33
    assert_finite_metrics(r1)
    assert_finite_metrics(r2)
    for key in ("fid", "fid_fp", "kid", "kid_fp", "qfid", "lpips_vs_fp", "psnr_vs_fp"):
        assert r2["metrics"][key] == pytest.approx(r1["metrics"][key], rel=1e-6, abs=1e-9), key
