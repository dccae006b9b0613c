"""The method validators run once: in ``genq.config.validate`` on the CLI path, and at the
public Python entry points (``quantize_adapter``, ``run_ptq``, ``run_qat``) when called directly."""

from __future__ import annotations

import pytest


@pytest.fixture
def counted(monkeypatch):
    import genq.config.ptq
    import genq.quant.ptq_pipeline

    calls = []
    real = genq.config.ptq.validate_ptq

    def validate_ptq(q):
        calls.append(q.recipe)
        return real(q)
    monkeypatch.setattr(genq.config.ptq, "validate_ptq", validate_ptq)
    monkeypatch.setattr(genq.quant.ptq_pipeline, "validate_ptq", validate_ptq)
    return calls


def test_run_experiment_validates_ptq_settings_once(tmp_path, smoke_cfg, counted):
    from genq.run import run_experiment

    run_experiment(smoke_cfg("model=dcgan_digits", "metrics.n_samples=16", "bench.repeats=1"), tmp_path)
    assert counted == ["w8a8"]


def test_quantize_adapter_called_directly_still_validates(smoke_cfg, counted):
    from genq.errors import GenqError
    from genq.models import load_generator
    from genq.quant.pipeline import quantize_adapter

    cfg = smoke_cfg("model=dcgan_digits")
    fp = load_generator(cfg.model)
    quantize_adapter(fp, cfg.quant, 0)
    assert counted == ["w8a8"]
    bad = smoke_cfg("model=dcgan_digits", "quant.calibration.per_trajectory=0")
    with pytest.raises(GenqError, match="per_trajectory=0"):
        quantize_adapter(fp, bad.quant, 0)
