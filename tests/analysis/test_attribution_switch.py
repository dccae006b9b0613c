"""The switchable model of an attribution: each option calibrated once, configurations set
by Python ints. All-FP is the FP model; an option everywhere is that option's calibrated
schedule, bit for bit; a cell's precision changes exactly at its window boundary; the cost
table counts bits as the record does."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "quant"))

from genq.analysis.attribution.cells import CellGrid, Option, layer_groups  # noqa: E402
from genq.analysis.attribution.switch import switchable  # noqa: E402
from genq.analysis.common import units  # noqa: E402
from genq.config.ptq import CalibrationConfig  # noqa: E402
from genq.quant import make_plan  # noqa: E402
from genq.quant.calibration.data import trajectory_calibration  # noqa: E402
from genq.quant.effective_bits import weight_bits  # noqa: E402
from genq.quant.schedule import PrecisionSchedule, Window, apply_schedule, calibrate_schedule  # noqa: E402
from ptq_tiny import recipe  # noqa: E402
from test_schedule import tiny_adapter  # noqa: E402

STEPS = 4


@pytest.fixture(scope="module")
def setup():
    fp = tiny_adapter(STEPS)
    calib = trajectory_calibration(fp, fp.calibration_calls(fp.make_noise(8, 1), 4), 4, CalibrationConfig())
    plans = [make_plan(fp.network, recipe(8, 8)), make_plan(fp.network, recipe(4, 8))]
    grid = CellGrid(layer_groups(plans, units(fp.network, "block")), [(0, 2), (2, STEPS)],
                    [Option("fp"), Option("w8a8", plans[0]), Option("w4a8", plans[1])])
    net, switch, costs = switchable(fp, grid, calib)
    return fp, calib, grid, net, switch, costs


def test_all_fp_is_the_fp_model_and_one_option_everywhere_is_its_calibrated_schedule(setup):
    fp, calib, grid, net, switch, _ = setup
    noise = fp.make_noise(3, 5)
    switch.set_config(grid.uniform(0))
    assert torch.equal(net.sample(noise), fp.sample(noise))
    for o in (1, 2):
        ref = fp.clone()
        apply_schedule(ref.network, PrecisionSchedule([Window(s, e, grid.options[o].plan) for s, e in grid.windows]))
        calibrate_schedule(ref.network, calib.batches)
        switch.set_config(grid.uniform(o))
        assert torch.equal(net.sample(noise), ref.sample(noise))


def test_a_cell_changes_precision_exactly_at_its_window_boundary(setup):
    fp, _, grid, net, switch, _ = setup
    config = grid.uniform(0)
    config[grid.index("conv_in", 0)] = 2                 # W4 in steps 0-1
    config[grid.index("conv_in", 1)] = 1                 # W8 in steps 2-3
    switch.set_config(config)
    layer, other = net.network.conv_in, net.network.conv_out
    seen = []
    net.sample(fp.make_noise(2, 3), callbacks=[lambda i, t: seen.append((layer.weight.clone(), other.weight.clone()))])
    members = layer.weight_quantizer.quantizers
    w = layer.weight_fp.detach()
    w8, w4 = members[switch.member_index(1, 1)](w), members[switch.member_index(2, 0)](w)
    assert not torch.equal(w8, w4)
    assert [torch.equal(a, w4) for a, _ in seen] == [True, True, False, False]
    assert [torch.equal(a, w8) for a, _ in seen] == [False, False, True, True]
    assert all(torch.equal(b, other.weight_fp) for _, b in seen)     # another group stays FP


def test_the_cost_table_counts_bits_as_the_record_does(setup):
    fp, _, grid, _, _, costs = setup
    g = list(grid.groups).index("conv_in")
    n = fp.network.conv_in.weight.numel()
    out_channels = fp.network.conv_in.weight.shape[0]
    assert costs["weight_bits"][g] == [32.0 * n, 8.0 * n + 16 * out_channels, 4.0 * n + 16 * out_channels]
    assert costs["weight_elements"][g] == n
    assert costs["window_steps"] == [2, 2]
    assert costs["weight_bits"][g][0] == weight_bits(fp.network.conv_in)[0]
