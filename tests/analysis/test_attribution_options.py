"""Attribution options: recipes of the quant group with overrides of their own after '+',
named by their labels; what one plan per cell cannot express is refused by name."""

from __future__ import annotations

import pytest

from conftest import compose
from genq.analysis.attribution.study import build_grid
from genq.errors import GenqError
from genq.models import load_generator

SMOKE = ("experiment=smoke", "logger=none")


@pytest.fixture(scope="module")
def gan():
    return load_generator(compose(*SMOKE, "model=dcgan_digits").model)


def test_options_are_recipes_with_their_own_overrides(gan):
    grid, q0 = build_grid(gan, "dcgan_digits", ["w4a4", "w8a8+quant.w_format=fp8_e4m3+quant.a_format=fp8_e4m3"],
                          1, "layer", SMOKE)
    assert [o.name for o in grid.options] == ["fp", "w4a4", "w_fp8_e4m3_a_fp8_e4m3"]
    assert grid.options[2].plan.layers[0].weight.format == "fp8_e4m3"
    assert grid.windows == [(0, 1)] and list(grid.groups) == ["net.0", "net.3", "net.6"]
    assert q0.calib_samples == 8


@pytest.mark.parametrize("options, match", [
    (["w4a4_brecq"], "quant.reconstruction.method=brecq"),
    (["w4a4", "w8a8+quant.calib_samples=16"], "calibrates differently"),
    (["w4a4", "w4a4+quant.calib_samples=8"], "twice"),
])
def test_what_a_cell_cannot_hold_is_refused(gan, options, match):
    with pytest.raises(GenqError, match=match):
        build_grid(gan, "dcgan_digits", options, 1, "layer", SMOKE)
