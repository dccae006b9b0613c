"""The quant group is a precision part (quant=) and a method part (quant_method=); the 44
named recipes are aliases of the two, composing exactly the settings of the hand-written
files they replaced; the recorded label is derived from the effective settings."""

from __future__ import annotations

import itertools
import json
from dataclasses import asdict, replace
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from conftest import compose
from genq.config import QuantConfig
from genq.config.label import BASELINE, recipe_label

CONFIGS = Path(__file__).parents[1] / "genq" / "configs"
# Per recipe, the settings away from the QuantConfig defaults that the hand-written
# configs/quant/*.yaml composed to before the split (issue 16); `recipe` left out.
SNAPSHOT = json.loads((Path(__file__).parent / "quant_recipes_snapshot.json").read_text())
PRECISIONS = ("auto", "fp32", "w8a8", "w4a4", "w4a8", "w2a8", "w6a6", "w8a16", "w4a16", "w8a8_dynamic")
METHODS = sorted(p.stem for p in (CONFIGS / "quant_method").glob("*.yaml"))
RECIPES = sorted(p.stem for p in (CONFIGS / "quant").glob("*.yaml"))


def _flat(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def settings(quant) -> dict:
    """The quant node's settings away from the schema defaults (the label left out)."""
    base = _flat(asdict(QuantConfig()))
    q = _flat(OmegaConf.to_container(quant, resolve=True))
    return {k: v for k, v in q.items() if k != "recipe" and base.get(k, "<none>") != v}


def test_the_quant_group_is_the_named_recipes():
    assert set(RECIPES) == set(SNAPSHOT)
    assert set(PRECISIONS) <= set(RECIPES)


@pytest.mark.parametrize("recipe", sorted(set(SNAPSHOT) - set(PRECISIONS)))
def test_every_alias_is_a_precision_and_a_method(recipe):
    text = (CONFIGS / "quant" / f"{recipe}.yaml").read_text()
    assert "recipe:" not in text.replace("recipe label", "")       # the label is derived
    precision, method = (recipe.split("_", 2)[2], "_".join(recipe.split("_")[:2])) \
        if recipe.startswith("qat_") else recipe.split("_", 1)
    assert precision in PRECISIONS and method in METHODS
    split = compose(f"quant={precision}", f"quant_method={method}")       # tests/test_config.py: the alias
    assert settings(split.quant) == SNAPSHOT[recipe] and split.quant.recipe == recipe


def test_method_parts_are_packaged_into_quant_and_precision_parts_name_no_method():
    for name in METHODS:
        assert (CONFIGS / "quant_method" / f"{name}.yaml").read_text().startswith("# @package quant\n")
    for name in PRECISIONS:
        text = (CONFIGS / "quant" / f"{name}.yaml").read_text()
        assert "recipe:" not in text and ("method:" in text) == (name == "fp32")


def test_an_alias_method_gives_way_to_the_command_line():
    cfg = compose("quant=w4a4_qdiffusion", "quant_method=brecq")
    assert cfg.quant.recipe == "w4a4_brecq" and cfg.quant.calibration.sampler == "trajectory"
    assert compose("quant=w4a8", "quant_method=qdiffusion").quant.recipe == "w4a8_qdiffusion"
    assert compose("quant=w8a8_dynamic", "quant_method=brecq").quant.recipe == "w8a8_brecq_dynamic"


@pytest.mark.parametrize("overrides, label", [
    (["quant=w8a8", "quant.w_bits=4"], "w4a8"),
    (["quant=w4a4_qdiffusion", "quant.a_bits=8"], "w4a8_qdiffusion"),
    (["quant=w4a8", "quant.observer=mse"], "w4a8_a_mse"),
    (["quant=w4a4", "quant.observer=mse", "quant.w_observer=mse"], "w4a4_mse"),
    (["quant=w4a4", "quant.w_observer=percentile"], "w4a4_w_percentile"),
    (["quant=w4a16", "quant.granularity=per_group", "quant.group_size=32"], "w4a16_g32"),
    (["quant=w4a8", "quant.granularity=per_tensor", "quant.w_symmetric=false"], "w4a8_w_per_tensor_w_asym"),
    (["quant=w8a8_dynamic", "quant.a_granularity=per_token"], "w8a8_dynamic_per_token"),
    (["quant=w8a8", "quant.attn_bits=8", "quant.softmax_bits=12"], "w8a8_attn8_softmax12"),
    (["quant=w4a8", "quant.first_last=int8"], "w4a8_first_last_int8"),
    (["quant=w4a8", "quant.overrides=[{pattern: a, w_bits: 8}, {pattern: b, keep_fp: true}]",
      "quant.exclude=[time_embedding.*]"], "w4a8_exclude1_overrides2"),
    (["quant=w4a8", "quant.w_bits=null"], "w16a8"),
    (["quant=w4a8_qdiff_split", "quant.reconstruction.method=adaround"], "w4a8_qdiff_split_adaround"),
    (["quant=w4a4", "quant.calibration.shortcut_split=true"], "w4a4_split"),
    (["quant=w4a4_last", "quant.calibration.step=0"], "w4a4_step0"),
    (["quant=qat_lsq_w4a4", "quant.qat.lora_rank=8"], "qat_lora_w4a4"),
    (["quant=qat_lsq_w4a4", "quant.qat.learn_weights=false"], "qat_lsq_w4a4_w_frozen"),
    (["quant=qat_lsq_w4a4", "quant.observer=minmax"], "qat_lsq_w4a4_a_minmax"),
    (["quant=w4a8_qdiffusion", "quant.calib_samples=256", "quant.reconstruction.iters=10"], "w4a8_qdiffusion"),
])
def test_the_label_says_what_runs(overrides, label):
    cfg = compose(*overrides)
    assert cfg.quant.recipe == recipe_label(cfg.quant) == label


def test_an_explicit_recipe_is_a_user_label_recorded_next_to_the_derived_one():
    from genq.run import describe_quant

    cfg = compose("quant=w8a8", "quant.w_bits=4", "quant.recipe=my_run", return_hydra_config=True)
    info = describe_quant(cfg.quant)
    assert (info["recipe"], info["label"]) == ("my_run", "w4a8")
    assert "/my_run/" in cfg.hydra.run.dir
    info = describe_quant(compose("quant=w8a8", "quant.w_bits=4").quant)
    assert (info["recipe"], info["label"]) == ("w4a8", "w4a8")


def test_run_folders_are_named_by_the_derived_label():
    cfg = compose("quant=w8a8", "quant.w_bits=4", return_hydra_config=True)
    assert cfg.hydra.run.dir.startswith("outputs/ddpm_digits/w4a8/")
    assert "${quant.recipe}" in OmegaConf.to_container(cfg.hydra.sweep)["subdir"]


def test_the_label_baseline_is_the_schema_default():
    defaults = _flat(asdict(QuantConfig()))
    assert {k: defaults[k] for k in BASELINE} == BASELINE
    assert recipe_label(QuantConfig()) == "fp32"
    assert recipe_label(replace(QuantConfig(), method="ptq", w_bits=4, a_bits=8)) == "w4a8"


def test_a_record_config_is_labelled_too():
    record_quant = OmegaConf.to_container(compose("quant=w4a4_tdq").quant, resolve=True)
    assert recipe_label(record_quant) == "w4a4_tdq"
    assert recipe_label({"method": "ptq", "w_bits": 4, "a_bits": 4}) == "w4a4"   # older, partial


def test_different_method_settings_get_different_labels():
    seen = {}
    for sampler, split, buckets, recon, act, bc, bn in itertools.product(
            ("trajectory", "uniform", "normal", "single"), (False, True), (0, 5),
            ("none", "adaround", "brecq"), (False, True), (False, True), (False, True)):
        q = {"method": "ptq", "w_bits": 4, "a_bits": 4,
             "calibration": {"sampler": sampler, "shortcut_split": split, "timestep_buckets": buckets},
             "reconstruction": {"method": recon, "learn_act_scale": act, "bias_correction": bc,
                                "bn_reestimate": bn}}
        label = recipe_label(q)
        assert label not in seen, (label, seen.get(label), q)
        seen[label] = q
    assert len(seen) == 4 * 2 * 2 * 3 * 2 * 2 * 2


def test_the_record_states_the_bits_of_a_named_format_not_the_recipe_heads():
    """quant=w4a4 quant.w_format=fp8_e4m3 runs 8-bit weights; the record must say 8."""
    from genq.run import describe_quant

    info = describe_quant(compose("quant=w4a4", "quant.w_format=fp8_e4m3", "quant.a_format=nvfp4").quant)
    assert (info["w_bits"], info["a_bits"]) == (8, 4)
    info = describe_quant(compose("quant=w8a8", "quant.w_format=mxfp6_e2m3").quant)
    assert (info["w_bits"], info["a_bits"]) == (6, 8)
