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


def has_bf16() -> bool:
    """bf16 instructions (elsewhere bf16 is emulated, several times slower than FP32): only
    then is int8 with bf16 around it timed."""
    return bool({"avx512_bf16", "amx_bf16"} & set(cpu_info()["isa"]))


def job_overrides(model: str, batch: int, threads: int | None, repeats: int, arm: bool,
                  part: str = "all") -> list[str]:
    """genq overrides of one job. ``part``: ``all`` (every variant in one process), ``float``
    (FP32 eager/compiled, bf16 eager, bf16 compiled: ``bench=cpu_bf16`` compiled, no quantized
    model), ``low`` (FP32 eager, int8 and the W4 variants) or ``int8_bf16`` (FP32 eager, bf16
    compiled and int8 with bf16 around it: a second int8 graph of SD 1.5 next to the first
    passed 22 GB)."""
    low = (["int8_bf16"] if has_bf16() and part == "all" else []) + W4.get(model, []) + \
        (["w4a8"] if arm and model in W4 else [])
    common = [f"model={model}", f"bench.batch_size={batch}", f"bench.repeats={repeats}", "bench.warmup=1",
              "logger=none"] + ([f"bench.threads={threads}"] if threads else [])
    if part == "float":
        return common + ["quant=fp32", "bench=cpu_bf16", "bench.compile=true",
                         "bench.baselines=[fp32_eager,fp32_compiled,bf16]"]
    # the int8_bf16 process also times bf16 compiled: its headline ratio comes from one process
    variants = FLOAT if part == "all" else ["fp32_eager"] + (["bf16_compiled"] if part == "int8_bf16" else low)
    out = common + ["quant=w8a8", "quant.calib_samples=4", "bench=cpu_int8", f"bench.baselines=[{','.join(variants)}]"]
    if part == "int8_bf16":
        out.append("bench.mixed_bf16=true")
    if int8_pairs_saturate():
        out.append("quant.a_bits=7")
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


def rows_of(records: list[dict], model: str, batch: int) -> dict:
    """One row from the record(s) of a (model, batch): every variant's ms per image and its
    speedup over the FP32 eager timed in the same process (with two processes, ratios between
    variants of different processes are ratios of those speedups)."""
    row = {"model": model, "batch": batch, "processes": len(records)}
    speedup: dict[str, float] = {}
    for record in records:
        s = record["speed"]
        ms = s["latency_ms_per_image_by_backend"]
        row.update({"cpu": record["env"]["cpu"]["model"], "isa": " ".join(record["env"]["cpu"]["isa"]),
                    "threads": s["threads"]})
        agree = s.get("agreement", {})
        if "int8_bf16" in ms and "bf16_compiled" in ms and len(records) > 1:
            row["int8_bf16_vs_bf16_compiled_same_process"] = round(ms["bf16_compiled"] / ms["int8_bf16"], 3)
        for k, v in ms.items():
            if len(records) > 1 and k == "bf16_compiled" and s["backend"] == "cpu_int8":
                row["ms_bf16_compiled_int8_bf16_process"] = round(v, 2)   # the float process's stays the column
                continue
            key = k if k != "fp32_eager" or len(records) == 1 else f"fp32_eager_{s['variant']}"
            row[f"ms_{key}"] = round(v, 2)
            row[f"peak_mb_{key}"] = round(s["peak_memory_bytes"].get(k, 0) / 2 ** 20, 1)
            if k != "fp32_eager":
                speedup[k] = ms["fp32_eager"] / v
            if k.startswith(("int8", "w4")):
                row[f"rel_rms_real_vs_sim_{k}"] = agree.get("rel_rms_real_vs_simulated", {}).get(k)
        if s["backend"] == "cpu_int8":
            row.update({"recipe": record["quant"]["recipe"], "model_bytes_fp": s["model_bytes_fp"],
                        "model_bytes_int8": s["model_bytes"], "int8_layers": s["coverage"]["low_precision"],
                        "fallback_layers": s["coverage"]["fallback"]})
        row[f"build_s_{s['variant']}"] = json.dumps(s["build_s"])
    bf16 = {k: v for k, v in speedup.items() if "bf16" in k and "int8" not in k}
    best_bf16 = max(bf16, key=bf16.get) if bf16 else None
    row["best_bf16"] = best_bf16
    for k, v in speedup.items():
        row[f"{k}_vs_fp32_eager"] = round(v, 3)
        if best_bf16 and k.startswith(("int8", "w4")):
            row[f"{k}_vs_best_bf16"] = round(v / bf16[best_bf16], 3)
    return row


def _cell(row: dict, variant: str) -> str:
    """ms of one variant; FP32 eager of each process (in process order) when split."""
    if f"ms_{variant}" in row:
        return f"{row[f'ms_{variant}']:.0f}"
    if variant == "fp32_eager":
        return " / ".join(f"{x:.0f}" for k, x in row.items() if k.startswith("ms_fp32_eager_")) or "-"
    return "-"


def table(rows: list[dict], status: dict) -> str:
    variants = ["fp32_eager", "fp32_compiled", "bf16", "bf16_compiled", "int8", "int8_bf16", "w4a16", "w4a8"]
    head = "| model | batch | " + " | ".join(variants) + \
        " | best bf16 | int8 / best bf16 | int8_bf16 / best bf16 | int8 / FP32 eager | int8_bf16 / FP32 eager" \
        " | int8_bf16 / bf16 compiled, one process | int8 real vs sim (rel. RMS) |"
    lines = [head, "|" + "---|" * (len(variants) + 9)]
    for r in rows:
        cells = [_cell(r, v) for v in variants]
        lines.append(f"| {r['model']} | {r['batch']} | " + " | ".join(cells) +
                     f" | {r.get('best_bf16') or '-'} | {r.get('int8_vs_best_bf16', '-')}x"
                     f" | {r.get('int8_bf16_vs_best_bf16', '-')}x | {r.get('int8_vs_fp32_eager', '-')}x"
                     f" | {r.get('int8_bf16_vs_fp32_eager', '-')}x"
                     f" | {r.get('int8_bf16_vs_bf16_compiled_same_process', '-')}x"
                     f" | {r.get('rel_rms_real_vs_sim_int8') or 0:.4f} |")
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
    p.add_argument("--split", action="store_true",
                   help="two processes per (model, batch): float variants, then int8/W4 variants, each with "
                        "its own FP32 eager (for machines that cannot hold every variant of a full-size "
                        "model at once: DiT-XL/2 with all of them passed 22 GB)")
    p.add_argument("overrides", nargs="*", help="more genq overrides for every job (e.g. experiment=smoke)")
    a = p.parse_args()
    out = Path(a.out)
    cpu = cpu_info()
    print(f"CPU: {cpu_summary(cpu)}; int8 pair sums saturate: {int8_pairs_saturate(cpu)}; "
          f"budget {a.budget_min:.0f} min", flush=True)
    deadline = time.monotonic() + 60 * a.budget_min
    arm = "aarch64" in os.uname().machine
    parts = (["float", "low"] + (["int8_bf16"] if has_bf16() else [])) if a.split else ["all"]
    status, rows = {}, []
    for batch in [int(b) for b in a.batches.split(",")]:
        for model in a.models.split(","):
            records = []
            for part in parts:
                key = f"{model} batch {batch}" + ("" if part == "all" else f" ({part} variants)")
                folder = out / "runs" / (f"{model}_b{batch}" + ("" if part == "all" else f"_{part}"))
                if not (folder / "result.json").exists():
                    left = deadline - time.monotonic()
                    status[key] = "not started: the budget ran out" if left <= 0 else run_job(
                        key, job_overrides(model, batch, a.threads, a.repeats, arm, part) + a.overrides, folder, left)
                    if status[key] != "done":
                        print(f"   {key}: {status[key]}", flush=True)
                        continue
                status[key] = "done"
                records.append(json.loads((folder / "result.json").read_text()))
            if records:
                rows.append(rows_of(records, model, batch))
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
