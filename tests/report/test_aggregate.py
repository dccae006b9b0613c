"""Seed aggregation (genq.report.aggregate): grouping, means, t-intervals, absent metrics."""

from __future__ import annotations

import math

import pytest
from report_records import make_record
from scipy.stats import t as student_t

from genq.report.aggregate import aggregate, group_key, seed_key, t_interval

# t_{0.975, 2} in closed form: for 2 degrees of freedom F(t) = 1/2 + t / (2 sqrt(2 + t^2)).
T_975_2 = math.sqrt(2 * 0.95 ** 2 / (1 - 0.95 ** 2))


def _runs(values, **kw):
    """One record per value, seeds (0, 0), (1, 1), (2, 2)..., metric fid = value."""
    return [make_record(seed=i, quant_seed=i, metrics={"fid": v}, **kw) for i, v in enumerate(values)]


def test_t_interval_of_1_2_3_is_exact():
    assert float(student_t.ppf(0.975, 2)) == pytest.approx(T_975_2, rel=1e-12)
    assert T_975_2 == pytest.approx(4.302652729911275, rel=1e-9)
    half = float(student_t.ppf(0.975, 2)) / math.sqrt(3)
    assert t_interval([1.0, 2.0, 3.0]) == (2.0 - half, 2.0 + half)
    assert t_interval([1.0, 2.0, 3.0], level=0.9) == pytest.approx(
        (2 - student_t.ppf(0.95, 2) / math.sqrt(3), 2 + student_t.ppf(0.95, 2) / math.sqrt(3)), rel=1e-12)
    assert t_interval([5.0]) is None and t_interval([]) is None


def test_row_of_three_seeds_has_mean_sd_and_interval():
    (row,) = aggregate(_runs([1.0, 2.0, 3.0]))
    fid = row.metrics["fid"]
    half = float(student_t.ppf(0.975, 2)) * 1.0 / math.sqrt(3)
    assert (fid.k, fid.mean, fid.sd) == (3, 2.0, 1.0)
    assert fid.ci95 == (2.0 - half, 2.0 + half)
    assert fid.half_width == pytest.approx(T_975_2 / math.sqrt(3), rel=1e-12)
    assert row.n_seeds == 3 and row.seeds == [(0, 0), (1, 1), (2, 2)]
    assert row.values("fid") == {(0, 0): 1.0, (1, 1): 2.0, (2, 2): 3.0}
    assert (row.mean("fid"), row.sd("fid"), row.ci95("fid")) == (2.0, 1.0, fid.ci95)


def test_only_seeds_differ_within_a_row():
    records = _runs([1.0, 2.0, 3.0]) + _runs([4.0, 5.0], recipe="w4a8", w_bits=4)
    records.append(make_record(seed=7, quant_seed=3, metrics={"fid": 9.0}))   # same setting, new seeds
    rows = aggregate(records)
    assert [(r.quant["recipe"], r.n_seeds) for r in rows] == [("w8a8", 4), ("w4a8", 2)]
    assert rows[0].seeds == [(0, 0), (1, 1), (2, 2), (7, 3)]
    assert rows[0].record["seed"] == 0          # the representative is the lowest seed
    assert group_key(records[0]) == group_key(records[-1]) != group_key(records[3])


def test_seed_and_quant_seed_both_vary_the_seed_key_only():
    a, b = make_record(seed=0, quant_seed=0), make_record(seed=0, quant_seed=1)
    assert seed_key(a) == (0, 0) and seed_key(b) == (0, 1)
    assert group_key(a) == group_key(b)
    assert len(aggregate([a, b])[0].seeds) == 2
    # A sub-seed (calibration.seed) is part of the setting.
    c = make_record(seed=1, quant_seed=1)
    c["config"]["quant"]["calibration"]["seed"] = 5
    assert group_key(c) != group_key(a)


def test_one_seed_has_no_interval():
    (row,) = aggregate(_runs([3.5]))
    fid = row.metrics["fid"]
    assert (fid.k, fid.mean, fid.sd, fid.ci95, fid.half_width) == (1, 3.5, None, None, None)


def test_absent_metrics_stay_absent():
    records = [make_record(seed=0, quant_seed=0, metrics={"fid": 1.0, "qfid": None, "kid": 0.1,
                                                          "fid_ci95": [0.9, 1.1]}),
               make_record(seed=1, quant_seed=1, metrics={"fid": 2.0, "kid": 0.2}),
               make_record(seed=2, quant_seed=2, metrics={"fid": 3.0})]
    (row,) = aggregate(records)
    assert "qfid" not in row.metrics and "lpips_vs_fp" not in row.metrics
    assert "fid_ci95" not in row.metrics and "feature_extractor" not in row.metrics
    assert row.mean("qfid") is None and row.ci95("qfid") is None and row.values("qfid") == {}
    kid = row.metrics["kid"]
    assert kid.k == 2 and kid.values == {(0, 0): 0.1, (1, 1): 0.2} and kid.mean == pytest.approx(0.15)
    assert row.metrics["fid"].k == 3


def test_old_records_without_quant_seed_or_config():
    old = [make_record(seed=s, quant_seed=None, metrics={"fid": float(s)}) for s in (0, 1)]
    assert seed_key(old[0]) == (0, None)
    (row,) = aggregate(old)
    assert row.seeds == [(0, None), (1, None)]
    bare = [make_record(seed=s, quant_seed=s, metrics={"fid": float(s)}, with_config=False) for s in (0, 1)]
    bare.append(make_record(seed=0, quant_seed=0, w_bits=4, recipe="w4a8", with_config=False))
    rows = aggregate(bare)
    assert [r.n_seeds for r in rows] == [2, 1]


def test_a_rerun_of_the_same_seeds_is_counted_once(capsys):
    records = _runs([1.0, 2.0]) + [make_record(seed=0, quant_seed=0, metrics={"fid": 1.5})]
    (row,) = aggregate(records)
    assert row.n_seeds == 2 and row.values("fid") == {(0, 0): 1.0, (1, 1): 2.0}
    assert "left out" in capsys.readouterr().err


def test_table_cell_is_mean_and_half_width_or_absent():
    (three,) = aggregate(_runs([1.0, 2.0, 3.0]))
    (one,) = aggregate(_runs([3.5]))
    assert three.cell("fid") == f"2 ± {T_975_2 / math.sqrt(3):.2g}" == "2 ± 2.5"
    assert one.cell("fid") == "3.5"
    assert three.cell("qfid") == "-"


def test_an_option_added_to_the_schema_later_does_not_split_a_row():
    old = [make_record(seed=s, quant_seed=s, metrics={"fid": float(s)}) for s in (0, 1)]
    new = make_record(seed=2, quant_seed=2, metrics={"fid": 2.0})
    new["config"]["bench"] = {**new["config"].get("bench", {}), "conv_zero_point": "fold"}
    (row,) = aggregate(old + [new])
    assert row.n_seeds == 3
    # ... but a value that differs where present is a different setting
    other = make_record(seed=3, quant_seed=3, metrics={"fid": 3.0})
    other["config"]["bench"] = {**other["config"].get("bench", {}), "conv_zero_point": "pad"}
    assert len(aggregate(old + [new, other])) == 3


def test_a_model_specific_option_is_an_addition_within_each_model():
    """Another model's records hold another value of a model option (StyleGAN's
    model.train.r1_gamma); that must not stop the option counting as added in this model."""
    old = [make_record(seed=s, quant_seed=s, metrics={"fid": float(s)}) for s in (0, 1)]
    new = make_record(seed=2, quant_seed=2, metrics={"fid": 2.0})
    new["config"]["model"]["train"] = {"r1_gamma": 0.1}
    gan = make_record(seed=0, quant_seed=0, model="stylegan_digits", metrics={"fid": 1.0})
    gan["config"]["model"]["train"] = {"r1_gamma": 0.05}
    rows = aggregate(old + [new, gan])
    assert sorted((r.model, r.n_seeds) for r in rows) == [("ddpm_digits", 3), ("stylegan_digits", 1)]
