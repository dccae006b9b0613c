"""Quality against QAT steps, from the snapshots one QAT run saved (``quant.qat.eval_at``).

    .venv/bin/python scripts/qat_curve.py RUN_DIR... --out results/qat

For every genq QAT run folder (its ``result.json`` and ``qat/snapshots/step_N.safetensors``)
the student at each snapshot is rebuilt (:func:`genq.qat.snapshot.load_student`), sampled from
the run's own noise bank and scored against real data and the FP samples exactly as the run
was; step 0 (``eval_at`` holding 0) is the PTQ initialisation, before any training. One record per
step goes to ``OUT/curve_records/`` (speed not timed: ``speed`` is empty), and
``OUT/curve.csv`` + ``OUT/curve.png`` plot FID, qFID and LPIPS vs FP against steps.
"""

from __future__ import annotations

import argparse
import copy
import csv
import json
from pathlib import Path

import torch
from omegaconf import OmegaConf

from genq.data import describe_reference, load_reference
from genq.metrics import score_run
from genq.models import load_generator
from genq.qat.snapshot import load_student
from genq.tracking import write_json_atomic

METRICS = ("fid", "kid", "qfid", "lpips_vs_fp", "psnr_vs_fp")


def curve_for_run(run: Path, out: Path) -> list[dict]:
    record = json.loads((run / "result.json").read_text())
    cfg = OmegaConf.create(record["config"])
    torch.manual_seed(cfg.seed)
    fp = load_generator(cfg.model)
    c, r = fp.image_shape[0], fp.image_shape[1]
    real = load_reference(cfg.data, r, c)
    key = describe_reference(cfg.data, r, c)
    noise = fp.make_noise(cfg.metrics.n_samples, cfg.seed)
    fp_images = fp.sample(noise, cfg.model.sample_batch_size)
    snaps = sorted((run / "qat" / "snapshots").glob("step_*.safetensors"))
    rows = []
    for snap in snaps:
        step = int(snap.stem.split("_")[1])
        student = load_student(fp, cfg.quant, snap)
        q_images = student.sample(noise, cfg.model.sample_batch_size)
        metrics = score_run(cfg.metrics, real, fp_images, q_images, seed=cfg.seed, data_key=key)
        rec = copy.deepcopy(record)
        rec["run_id"] = f"{record['run_id']}@step{step}"
        rec["metrics"], rec["speed"] = metrics, {}
        rec["quant"]["qat"]["steps"] = step
        rec["quant"]["qat"]["history"] = [h for h in rec["quant"]["qat"]["history"] if h["step"] <= step]
        write_json_atomic(out / "curve_records" / f"{record['model']}_{record['quant']['recipe']}_step{step:05d}"
                          / "result.json", rec)
        rows.append({"model": record["model"], "recipe": record["quant"]["recipe"], "step": step,
                     **{m: metrics.get(m) for m in METRICS}, "fid_fp": metrics.get("fid_fp")})
        print(rows[-1], flush=True)
    return rows


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = sorted({(r["model"], r["recipe"]) for r in rows})
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    for ax, metric, label in zip(axes, ("fid", "qfid", "lpips_vs_fp"), ("FID vs real", "qFID vs FP", "LPIPS vs FP")):
        for model, recipe in keys:
            pts = sorted((r["step"], r[metric]) for r in rows if (r["model"], r["recipe"]) == (model, recipe))
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=f"{model} {recipe}")
        ax.set_xlabel("QAT steps (0 = PTQ initialisation)")
        ax.set_ylabel(label)
        ax.set_yscale("log")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    rows = [row for run in args.runs for row in curve_for_run(run, args.out)]
    args.out.mkdir(parents=True, exist_ok=True)
    with (args.out / "curve.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    plot(rows, args.out / "curve.png")


if __name__ == "__main__":
    main()
