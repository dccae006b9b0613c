"""Every PTQ/QAT method family end to end through ``run_experiment``, with minimal work.

The recipe tests (tests/test_config.py) check names and settings; these run each family's
real path (calibration sampler, reconstruction, corrections, QAT loop), score it, and
check the record: finite metrics and the layers the recipe should quantize. Iterations,
samples and steps are cut to the least that still goes through every stage (tiny untrained
models, 2 sampling steps, 2 reconstruction/QAT steps), so the file takes seconds; the FP
samples and reference statistics are shared between the cases by genq's own caches.
"""

from __future__ import annotations

import pytest

from conftest import compose
from metric_checks import assert_finite_metrics

# The least work per stage: 16 samples scored, 4 calibration noises, 2 steps of everything.
FAST = ("metrics.n_samples=16", "metrics.kid_subset_size=8", "metrics.kid_subsets=2", "metrics.compute_ssim=false",
        "bench.batch_size=4", "bench.warmup=0", "bench.repeats=1", "sample_grid=4",
        "quant.calib_samples=4", "quant.calib_batch_size=16",
        "quant.reconstruction.iters=2", "quant.reconstruction.samples=8", "quant.reconstruction.batch_size=4",
        "quant.reconstruction.act_iters=2", "quant.reconstruction.progress=false",
        "quant.qat.steps=2", "quant.qat.batch_size=4", "quant.qat.progress=false", "quant.qat.log_every=1")

# id -> (model, recipe, extra overrides, layers kept in FP beyond the recipe's layer types)
CASES = {
    "minmax": ("ddpm_digits", "w4a8", (), 0),
    "dynamic": ("ddpm_digits", "w8a8_dynamic", (), 0),
    "adaround": ("ddpm_digits", "w4a8_adaround", (), 0),
    "brecq": ("ddpm_digits", "w4a8_brecq", (), 0),
    "ptq4dm": ("ddpm_digits", "w4a8_ptq4dm", ("quant.calibration.per_trajectory=2",), 0),
    "qdiff_calib": ("ddpm_digits", "w4a8_qdiff_calib", ("quant.calibration.n_steps=2",), 0),
    "qdiff_split": ("ddpm_digits", "w4a8_qdiff_split", ("quant.calibration.n_steps=2",), 0),
    "qdiffusion": ("ddpm_digits", "w4a8_qdiffusion", ("quant.calibration.n_steps=2",), 0),
    "tdq": ("ddpm_digits", "w4a8_tdq", ("quant.calibration.n_steps=2", "quant.calibration.timestep_buckets=2"), 0),
    "last": ("ddpm_digits", "w4a8_last", (), 0),
    "first_last_fp": ("dcgan_digits", "w4a8", ("quant.first_last=fp",), 2),
    "first_last_int8": ("dcgan_digits", "w4a4", ("quant.first_last=int8",), 0),
    "gan_bc": ("dcgan_digits", "w4a8_gan_bc", (), 0),
    "gan_brecq": ("dcgan_digits", "w4a8_gan_brecq", (), 0),
    "qat_lsq": ("dcgan_digits", "qat_lsq_w4a8", (), 0),
    "qat_lora": ("ddpm_digits", "qat_lora_w4a8", (), 0),
}


def _quantizable_layers(cfg) -> int:
    """Modules of the recipe's layer types in the (tiny) network: what a full recipe quantizes."""
    from genq.models import load_generator

    network = load_generator(cfg.model).network
    return sum(type(m).__name__ in set(cfg.quant.layers) for m in network.modules())


_LAYERS: dict[str, int] = {}


@pytest.mark.parametrize("case", list(CASES))
def test_method_family_runs_end_to_end(case, tmp_path):
    from genq.run import run_experiment

    model, recipe, extra, kept_fp = CASES[case]
    cfg = compose("experiment=smoke", "logger=none", f"model={model}", f"quant={recipe}", *FAST, *extra)
    record = run_experiment(cfg, tmp_path)

    assert (tmp_path / "result.json").exists() and record["status"] == "ok"
    q = record["quant"]
    assert (q["recipe"], q["method"]) == (cfg.quant.recipe, cfg.quant.method)   # the derived label
    assert q["recipe"].startswith(recipe)
    assert_finite_metrics(record, required=("fid", "fid_fp", "kid", "qfid", "lpips_vs_fp", "psnr_vs_fp"))
    key = f"{model}:{','.join(cfg.quant.layers)}"
    if key not in _LAYERS:
        _LAYERS[key] = _quantizable_layers(cfg)
    expected = _LAYERS[key] - kept_fp
    coverage = q["coverage"]
    quantized_by_type = sum(v["quantized"] for t, v in coverage["by_type"].items() if t in cfg.quant.layers)
    assert coverage["quantized"] == quantized_by_type == expected, coverage
    if cfg.quant.reconstruction.method != "none":
        assert q["reconstruction"]["method"] == cfg.quant.reconstruction.method
        assert q["reconstruction"]["units"] > 0
    if cfg.quant.method == "qat":
        assert q["qat"]["steps"] == 2 and len(q["qat"]["history"]) == 2
        assert all(r["loss"] > 0 for r in q["qat"]["history"])
