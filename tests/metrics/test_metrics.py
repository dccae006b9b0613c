"""Metrics on known cases."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from genq.metrics import feature_lpips, feature_statistics, frechet_distance, psnr
from genq.metrics.distribution import fid_from_features, kid_from_features


def _features(n=2000, d=16, seed=0, shift=0.0):
    mixing = np.random.default_rng(1234).normal(size=(d, d)) / np.sqrt(d)   # one distribution
    return np.random.default_rng(seed).normal(size=(n, d)) @ mixing + shift


def test_frechet_distance_of_a_set_with_itself_is_zero():
    mu, sigma = feature_statistics(_features())
    assert abs(frechet_distance(mu, sigma, mu, sigma)) < 1e-6


def test_frechet_distance_grows_with_shift():
    mu, sigma = feature_statistics(_features())
    d = [frechet_distance(mu, sigma, *feature_statistics(_features(shift=s))) for s in (0.1, 0.5, 1.0)]
    assert d[0] < d[1] < d[2]
    # a pure mean shift of s in every one of 16 dims adds 16 s^2
    assert d[2] == pytest.approx(16.0, rel=1e-6)


def test_frechet_distance_accepts_tensors_and_matches_closed_form():
    mu1, mu2 = torch.zeros(3), torch.ones(3)
    s1, s2 = torch.eye(3), 4 * torch.eye(3)
    # ||mu1-mu2||^2 + tr(S1 + S2 - 2 sqrt(S1 S2)) = 3 + (3 + 12 - 12) = 6
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(6.0, rel=1e-9)


def test_fid_from_features_matches_our_frechet_distance():
    a, b = _features(seed=0), _features(seed=1, shift=0.3)
    ours = frechet_distance(*feature_statistics(a), *feature_statistics(b))
    theirs = fid_from_features(torch.from_numpy(a), torch.from_numpy(b))
    assert theirs == pytest.approx(ours, rel=1e-4)


def test_kid_is_zero_for_identical_sets_and_positive_for_shifted():
    a = torch.from_numpy(_features(n=300))
    # subsets of the two sets are drawn independently: unbiased, so zero up to noise
    mean, std = kid_from_features(a, a.clone(), subset_size=100, subsets=50)
    assert abs(mean) < 3 * std
    shifted, _ = kid_from_features(a, a + 1.0, subset_size=100, subsets=50)
    assert shifted > 10 * (abs(mean) + std)


def test_kid_near_zero_for_two_samples_of_one_distribution():
    a, b = (torch.from_numpy(_features(n=500, seed=s)) for s in (0, 1))
    mean, std = kid_from_features(a, b, subset_size=100, subsets=50)
    assert abs(mean) < 3 * std / 50 ** 0.5 + 1e-3


class _Tiny(torch.nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.conv = torch.nn.Conv2d(1, 4, 3, padding=1)

    def feature_maps(self, x):
        return [torch.relu(self.conv(x)), x]


def test_feature_lpips_zero_for_identical_positive_otherwise():
    x = torch.rand(5, 1, 8, 8) * 2 - 1
    net = _Tiny()
    assert feature_lpips(net, x, x).abs().max() == 0
    d_small = feature_lpips(net, x, (x + 0.05 * torch.randn_like(x)).clamp(-1, 1))
    d_big = feature_lpips(net, x, torch.rand_like(x) * 2 - 1)
    assert (d_small > 0).all() and (d_big > d_small).all()


def test_psnr_known_value():
    a = torch.zeros(2, 1, 4, 4)
    b = a + 0.2            # MSE 0.04 with range 2 -> 10 log10(4 / 0.04) = 20 dB
    torch.testing.assert_close(psnr(b, a), torch.tensor([20.0, 20.0]))
