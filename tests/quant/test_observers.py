"""Observers on known distributions: percentile clipping, the EMA formula, MSE range search,
per-channel layouts, bad input, and qparams that fake_quantize can use."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from genq.errors import GenqError
from genq.quant import PerChannel, PerGroup, PerTensor, fake_quantize, qrange
from genq.quant.observers import (OBSERVERS, EMAMinMaxObserver, MinMaxObserver, MSEObserver,
                                  PercentileObserver, make_observer)
from genq.quant.primitives import _group_view, choose_qparams, qparams_from_range
from genq.quant.quantizer import FakeQuantizer

GRANULARITIES = [PerTensor(), PerChannel(1), PerGroup(4, 1)]


def with_outliers(n=100_000, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, generator=g)
    x[:10], x[10:20] = 1000.0, -500.0            # 0.02% of the values
    return x[torch.randperm(n, generator=g)]


def qmse(x, scale, zp, bits, symmetric):
    return (fake_quantize(x, scale, zp, *qrange(bits, symmetric)) - x).pow(2).mean().item()


def student_t(n, df, seed, outliers=True):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, generator=g) / torch.randn(df, n, generator=g).pow(2).mean(0).sqrt()
    if outliers:
        x[:5] = torch.tensor([60.0, -45.0, 80.0, -70.0, 55.0])
    return x


# --- percentile -----------------------------------------------------------------------------

def test_percentile_excludes_outliers_and_matches_numpy_over_all_batches():
    x = with_outliers()
    obs = make_observer("percentile", PerTensor(), "act", percentile=99.9)
    for batch in x.chunk(4):
        obs(batch)
    scale, zp = obs.calculate_qparams(8, False)
    lo, hi = np.percentile(x.numpy(), [0.1, 99.9])
    np.testing.assert_allclose(scale.item() * 255, hi - lo, rtol=1e-5)
    assert scale.item() * 255 < 10                        # outliers at 1000 and -500 are gone
    ref_scale, ref_zp = qparams_from_range(torch.tensor(lo), torch.tensor(hi), 8, False)
    torch.testing.assert_close(scale, ref_scale.float(), rtol=1e-5, atol=0)
    assert zp.item() == ref_zp.item()
    # minmax on the same data is stretched by the outliers
    mm = MinMaxObserver(PerTensor())
    mm(x)
    assert mm.calculate_qparams(8, False)[0] > 100 * scale


def test_percentile_symmetric_uses_the_larger_side():
    x = with_outliers()
    obs = PercentileObserver(PerTensor(), percentile=99.0)
    obs(x)
    scale, zp = obs.calculate_qparams(8, True)
    lo, hi = np.percentile(x.numpy(), [1.0, 99.0])
    np.testing.assert_allclose(scale.item() * 127.5, max(-lo, hi), rtol=1e-5)
    assert zp.item() == 0


def test_percentile_100_is_minmax():
    x = torch.randn(8, 6, 5)
    for g in (PerTensor(), PerChannel(1)):
        obs, mm = PercentileObserver(g, percentile=100.0), MinMaxObserver(g)
        obs(x), mm(x)
        for a, b in zip(obs.calculate_qparams(4, False), mm.calculate_qparams(4, False)):
            torch.testing.assert_close(a, b)


def test_percentile_per_channel_matches_numpy_per_channel():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(32, 4, 50, generator=g) * torch.tensor([0.1, 1.0, 5.0, 20.0]).view(1, 4, 1)
    x[0, 2, 0] = 1e4                                      # one outlier in channel 2 only
    obs = make_observer("percentile", PerChannel(1), "act", percentile=99.5)
    obs(x[:16]), obs(x[16:])
    scale, _ = obs.calculate_qparams(8, False)
    assert scale.shape == (1, 4, 1)
    per_channel = x.movedim(1, 0).reshape(4, -1).numpy()
    lo, hi = np.percentile(per_channel, [0.5, 99.5], axis=1)
    np.testing.assert_allclose(scale.flatten().numpy() * 255, hi - lo, rtol=1e-5)
    assert scale.flatten()[2] < 1.0


def test_percentile_subsample_is_bounded_deterministic_and_fair_to_every_batch():
    """Past ``max_samples`` the observer keeps a uniform subsample of everything seen, so
    a wide batch after a narrow one moves the percentiles as it should."""
    g = torch.Generator().manual_seed(2)
    batches = [torch.randn(50_000, generator=g) * s for s in (1.0, 3.0, 1.0, 0.5)]
    runs = []
    for _ in range(2):
        obs = PercentileObserver(PerTensor(), percentile=95.0, max_samples=4096)
        for b in batches:
            obs(b)
        assert obs.samples.shape == (1, 4096) and obs.seen == 200_000
        runs.append(obs.calculate_qparams(8, False))
    assert torch.equal(runs[0][0], runs[1][0]) and torch.equal(runs[0][1], runs[1][1])
    lo, hi = np.percentile(torch.cat(batches).numpy(), [5.0, 95.0])
    np.testing.assert_allclose(runs[0][0].item() * 255, hi - lo, rtol=0.1)


def test_percentile_option_is_checked():
    with pytest.raises(GenqError, match="percentile=40"):
        PercentileObserver(PerTensor(), percentile=40)


# --- EMA ------------------------------------------------------------------------------------

def test_ema_follows_the_formula_on_hand_computed_batches():
    obs = make_observer("ema", PerTensor(), "act", averaging_constant=0.5)
    for batch in ([-1.0, 0.5, 2.0], [-3.0, 4.0], [0.0, 1.0]):
        assert torch.equal(obs(torch.tensor(batch)), torch.tensor(batch))
    # min: -1 -> -1 + .5 (-3 + 1) = -2 -> -2 + .5 (0 + 2) = -1;  max: 2 -> 3 -> 2
    assert obs.min_val.item() == -1.0 and obs.max_val.item() == 2.0
    scale, zp = obs.calculate_qparams(8, False)
    assert scale.item() == pytest.approx(3 / 255) and zp.item() == 85


@pytest.mark.parametrize("per_channel", [False, True])
def test_ema_matches_torch_moving_average_observers(per_channel):
    from torch.ao.quantization import (MovingAverageMinMaxObserver,
                                       MovingAveragePerChannelMinMaxObserver)

    torch.manual_seed(3)
    if per_channel:
        ref, g = MovingAveragePerChannelMinMaxObserver(ch_axis=1), PerChannel(1)
    else:
        ref, g = MovingAverageMinMaxObserver(), PerTensor()
    obs = make_observer("ema", g, "act")
    assert obs.averaging_constant == 0.01
    for i in range(5):
        x = torch.randn(4, 3, 5) * (i + 1) + i
        obs(x), ref(x)
    torch.testing.assert_close(obs.min_val.flatten(), ref.min_val.flatten())
    torch.testing.assert_close(obs.max_val.flatten(), ref.max_val.flatten())


def test_ema_option_is_checked():
    with pytest.raises(GenqError, match="averaging_constant=0"):
        EMAMinMaxObserver(PerTensor(), averaging_constant=0)


# --- MSE ------------------------------------------------------------------------------------

@pytest.mark.parametrize("symmetric", [True, False])
@pytest.mark.parametrize("seed,df", [(0, 3), (1, 4)])
def test_mse_beats_minmax_on_heavy_tailed_data(symmetric, seed, df):
    x = student_t(50_000, df, seed)
    mse, mm = MSEObserver(PerTensor(), "act"), MinMaxObserver(PerTensor())
    mse(x), mm(x)
    e_mse = qmse(x, *mse.calculate_qparams(4, symmetric), 4, symmetric)
    e_mm = qmse(x, *mm.calculate_qparams(4, symmetric), 4, symmetric)
    assert e_mse < 0.5 * e_mm


def test_mse_beats_minmax_on_laplace_data_per_channel():
    g = torch.Generator().manual_seed(4)
    u = torch.rand(8, 4000, generator=g) - 0.5
    x = -u.sign() * torch.log1p(-2 * u.abs()) * torch.linspace(0.5, 4, 8).view(8, 1)
    mse, mm = MSEObserver(PerChannel(0)), MinMaxObserver(PerChannel(0))
    mse(x), mm(x)
    s_mse, z_mse = mse.calculate_qparams(4, False)
    assert s_mse.shape == (8, 1)
    per_channel = lambda s, z: (fake_quantize(x, s, z, 0, 15) - x).pow(2).mean(1)  # noqa: E731
    e_mse, e_mm = per_channel(s_mse, z_mse), per_channel(*mm.calculate_qparams(4, False))
    assert (e_mse <= e_mm).all() and e_mse.sum() < 0.7 * e_mm.sum()


@pytest.mark.parametrize("symmetric", [True, False])
@pytest.mark.parametrize("bits", [4, 8])
def test_mse_no_worse_than_minmax_on_uniform_data(symmetric, bits):
    x = torch.rand(20_000, generator=torch.Generator().manual_seed(5)) * 6 - 2
    mse, mm = MSEObserver(PerTensor(), grid=50), MinMaxObserver(PerTensor())
    mse(x), mm(x)
    e_mse = qmse(x, *mse.calculate_qparams(bits, symmetric), bits, symmetric)
    e_mm = qmse(x, *mm.calculate_qparams(bits, symmetric), bits, symmetric)
    assert e_mse <= e_mm * (1 + 1e-6)


def test_mse_grid_of_one_is_minmax_and_grid_is_checked():
    x = student_t(1000, 3, 6)
    mse, mm = make_observer("mse", PerChannel(0), grid=1), MinMaxObserver(PerChannel(0))
    mse(x.view(10, 100)), mm(x.view(10, 100))
    for a, b in zip(mse.calculate_qparams(4, True), mm.calculate_qparams(4, True)):
        torch.testing.assert_close(a, b)
    with pytest.raises(GenqError, match="grid=0"):
        MSEObserver(PerTensor(), grid=0)


# --- every observer ---------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(OBSERVERS))
def test_per_channel_gives_one_scale_per_channel(name):
    x = torch.linspace(-1, 2, 80).view(16, 1, 5) * torch.arange(1, 7).float().view(1, 6, 1)
    obs = make_observer(name, PerChannel(1), "act")
    obs(x[:8]), obs(x[8:])
    scale, zp = obs.calculate_qparams(8, True)
    assert scale.shape == zp.shape == (1, 6, 1)
    assert (scale.flatten().diff() > 0).all()               # wider channels, larger scales


@pytest.mark.parametrize("name", sorted(OBSERVERS))
@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_non_finite_input_names_the_quantizer(name, bad):
    obs = make_observer(name, PerTensor(), "unet.down.0.conv1.act")
    x = torch.randn(4, 4)
    x[1, 2] = bad
    with pytest.raises(GenqError, match=r"unet\.down\.0\.conv1\.act"):
        obs(x)


@pytest.mark.parametrize("name", sorted(OBSERVERS))
def test_no_calibration_data_names_the_quantizer(name):
    with pytest.raises(GenqError, match="net.3.act saw no calibration data"):
        make_observer(name, PerTensor(), "net.3.act").calculate_qparams(8, True)


@pytest.mark.parametrize("name", sorted(OBSERVERS))
@pytest.mark.parametrize("granularity", GRANULARITIES, ids=["tensor", "channel", "group"])
@pytest.mark.parametrize("symmetric", [True, False])
def test_qparams_round_trip_within_half_a_step_inside_the_range(name, granularity, symmetric):
    x = torch.cat([student_t(960, 3, 7).view(4, 8, 30), torch.randn(4, 8, 30)])
    q = FakeQuantizer(4, symmetric, granularity, observer=name, name="act")
    q.set_mode("observe")
    q(x[:4]), q(x[4:])
    q.freeze()
    x = x[4:]                      # per-group qparams are per batch element too
    out = q(x)
    scale, zp = q.scale, q.zero_point
    assert torch.isfinite(scale).all() and (scale > 0).all()
    assert (zp == zp.round()).all() and (zp >= q.qmin).all() and (zp <= q.qmax).all()
    if isinstance(granularity, PerGroup):
        x, out = _group_view(x, granularity), _group_view(out, granularity)
    lo, hi = (q.qmin - zp) * scale, (q.qmax - zp) * scale
    inside = ((x >= lo) & (x <= hi))
    err, bound = (out - x).abs(), (scale / 2 * (1 + 1e-5)).expand_as(x)
    assert inside.any() and (err[inside] <= bound[inside]).all()
    assert (out >= lo - 1e-6).all() and (out <= hi + 1e-6).all()   # the rest is clamped


def test_minmax_over_batches_equals_choose_qparams_on_all():
    x = torch.randn(12, 5, 7)
    obs = make_observer("minmax", PerChannel(1))
    for b in x.split(4):
        obs(b)
    for a, b in zip(obs.calculate_qparams(6, False), choose_qparams(x, 6, False, PerChannel(1))):
        assert torch.equal(a, b)


def test_sampled_observers_refuse_a_changed_group_layout():
    obs = make_observer("mse", PerGroup(4, 1), "act")
    obs(torch.randn(2, 8))
    with pytest.raises(GenqError, match="act saw quantization groups of shape"):
        obs(torch.randn(3, 8))


def test_make_observer_options():
    with pytest.raises(GenqError, match=r"quant\.observer='x' is not supported; accepted: "
                                        r"ema, minmax, mse, percentile\."):
        make_observer("x", PerTensor())
    with pytest.raises(GenqError, match="observer option='percentil' is not supported"):
        make_observer("percentile", PerTensor(), percentil=99.0)
    opts = dict(percentile=99.0, averaging_constant=0.1, grid=20, max_samples=1000, seed=None)
    assert type(make_observer("minmax", PerTensor(), "a", **opts)) is MinMaxObserver
    assert make_observer("ema", PerTensor(), **opts).averaging_constant == 0.1
    p = make_observer("percentile", PerTensor(), **opts)
    assert (p.percentile, p.max_samples) == (99.0, 1000)
    m = make_observer("mse", PerChannel(0), "w", **opts)
    assert (m.grid, m.max_samples, m.name, m.granularity) == (20, 1000, "w", PerChannel(0))
