"""A precision schedule file through a run (``quant.schedule``): W8A8 for the first sampler
step, W4A8 for the second, labelled as a schedule run, finite numbers; bad files refused."""

from __future__ import annotations

import math

import pytest

from genq.errors import GenqError
from genq.models.registry import load_generator
from genq.quant import make_plan
from genq.quant.schedule import PrecisionSchedule, Window
from genq.run import run_experiment


def test_a_schedule_file_runs_and_is_labelled(tmp_path, smoke_cfg):
    cfg = smoke_cfg("model=ddpm_digits")
    fp = load_generator(cfg.model)
    steps = len(fp.sampling_scheduler().timesteps)
    assert steps == 2
    w8a8 = make_plan(fp.network, cfg.quant)
    w4a8 = make_plan(fp.network, smoke_cfg("model=ddpm_digits", "quant.w_bits=4").quant)
    path = PrecisionSchedule([Window(0, 1, w8a8), Window(1, steps, w4a8)]).save(tmp_path / "s.json")

    record = run_experiment(smoke_cfg("model=ddpm_digits", f"quant.schedule={path}"), tmp_path / "run")
    assert record["quant"]["recipe"] == "w8a8_schedule"
    for key in ("fid", "kid", "lpips_vs_fp", "psnr_vs_fp"):
        assert math.isfinite(record["metrics"][key]), key

    short = PrecisionSchedule([Window(0, 1, w8a8)]).save(tmp_path / "short.json")
    with pytest.raises(GenqError, match="model samples 2 steps"):
        run_experiment(smoke_cfg("model=ddpm_digits", f"quant.schedule={short}"), tmp_path / "short")
    with pytest.raises(GenqError, match="does not exist"):
        run_experiment(smoke_cfg("model=ddpm_digits", f"quant.schedule={tmp_path / 'nope.json'}"),
                       tmp_path / "nope")
