"""scripts/bench_fullsize.py turns the records of one (model, batch) into the ratios the
issue's targets are stated in (int8 and int8_bf16 over the best bf16 baseline and over FP32
eager), across the two processes of ``--split`` by ratios of speedups (issue 20)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "bench_fullsize.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_fullsize", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _record(backend: str, variant: str, ms: dict[str, float]) -> dict:
    return {"env": {"cpu": {"model": "Xeon", "isa": ["amx_int8", "amx_bf16"]}},
            "quant": {"recipe": "w8a8"},
            "speed": {"backend": backend, "variant": variant, "threads": 1,
                      "latency_ms_per_image_by_backend": ms, "peak_memory_bytes": {k: 2 ** 20 for k in ms},
                      "build_s": {k: 1.0 for k in ms}, "model_bytes_fp": 400, "model_bytes": 100,
                      "coverage": {"low_precision": 7, "fallback": 0},
                      "agreement": {"rel_rms_real_vs_simulated": {"int8": 0.001, "int8_bf16": 0.004}}}}


def test_split_records_give_ratios_of_speedups_over_each_process_fp32_eager(bench):
    float_part = _record("cpu_bf16", "bf16_compiled",
                         {"fp32_eager": 1000.0, "fp32_compiled": 800.0, "bf16": 2000.0, "bf16_compiled": 250.0})
    low_part = _record("cpu_int8", "int8", {"fp32_eager": 1200.0, "int8": 150.0, "int8_bf16": 100.0})
    row = bench.rows_of([float_part, low_part], "speed_dit_xl2", 1)
    assert row["best_bf16"] == "bf16_compiled"                     # 4x its FP32 eager
    assert row["int8_vs_fp32_eager"] == pytest.approx(8.0)          # 1200 / 150, own process
    assert row["int8_vs_best_bf16"] == pytest.approx(2.0)           # 8x / 4x
    assert row["int8_bf16_vs_best_bf16"] == pytest.approx(3.0)      # 12x / 4x
    assert row["ms_fp32_eager_bf16_compiled"] == 1000.0 and row["ms_fp32_eager_int8"] == 1200.0
    text = bench.table([row], {"speed_dit_xl2 batch 1": "done"})
    line = text.splitlines()[2]
    assert "| bf16_compiled | 2.0x | 3.0x | 8.0x | 12.0x |" in line and "1000 / 1200" in line
    assert "Not measured" not in text


def test_jobs_that_did_not_run_are_listed(bench):
    text = bench.table([], {"speed_sd15_unet batch 4 (low variants)": "not started: the budget ran out"})
    assert "Not measured: speed_sd15_unet batch 4 (low variants): not started: the budget ran out." in text
