"""The standard metrics' formulas on features (no networks): FID against torch-fidelity and
scipy, KID, IS, precision/recall against torch-fidelity, SSIM, the reference-statistics
cache, the config, and the digits suite unchanged."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest
import torch

from conftest import compose
from genq.config import validate
from genq.errors import GenqError
from genq.metrics import frechet_distance, inception_score, prdc, ssim
from genq.metrics.distribution import fidelity_fid, fidelity_kid, fidelity_statistics
from genq.metrics.prdc import knn_radii


def _features(n, d, seed=0, shift=0.0, scale=1.0):
    mixing = np.random.default_rng(1234).normal(size=(d, d)) / np.sqrt(d)   # one distribution
    x = np.random.default_rng(seed).normal(size=(n, d)) @ mixing * scale + shift
    return torch.from_numpy(x.astype(np.float32))


# --- FID -------------------------------------------------------------------------------------

@pytest.mark.parametrize("n_a,n_b", [(600, 40), (600, 300), (30, 20), (800, 700)])
def test_fidelity_fid_equals_torch_fidelity_and_scipy(n_a, n_b):
    from torch_fidelity.metric_fid import fid_statistics_to_metric

    a, b = _features(n_a, 128, seed=0), _features(n_b, 128, seed=1, shift=0.2, scale=1.3)
    sa, sb = fidelity_statistics(a), fidelity_statistics(b)
    theirs = fid_statistics_to_metric(sa, sb, verbose=False)["frechet_inception_distance"]
    ours = fidelity_fid(sa, sb, b)             # low-rank route when n_b - 1 < 128
    assert ours == pytest.approx(theirs, rel=1e-6)
    if min(n_a, n_b) > 128:                    # full rank: the independent scipy sqrtm agrees
        scipy = frechet_distance(sa["mu"], sa["sigma"], sb["mu"], sb["sigma"])
        assert ours == pytest.approx(scipy, rel=1e-4)


@pytest.mark.slow
def test_fidelity_fid_inception_sized_against_scipy():
    a, b = _features(3000, 2048, seed=0), _features(2500, 2048, seed=1, shift=0.05)
    sa, sb = fidelity_statistics(a), fidelity_statistics(b)
    assert fidelity_fid(sa, sb, b) == pytest.approx(
        frechet_distance(sa["mu"], sa["sigma"], sb["mu"], sb["sigma"]), rel=1e-4)
    small = _features(300, 2048, seed=2, shift=0.05)    # low-rank route at 2048 dimensions
    from torch_fidelity.metric_fid import fid_statistics_to_metric
    ss = fidelity_statistics(small)
    assert fidelity_fid(sa, ss, small) == pytest.approx(
        fid_statistics_to_metric(sa, ss, verbose=False)["frechet_inception_distance"], rel=1e-6)


# --- KID (torch-fidelity's) -------------------------------------------------------------------

def test_fidelity_kid_near_zero_for_one_distribution_positive_for_another():
    a, b = _features(300, 512, seed=0), _features(300, 512, seed=1)
    mean, std = fidelity_kid(a, b, subset_size=100, subsets=30, seed=0)
    assert abs(mean) < 3 * std / 30 ** 0.5 + 1e-4
    assert fidelity_kid(a[:200], b[:200], subset_size=100, subsets=30, seed=0) != (mean, std)
    shifted, _ = fidelity_kid(a, b + 0.5, subset_size=100, subsets=30, seed=0)
    assert shifted > 10 * (abs(mean) + std)
    # subsets larger than a set are capped instead of failing
    assert np.isfinite(fidelity_kid(a[:30], b, subset_size=1000, subsets=5)[0])


# --- IS ----------------------------------------------------------------------------------------

def test_inception_score_limits():
    assert inception_score(torch.zeros(100, 10), splits=10)[0] == pytest.approx(1.0)
    confident = torch.full((100, 10), -30.0)
    confident[torch.arange(100), torch.arange(100) % 10] = 30.0   # every class, each sure
    mean, std = inception_score(confident, splits=1)
    assert mean == pytest.approx(10.0, rel=1e-6) and std == 0.0


# --- precision / recall ------------------------------------------------------------------------

def test_knn_radii_brute_force():
    x = _features(50, 8, seed=3)
    d = torch.cdist(x.double(), x.double())
    expected = d.sort(dim=1).values[:, 3]          # 0 (itself), then 3 nearest others
    torch.testing.assert_close(knn_radii(x, k=3, block=7).double(), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("shift", [0.0, 0.7])
def test_precision_recall_equals_torch_fidelity(shift):
    """prdc's strict '<' and torch-fidelity's '<=' agree where no distance ties a radius."""
    from torch_fidelity.metric_prc import calculate_precision_recall_full

    real, fake = _features(300, 64, seed=0), _features(250, 64, seed=1, shift=shift, scale=0.8)
    theirs = calculate_precision_recall_full(fake, real, neighborhood=3)
    ours = prdc(real, fake, nearest_k=3)
    assert (ours["precision"], ours["recall"]) == pytest.approx(theirs, abs=1e-7)   # theirs: float32
    # blocked and with precomputed real radii: the same
    blocked = prdc(real, fake, 3, real_radii=knn_radii(real, 3), block=64)
    assert (blocked["precision"], blocked["recall"]) == pytest.approx(theirs, abs=1e-7)


def test_precision_recall_of_identical_sets_is_one_and_drops_for_a_narrow_set():
    real = _features(200, 16, seed=0)
    same = prdc(real, real.clone())
    assert (same["precision"], same["recall"], same["coverage"]) == (1.0, 1.0, 1.0)
    narrow = prdc(real, 0.2 * _features(200, 16, seed=1))   # mode collapse
    assert narrow["precision"] > 0.9 and narrow["recall"] < 0.5


# --- SSIM --------------------------------------------------------------------------------------

def test_ssim_is_one_for_identical_uses_the_0_1_convention_and_needs_11_px():
    from torchmetrics.functional.image import structural_similarity_index_measure

    a = torch.rand(3, 1, 16, 16) * 2 - 1
    b = (a + 0.2 * torch.randn_like(a)).clamp(-1, 1)
    torch.testing.assert_close(ssim(a, a), torch.ones(3))
    expected = structural_similarity_index_measure((b + 1) / 2, (a + 1) / 2, data_range=1.0, reduction="none")
    torch.testing.assert_close(ssim(b, a), expected)
    assert (ssim(b, a) < 1).all() and ssim(a[..., :8, :8], a[..., :8, :8]) is None


# --- reference statistics cache ----------------------------------------------------------------

class _Counting(torch.nn.Module):
    """A tiny extractor that counts its calls."""

    name = "tiny"
    weights = None

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.proj = torch.nn.Linear(16, 4)
        self.calls = 0

    @staticmethod
    def resize(h, w):
        return f"none (native {h}x{w})"

    def embed(self, images, logits=False):
        self.calls += 1
        return {"features": self.proj(images.flatten(1)).detach()}


def test_reference_stats_cached_keyed_and_safe(tmp_path, monkeypatch):
    from genq.metrics.reference import reference_stats

    monkeypatch.setenv("GENQ_CACHE", str(tmp_path))
    ext, real = _Counting(), torch.rand(20, 1, 4, 4) * 2 - 1
    first = reference_stats(ext, real, {"dataset": "x", "split": "train"}, batch_size=8)
    assert first.source == "computed" and ext.calls == 3
    second = reference_stats(ext, real, {"dataset": "x", "split": "train"}, batch_size=5)
    assert second.source == "cache" and ext.calls == 3 and second.key == first.key
    assert torch.equal(second.features, first.features)
    np.testing.assert_array_equal(second.mu, first.mu)
    np.testing.assert_array_equal(second.sigma, first.sigma)
    files = list((tmp_path / "stats").iterdir())
    assert [f.suffix for f in files] == [".safetensors"]          # no temporary file left behind
    raw = files[0].read_bytes()
    header = json.loads(raw[8:8 + struct.unpack("<Q", raw[:8])[0]])   # plain safetensors, no pickle
    assert {"features", "mu", "sigma"} <= set(header) and json.loads(header["__metadata__"]["fields"])["n"] == 20
    # any change of split, images, count or network misses the cache
    keys = {first.key,
            reference_stats(ext, real, {"dataset": "x", "split": "test"}).key,
            reference_stats(ext, real[:19], {"dataset": "x", "split": "train"}).key,
            reference_stats(ext, real.flip(0), {"dataset": "x", "split": "train"}).key}
    torch.nn.init.zeros_(ext.proj.bias)
    keys.add(reference_stats(ext, real, {"dataset": "x", "split": "train"}).key)
    assert len(keys) == 5
    # a damaged file is recomputed (with a warning), never trusted
    files[0].write_bytes(b"garbage")
    with pytest.warns(UserWarning, match="unreadable"):
        assert reference_stats(_Counting(), real, {"dataset": "x", "split": "train"}).source == "computed"


# --- config ------------------------------------------------------------------------------------

def test_standard_config_composes_and_bad_values_fail_clearly():
    cfg = compose("metrics=standard")
    validate(cfg)
    m = cfg.metrics
    assert (m.feature_extractor, m.lpips_net, m.implementation) == ("inception", "alex", "torch_fidelity")
    assert m.compute_is and m.compute_pr and m.pr_k == 5 and m.is_splits == 10
    for override, match in (("metrics.lpips_net=resnet", "metrics.lpips_net='resnet'"),
                            ("metrics.is_splits=20", "metrics.is_splits=20"),
                            ("metrics.lpips_resize=16", "metrics.lpips_resize=16"),
                            ("metrics.feature_extractor=clip", "metrics.feature_extractor='clip'")):
        with pytest.raises(GenqError, match=match):
            validate(compose("metrics=standard", "metrics.n_samples=10", override))


# --- the digits suite ------------------------------------------------------------------------

def test_digits_score_run_is_the_same_cached_or_not(tmp_path, monkeypatch):
    from genq.data import load_digits
    from genq.metrics.suite import score_run

    monkeypatch.setenv("GENQ_CACHE", str(tmp_path))
    real = load_digits("train", 16, 0.2, 0).images[:128]
    g = torch.Generator().manual_seed(0)
    fp = (load_digits("test", 16, 0.2, 0).images[:32] + 0.1 * torch.randn(32, 1, 16, 16, generator=g)).clamp(-1, 1)
    q = (fp + 0.05 * torch.randn(fp.shape, generator=g)).clamp(-1, 1)
    mc = compose("metrics=digits", "metrics.kid_subset_size=16", "metrics.kid_subsets=5").metrics
    sources = []
    volatile = {"scoring_s", "reference_stats"}
    for quantized in (q, None):
        first = None
        for _ in range(2):
            new = score_run(mc, real, fp, quantized, seed=0, data_key={"dataset": "digits"})
            kept = {k: v for k, v in new.items() if k not in volatile}
            assert first is None or kept == first                # bit for bit, cached or not
            first = kept
            sources.append(new["reference_stats"])
        assert "is" not in new                                  # not computed: absent
        assert {"fid", "kid", "fid_fp", "precision", "recall", "density", "coverage", "fid_ci95"} <= set(new)
        assert ("ssim_vs_fp" in new) == ("qfid" in new) == ("lpips_vs_fp" in new) == (quantized is not None)
    assert sources == ["computed", "cache", "cache", "cache"]


def test_digits_is_and_precision_recall_from_the_classifier(tmp_path, monkeypatch):
    from genq.data import load_digits
    from genq.metrics.suite import score_run

    monkeypatch.setenv("GENQ_CACHE", str(tmp_path))
    real = load_digits("train", 16, 0.2, 0).images[:200]
    fp = load_digits("test", 16, 0.2, 0).images[:50]
    noise = (torch.rand(50, 1, 16, 16, generator=torch.Generator().manual_seed(0)) * 2 - 1)
    mc = compose("metrics=digits", "metrics.compute_is=true", "metrics.compute_pr=true",
                 "metrics.kid_subset_size=25", "metrics.kid_subsets=5").metrics
    good = score_run(mc, real, fp, None, seed=0, data_key={"dataset": "digits"})
    bad = score_run(mc, real, noise, None, seed=0, data_key={"dataset": "digits"})
    # noise collapses to one spot of the feature space: low IS, no recall
    assert good["is"] > bad["is"] and good["recall"] > 0.5 > bad["recall"]
    assert good["pr_n_real"] == 50 and good["pr_k"] == 5 and good["is_splits"] == 10
    assert 1.0 <= good["is"] <= 10.0 and 0.0 <= good["recall"] <= 1.0
