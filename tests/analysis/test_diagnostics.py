"""Diagnostics on tiny models: each instrument measures what it claims."""

from __future__ import annotations

import torch

from conftest import compose
from genq.analysis.classifier_vs_generator import classifier_kept
from genq.analysis.common import quantized_copy, units
from genq.analysis.latents import error_by_latent_norm
from genq.analysis.sensitivity import layer_sensitivity, layer_sqnr
from genq.analysis.timesteps import activation_ranges_by_timestep, range_drift
from genq.analysis.trajectory import trajectory_error
from genq.metrics import load_feature_extractor
from genq.models import load_generator
from genq.models.classifier import DigitsClassifier


def _tiny(model: str, *overrides: str):
    cfg = compose("experiment=smoke", f"model={model}", *overrides)
    return load_generator(cfg.model), cfg


def test_sensitivity_ranks_a_deliberately_perturbed_layer_first():
    fp, cfg = _tiny("dcgan_digits", "quant=w4a16", "quant.granularity=per_tensor")
    with torch.no_grad():   # one outlier weight makes per-tensor 4-bit steps coarse for all of net.3
        w = fp.network.net[3].weight
        w[0, 0, 0, 0] = 50 * w.abs().max()
    noise = fp.make_noise(64, 0)
    rows = layer_sensitivity(fp, cfg.quant, noise, calib=[], extractor=load_feature_extractor("digits_classifier"))
    assert [r["rank"] for r in rows] == [1, 2, 3]
    assert rows[0]["unit"] == "net.3"
    assert rows[0]["only_output_mse"] > 10 * rows[1]["only_output_mse"]
    assert rows[0]["recovered_lpips_fraction"] > 0.5


def test_block_units_of_a_unet():
    fp, _ = _tiny("ddpm_digits")
    blocks = units(fp.network, "block")
    assert {"conv_in", "conv_out", "mid_block", "down_blocks.0", "up_blocks.2"} <= blocks.keys()
    assert sum(len(v) for v in blocks.values()) == len(units(fp.network, "layer"))


def test_sqnr_rows_for_every_quantized_layer():
    fp, cfg = _tiny("dcgan_digits")
    calib = fp.calibration_inputs(fp.make_noise(8, 1))
    rows = layer_sqnr(fp, cfg.quant, calib)
    assert [r["layer"] for r in rows] == ["net.0", "net.3", "net.6"]
    assert all(20 < r["weight_sqnr_db"] < 80 and 20 < r["activation_sqnr_db"] < 80 for r in rows)


def test_timestep_statistics_cover_exactly_the_sampled_timesteps():
    fp, _ = _tiny("ddpm_digits", "model.num_inference_steps=4")
    rows = activation_ranges_by_timestep(fp, fp.make_noise(4, 0))
    sampled = {int(t) for t in fp.sampling_scheduler().timesteps}
    assert {r["timestep"] for r in rows} == sampled and len(sampled) == 4
    n_layers = len(units(fp.network, "layer"))
    assert len(rows) == 4 * n_layers
    drift = range_drift(rows)
    assert len(drift) == n_layers and all(r["drift_ratio"] >= 1 for r in drift)


def test_trajectory_error_is_zero_for_a_model_against_itself_and_splits_for_a_quantized_one():
    fp, cfg = _tiny("ddpm_digits", "model.num_inference_steps=3", "quant=w4a8")
    noise = fp.make_noise(4, 0)
    rows = trajectory_error(fp, fp.clone(), noise)
    assert len(rows) == 3 and all(r["total"] == r["introduced"] == r["carried"] == 0 for r in rows)
    q = quantized_copy(fp, cfg.quant, fp.calibration_inputs(fp.make_noise(4, 1)))
    rows = trajectory_error(fp, q, noise)
    assert rows[0]["carried"] == 0 and rows[0]["total"] == rows[0]["introduced"] > 0
    assert all(r["total"] <= r["introduced"] + r["carried"] + 1e-6 for r in rows)   # triangle inequality


def test_latent_bins_and_correlation():
    fp, cfg = _tiny("dcgan_digits", "quant=w4a4")
    q = quantized_copy(fp, cfg.quant, fp.calibration_inputs(fp.make_noise(16, 1)))
    bins, summary = error_by_latent_norm(fp, q, load_feature_extractor("digits_classifier"), n=50, bins=4)
    assert len(bins) == 4 and sum(b["n"] for b in bins) == 200
    assert bins[0]["norm_hi"] <= bins[-1]["norm_lo"]
    assert -1 <= summary["spearman_norm_vs_mse"] <= 1


def test_classifier_kept_is_one_for_a_lossless_recipe():
    torch.manual_seed(0)
    clf = DigitsClassifier(width=8, feature_dim=16).eval()
    x, y = torch.rand(32, 1, 16, 16) * 2 - 1, torch.randint(0, 10, (32,))
    out = classifier_kept(clf, compose("quant=w8a16").quant.copy(), x, x, y)
    assert out["agreement_with_fp"] > 0.9
    fp16 = compose("quant=w8a8", "quant.w_bits=16", "quant.a_bits=16").quant
    assert classifier_kept(clf, fp16, x, x, y)["quality_kept"] == 1.0


def test_write_rows_takes_the_union_of_columns(tmp_path):
    from genq.analysis.cli import write_rows

    write_rows([{"model": "clf", "accuracy_q": 0.9}, {"model": "gan", "fid_q": 1.5}], tmp_path / "t")
    lines = (tmp_path / "t.csv").read_text().splitlines()
    assert lines[0] == "model,accuracy_q,fid_q" and lines[2] == "gan,,1.5"
    assert "| gan | - | 1.5 |" in (tmp_path / "t.md").read_text()


def test_tables_and_figures_go_to_an_offline_wandb_run(tmp_path):
    import json
    import subprocess
    import sys
    from pathlib import Path

    from genq.analysis.cli import log_to_wandb, write_rows
    from genq.analysis.figures import kept_bars

    rows = [{"model": "gan", "recipe": "w8a8", "quality_kept": 0.9}]
    write_rows(rows, tmp_path / "classifier_vs_generator")
    kept_bars(rows, "t", tmp_path / "classifier_vs_generator.png")
    log_to_wandb(tmp_path, {"gan_w8a8/most_sensitive": "net.3"})
    run_dir = next((tmp_path / "wandb").glob("offline-run-*"))
    out = subprocess.run([str(Path(sys.executable).with_name("wandb")), "leet", "inspect", "--summary",
                          "--json", str(run_dir)], capture_output=True, text=True, timeout=120)
    summary = json.loads(out.stdout)["summary"]
    assert summary["analysis.gan_w8a8/most_sensitive"] == "net.3"
    assert "analysis/classifier_vs_generator" in summary and "figures/classifier_vs_generator" in summary


def test_block_units_of_a_dit_split_its_transformer_blocks():
    fp, _ = _tiny("dit_digits")
    blocks = units(fp.network, "block")
    assert {"transformer_blocks.0", "transformer_blocks.1", "pos_embed"} <= blocks.keys()
    assert "transformer_blocks" not in blocks
    assert all(n.startswith("transformer_blocks.1.") for n in blocks["transformer_blocks.1"])
    assert sum(len(v) for v in blocks.values()) == len(units(fp.network, "layer"))
