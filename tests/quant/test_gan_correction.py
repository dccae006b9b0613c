"""GAN corrections: BN re-estimation and empirical bias correction lower the output error of
a min-max quantized DCGAN generator."""

from __future__ import annotations

import copy

import torch
from torch import nn

from genq.config.ptq import ReconstructionConfig
from genq.models.dcgan import DCGANGenerator
from genq.quant import quantize_
from genq.quant.calibration import CalibrationSet
from genq.quant.gan_correction import bias_correct, correct_gan
from ptq_tiny import recipe


def _gan():
    torch.manual_seed(0)
    g = DCGANGenerator(latent_dim=16, base_channels=16)
    z = torch.randn(256, 16)
    for m in g.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.momentum = None
    with torch.no_grad():
        g.train()(z)                                   # "trained" BN statistics
    return g.eval(), [(c,) for c in z.split(64)]


def _err(a, b, z):
    with torch.no_grad():
        return (a(z) - b(z)).pow(2).mean().item()


def test_bn_reestimation_and_bias_correction_lower_output_error():
    fp, batches = _gan()
    naive = copy.deepcopy(fp)
    quantize_(naive, recipe(4, 4), calib=batches)
    z = torch.randn(256, 16, generator=torch.Generator().manual_seed(1))    # held-out latents
    base = _err(naive, fp, z)
    errs = {}
    for bc, bn in ((True, False), (False, True), (True, True)):
        q = copy.deepcopy(naive)
        info = correct_gan(fp, q, CalibrationSet(batches), ReconstructionConfig(bias_correction=bc, bn_reestimate=bn))
        errs[(bc, bn)] = _err(q, fp, z)
        if bc:
            assert info["bias_correction"]["bias_corrected"] == ["net.6"]       # the only conv with a bias
            assert info["bias_correction"]["bn_mean_shifted"] == ([] if bn else ["net.0", "net.3"])
        if bn:
            assert info["bn_reestimated"] == 2
    assert all(e < base for e in errs.values()), (base, errs)


def test_bias_correction_removes_the_mean_shift_of_a_biased_layer():
    torch.manual_seed(0)
    fp = nn.Sequential(nn.Linear(8, 4), nn.ReLU(), nn.Linear(4, 3)).eval()
    q = copy.deepcopy(fp)
    quantize_(q, recipe(3, None), calib=None)
    x = torch.randn(512, 8)
    bias_correct(fp, q, [(x,)])
    with torch.no_grad():
        shift = (q[0](x) - fp[0](x)).mean(0)
    assert shift.abs().max() < 1e-5


def test_a_ddpm_run_takes_bias_correction_and_refuses_bn_reestimation(tmp_path):
    """Diffusion denoisers take the empirical bias correction (the shift averaged over the
    calibration timesteps): the record names the corrected layers, whose biases moved; BN
    re-estimation stays the DCGAN's and is refused, naming what applies."""
    from conftest import compose
    from genq.config import validate
    from genq.errors import GenqError
    from genq.run import run_experiment

    smoke = ("experiment=smoke", "logger=none", "model=ddpm_digits", "quant=w4a8", "metrics.n_samples=16",
             "metrics.kid_subset_size=8", "metrics.kid_subsets=2", "metrics.compute_ssim=false",
             "bench.batch_size=4", "bench.warmup=0", "bench.repeats=1", "sample_grid=4",
             "quant.calib_samples=4", "quant.calib_batch_size=16")
    record = run_experiment(compose(*smoke, "quant.reconstruction.bias_correction=true"), tmp_path / "bc")
    bc = record["quant"]["reconstruction"]["bias_correction"]
    assert record["status"] == "ok" and "bias_corr" in record["quant"]["recipe"]
    assert bc["bias_corrected"] and bc["mean_abs_shift"] > 0
    assert len(bc["bias_corrected"]) <= record["quant"]["coverage"]["quantized"]
    import pytest
    with pytest.raises(GenqError, match="bn_reestimate=true does not apply.*apply here: bias_correction"):
        cfg = compose(*smoke, "quant.reconstruction.bn_reestimate=true")
        validate(cfg)
        run_experiment(cfg, tmp_path / "bn")
