"""``genq-analyze --attribution``: measure, fit and validate the additive model of the loss
over cells (layer groups x timestep windows) for one model and a set of options, and write
``attribution.json`` (what the allocator, ``quant=auto``, reads; with the per-class or
per-latent-quartile views of :mod:`genq.analysis.attribution.views`), ``attribution_rows.csv``
and the figures. Measured rows are appended to ``attribution_rows.jsonl`` as they come, so
an interrupted study resumes where it stopped (same settings)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np
from tqdm import tqdm

from genq.analysis.attribution import figures
from genq.analysis.attribution.additive import fit, validate
from genq.analysis.attribution.cells import CellGrid, Option, layer_groups, split_steps
from genq.analysis.attribution.design import random_configs, training_design
from genq.analysis.attribution.measure import Measurer
from genq.analysis.attribution.views import fit_views, sample_groups, view_matrix
from genq.analysis.attribution.latency import latency_table
from genq.analysis.attribution.switch import quantized_copies, switchable
from genq.analysis.common import units
from genq.config import compose_config
from genq.errors import GenqError
from genq.metrics import extract, load_feature_extractor
from genq.models import load_generator
from genq.progress import bar_options
from genq.quant.allocator.auto import ATTRIBUTION_VERSION
from genq.quant.plan import make_plan
from genq.quant.ptq_pipeline import build_calibration, with_quant_seed
from genq.tracking.record import write_json_atomic


def check_option(name: str, q: Any) -> None:
    """An option is a PTQ recipe with calibration only (what one plan per window expresses)."""
    r, c = q.reconstruction, q.calibration
    bad = [(q.method != "ptq", f"quant.method={q.method}"),
           (r.method != "none", f"quant.reconstruction.method={r.method}"),
           (bool(r.bias_correction or r.bn_reestimate), "GAN bias/BatchNorm correction"),
           (bool(c.timestep_buckets), "quant.calibration.timestep_buckets"),
           (bool(c.shortcut_split), "quant.calibration.shortcut_split"),
           (q.outlier.method != "none", f"quant.outlier.method={q.outlier.method}"),
           (bool(q.plan or q.schedule), "a plan or schedule file")]
    for is_bad, what in bad:
        if is_bad:
            raise GenqError(f"attribution option quant={name} uses {what}; accepted: PTQ recipes "
                            "with calibration only (w8a8, w4a4, w4a8, formats such as "
                            "quant.w_format=fp8_e4m3), one plan per cell.")


def _calibration_settings(q: Any) -> dict[str, Any]:
    return {"calib_samples": q.calib_samples, "calib_batch_size": q.calib_batch_size,
            "calibration": dict(q.calibration), "seed": q.seed}


def build_grid(fp: Any, model: str, options: Sequence[str], windows: int | list[int], level: str,
               overrides: Sequence[str]) -> tuple[CellGrid, Any]:
    """The cell grid and the first option's quant config (calibration settings). An option
    is a recipe of the quant group, with overrides of its own after ``+``
    (``w8a8+quant.w_format=fp8_e4m3+quant.a_format=fp8_e4m3``), named by its recipe label."""
    if not options:
        raise GenqError("--attribution needs at least one quantized option; accepted: --recipes w4a4 w8a8 ...")
    plans, names, q0 = [], [], None
    for spec in options:
        recipe, *extra = spec.split("+")
        q = compose_config(f"model={model}", f"quant={recipe}", *overrides, *extra).quant
        name = str(q.recipe)
        check_option(spec, q)
        if name in names:
            raise GenqError(f"attribution option {spec} is the recipe {name} twice; accepted: "
                            "distinct recipes.")
        names.append(name)
        if q0 is None:
            q0 = q
        elif _calibration_settings(q) != _calibration_settings(q0):
            raise GenqError(f"option {spec} calibrates differently from {options[0]}; "
                            "accepted: options sharing calib_samples, calib_batch_size, "
                            "calibration.* and seed (one calibration set for every option).")
        plans.append(make_plan(fp.network, q))
    steps = len(fp.sampling_scheduler().timesteps) if fp.is_denoiser else 1
    edges = split_steps(steps, windows) if fp.is_denoiser else [(0, 1)]
    if not fp.is_denoiser and windows not in (1, [0, 1]):
        raise GenqError(f"a {fp.family} model samples in one pass; accepted: --windows 1.")
    groups = layer_groups(plans, units(fp.network, level))
    opts = [Option("fp")] + [Option(n, p) for n, p in zip(names, plans)]
    return CellGrid(groups, edges, opts), q0


def _resume(path: Path, configs: list[np.ndarray]) -> dict[int, dict[str, Any]]:
    """Rows already measured for these configurations (same index, same configuration)."""
    done: dict[int, dict[str, Any]] = {}
    if not path.exists():
        return done
    for line in path.read_text().splitlines():
        row = json.loads(line)
        i = row["index"]
        if i < len(configs) and row["config"] == configs[i].tolist():
            done[i] = row
    return done


def run_attribution(model: str, options: Sequence[str], out: Path, n_samples: int = 128,
                    windows: int | list[int] = 3, level: str = "block", n_random: int = 100,
                    n_heldout: int = 50, seed: int = 0, mode: str = "restore", alpha: float = 1e-3,
                    pairwise: bool = False, fid: bool = False, overrides: Sequence[str] = (),
                    nonnegative: bool = True,
                    batch_size: int = 256, model_override: Optional[Any] = None,
                    latency: Optional[dict[str, Any]] = None) -> dict[str, Any]:
    """The whole study (module docstring); returns the attribution dict it writes.
    ``overrides``: extra config overrides (``model.num_inference_steps=10``...);
    ``latency``: settings of the measured latency table (``batch_size``, ``repeats``,
    ``compile``; :mod:`genq.analysis.attribution.latency`), kept in ``costs["latency"]`` and
    in ``latency.json`` (reused when it exists);
    ``model_override``: an adapter to use instead of loading ``model`` (tests)."""
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    cfg = compose_config(f"model={model}", f"quant={options[0].split('+')[0]}", *overrides)
    fp = model_override if model_override is not None else load_generator(cfg.model, device=cfg.device)
    grid, q0 = build_grid(fp, model, options, windows, level, overrides)
    q = with_quant_seed(q0, q0.seed)
    calib = build_calibration(fp, q, q0.seed)
    copies = quantized_copies(fp, grid, calib)
    net, switch, costs = switchable(fp, grid, calib, copies)
    if latency is not None:
        costs["latency"] = _latency(fp, copies, grid, out / "latency.json", latency, seed)
    del copies
    setup_s = time.perf_counter() - t0
    extractor = load_feature_extractor(cfg.metrics.feature_extractor)
    real = None
    if fid:
        from genq.data import load_digits
        real = extract(extractor, load_digits("train").images)
    measurer = Measurer(fp, net, switch, fp.make_noise(n_samples, seed), extractor, real, batch_size)
    train = training_design(grid, n_random, seed, mode)
    heldout = random_configs(grid, n_heldout, seed + 10_000, "heldout")
    configs, kinds = train.configs + heldout.configs, train.kinds + heldout.kinds
    log = out / "attribution_rows.jsonl"
    done = _resume(log, configs)
    rows: list[dict[str, Any]] = []
    with open(log, "a") as f, tqdm(total=len(configs), desc="attribution", initial=len(done),
                                     **bar_options()) as bar:
        for i, (x, kind) in enumerate(zip(configs, kinds)):
            if i in done:
                rows.append(done[i])
                continue
            row = {"index": i, "kind": kind, "config": x.tolist(), **measurer.measure(x)}
            f.write(json.dumps(row) + "\n")
            f.flush()
            rows.append(row)
            bar.update(1)
    metrics = [m for m in ("qfid", "lpips_vs_fp", "fid") if m in rows[0]]
    X = np.array([r["config"] for r in rows])
    is_train = np.array([r["kind"] != "heldout" for r in rows])
    fitted, validation = {}, {}
    for m in metrics:
        y = np.array([r[m] for r in rows])
        mdl = fit(X[is_train], y[is_train], grid.n_options, alpha, pairwise, nonnegative)
        fitted[m] = mdl.to_dict()
        validation[m] = {**validate(mdl, X[~is_train], y[~is_train]),
                         "train": validate(mdl, X[is_train], y[is_train])}
        for r, p in zip(rows, mdl.predict(X)):
            r[f"predicted_{m}"] = float(p)
    views = _views(fp, measurer.noise, rows, grid, alpha, nonnegative)
    seconds = [r["seconds"] for r in rows]
    result = {"genq_attribution_version": ATTRIBUTION_VERSION, "model": model,
              "overrides": list(overrides), "family": fp.family, "level": level,
              "n_samples": n_samples, "seed": seed, "quant_seed": int(q0.seed), "mode": mode,
              "pairwise": pairwise, "alpha": alpha, "nonnegative": nonnegative, **grid.describe(),
              "option_plans": {o.name: o.plan.to_dict() for o in grid.options[1:]},
              "calibration": {"calib_samples": int(q0.calib_samples),
                              "calib_batch_size": int(q0.calib_batch_size)},
              "costs": costs, "effects": fitted,
              "validation": {m: {"spearman": v["spearman"], "n_configs": v["n_configs"], **v}
                             for m, v in validation.items()},
              "timing": {"setup_s": round(setup_s, 2), "measurements": len(rows),
                         "seconds_per_measurement": round(float(np.median(seconds)), 3),
                         "total_s": round(time.perf_counter() - t0, 2)},
              "views": views, "rows": rows}
    write_json_atomic(out / "attribution.json", result)
    _write_figures(result, grid, out)
    return result


def _latency(fp: Any, copies: list, grid: CellGrid, path: Path, settings: dict[str, Any],
             seed: int) -> dict[str, Any]:
    """The measured latency table, or the one an earlier run of this study wrote."""
    if path.exists():
        table = json.loads(path.read_text())
        if len(table["delta_ms"]) == len(grid.groups) and len(table["delta_ms"][0]) == grid.n_options:
            return table
    table = latency_table(fp, copies, grid, fp.make_noise(settings.get("batch_size", 1), seed), **settings)
    write_json_atomic(path, table)
    return table


def _views(fp: Any, noise: Any, rows: list[dict[str, Any]], grid: CellGrid, alpha: float,
           nonnegative: bool) -> dict[str, Any]:
    """Per-class (class-conditional models) or per-latent-quartile (GANs) attribution of
    LPIPS, or why there is none."""
    grouping = sample_groups(fp, noise)
    if grouping is None:
        return {"skipped": f"a {fp.family} model without classes has no grouping of its samples"}
    if any("lpips_per_sample" not in r for r in rows):
        return {"skipped": "rows measured before per-sample LPIPS was kept (rerun into a new folder)"}
    return fit_views(rows, grouping, grid.n_options, alpha, nonnegative, [c.label for c in grid.cells])


def _write_figures(result: dict[str, Any], grid: CellGrid, out: Path) -> None:
    groups, options = list(grid.groups), [o.name for o in grid.options]
    views = result.get("views", {})
    if "groups" in views:
        for o in range(1, len(options)):
            names, effects = view_matrix(views, o)
            if names:
                figures.view_heatmap(names, effects, [c.label for c in grid.cells], options[o], views["kind"],
                                     f"{result['model']}: which cells matter for which {views['kind']} "
                                     f"(LPIPS vs FP, option {options[o]})", out / f"attribution_views_{options[o]}.png")
    rows = [r for r in result["rows"] if r["kind"] == "heldout"]
    for m, fitted in result["effects"].items():
        figures.effect_heatmap(np.asarray(fitted["effects"]), groups, grid.windows, options, m,
                               f"{result['model']}: fitted {m} per cell (layers x timestep windows)",
                               out / f"attribution_{m}.png")
        if rows:
            figures.predicted_vs_measured(np.array([r[f"predicted_{m}"] for r in rows]),
                                          np.array([r[m] for r in rows]), m,
                                          result["validation"][m]["spearman"], result["model"],
                                          out / f"attribution_scatter_{m}.png")
