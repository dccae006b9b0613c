"""Bootstrap intervals and precision/recall/density/coverage (issue 15)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from genq.metrics import bootstrap as boot
from genq.metrics import frechet_distance, prdc
from genq.metrics.frechet import feature_statistics


def _gauss(n: int, d: int, seed: int, shift: float = 0.0, scale: float = 1.0) -> torch.Tensor:
    return torch.from_numpy(np.random.default_rng(seed).normal(shift, scale, size=(n, d)).astype(np.float32))


# --- prdc against the authors' package -------------------------------------------------------

@pytest.mark.parametrize("k,shift,scale", [(5, 0.0, 1.0), (3, 0.5, 0.7), (8, 1.0, 1.5)])
def test_prdc_equals_the_authors_package(k, shift, scale):
    compute_prdc = pytest.importorskip("prdc").compute_prdc
    real, fake = _gauss(300, 16, 0), _gauss(250, 16, 1, shift, scale)
    theirs = compute_prdc(real.numpy(), fake.numpy(), nearest_k=k)
    ours = prdc(real, fake, nearest_k=k, block=64)
    for key in ("precision", "recall", "density", "coverage"):
        assert ours[key] == pytest.approx(float(theirs[key]), abs=1e-12), key


def test_prdc_of_identical_sets_and_of_a_collapsed_set():
    real = _gauss(200, 8, 0)
    same = prdc(real, real.clone())
    assert same["precision"] == same["recall"] == same["coverage"] == 1.0
    collapsed = prdc(real, 0.1 * _gauss(200, 8, 1))           # sharp but one mode: fidelity kept
    assert collapsed["precision"] > 0.9 and collapsed["recall"] < 0.2 and collapsed["coverage"] < 0.5
    blurred = prdc(real, _gauss(200, 8, 2, scale=3.0))        # diverse but off the manifold
    assert blurred["precision"] < 0.5 and blurred["density"] < same["density"]


# --- the replicates are the run's own statistics when nothing is resampled ------------------

def test_replicates_with_unit_counts_equal_the_plain_statistics():
    real, a = _gauss(300, 6, 0), _gauss(200, 6, 1, shift=0.3)
    b = a + 0.2 * _gauss(200, 6, 2)
    ones = torch.ones(1, 200, dtype=torch.float64)
    fid = frechet_distance(*feature_statistics(real), *feature_statistics(a))
    assert float(boot.fid_replicates(real, a, ones)[0]) == pytest.approx(fid, rel=1e-8)
    qfid = frechet_distance(*feature_statistics(a), *feature_statistics(b))
    assert float(boot.paired_fid_replicates(a, b, ones)[0]) == pytest.approx(qfid, rel=1e-8)
    # unbiased MMD^2 with KID's kernel, by brute force
    r, g = real.double(), a.double()
    k = lambda x, y: (x @ y.T / x.shape[1] + 1) ** 3                       # noqa: E731
    krr, kgg = k(r, r), k(g, g)
    mmd = ((krr.sum() - krr.trace()) / (300 * 299) + (kgg.sum() - kgg.trace()) / (200 * 199)
           - 2 * k(g, r).mean())
    assert float(boot.kid_replicates(real, a, ones)[0]) == pytest.approx(float(mmd), rel=1e-8)
    values = torch.tensor([1.0, 2.0, float("inf"), 4.0])
    assert float(boot.mean_replicates(values, torch.ones(1, 4, dtype=torch.float64))[0]) == pytest.approx(7 / 3)


def test_resample_counts_draw_n_each_and_are_seeded():
    c = boot.resample_counts(50, 30, seed=3)
    assert c.shape == (30, 50) and bool((c.sum(1) == 50).all())
    assert torch.equal(c, boot.resample_counts(50, 30, seed=3))
    assert not torch.equal(c, boot.resample_counts(50, 30, seed=4))


# --- intervals ------------------------------------------------------------------------------

def _fid_interval(n: int, seed: int = 0) -> list[float]:
    real, fake = _gauss(2000, 8, 10), _gauss(n, 8, 11, shift=0.2)
    estimate = frechet_distance(*feature_statistics(real), *feature_statistics(fake))
    counts = boot.resample_counts(n, 200, seed)
    return boot.interval(estimate, lambda: boot.fid_replicates(real, fake, counts), floor=0.0), estimate


def test_fid_interval_is_reproducible_contains_the_estimate_and_narrows_with_n():
    small, estimate = _fid_interval(200)
    assert small == _fid_interval(200)[0]                          # fixed seed: same interval
    assert small != _fid_interval(200, seed=1)[0]
    assert small[0] <= estimate <= small[1]
    large, _ = _fid_interval(1600)
    assert large[1] - large[0] < 0.6 * (small[1] - small[0])       # ~1/sqrt(8) as n grows 8x


def test_mean_interval_narrows_with_n_and_centres_on_the_estimate():
    widths = []
    for n in (100, 400, 1600):
        values = torch.from_numpy(np.random.default_rng(n).normal(1.0, 1.0, n))
        ci = boot.interval(float(values.mean()), lambda: boot.mean_replicates(values, boot.resample_counts(n, 400, 0)))
        assert ci[0] < float(values.mean()) < ci[1]
        widths.append(ci[1] - ci[0])
        assert widths[-1] == pytest.approx(2 * 1.96 / np.sqrt(n), rel=0.25)   # the normal interval
    assert widths[0] > widths[1] > widths[2]


def test_centred_interval_shifts_biased_replicates_onto_the_estimate():
    replicates = torch.linspace(10.0, 12.0, 1001, dtype=torch.float64)    # mean 11, biased up by 1
    low, high = boot.centred_interval(10.0, replicates)
    assert low == pytest.approx(9.05) and high == pytest.approx(10.95)
    assert boot.centred_interval(0.1, replicates, floor=0.0)[0] == 0.0
    assert boot.interval(None, lambda: replicates) is None


# --- in a run's record ----------------------------------------------------------------------

def test_score_run_writes_every_interval_and_prdc_with_fp_twins(tmp_path, monkeypatch):
    from genq.config import compose_config
    from genq.data import load_digits
    from genq.metrics import score_run

    monkeypatch.setenv("GENQ_CACHE", str(tmp_path))
    real = load_digits("train", 16, 0.2, 0).images[:200]
    fp = load_digits("test", 16, 0.2, 0).images[:60]
    q = (fp + 0.2 * torch.randn(fp.shape, generator=torch.Generator().manual_seed(0))).clamp(-1, 1)
    mc = compose_config("metrics.kid_subset_size=30", "metrics.kid_subsets=5", "metrics.bootstrap=30").metrics
    out = score_run(mc, real, fp, q, seed=0, data_key={"dataset": "digits"})
    for name in ("fid", "fid_fp", "kid", "kid_fp", "qfid", "lpips_vs_fp", "psnr_vs_fp"):
        low, high = out[f"{name}_ci95"]
        assert np.isfinite([low, high]).all() and low <= out[name] <= high, name
    for name in ("precision", "recall", "density", "coverage"):
        assert np.isfinite(out[name]) and np.isfinite(out[f"{name}_fp"])
    again = score_run(mc, real, fp, q, seed=0, data_key={"dataset": "digits"})
    assert {k: v for k, v in again.items() if k not in ("scoring_s", "reference_stats")} == \
        {k: v for k, v in out.items() if k not in ("scoring_s", "reference_stats")}   # reproducible
    fp_only = score_run(mc, real, fp, None, seed=0, data_key={"dataset": "digits"})
    assert fp_only["fid_ci95"] == out["fid_fp_ci95"] and "qfid_ci95" not in fp_only
    mc.bootstrap = 0
    plain = score_run(mc, real, fp, q, seed=0, data_key={"dataset": "digits"})
    assert not any(k.endswith("_ci95") for k in plain) and plain["fid"] == out["fid"]
