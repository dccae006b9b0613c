#!/usr/bin/env python
"""Full-size speed on this CPU (issue 20): SD 1.5's UNet, DiT-XL/2 and PixArt-Sigma (published
configs, random weights), one DDIM step, W8A8 int8 (static) and int8 with bf16 around it
against FP32 eager/compiled, bf16 autocast and bf16 compiled (weights cast once), plus W4
Linear kernels on the transformers: every variant of a (model, batch) timed round-robin in
one genq process. Prints the ratios, writes ``speed.csv`` and ``table.md``.

    scripts/bench_fullsize.py                                   # all three, batch 1 then 4
    scripts/bench_fullsize.py --budget-min 60 --models speed_dit_xl2 --batches 1 --threads 2

The time budget covers the whole benchmark: a job that would start after it has run out is
not started, a job still running when it runs out is stopped, and both are listed in the
output and in ``table.md``. A job whose ``result.json`` exists is not rerun (delete the
run folder to rerun it). On a CPU whose int8 kernels saturate int16 pair sums (AVX2 without
VNNI/AMX, :func:`genq.bench.isa.int8_pairs_saturate`) the int8 recipe uses 7-bit activations,
the only grid those kernels compute exactly; the timing is the same kernel either way.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from genq.bench.isa import cpu_info, cpu_summary, int8_pairs_saturate  # noqa: E402

MODELS = ("speed_sd15_unet", "speed_dit_xl2", "speed_pixart_sigma")
FLOAT = ["fp32_eager", "fp32_compiled", "bf16", "bf16_compiled"]
# Linear-heavy transformers also get the W4 Linear kernels; the UNet's convolutions have none.
# w4a8's x86 kernel is ATen's reference implementation (KleidiAI is Arm only): timed only on Arm.
W4 = {"speed_dit_xl2": ["w4a16"], "speed_pixart_sigma": ["w4a16"]}


def job_overrides(model: str, batch: int, threads: int | None, repeats: int, arm: bool) -> list[str]:
    # int8 with bf16 around it only where the CPU has bf16 instructions (elsewhere bf16 is
    # emulated, several times slower than FP32, and a second int8 graph costs gigabytes)
    bf16_isa = {"avx512_bf16", "amx_bf16"} & set(cpu_info()["isa"])
    variants = FLOAT + (["int8_bf16"] if bf16_isa else []) + W4.get(model, []) + \
        (["w4a8"] if arm and model in W4 else [])
    out = [f"model={model}", "quant=w8a8", "quant.calib_samples=4", "bench=cpu_int8",
           f"bench.batch_size={batch}", f"bench.repeats={repeats}", "bench.warmup=1",
           f"bench.baselines=[{','.join(variants)}]", "logger=none"]
    if int8_pairs_saturate():
        out.append("quant.a_bits=7")
    if threads:
        out.append(f"bench.threads={threads}")
    return out


def run_job(key: str, overrides: list[str], folder: Path, seconds_left: float) -> str:
    """Run one genq job (its progress goes to the console); 'done', 'failed' or 'out of budget'."""
    folder.mkdir(parents=True, exist_ok=True)
    cmd = [str(Path(sys.executable).with_name("genq")), *overrides, f"hydra.run.dir={folder}"]
    print(f"\n== {key} ({seconds_left / 60:.0f} min of budget left)\n   genq {' '.join(cmd[1:])}", flush=True)
    with open(folder / "genq.log", "w") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
        start = time.monotonic()
        shown = 0
        while proc.poll() is None:
            time.sleep(5)
            lines = (folder / "genq.log").read_text(errors="replace").splitlines()
            for line in lines[shown:]:
                if line.startswith("genq:"):
                    print("   " + line, flush=True)
            shown = len(lines)
            if time.monotonic() - start > seconds_left:
                proc.kill()
                proc.wait()
                return "out of budget"
    return "done" if proc.returncode == 0 and (folder / "result.json").exists() else "failed"


def rows_of(record: dict, model: str, batch: int) -> dict:
    s = record["speed"]
    ms = s["latency_ms_per_image_by_backend"]
    bf16 = {k: v for k, v in ms.items() if "bf16" in k and "int8" not in k}
    best_bf16 = min(bf16, key=bf16.get) if bf16 else None
    agree = s.get("agreement", {})
    row = {"model": model, "batch": batch, "cpu": record["env"]["cpu"]["model"],
           "isa": " ".join(record["env"]["cpu"]["isa"]), "threads": s["threads"],
           "recipe": record["quant"]["recipe"], "best_bf16": best_bf16}
    for k, v in ms.items():
        row[f"ms_{k}"] = round(v, 2)
        row[f"peak_mb_{k}"] = round(s["peak_memory_bytes"].get(k, 0) / 2 ** 20, 1)
    for k in ms:
        if k.startswith(("int8", "w4")):
            row[f"{k}_vs_fp32_eager"] = round(ms["fp32_eager"] / ms[k], 3)
            if best_bf16:
                row[f"{k}_vs_best_bf16"] = round(ms[best_bf16] / ms[k], 3)
            row[f"rel_rms_real_vs_sim_{k}"] = agree.get("rel_rms_real_vs_simulated", {}).get(k)
    row["model_bytes_fp"] = s["model_bytes_fp"]
    row["model_bytes_int8"] = s["model_bytes"]
    row["int8_layers"] = s["coverage"]["low_precision"]
    row["fallback_layers"] = s["coverage"]["fallback"]
    row["build_s"] = json.dumps(s["build_s"])
    return row


def table(rows: list[dict], status: dict) -> str:
    variants = ["fp32_eager", "fp32_compiled", "bf16", "bf16_compiled", "int8", "int8_bf16", "w4a16", "w4a8"]
    head = "| model | batch | " + " | ".join(variants) + " | int8 / best bf16 | int8 / FP32 eager | int8 real vs sim (rel. RMS) |"
    lines = [head, "|" + "---|" * (len(variants) + 5)]
    for r in rows:
        cells = [f"{r[f'ms_{v}']:.0f}" if f"ms_{v}" in r else "-" for v in variants]
        lines.append(f"| {r['model']} | {r['batch']} | " + " | ".join(cells) +
                     f" | {r.get('int8_vs_best_bf16', '-')}x | {r.get('int8_vs_fp32_eager', '-')}x | "
                     f"{r.get('rel_rms_real_vs_sim_int8') or 0:.4f} |")
    not_run = [f"{k}: {v}" for k, v in status.items() if v != "done"]
    if not_run:
        lines += ["", "Not measured: " + "; ".join(not_run) + "."]
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", default=",".join(MODELS))
    p.add_argument("--batches", default="1,4")
    p.add_argument("--budget-min", type=float, default=120.0, help="time budget of the whole benchmark")
    p.add_argument("--threads", type=int, default=None, help="torch threads while timing (default: torch's)")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--out", default=str(ROOT / "results" / "kernels_fullsize"))
    p.add_argument("overrides", nargs="*", help="more genq overrides for every job (e.g. experiment=smoke)")
    a = p.parse_args()
    out = Path(a.out)
    cpu = cpu_info()
    print(f"CPU: {cpu_summary(cpu)}; int8 pair sums saturate: {int8_pairs_saturate(cpu)}; "
          f"budget {a.budget_min:.0f} min", flush=True)
    deadline = time.monotonic() + 60 * a.budget_min
    arm = "aarch64" in os.uname().machine
    status, rows = {}, []
    for batch in [int(b) for b in a.batches.split(",")]:
        for model in a.models.split(","):
            key = f"{model} batch {batch}"
            folder = out / "runs" / f"{model}_b{batch}"
            if not (folder / "result.json").exists():
                left = deadline - time.monotonic()
                status[key] = "not started: the budget ran out" if left <= 0 else \
                    run_job(key, job_overrides(model, batch, a.threads, a.repeats, arm) + a.overrides, folder, left)
                if status[key] != "done":
                    print(f"   {key}: {status[key]}", flush=True)
                    continue
            status[key] = "done"
            rows.append(rows_of(json.loads((folder / "result.json").read_text()), model, batch))
    if rows:
        keys = list(dict.fromkeys(k for r in rows for k in r))
        with open(out / "speed.csv", "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=keys)
            w.writeheader()
            w.writerows(rows)
    text = table(rows, status)
    (out / "table.md").write_text(f"{cpu_summary(cpu)}\n\n{text}\n")
    print("\n" + text)
    if any(v != "done" for v in status.values()):
        print(f"\nThe budget of {a.budget_min:.0f} min ran out before every job finished (listed above).")


if __name__ == "__main__":
    main()
