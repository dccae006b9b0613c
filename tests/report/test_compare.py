"""Comparisons of seed-aggregated rows (genq.report.compare): verdicts on hand-made cases."""

from __future__ import annotations

import math

import pytest
from report_records import make_record
from scipy.stats import t as student_t

from genq.report.aggregate import aggregate
from genq.report.compare import best_row, compare, vs_best


def _row(values, recipe="w8a8", w_bits=8, seeds=None, metric="fid"):
    seeds = seeds or list(range(len(values)))
    (row,) = aggregate([make_record(seed=s, quant_seed=s, recipe=recipe, w_bits=w_bits,
                                    metrics={metric: v}) for s, v in zip(seeds, values)])
    return row


def test_separate_when_the_rows_intervals_do_not_overlap():
    a, b = _row([1.0, 1.1, 0.9]), _row([5.0, 5.1, 4.9], recipe="w4a8", w_bits=4)
    c = compare(a, b, "fid")
    assert c.verdict == "separate"
    assert c.ci_a[1] < c.ci_b[0]
    assert c.diff == pytest.approx(-4.0) and c.n_shared == 3
    assert c.test == "paired t over 3 shared seeds"


def test_paired_when_only_the_paired_difference_excludes_zero():
    a = _row([1.0, 2.0, 3.0])
    b = _row([1.1, 2.12, 3.11], recipe="w4a8", w_bits=4)
    c = compare(a, b, "fid")
    assert c.ci_a[1] > c.ci_b[0]                      # the rows' own intervals overlap
    assert c.verdict == "paired"
    diffs = [-0.1, -0.12, -0.11]
    half = float(student_t.ppf(0.975, 2)) * 0.01 / math.sqrt(3)   # sd of the differences: 0.01
    assert c.diff == pytest.approx(-0.11)
    assert c.diff_ci95 == pytest.approx((-0.11 - half, -0.11 + half), rel=1e-9)
    assert c.diff_ci95[1] < 0 and sum(diffs) / 3 == pytest.approx(c.diff)


def test_overlap_when_neither_interval_tells_them_apart():
    a, b = _row([1.0, 2.0, 3.0]), _row([1.5, 1.8, 3.2], recipe="w4a8", w_bits=4)
    c = compare(a, b, "fid")
    assert c.verdict == "overlap"
    assert c.diff_ci95[0] < 0 < c.diff_ci95[1]


def test_only_shared_seeds_are_paired():
    a = _row([1.0, 2.0, 3.0], seeds=[0, 1, 2])
    b = _row([1.1, 2.12, 3.11, 50.0], recipe="w4a8", w_bits=4, seeds=[0, 1, 2, 3])
    c = compare(a, b, "fid")
    assert c.n_shared == 3 and c.diff == pytest.approx(-0.11)
    assert c.test == "paired t over 3 shared seeds"
    assert compare(a, _row([4.0], recipe="w4a8", w_bits=4, seeds=[9]), "fid").n_shared == 0


def test_one_seed_gives_no_verdict():
    a, b = _row([1.0]), _row([2.0], recipe="w4a8", w_bits=4)
    c = compare(a, b, "fid")
    assert (c.verdict, c.ci_a, c.diff_ci95, c.diff) == ("n/a", None, None, -1.0)
    assert c.test == "paired t over 1 shared seed"


def test_vs_best_ranks_within_each_model():
    rows = aggregate(
        [make_record(seed=s, quant_seed=s, metrics={"fid": v, "psnr_vs_fp": p})
         for s, v, p in zip(range(3), (1.0, 1.1, 0.9), (40.0, 41.0, 39.0))]
        + [make_record(seed=s, quant_seed=s, recipe="w4a8", w_bits=4, metrics={"fid": v, "psnr_vs_fp": p})
           for s, v, p in zip(range(3), (5.0, 5.1, 4.9), (20.0, 21.0, 19.0))]
        + [make_record(seed=0, quant_seed=0, model="dcgan_digits", metrics={"fid": 7.0})])
    assert best_row(rows, "fid") is rows[0] and best_row(rows, "psnr_vs_fp") is rows[0]
    assert vs_best(rows, "fid") == ["best", "separate", "best"]
    assert vs_best(rows, "psnr_vs_fp") == ["best", "separate", None]   # higher is better; absent stays absent
    assert vs_best(rows, "kid") == [None, None, None]
