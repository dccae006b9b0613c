"""quant=auto end to end on tiny models: genq-analyze --attribution writes an attribution,
the allocator chooses under a budget, writes a plain schedule (a GAN: plan) file and runs
it; running that file again (quant.schedule=<file> / quant.plan=<file>) gives the same
record, and the record's effective_w_bits is the budget quantity the allocator computed."""

from __future__ import annotations

import json

import pytest

from genq.analysis.cli import main as analyze
from genq.errors import GenqError
from genq.run import run_experiment

SMOKE = ("experiment=smoke", "logger=none")
SMALL = ("metrics.n_samples=8", "metrics.kid_subset_size=4", "bench.repeats=1", "bench.warmup=0")
SAME = ("fid", "kid", "qfid", "lpips_vs_fp", "psnr_vs_fp")


@pytest.mark.slow              # DDPM ~40 s (20 cells, two runs), DCGAN ~13 s
@pytest.mark.parametrize("model, key, windows", [("ddpm_digits", "schedule", "2"), ("dcgan_digits", "plan", "1")])
def test_an_auto_recipe_reruns_to_the_same_record(tmp_path, smoke_cfg, model, key, windows):
    out = tmp_path / "attr"
    assert analyze(["--attribution", "--models", model, "--recipes", "w4a8", "--windows", windows,
                    "--n-samples", "8", "--n-random", "3", "--n-heldout", "3", "--override", *SMOKE,
                    "--out", str(out)]) == 0
    attribution = json.loads((out / model / "attribution.json").read_text())
    cells = len(attribution["cells"])
    assert len(attribution["rows"]) == 2 + cells + 3 + 3
    assert attribution["validation"]["qfid"]["n_configs"] == 3
    assert (out / model / "attribution_qfid.png").exists() and (out / model / "attribution_scatter_qfid.png").exists()
    assert json.loads((out / "attribution_validation.json").read_text())[0]["model"] == model
    fp_row = attribution["rows"][0]
    assert fp_row["config"] == [0] * cells and fp_row["lpips_vs_fp"] == 0.0

    budget = (f"quant.budget.attribution={out / model / 'attribution.json'}", "quant.budget.value=12")
    first = run_experiment(smoke_cfg(f"model={model}", "quant=auto", *budget, *SMALL), tmp_path / "auto")
    alloc = first["quant"]["allocator"]
    assert first["quant"]["recipe"] == "auto" and alloc["recipe_file"].endswith("auto_recipe.json")
    assert first["quant"]["effective_w_bits"] == pytest.approx(alloc["cost"], abs=1e-3) and alloc["cost"] <= 12
    again = run_experiment(smoke_cfg(f"model={model}", "quant=w8a8", f"quant.{key}={alloc['recipe_file']}", *SMALL),
                           tmp_path / "again")
    for k in SAME:
        assert again["metrics"][k] == first["metrics"][k], k
    assert again["quant"]["effective_w_bits"] == first["quant"]["effective_w_bits"]
    assert again["quant"]["coverage"] == first["quant"]["coverage"]


def test_auto_without_an_attribution_says_what_it_needs(tmp_path, smoke_cfg):
    with pytest.raises(GenqError, match="quant=auto needs quant.budget.attribution"):
        run_experiment(smoke_cfg("quant=auto"), tmp_path / "r")
    with pytest.raises(GenqError, match="quant.budget.kind='bits'"):
        run_experiment(smoke_cfg("quant=auto", "quant.budget.kind=bits"), tmp_path / "r")
