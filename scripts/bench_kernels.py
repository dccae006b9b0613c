"""Real-kernel study: quality versus speed of each model x recipe x backend on this machine.

For every model and recipe: quantize (PTQ, the recipe's config), then ``measure_speed`` with
``bench=<backend>`` times the real backend round-robin with FP32 eager, FP32 compiled and
bf16 autocast, and checks the real outputs against the simulated and FP ones. A recipe a
backend cannot run is recorded as refused with the backend's message (naming the layers).
Writes records/<model>/<recipe>[_<bench>]/result.json, kernels.md/.csv, coverage_<model>[_<bench>].md and
pareto.png into --out.

    python scripts/bench_kernels.py --models dcgan_digits ddpm_digits --recipes w8a8 w4a8 \
        w8a8_dynamic --out results/kernels
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time
import warnings
from pathlib import Path

warnings.filterwarnings("ignore")


def run_one(model: str, recipe: str, bench: str, extra: list[str]) -> dict:
    from omegaconf import OmegaConf

    from genq.bench.speed import measure_speed
    from genq.config import compose_config, validate
    from genq.errors import GenqError
    from genq.models import load_generator
    from genq.quant.pipeline import quantize_adapter
    from genq.run import describe_quant
    from genq.tracking.env import environment

    cfg = compose_config(f"model={model}", f"quant={recipe}", f"bench={bench}", "logger=none", *extra)
    validate(cfg)
    record = {"schema": 1, "run_id": f"{model}-{recipe}-{bench}", "experiment": "kernels", "model": model,
              "quant": describe_quant(cfg.quant), "config": OmegaConf.to_container(cfg, resolve=True),
              "env": environment(), "seed": cfg.seed, "shared_machine": os.environ.get("GENQ_SHARED_MACHINE", "unknown")}
    start = time.perf_counter()
    fp = load_generator(cfg.model)
    outcome = quantize_adapter(fp, cfg.quant, cfg.seed)
    noise = fp.make_noise(cfg.bench.batch_size, cfg.seed)
    try:
        record["speed"] = measure_speed(fp, outcome.model if outcome else None, cfg.bench, noise, cfg.quant)
        record["status"] = "ok"
    except GenqError as err:
        record.update(status="refused", error=str(err))
    record["wall_s"] = round(time.perf_counter() - start, 1)
    return record


def rows_of(record: dict) -> list[dict]:
    base = {"model": record["model"], "recipe": record["quant"]["recipe"]}
    if record["status"] != "ok":
        return [{**base, "backend": record["config"]["bench"]["backend"], "status": "refused",
                 "note": record["error"]}]
    s = record["speed"]
    agree = s.get("agreement", {})
    out = []
    fp_c = s["latency_ms_per_image_by_backend"].get("fp32_compiled")
    for name, ms in s["latency_ms_per_image_by_backend"].items():
        lpips = 0.0 if name == "fp32_eager" else agree.get("lpips_vs_fp", {}).get(name)
        out.append({**base, "backend": name, "status": "ok", "ms_per_image": float(f"{ms:.4g}"),
                    "speedup_vs_fp32_eager": round(s["latency_ms_per_image_fp"] / ms, 2),
                    "speedup_vs_fp32_compiled": round(fp_c / ms, 2) if fp_c else None,
                    "lpips_vs_fp": None if lpips is None else round(lpips, 5),
                    "lpips_real_vs_simulated": _r(agree.get("lpips_real_vs_simulated", {}).get(name)),
                    "max_abs_diff_real_vs_simulated": _r(agree.get("max_abs_diff_real_vs_simulated", {}).get(name)),
                    "model_bytes": s["model_bytes"] if name == s["variant"] else s["model_bytes_fp"],
                    "peak_memory_bytes": s["peak_memory_bytes"].get(name),
                    "device": s["device"], "load_1min": s["load_average_1min"]})
    if "simulated" in agree.get("lpips_vs_fp", {}):
        out.append({**base, "backend": "simulated (fake-quant, quality only)", "status": "ok",
                    "lpips_vs_fp": _r(agree["lpips_vs_fp"]["simulated"])})
    return out


def _r(x, n=5):
    return None if x is None else round(x, n)


def write_tables(records: list[dict], out: Path) -> None:
    rows = [r for rec in records for r in rows_of(rec)]
    cols = ["model", "recipe", "backend", "status", "ms_per_image", "speedup_vs_fp32_eager",
            "speedup_vs_fp32_compiled", "lpips_vs_fp", "lpips_real_vs_simulated",
            "max_abs_diff_real_vs_simulated", "model_bytes", "peak_memory_bytes", "device", "load_1min", "note"]
    with open(out / "kernels.csv", "w", newline="") as f:
        w = csv.DictWriter(f, cols)
        w.writeheader()
        for r in rows:
            w.writerow({k: r.get(k) for k in cols})
    md = ["| " + " | ".join(cols[:-3]) + " |", "|" + "---|" * (len(cols) - 3)]
    for r in rows:
        if r["status"] == "refused":
            note = r["note"] if len(r["note"]) < 400 else r["note"][:400] + " ... (full text in kernels.csv)"
            md.append(f"| {r['model']} | {r['recipe']} | {r['backend']} | refused: {note} |" + " |" * (len(cols) - 7))
        else:
            md.append("| " + " | ".join("" if r.get(k) is None else str(r.get(k)) for k in cols[:-3]) + " |")
    devices = sorted({r.get("device") for r in rows if r.get("device")})
    methods = sorted({rec["speed"]["peak_memory_method"] for rec in records if rec["status"] == "ok"})
    md += ["", f"Device: {', '.join(devices)}; shared machine: "
               f"{records[0].get('shared_machine', 'unknown')}; load averages per run are in kernels.csv. "
               f"peak_memory_bytes: {'; '.join(methods)}."]
    (out / "kernels.md").write_text("\n".join(md) + "\n")
    from genq.bench.backends.coverage import CoverageRow, markdown

    for rec in records:
        if rec["status"] != "ok" or rec["quant"]["recipe"] != "w8a8":
            continue
        s = rec["speed"]
        table = markdown([CoverageRow(**r) for r in s["coverage_table"]])
        if s["backend"] != "cpu_int8":
            (out / f"coverage_{rec['model']}_{s['backend']}.md").write_text(
                f"# Kernel coverage: {rec['model']} on {s['backend']} ({s['device']})\n\n{table}\n")
            continue
        kc = s.get("kernel_calls_per_forward", {})
        (out / f"coverage_{rec['model']}.md").write_text(
            f"# Kernel coverage: {rec['model']}, w8a8 on {s['backend']}\n\n{table}\n\n"
            f"Kernel calls in one forward pass (torch.profiler): int8 {kc.get('int8_calls')}, "
            f"float conv/linear/matmul {kc.get('float_calls')}: {json.dumps(kc.get('by_kernel'))}\n\n"
            f"Where one int8 forward spends its time (self CPU time, batch {s['agreement']['n_samples'] if 'agreement' in s else '?'}):\n\n"
            "| op / fused kernel | calls | self ms | share |\n|---|---|---|---|\n"
            + "".join(f"| `{t['op']}` | {t['calls']} | {t['self_ms']} | {t['share']:.1%} |\n"
                      for t in kc.get("top_ops", [])))


def pareto(records: list[dict], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    models = sorted({r["model"] for r in records})
    fig, axes = plt.subplots(1, len(models), figsize=(6 * len(models), 4.5), squeeze=False)
    for ax, model in zip(axes[0], models):
        seen = set()
        for rec in records:
            if rec["model"] != model or rec["status"] != "ok":
                continue
            for r in rows_of(rec):
                if r.get("ms_per_image") is None or r.get("lpips_vs_fp") is None:
                    continue
                label = r["backend"] if r["backend"].startswith(("fp32", "bf16")) else f"{r['backend']} {r['recipe']}"
                if label in seen:
                    continue
                seen.add(label)
                ax.scatter(r["ms_per_image"], r["lpips_vs_fp"], s=40)
                ax.annotate(label, (r["ms_per_image"], r["lpips_vs_fp"]), fontsize=8,
                            xytext=(4, 4), textcoords="offset points")
        ax.set_xscale("log")
        ax.set_xlabel("ms per image (lower is faster)")
        ax.set_ylabel("LPIPS vs FP32 (lower is better)")
        ax.set_title(model)
        ax.grid(alpha=0.3)
    dev = next((r["speed"]["device"] for r in records if r["status"] == "ok"), "?")
    fig.suptitle(f"Quality vs speed, real kernels; {dev}", fontsize=9)
    fig.tight_layout()
    fig.savefig(out / "pareto.png", dpi=120)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", default=["dcgan_digits", "ddpm_digits"])
    p.add_argument("--recipes", nargs="+", default=["w8a8", "w4a8", "w8a8_dynamic"])
    p.add_argument("--bench", default="cpu_int8")
    p.add_argument("--out", type=Path, default=Path("results/kernels"))
    p.add_argument("--tables-only", action="store_true", help="rebuild tables/figure from the records")
    p.add_argument("overrides", nargs="*", help="extra Hydra overrides, e.g. bench.batch_size=64")
    a = p.parse_args(argv)
    records = []
    for model in a.models:
        for recipe in a.recipes:
            # cpu_int8 keeps its original layout; other backends get their own folder per recipe
            leaf = recipe if a.bench == "cpu_int8" else f"{recipe}_{a.bench}"
            path = a.out / "records" / model / leaf / "result.json"
            if not a.tables_only:
                print(f"== {model} {recipe} bench={a.bench}", flush=True)
                rec = run_one(model, recipe, a.bench, a.overrides)
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp = path.with_suffix(".tmp")
                tmp.write_text(json.dumps(rec, indent=1, default=str))
                tmp.rename(path)
                print(json.dumps([{k: r.get(k) for k in ("backend", "status", "ms_per_image", "speedup_vs_fp32_eager",
                                   "lpips_vs_fp", "lpips_real_vs_simulated")} for r in rows_of(rec)]), flush=True)
            if path.exists():
                records.append(json.loads(path.read_text()))
    write_tables(records, a.out)
    pareto(records, a.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
