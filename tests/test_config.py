"""Every experiment config composes for every model; schema and range errors are clear."""

from __future__ import annotations

from importlib import resources

import pytest
from hydra.errors import ConfigCompositionException
from omegaconf.errors import ConfigKeyError, ValidationError

from conftest import compose
from genq.config import validate
from genq.config.label import recipe_label
from genq.errors import GenqError


def _group_options(group: str) -> list[str]:
    folder = resources.files("genq") / "configs" / group
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".yaml"))


GENERATORS = ["dcgan_digits", "ddpm_digits"]


@pytest.mark.parametrize("experiment", _group_options("experiment"))
@pytest.mark.parametrize("model", GENERATORS)
def test_every_experiment_composes_and_validates(experiment, model):
    cfg = compose(f"experiment={experiment}", f"model={model}")
    validate(cfg)
    assert cfg.experiment == experiment
    assert cfg.model.name == model


@pytest.mark.parametrize("recipe", _group_options("quant"))
def test_every_quant_recipe_composes_its_settings_and_is_labelled_by_its_name(recipe):
    """The settings each recipe composes (precision part + method part) are those of the
    hand-written file it replaced (tests/quant_recipes_snapshot.json), and the label derived
    from them (genq.config.label) is the recipe's name, as in the committed records."""
    from test_recipe_label import SNAPSHOT, settings

    cfg = compose(f"quant={recipe}")
    validate(cfg)
    assert settings(cfg.quant) == SNAPSHOT[recipe]
    assert cfg.quant.recipe == recipe_label(cfg.quant) == recipe


def test_default_is_ddpm_w8a8():
    cfg = compose()
    assert (cfg.model.name, cfg.quant.recipe, cfg.quant.method) == ("ddpm_digits", "w8a8", "ptq")


def test_typo_in_override_fails_in_hydra():
    with pytest.raises((ConfigCompositionException, ConfigKeyError)):
        compose("quant.w_bitz=4")


def test_wrong_type_in_override_fails_in_hydra():
    with pytest.raises((ConfigCompositionException, ValidationError)):
        compose("quant.w_bits=eight")


def test_unknown_model_fails_in_hydra():
    with pytest.raises(ConfigCompositionException, match="nope"):
        compose("model=nope")


@pytest.mark.parametrize("override, named", [("quant.w_bits=0", "quant.w_bits=0"),
                                             ("quant.a_bits=99", "quant.a_bits=99"),
                                             ("quant.w_bits=1", "quant.w_bits=1"),
                                             ("quant.granularity=per_row", "per_row"),
                                             ("quant.observer=magic", "magic"),
                                             ("metrics.n_samples=1", "metrics.n_samples=1")])
def test_range_errors_name_the_value_and_the_accepted_ones(override, named):
    cfg = compose(override)
    with pytest.raises(GenqError) as err:
        validate(cfg)
    message = str(err.value)
    assert named in message and "accepted" in message
    assert "\n" not in message


def test_method_settings_fail_before_any_model_loads():
    from genq.config import validate
    from genq.errors import GenqError

    with pytest.raises(GenqError, match="quant.qat.lr=0"):
        validate(compose("quant=qat_lsq_w4a8", "quant.qat.lr=0"))
    with pytest.raises(GenqError, match="quant.qat.train_samples=8 applies to diffusion"):
        validate(compose("model=dcgan_digits", "quant=qat_lsq_w4a8", "quant.qat.train_samples=8"))
    with pytest.raises(GenqError, match="quant.reconstruction.iters"):
        validate(compose("quant=w4a8_brecq", "quant.reconstruction.iters=0"))


def test_qat_refuses_ptq_method_settings_it_would_ignore():
    with pytest.raises(GenqError, match="quant.method=qat does not use quant.calibration.sampler"):
        validate(compose("quant=qat_lsq_w4a8", "quant.calibration.sampler=uniform"))
    with pytest.raises(GenqError, match="quant.reconstruction.method"):
        validate(compose("quant=qat_lsq_w4a8", "quant.reconstruction.method=brecq"))
    validate(compose("quant=qat_lora_w4a4"))
