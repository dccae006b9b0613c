"""A plan file through a run: make_plan -> save -> edit one layer -> load -> apply (via
``quant.plan``) gives the same record as the equivalent override recipe; a plan-driven run
is labelled as such."""

from __future__ import annotations

import json

from conftest import compose
from genq.models.registry import load_generator
from genq.quant import make_plan
from genq.run import run_experiment

NUMBERS = ("fid", "fid_fp", "kid", "qfid", "lpips_vs_fp", "psnr_vs_fp")


def test_edited_plan_file_reruns_the_override_recipe(tmp_path, smoke_cfg):
    cfg = smoke_cfg("model=ddpm_digits")
    fp = load_generator(cfg.model)
    plan = make_plan(fp.network, cfg.quant)
    path = plan.save(tmp_path / "plan.json")
    data = json.loads(path.read_text())
    target = data["layers"][3]
    target["weight"]["format"] = "int4"                      # one layer to 4-bit weights
    path.write_text(json.dumps(data))
    name = target["name"]

    by_plan = run_experiment(smoke_cfg("model=ddpm_digits", f"quant.plan={path}"), tmp_path / "plan")
    by_recipe = run_experiment(smoke_cfg("model=ddpm_digits", f"quant.overrides=[{{pattern:'{name}',w_bits:4}}]"),
                               tmp_path / "recipe")
    for key in NUMBERS:
        assert by_plan["metrics"][key] == by_recipe["metrics"][key], key
    assert by_plan["quant"]["coverage"] == by_recipe["quant"]["coverage"]
    assert by_plan["quant"]["recipe"] == "w8a8_plan" and by_recipe["quant"]["recipe"] == "w8a8_overrides1"


def test_overridden_bits_are_labelled_by_what_they_are():
    assert compose("quant=w8a8", "quant.w_bits=4").quant.recipe == "w4a8"
    assert compose("quant=w8a8", "quant.w_format=fp8_e4m3", "quant.a_format=fp8_e4m3").quant.recipe \
        == "w_fp8_e4m3_a_fp8_e4m3"
