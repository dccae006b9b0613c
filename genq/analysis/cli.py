"""``genq-analyze``: the degradation diagnostics on embedded (or any configured) models,
written as CSV/Markdown tables and PNG figures (and, with --wandb, an offline wandb run).

    genq-analyze --models dcgan_digits ddpm_digits --recipes w8a8 w4a8 --out results/diagnostics
    genq-analyze --attribution --models ddpm_digits --recipes w4a4 w8a8 --windows 3 --out a/
"""

from __future__ import annotations

from genq.console import quiet_third_party

quiet_third_party()   # before torch and the model stack: their log lines are not the user's

import argparse
import csv
import json
import sys
import time
from pathlib import Path
from typing import Any

import torch

from genq.analysis import figures
from genq.analysis.classifier_vs_generator import classifier_kept, generator_kept
from genq.analysis.common import quantized_copy
from genq.analysis.latents import error_by_latent_norm
from genq.analysis.sensitivity import layer_sensitivity, layer_sqnr
from genq.analysis.timesteps import activation_ranges_by_timestep, range_drift
from genq.analysis.trajectory import trajectory_error
from genq.config import compose_config
from genq.data import load_digits
from genq.errors import GenqError
from genq.metrics import extract, load_feature_extractor
from genq.models import load_generator


def write_rows(rows: list[dict[str, Any]], base: Path) -> None:
    """``base``.csv and ``base``.md from a list of flat dicts."""
    if not rows:
        return
    cols = list(dict.fromkeys(k for r in rows for k in r))   # union, in first-seen order
    with open(base.with_suffix(".csv"), "w", newline="") as f:
        w = csv.DictWriter(f, cols, restval="")
        w.writeheader()
        w.writerows(rows)

    def cell(v: Any) -> str:
        return f"{v:.4g}" if isinstance(v, float) else ("-" if v is None else str(v))
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(cell(r.get(c)) for c in cols) + " |" for r in rows]
    base.with_suffix(".md").write_text("\n".join(lines) + "\n")


def _cfg(model: str, recipe: str):
    return compose_config(f"model={model}", f"quant={recipe}")


def analyze(models: list[str], recipes: list[str], out: Path, n_samples: int, level: str | None,
            seed: int = 0) -> dict[str, Any]:
    out.mkdir(parents=True, exist_ok=True)
    extractor = load_feature_extractor("digits_classifier")
    train, test = load_digits("train"), load_digits("test")
    real_feats = extract(extractor, train.images)
    summary: dict[str, Any] = {"n_samples": n_samples, "seed": seed}
    kept_rows: list[dict[str, Any]] = []
    for recipe in recipes:
        c = classifier_kept(extractor.classifier, _cfg(models[0], recipe).quant, train.images[:256],
                            test.images, test.labels)
        kept_rows.append({"model": "digits_classifier", "recipe": recipe, **c})
    for model in models:
        cfg0 = _cfg(model, recipes[0])
        fp = load_generator(cfg0.model)
        noise = fp.make_noise(n_samples, seed)
        calib = fp.calibration_inputs(fp.make_noise(cfg0.quant.calib_samples, seed + 1),
                                      cfg0.quant.calib_batch_size)
        unit_level = level or ("block" if fp.family == "diffusion" else "layer")
        if fp.family == "diffusion":
            ranges = activation_ranges_by_timestep(fp, noise[:64])
            write_rows(ranges, out / f"timestep_ranges_{model}")
            drift = range_drift(ranges)
            write_rows(drift, out / f"timestep_drift_{model}")
            figures.timestep_heatmap(ranges, f"{model}: per-layer input absmax across timesteps",
                                     out / f"timestep_ranges_{model}.png")
            summary[f"{model}/max_drift_ratio"] = drift[0]["drift_ratio"]
            summary[f"{model}/max_drift_layer"] = drift[0]["layer"]
        curves: dict[str, list] = {}
        for recipe in recipes:
            qcfg = _cfg(model, recipe).quant
            tag = f"{model}_{recipe}"
            sens = layer_sensitivity(fp, qcfg, noise, calib, extractor, unit_level)
            write_rows(sens, out / f"sensitivity_{tag}")
            figures.sensitivity_bars(sens, f"{model} {recipe}: sensitivity by {unit_level}",
                                     out / f"sensitivity_{tag}.png")
            write_rows(layer_sqnr(fp, qcfg, calib), out / f"sqnr_{tag}")
            summary[f"{tag}/most_sensitive"] = sens[0]["unit"]
            summary[f"{tag}/full_lpips_vs_fp"] = sens[0]["full_lpips_vs_fp"]
            q = quantized_copy(fp, qcfg, calib)
            if fp.family == "diffusion":
                traj = trajectory_error(fp, q, noise[:128])
                write_rows(traj, out / f"trajectory_{tag}")
                curves[recipe] = traj
                summary[f"{tag}/final_total"] = traj[-1]["total"]
                summary[f"{tag}/sum_introduced"] = sum(r["introduced"] for r in traj)
            else:
                bins, corr = error_by_latent_norm(fp, q, extractor, n=n_samples, seed=seed)
                write_rows(bins, out / f"latent_error_{tag}")
                curves[recipe] = bins
                summary.update({f"{tag}/{k}": v for k, v in corr.items()})
            kept_rows.append({"model": model, "recipe": recipe,
                              **generator_kept(fp, q, noise, extractor, real_feats)})
        if fp.family == "diffusion":
            figures.trajectory_lines(curves, f"{model}: error along the DDIM trajectory",
                                     out / f"trajectory_{model}.png")
        else:
            figures.latent_error_bars(curves, f"{model}: quantization error vs latent norm",
                                      out / f"latent_error_{model}.png")
    write_rows(kept_rows, out / "classifier_vs_generator")
    figures.kept_bars(kept_rows, "fraction of FP quality kept (classifier: accuracy; generators: FID_FP/FID_Q)",
                      out / "classifier_vs_generator.png")
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def analyze_outliers(models: list[str], recipes: list[str], methods: list[str], out: Path,
                     seed: int = 0) -> dict[str, Any]:
    """Per model and recipe, one row per layer and outlier method: activation and weight
    kurtosis and channel max/median ratio before and after it (genq.quant.outliers.stats),
    over the recipe's calibration inputs; ``outliers_<model>_<recipe>.csv/.md``."""
    from genq.quant.outliers.stats import outlier_statistics

    out.mkdir(parents=True, exist_ok=True)
    summary: dict[str, Any] = {"seed": seed, "outlier_methods": methods}
    for model in models:
        cfg0 = _cfg(model, recipes[0])
        fp = load_generator(cfg0.model)
        calib = fp.calibration_inputs(fp.make_noise(cfg0.quant.calib_samples, seed + 1),
                                      cfg0.quant.calib_batch_size)
        for recipe in recipes:
            rows = []
            for method in methods:
                qcfg = _cfg(model, recipe).quant
                q = quantized_copy(fp, qcfg, calib, outlier={**qcfg.outlier, "method": method})
                rows += outlier_statistics(q.network, calib)
            write_rows(rows, out / f"outliers_{model}_{recipe}")
            for method in methods:
                mine = [r for r in rows if r["method"] == method]
                summary[f"{model}_{recipe}/{method}/max_act_ratio_after"] = max(
                    (r.get("act_ratio_after", 0.0) for r in mine), default=None)
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def analyze_attribution(models: list[str], recipes: list[str], out: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Per model, the causal attribution over cells (genq.analysis.attribution) in
    ``out/<model>/``, and ``out/attribution_validation.json``: per model and metric the
    held-out Spearman and the number of held-out configurations."""
    from genq.analysis.attribution.study import run_attribution

    out.mkdir(parents=True, exist_ok=True)
    windows = args.windows[0] if len(args.windows) == 1 else args.windows
    summary: dict[str, Any] = {"seed": args.seed, "n_samples": args.n_samples}
    validation = []
    for model in models:
        family = _cfg(model, recipes[0].split("+")[0]).model.family
        level = args.level or ("block" if family == "diffusion" else "layer")
        result = run_attribution(model, recipes, out / model, n_samples=args.n_samples,
                                 windows=windows if family == "diffusion" else 1, level=level,
                                 n_random=args.n_random, n_heldout=args.n_heldout, seed=args.seed,
                                 mode=args.one_at_a_time, alpha=args.alpha, pairwise=args.pairwise,
                                 fid=args.fid, overrides=args.override, batch_size=args.batch_size,
                                 nonnegative=not args.signed,
                                 latency={"batch_size": args.latency_batch, "repeats": args.latency_repeats}
                                 if args.latency else None)
        for metric, v in result["validation"].items():
            validation.append({"model": model, "metric": metric, "spearman": v["spearman"],
                               "n_configs": v["n_configs"], "r2": v["r2"], "seed": args.seed})
            summary[f"{model}/{metric}/spearman"] = v["spearman"]
        summary[f"{model}/seconds_per_measurement"] = result["timing"]["seconds_per_measurement"]
        summary[f"{model}/measurements"] = result["timing"]["measurements"]
        if "latency" in result["costs"]:
            summary[f"{model}/latency_max_rel_error"] = result["costs"]["latency"]["check"]["max_rel_error"]
    (out / "attribution_validation.json").write_text(json.dumps(validation, indent=2) + "\n")
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def log_to_wandb(out: Path, summary: dict[str, Any], project: str = "genq", mode: str = "offline") -> Path:
    """One wandb run (offline by default, under ``out``) holding every table and figure."""
    import wandb

    run = wandb.init(project=project, mode=mode, dir=str(out), job_type="analysis",
                     name=f"analysis-{out.name}", config={"out": str(out)}, reinit="finish_previous")
    try:
        for path in sorted(out.glob("*.csv")):
            with open(path, newline="") as f:
                rows = list(csv.reader(f))
            run.log({f"analysis/{path.stem}": wandb.Table(columns=rows[0], data=rows[1:])})
        for path in sorted(out.glob("*.png")):
            run.log({f"figures/{path.stem}": wandb.Image(str(path))})
        for key, value in summary.items():
            run.summary[f"analysis.{key}"] = value
        return Path(run.dir)
    finally:
        run.finish()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="genq-analyze", description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", default=["dcgan_digits", "ddpm_digits"])
    p.add_argument("--recipes", nargs="+", default=["w8a8", "w4a8"])
    p.add_argument("--n-samples", type=int, default=256)
    p.add_argument("--level", choices=["layer", "block"], default=None,
                   help="sensitivity units (default: blocks for diffusion, layers for GANs)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--outliers", nargs="+", default=None, metavar="METHOD",
                   choices=["none", "smooth", "rotate", "svd"],
                   help="only the outlier statistics per layer, before and after each of these "
                        "quant.outlier methods (docs/outliers.md)")
    a = p.add_argument_group("causal attribution (--attribution, docs/attribution.md)")
    a.add_argument("--attribution", action="store_true",
                   help="measure and fit the loss over cells (layer groups x sampler windows), "
                        "options FP and each of --recipes (a recipe, plus overrides after '+': "
                        "w8a8+quant.w_format=fp8_e4m3); writes attribution.json per model")
    a.add_argument("--windows", nargs="+", type=int, default=[3],
                   help="windows of sampler steps: a count (equal parts) or the edges 0 .. steps")
    a.add_argument("--n-random", type=int, default=100, help="random mixed configurations fitted on")
    a.add_argument("--n-heldout", type=int, default=50, help="random configurations held out for validation")
    a.add_argument("--one-at-a-time", choices=["restore", "quantize", "both"], default="restore",
                   help="single-cell changes: restore FP in one cell, quantize one cell, or both")
    a.add_argument("--pairwise", action="store_true", help="fit pairwise cell interactions too")
    a.add_argument("--alpha", type=float, default=1e-3, help="ridge penalty of the additive fit")
    a.add_argument("--signed", action="store_true",
                   help="let fitted cell effects be negative (default: bounded at 0)")
    a.add_argument("--fid", action="store_true", help="also FID against the real digits")
    a.add_argument("--batch-size", type=int, default=256, help="sampling batch size")
    a.add_argument("--latency", action="store_true",
                   help="also measure each group x option's latency on cpu_int8 (whole-graph "
                        "differences, checked for additivity) for quant.budget.kind=latency_ms")
    a.add_argument("--latency-batch", type=int, default=1, help="batch size of the latency table")
    a.add_argument("--latency-repeats", type=int, default=3, help="timed repeats per latency entry")
    a.add_argument("--override", nargs="*", default=[],
                   help="extra config overrides for the model and recipes (e.g. quant.calib_samples=128)")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--wandb", choices=["offline", "online"], default=None,
                   help="also log every table and figure to a wandb run (written under --out)")
    args = p.parse_args(argv)
    torch.manual_seed(args.seed)
    start = time.perf_counter()
    try:
        if args.attribution:
            summary = analyze_attribution(args.models, args.recipes, args.out, args)
        elif args.outliers:
            summary = analyze_outliers(args.models, args.recipes, args.outliers, args.out, args.seed)
        else:
            summary = analyze(args.models, args.recipes, args.out, args.n_samples, args.level, args.seed)
    except GenqError as err:
        print(f"genq-analyze: error: {err}", file=sys.stderr)
        return 2
    if args.wandb:
        log_to_wandb(args.out, summary, mode=args.wandb)
    print(json.dumps(summary, indent=2))
    print(f"genq-analyze: wrote {args.out} in {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
