"""scripts/reproduce_records.py: each sampled record's config composes from today's config
groups with every recorded setting applied, and the comparison flags what it should."""

from __future__ import annotations

import importlib.util
import json
import math
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("reproduce_records", ROOT / "scripts" / "reproduce_records.py")
rr = importlib.util.module_from_spec(_spec)
sys.modules["reproduce_records"] = rr       # its dataclass resolves its module
_spec.loader.exec_module(rr)


def _record(sample) -> dict:
    return json.loads((ROOT / "results" / sample.study / "records" / sample.record / "result.json").read_text())


def test_the_sample_covers_the_four_studies():
    assert {s.study for s in rr.SAMPLE} == {"foundation", "quant_design_space", "ptq_methods", "qat"}


ALL = rr.SAMPLE + rr.EXTENDED


@pytest.mark.parametrize("sample", ALL, ids=[f"{s.study}/{s.record}" for s in ALL])
def test_recorded_config_is_replayed_in_full(sample):
    from omegaconf import OmegaConf

    record = _record(sample)
    cfg, applied, missing = rr.record_config(record)
    assert not missing, f"recorded settings today's config cannot take: {missing}"
    replayed = rr._leaves(OmegaConf.to_container(cfg, resolve=True))
    for key, value in rr._leaves(record["config"]).items():
        if key.split(".")[0] not in rr.NOT_REPLAYED and key not in rr.FORCED and key not in rr.DERIVED:
            assert replayed[key] == value, key
    assert rr.compared_values(record)["metrics.fid"] == record["metrics"]["fid"]


def test_verdicts():
    assert rr.verdict(1.0, 1.0, 1e-4, 1e-8, False) == "exact"
    assert rr.verdict(1.0, 1.00001, 1e-4, 1e-8, False) == "noise"
    assert rr.verdict(1.0, 1.00001, 1e-4, 1e-8, True) == "DIFF"            # --exact
    assert rr.verdict(1.0, 1.001, 1e-4, 1e-8, False) == "DIFF"
    assert rr.verdict(1.0, math.nan, 1e-4, 1e-8, False) == "DIFF"
    assert rr.verdict(3, 4, 1e-4, 1e-8, False) == "DIFF"                    # counts are exact
    assert rr.verdict(1.0, None, 1e-4, 1e-8, False) == "MISSING"


def test_compared_values_skip_timings_and_echoed_settings():
    record = {"metrics": {"fid": 1.0, "scoring_s": 2.0, "resize": "none", "exact": True},
              "quant": {"w_bits": 4, "calibration_s": 0.1, "coverage": {"quantized": 3},
                        "qat": {"steps": 2, "loss_final": 0.5, "train_cpu_s": 1.0}},
              "speed": {"model_bytes": 10, "latency_ms_per_image": 0.3},
              "config": {"quant": {"w_bits": 4, "qat": {"steps": 2}}}}
    assert rr.compared_values(record) == {"metrics.fid": 1.0, "quant.coverage.quantized": 3,
                                          "quant.qat.loss_final": 0.5, "speed.model_bytes": 10}
