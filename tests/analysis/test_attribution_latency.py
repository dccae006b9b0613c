"""The attribution's latency table (issue 19): each group x option is timed through the
real int8 backend as a whole-graph difference against the all-FP network, options without
an int8 kernel are refused with the backend's reason, the additivity check times random
group configurations, and a study writes the table where ``quant.budget.kind=latency_ms``
reads it."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from genq.analysis.attribution.cells import FP
from genq.analysis.attribution.latency import latency_table, mixed_network
from genq.analysis.attribution.study import build_grid, run_attribution
from genq.analysis.attribution.switch import quantized_copies
from genq.config import compose_config
from genq.models import load_generator
from genq.quant.allocator import CostModel
from genq.quant.modules import is_quantized
from genq.quant.ptq_pipeline import build_calibration

SMOKE = ("experiment=smoke", "logger=none")


@pytest.fixture(scope="module")
def gan():
    cfg = compose_config("model=dcgan_digits", "quant=w8a8", *SMOKE)
    fp = load_generator(cfg.model)
    grid, q = build_grid(fp, "dcgan_digits", ["w8a8", "w8a8+quant.w_format=fp8_e4m3"], 1, "layer", SMOKE)
    return fp, grid, quantized_copies(fp, grid, build_calibration(fp, q, 0))


def test_a_mixed_network_quantizes_exactly_the_chosen_groups(gan):
    fp, grid, copies = gan
    groups = list(grid.groups)
    config = [FP] * len(groups)
    config[1] = 1
    net = mixed_network(fp.network, copies, grid, config)
    assert sorted(n for n, m in net.named_modules() if is_quantized(m)) == sorted(grid.groups[groups[1]])
    assert not any(is_quantized(m) for m in fp.network.modules())  # the FP model is left alone


def test_the_table_times_int8_groups_and_refuses_a_format_without_a_kernel(gan):
    fp, grid, copies = gan
    torch.manual_seed(0)
    table = latency_table(fp, copies, grid, fp.make_noise(2, 0), batch_size=2, repeats=1, compile=False,
                          n_check=2)
    G = len(grid.groups)
    assert table["base_ms"] > 0 and len(table["delta_ms"]) == G
    assert all(row[0] == 0.0 and isinstance(row[1], float) and row[2] is None for row in table["delta_ms"])
    fp8 = grid.options[2].name
    assert list(table["refused"]) == [fp8] and "fp8" in table["refused"][fp8].lower()
    for row in table["check"]["configs"]:
        assert row["measured_ms"] > 0 and set(row["groups"]) <= {"fp", grid.options[1].name}
    costs = CostModel(np.ones((G, 3)), np.ones(G), 0.0, 0, 0.0, [1], {**table, "check": {}})   # refusal: allocator tests
    assert costs.latency_ms(np.zeros(G, dtype=int)) == pytest.approx(table["base_ms"])
    assert np.isnan(costs.cell_latency()[:, 2]).all()


def test_a_study_with_latency_writes_and_reuses_its_table(tmp_path, gan):
    fp, _, _ = gan
    kw = dict(n_samples=4, windows=1, level="layer", n_random=2, n_heldout=2, overrides=SMOKE, model_override=fp,
              latency={"batch_size": 1, "repeats": 1, "compile": False, "n_check": 1})
    first = run_attribution("dcgan_digits", ["w8a8"], tmp_path, **kw)
    saved = json.loads((tmp_path / "latency.json").read_text())
    assert first["costs"]["latency"]["base_ms"] == saved["base_ms"]
    again = run_attribution("dcgan_digits", ["w8a8"], tmp_path, **kw)
    assert again["costs"]["latency"] == saved                      # read back, not re-timed
