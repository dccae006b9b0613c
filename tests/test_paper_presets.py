"""`paper=` presets: each composes to a multirun over the right groups, and one runs end to
end (on the smoke models) into a genq-report table."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import compose
from genq.report.cli import build_report

PRESETS = sorted(p.stem for p in (Path(__file__).parents[1] / "genq" / "configs" / "paper").glob("*.yaml"))


def _compose_with_hydra(*overrides: str):
    return compose(*overrides, return_hydra_config=True)


def test_every_preset_is_a_multirun_whose_recipes_exist():
    recipes = {p.stem for p in (Path(__file__).parents[1] / "genq" / "configs" / "quant").glob("*.yaml")}
    models = {p.stem for p in (Path(__file__).parents[1] / "genq" / "configs" / "model").glob("*.yaml")}
    assert {"digits_bits", "qdiffusion_cifar10"} <= set(PRESETS)
    for name in PRESETS:
        cfg = _compose_with_hydra(f"paper={name}")
        assert cfg.experiment == name
        assert cfg.hydra.mode.name == "MULTIRUN"
        params = cfg.hydra.sweeper.params
        assert set(params.quant.split(",")) <= recipes, name
        if "model" in params:
            assert set(params.model.split(",")) <= models, name


def test_qdiffusion_preset_is_the_papers_setting():
    cfg = _compose_with_hydra("paper=qdiffusion_cifar10")
    assert (cfg.model.name, cfg.model.repo_id, cfg.model.num_inference_steps) == \
        ("hub_ddpm", "google/ddpm-cifar10-32", 100)
    assert (cfg.data.name, cfg.metrics.feature_extractor, cfg.metrics.n_samples) == ("cifar10", "inception", 50000)
    assert cfg.metrics.implementation == "torch_fidelity"
    assert {"w4a8", "w4a8_qdiffusion"} <= set(cfg.hydra.sweeper.params.quant.split(","))


def test_digits_bits_preset_runs_into_a_table(tmp_path, genq_cli):
    sweep = tmp_path / "sweep"
    # The preset's own sweep, narrowed on the command line to the smoke DCGAN and two rows.
    out = genq_cli(["paper=digits_bits", "experiment=smoke", "model=dcgan_digits", "quant=fp32,w4a8", "logger=none",
                    f"hydra.sweep.dir={sweep}"], cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    records = [json.loads(p.read_text()) for p in sorted(sweep.rglob("result.json"))]
    assert sorted(r["quant"]["recipe"] for r in records) == ["fp32", "w4a8"]
    assert all(r["experiment"] == "digits_bits" and r["status"] == "ok" for r in records)
    written = build_report([str(sweep)], tmp_path / "report")
    table = written["md"].read_text()
    assert "w4a8" in table and written["tex"].exists() and written["csv"].exists()
