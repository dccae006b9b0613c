"""Rerun a sample of the committed result records and compare every number with the record.

Each sampled record is rerun through genq's own Python entry (:func:`genq.run.run_experiment`)
in a fresh process, on the config the record was made with: the group options the record
names (``model=<model> quant=<recipe>``) composed by Hydra, then every leaf of the record's
``config`` section that differs from that composition set on top (printed, so the rerun is
one command line you could type). Settings newer than the record that only add outputs
(``metrics.bootstrap``, ``metrics.compute_pr``) are switched off, as they were in effect. The rerun uses as many threads as the record's
``env.device`` says it ran with (oneDNN's kernels and reduction orders depend on it) and a
fresh ``GENQ_CACHE`` (the reference statistics are recomputed, not read from a cache).

Compared: every numeric entry of the record's ``metrics`` (FID, KID, qFID, LPIPS, PSNR, SSIM,
counts), the numeric outcomes in ``quant`` (coverage counts, calibration/reconstruction/QAT
losses and errors; not the settings it echoes and not the ``*_s`` timings), and the model
sizes in ``speed``. Latencies are machine load, not results: not compared (the timing is cut
to one repeat, which cannot change a metric: it runs after scoring).

Tolerance: a value passes when ``|rerun - committed| <= rel * |committed| + abs`` (defaults
rel 1e-4, abs 1e-8); integer values (counts, bytes) must be equal. Why 1e-4: the records were
made on the same CPU type with the same thread count, so a rerun of unchanged numerics is
expected to be bit-identical (verdict ``exact``); 1e-4 admits float noise from a different
reduction order (float32 networks, float64 FID statistics: differences of that kind are
1e-7..1e-5 relative) while a real change of a recipe's numerics (another scale, rounding
rule or calibration set) typically moves qFID/LPIPS/PSNR by far more. A single flipped
int8 rounding may stay under 1e-4: where the integer recipes must stay bit-identical (a
refactor of the engine), run with ``--exact``, which demands bit-identity.

    python scripts/reproduce_records.py             # the default sample (~10 min on 2 busy cores)
    python scripts/reproduce_records.py --list      # what it would rerun
    python scripts/reproduce_records.py --extended  # + the DDPM record of 1,000 samples
    python scripts/reproduce_records.py --only qat  # one study's part of the sample
    python scripts/reproduce_records.py --record results/qat/records/qat/1_dcgan_digits_qat_lsq_w4a4

On 2026-12-02 (genq as of f0780ae, 2 cores shared with other jobs, load ~5) the default sample plus
--extended reproduced all 214 compared values bit for bit (verdict ``exact``); the reruns of
the default sample took ~10 min once the bootstrap was off, the 1,000-sample DDPM of
--extended 12 min more.

Writes ``results/reproduce/<name>.md`` (+ ``.csv`` and ``.json``; name: ``--name``, default
today's date) and exits 1 when any value differs by more than the tolerance or a rerun fails.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import math
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Sample:
    study: str
    record: str          # the record's folder, relative to results/<study>/records
    why: str


# The default sample: cheap records that still cover each study's code paths. Wall times are
# the committed records' (1-2 threads, shared cores). Left out on cost: the DDPM
# reconstruction recipes (BRECQ/Q-Diffusion, 2-3 min each), DDPM QAT (4-5 min).
SAMPLE: tuple[Sample, ...] = (
    Sample("foundation", "1_dcgan_digits_w8a8", "DCGAN W8A8 min-max, 1,000 samples (2 s)"),
    Sample("quant_design_space", "ptq/17_dcgan_digits_w4a4",
           "DCGAN W4A4, per-channel weights, MSE activation search (1 s)"),
    Sample("quant_design_space", "ptq/13_dcgan_digits_w4a4",
           "DCGAN W4A4, per-tensor weights, percentile observer (1 s)"),
    Sample("quant_design_space", "ptq/18_ddpm_digits_w8a8", "DDPM W8A8, per-tensor weights (32 s)"),
    Sample("ptq_methods", "gan/8_dcgan_digits_w4a8_gan_brecq",
           "DCGAN BRECQ + BN re-estimation + bias correction, 300 iters (6 s)"),
    Sample("ptq_methods", "ddpm/4_ddpm_digits_w8a8_tdq",
           "DDPM uniform-timestep calibration, shortcut split, per-timestep scales (76 s)"),
    Sample("qat", "qat/0_dcgan_digits_qat_lsq_w4a8",
           "DCGAN LSQ+ QAT W4A8, 400 steps (the cheapest QAT record; 50 s)"),
)
# --extended adds these: DDPM runs with 1,000 samples or two threads cost minutes each on a
# shared 2-core machine (foundation/3: 698 s there with two threads, against 53 s recorded).
EXTENDED: tuple[Sample, ...] = (
    Sample("foundation", "3_ddpm_digits_w8a8",
           "DDPM W8A8 min-max on FP trajectories, DDIM-25, 1,000 samples, 2 threads (53 s)"),
)

TIMING_KEY = re.compile(r"(_s|_cpu_s)$")
# the record's top-level config keys that do not shape the numbers: a rerun logs nowhere
NOT_REPLAYED = ("logger",)
# forced on the rerun: timing runs after scoring and is not compared, so one repeat suffices
FORCED = {"bench.warmup": 0, "bench.repeats": 1}
# derived from the other settings since issue 16 (genq/config/label.py): a record written before
# keeps the file name it was composed from (``w4a4`` for ``quant=w4a4 quant.observer=mse``), the
# rerun records the derived label (``w4a4_a_mse``); replaying it would pin a user label
DERIVED = {"quant.recipe"}
# settings newer than a record (absent from its config) that only add outputs: off, as the
# record had none of those outputs (bootstrap=200 alone costs minutes per record)
PREDATED = {"metrics.bootstrap": 0, "metrics.compute_pr": False}


# ---------------------------------------------------------------- config of a record

def _leaves(tree: Any, prefix: str = "") -> dict[str, Any]:
    """Dotted key -> value for every leaf of a nested dict (lists are leaves)."""
    if isinstance(tree, dict) and tree:
        out: dict[str, Any] = {}
        for k, v in tree.items():
            out.update(_leaves(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    return {prefix: tree}


def base_overrides(record: dict) -> list[str]:
    """The group options the record was composed from (the rest is set leaf by leaf)."""
    cfg = record["config"]
    out = [f"model={cfg['model']['name']}"]
    recipe = cfg["quant"]["recipe"]
    if (ROOT / "genq" / "configs" / "quant" / f"{recipe}.yaml").exists():
        out.append(f"quant={recipe}")
    if cfg.get("experiment") not in (None, "default"):
        out.append(f"experiment={cfg['experiment']}")
    if cfg.get("bench", {}).get("name"):
        out.append(f"bench={cfg['bench']['name']}")
    return out + ["logger=none"]


def record_config(record: dict) -> tuple[Any, list[str], list[str]]:
    """(config to run, the leaf overrides it took, recorded keys today's schema lacks)."""
    from omegaconf import OmegaConf

    from genq.config import compose_config

    cfg = compose_config(*base_overrides(record))
    composed = _leaves(OmegaConf.to_container(cfg, resolve=True))
    recorded = {k: v for k, v in _leaves(record["config"]).items()
                if k.split(".")[0] not in NOT_REPLAYED and k not in DERIVED}
    recorded.update({k: v for k, v in PREDATED.items() if k not in recorded})
    recorded.update(FORCED)
    applied, missing = [], []
    for key, value in recorded.items():
        if key in composed and composed[key] == value:
            continue
        try:
            OmegaConf.update(cfg, key, value, merge=False)
        except Exception:  # noqa: BLE001 - a key today's schema no longer has
            missing.append(f"{key}={json.dumps(value)}")
            continue
        applied.append(f"{key}={json.dumps(value)}")
    return cfg, applied, missing


def record_threads(record: dict) -> int:
    """Threads the record ran with, from ``env.device`` ('AMD EPYC (2 threads)'); 1 if unsaid."""
    m = re.search(r"\((\d+) threads?\)", str(record.get("env", {}).get("device", "")))
    return int(m.group(1)) if m else 1


# ---------------------------------------------------------------- comparison

def compared_values(record: dict) -> dict[str, float | int]:
    """The numbers a rerun must reproduce (see the module docstring)."""
    out: dict[str, float | int] = {}

    def numeric(v: Any) -> bool:
        return isinstance(v, (int, float)) and not isinstance(v, bool)

    for k, v in record.get("metrics", {}).items():
        if numeric(v) and not TIMING_KEY.search(k):
            out[f"metrics.{k}"] = v
    settings = _leaves(record.get("config", {}).get("quant", {}))
    for k, v in _leaves(record.get("quant", {})).items():
        leaf = k.rsplit(".", 1)[-1]
        if not numeric(v) or TIMING_KEY.search(leaf) or (k in settings and settings[k] == v):
            continue
        out[f"quant.{k}"] = v
    for k in ("model_bytes_fp", "model_bytes"):
        v = record.get("speed", {}).get(k)
        if numeric(v):
            out[f"speed.{k}"] = v
    return out


def verdict(committed: float | int, rerun: Any, rel: float, abs_: float, exact: bool) -> str:
    if rerun is None:
        return "MISSING"
    if not isinstance(rerun, (int, float)) or isinstance(rerun, bool):
        return "DIFF"
    if committed == rerun or (isinstance(committed, float) and math.isnan(committed) and math.isnan(rerun)):
        return "exact"
    if exact or (isinstance(committed, int) and isinstance(rerun, int)):
        return "DIFF"
    if not math.isfinite(rerun):
        return "DIFF"
    return "noise" if abs(rerun - committed) <= rel * abs(committed) + abs_ else "DIFF"


def compare(name: str, committed: dict, rerun: dict | None, rel: float, abs_: float,
            exact: bool) -> list[dict[str, Any]]:
    want = compared_values(committed)
    got = compared_values(rerun) if rerun else {}
    rows = []
    for key, c in want.items():
        r = got.get(key)
        d = None if r is None or isinstance(r, bool) else r - c
        rows.append({"record": name, "metric": key, "committed": c, "rerun": r,
                     "abs_diff": None if d is None else abs(d),
                     "rel_diff": None if d is None else (abs(d) / abs(c) if c else (0.0 if d == 0 else math.inf)),
                     "verdict": verdict(c, r, rel, abs_, exact)})
    for key in sorted(set(got) - set(want)):
        rows.append({"record": name, "metric": key, "committed": None, "rerun": got[key], "abs_diff": None,
                     "rel_diff": None, "verdict": "new"})
    return rows


# ---------------------------------------------------------------- running

def run_worker(record_dir: Path, out_dir: Path) -> None:
    """In the child process: compose the record's config and run it into ``out_dir``."""
    import torch

    record = json.loads((record_dir / "result.json").read_text())
    torch.set_num_threads(record_threads(record))
    from genq.run import run_experiment

    cfg, applied, missing = record_config(record)
    print("rerun: genq " + " ".join(base_overrides(record) + applied), flush=True)
    if missing:
        print("rerun: recorded keys today's config does not have (not applied): " + " ".join(missing), flush=True)
    (out_dir / "overrides.json").write_text(json.dumps({"base": base_overrides(record), "applied": applied,
                                                        "missing": missing}, indent=1))
    run_experiment(cfg, out_dir)


def rerun(sample_dir: Path, out_dir: Path, cache: Path, log: Path) -> tuple[dict | None, float, str]:
    """(rerun record or None, wall seconds, one-line note) of one committed record."""
    record = json.loads((sample_dir / "result.json").read_text())
    threads = str(record_threads(record))
    env = {**os.environ, "GENQ_CACHE": str(cache), "OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads,
           "HF_HUB_OFFLINE": "1", "WANDB_MODE": "disabled",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    result, wall_file = out_dir / "result.json", out_dir / "rerun_wall_s"
    reused = result.exists() and wall_file.exists()
    if reused:                               # --keep: a rerun finished by an earlier invocation
        wall, returncode = float(wall_file.read_text()), 0
    else:
        out_dir.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        with log.open("w") as fh:
            returncode = subprocess.run([sys.executable, __file__, "--worker", str(sample_dir), str(out_dir)],
                                        env=env, stdout=fh, stderr=subprocess.STDOUT, cwd=out_dir).returncode
        wall = time.perf_counter() - start
        if result.exists():
            wall_file.write_text(f"{wall:.1f}\n")
    over = json.loads((out_dir / "overrides.json").read_text()) if (out_dir / "overrides.json").exists() else {}
    note = (f"{'reused from --keep; ' if reused else ''}{threads} thread(s); "
            f"overrides: {' '.join(over.get('base', []) + over.get('applied', []))}")
    if over.get("missing"):
        note += f"; NOT APPLIED (unknown to today's config): {' '.join(over['missing'])}"
    if returncode != 0 or not result.exists():
        tail = log.read_text()[-1500:]
        return None, wall, f"rerun failed (exit {returncode}); log {log}:\n{tail}"
    return json.loads(result.read_text()), wall, note


# ---------------------------------------------------------------- output

def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.6g}" if v == 0 or 1e-4 <= abs(v) < 1e6 else f"{v:.3e}"
    return str(v)


def write_outputs(out: Path, rows: list[dict], runs: list[dict], args: argparse.Namespace) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    counts = {v: sum(r["verdict"] == v for r in rows) for v in ("exact", "noise", "DIFF", "MISSING", "new")}
    total_s = sum(r["wall_s"] for r in runs)
    lines = [f"# Committed records rerun ({dt.datetime.now().strftime('%Y-%m-%d %H:%M')})", "",
             f"Made by `python scripts/reproduce_records.py{' ' + ' '.join(args.argv) if args.argv else ''}` "
             f"at git {_git_sha()}. Tolerance: |rerun - committed| <= {args.rel:g} x |committed| + {args.abs:g}"
             f"{' (bit-identity demanded: --exact)' if args.exact else ''}; integers equal.", "",
             f"Values: {len(rows)}; exact {counts['exact']}, within float noise {counts['noise']}, "
             f"beyond tolerance {counts['DIFF']}, missing {counts['MISSING']}, new {counts['new']}. "
             f"Reruns: {len(runs)}, {total_s:.0f} s in all.", "",
             "| record | rerun s (committed s) | note |", "|---|---|---|"]
    for r in runs:
        lines.append(f"| {r['record']} | {r['wall_s']:.0f} ({_fmt(r['committed_wall_s'])}) | "
                     f"{r['note'].splitlines()[0]} |")
    lines += ["", "| record | metric | committed | rerun | abs diff | rel diff | verdict |",
              "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append("| " + " | ".join([r["record"], r["metric"], _fmt(r["committed"]), _fmt(r["rerun"]),
                                        _fmt(r["abs_diff"]), _fmt(r["rel_diff"]), r["verdict"]]) + " |")
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    with out.with_suffix(".csv").open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]) if rows else ["record"])
        w.writeheader()
        w.writerows(rows)
    out.with_suffix(".json").write_text(json.dumps({"tolerance": {"rel": args.rel, "abs": args.abs,
                                                                  "exact": args.exact},
                                                    "counts": counts, "runs": runs, "values": rows}, indent=1))


def _git_sha() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                              text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def print_table(rows: list[dict]) -> None:
    head = ("record", "metric", "committed", "rerun", "abs diff", "rel diff", "verdict")
    body = [(r["record"], r["metric"], _fmt(r["committed"]), _fmt(r["rerun"]), _fmt(r["abs_diff"]),
             _fmt(r["rel_diff"]), r["verdict"]) for r in rows]
    widths = [max(len(x) for x in col) for col in zip(head, *body)]
    for line in (head, *body):
        print("  ".join(x.ljust(w) for x, w in zip(line, widths)))


# ---------------------------------------------------------------- main

def selected(args: argparse.Namespace) -> list[tuple[str, Path]]:
    if args.record:
        return [(str(Path(p).resolve().relative_to(ROOT / "results")) if Path(p).resolve().is_relative_to(
            ROOT / "results") else p, Path(p).resolve()) for p in args.record]
    picks = [s for s in SAMPLE + (EXTENDED if args.extended else ()) if not args.only or s.study in args.only]
    picks.sort(key=lambda s: [x.study for x in SAMPLE].index(s.study))
    return [(f"{s.study}/{s.record}", ROOT / "results" / s.study / "records" / s.record) for s in picks]


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--worker"]:
        run_worker(Path(argv[1]), Path(argv[2]))
        return 0
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--list", action="store_true", help="print the sample and exit")
    p.add_argument("--extended", action="store_true", help="add the costly records of EXTENDED to the sample")
    p.add_argument("--only", action="append", choices=sorted({s.study for s in SAMPLE}),
                   help="only this study's records (repeatable)")
    p.add_argument("--record", action="append", help="a record folder to rerun instead of the sample (repeatable)")
    p.add_argument("--rel", type=float, default=1e-4, help="relative tolerance (default 1e-4)")
    p.add_argument("--abs", type=float, default=1e-8, help="absolute tolerance added to it (default 1e-8)")
    p.add_argument("--exact", action="store_true", help="demand bit-identical values")
    p.add_argument("--name", default=dt.date.today().isoformat(),
                   help="output name under results/reproduce/ (default: today's date; e.g. latest)")
    p.add_argument("--out-dir", type=Path, default=ROOT / "results" / "reproduce")
    p.add_argument("--keep", type=Path, help="keep the rerun folders here (default: a temporary folder); "
                   "reruns already finished there are reused, so an interrupted run resumes")
    args = p.parse_args(argv)
    args.argv = argv
    picks = selected(args)
    if args.list:
        for name, path in picks:
            rec = json.loads((path / "result.json").read_text())
            why = next((s.why for s in SAMPLE + EXTENDED if f"{s.study}/{s.record}" == name), "")
            print(f"{name:55s} {rec.get('wall_s', '?'):>7}s  {record_threads(rec)} thr  {why}")
            print(f"    genq {' '.join(base_overrides(rec))} + {len(_leaves(rec['config']))} recorded leaves")
        return 0

    work = args.keep or Path(tempfile.mkdtemp(prefix="genq-reproduce-"))
    cache = work / "genq-cache"
    rows: list[dict] = []
    runs: list[dict] = []
    for i, (name, path) in enumerate(picks):
        committed = json.loads((path / "result.json").read_text())
        slug = name.replace("/", "__")
        print(f"[{i + 1}/{len(picks)}] {name} ...", flush=True)
        record, wall, note = rerun(path, work / slug, cache, work / f"{slug}.log")
        print(f"    {wall:.0f} s; {note}", flush=True)
        runs.append({"record": name, "wall_s": round(wall, 1), "committed_wall_s": committed.get("wall_s"),
                     "ok": record is not None, "note": note})
        rows += compare(name, committed, record, args.rel, args.abs, args.exact)
    print_table(rows)
    out = args.out_dir / args.name
    write_outputs(out, rows, runs, args)
    bad = [r for r in rows if r["verdict"] in ("DIFF", "MISSING")]
    failed = [r for r in runs if not r["ok"]]
    print(f"\nwrote {out.with_suffix('.md')} (+ .csv, .json); reruns {sum(r['wall_s'] for r in runs):.0f} s; "
          f"{len(bad)} value(s) beyond tolerance, {len(failed)} failed rerun(s)")
    return 1 if bad or failed else 0


if __name__ == "__main__":
    sys.exit(main())
