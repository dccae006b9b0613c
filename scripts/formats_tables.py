"""Tables and figure of the formats study (issue 18) from the sweeps of
scripts/reproduce_formats.sh: copies every finished record to ``<out>/records``, writes the
seed-aggregated genq-report (mean and 95% t-interval over seeds, pairwise comparisons), a
compact ``summary.md`` (per model: bits, weight/activation format, outlier method, effective
bits, FID, KID, qFID, LPIPS vs FP, calibration time) and ``quality_vs_effective_bits.png``.

    python scripts/formats_tables.py multirun/formats --out results/formats
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path
from typing import Any

from genq.quant.formats import parse_format
from genq.report.aggregate import AggregatedRow, aggregate
from genq.report.cli import build_report
from genq.tracking.record import finished_records

METRICS = (("FID", "fid"), ("KID", "kid"), ("qFID", "qfid"), ("LPIPS vs FP", "lpips_vs_fp"))
METHODS = ("none", "smooth", "rotate", "svd")


def describe(record: dict[str, Any]) -> dict[str, Any]:
    """The study's coordinates of one record: bits head, weight and activation format,
    outlier method (or QAT), samples."""
    q = record["quant"]
    cfg = (record.get("config") or {}).get("quant", {})
    if q.get("method") == "fp32" or q.get("w_bits") is None and not cfg.get("w_format"):
        return {"bits": "FP32", "w_format": "-", "a_format": "-", "method": "-",
                "n": record["metrics"].get("n_samples")}
    w_fmt = cfg.get("w_format") or f"int{q['w_bits']}"
    if not cfg.get("w_format") and q.get("granularity") == "per_group":
        w_fmt += f" g{q.get('group_size')}"
    a_fmt = cfg.get("a_format") or f"int{q['a_bits']}"
    outlier = (cfg.get("outlier") or {}).get("method", "none")
    if outlier == "svd":
        rank = (cfg.get("outlier") or {}).get("rank")
        outlier = f"svd r{int(rank) if float(rank).is_integer() else rank}"
    if q.get("method") == "qat":           # QAT from that recipe's PTQ (no outlier method)
        rank = (q.get("qat") or {}).get("lora_rank")
        outlier = f"QAT LoRA r{rank}" if rank else "QAT"
    w_bits, a_bits = (parse_format(cfg[f"{r}_format"]).bits if cfg.get(f"{r}_format") else q.get(f"{r}_bits")
                      for r in ("w", "a"))      # records before run.py took the bits from the format
    return {"bits": f"W{w_bits}A{a_bits}", "w_format": w_fmt, "a_format": a_fmt,
            "method": outlier, "n": record["metrics"].get("n_samples")}


def _sort_key(row: AggregatedRow) -> tuple:
    d = describe(row.record)
    method = d["method"].split(" ")[0]
    return (row.model, d["bits"] != "FP32", d["bits"], d["w_format"], d["n"] or 0,
            METHODS.index(method) if method in METHODS else 9)


def summary_markdown(rows: list[AggregatedRow]) -> str:
    """One line per aggregated row: coordinates, effective bits, quality (mean ± half-width
    of the 95% t-interval over the k seeds) and calibration seconds (mean)."""
    head = ("| model | bits | W format | A format | outliers | n | k | eff. W bits | eff. A bits | "
            + " | ".join(name for name, _ in METRICS) + " | calib. s |")
    lines = [head, "|" + "---|" * (10 + len(METRICS))]
    for row in sorted(rows, key=_sort_key):
        d = describe(row.record)
        q = row.quant
        ew, ea = q.get("effective_w_bits"), q.get("effective_a_bits")
        calib = [r["quant"].get("calibration_s") for r in row.records if r["quant"].get("calibration_s") is not None]
        calib_s = f"{sum(calib) / len(calib):.1f}" if calib else "-"
        lines.append(
            f"| {row.model} | {d['bits']} | {d['w_format']} | {d['a_format']} | {d['method']} | {d['n']} | "
            f"{row.n_seeds} | {'-' if ew is None else f'{ew:.2f}'} | {'-' if ea is None else f'{ea:.2f}'} | "
            + " | ".join(row.cell(metric) for _, metric in METRICS)
            + f" | {calib_s} |")
    return "\n".join(lines) + "\n"


def figure(rows: list[AggregatedRow], path: Path, metric: str = "fid") -> None:
    """Quality (mean with 95% t-interval) against effective weight bits, one panel per model
    (two per row), colour per weight format, marker per outlier method (a star: QAT); the FP32
    row as a line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    models = sorted({r.model for r in rows})
    cols = min(2, len(models))
    fig, axes = plt.subplots(-(-len(models) // cols), cols, figsize=(6.5 * cols, 4.5 * -(-len(models) // cols)),
                             squeeze=False)
    for ax in axes.flat[len(models):]:
        ax.set_visible(False)
    markers = {"none": "o", "smooth": "s", "rotate": "^", "svd": "D", "QAT": "*"}
    formats = sorted({describe(r.record)["w_format"] for r in rows} - {"-"})
    colours = {f: plt.cm.tab10(i % 10) for i, f in enumerate(formats)}
    for ax, model in zip(axes.flat, models):
        for row in (r for r in rows if r.model == model):
            d, m = describe(row.record), row.metrics.get(metric)
            if m is None:
                continue
            if d["bits"] == "FP32":
                ax.axhline(m.mean, color="k", lw=1, ls="--", label="FP32")
                continue
            x = row.quant.get("effective_w_bits")
            if x is None:
                continue
            err = None if m.ci95 is None else [[m.mean - m.ci95[0]], [m.ci95[1] - m.mean]]
            ax.errorbar(x, m.mean, yerr=err, fmt=markers.get(d["method"].split(" ")[0], "x"),
                        color=colours[d["w_format"]], mfc="none" if d["bits"].endswith("A8") else None,
                        capsize=2, ms=6)
        ax.set_yscale("log")
        ax.set_xlabel("effective weight bits (elements + scales + low-rank branch)")
        ax.set_ylabel(f"{metric} (mean, 95% t-interval over seeds)")
        ax.set_title(f"{model}: filled = 4-bit activations, open = 8-bit")
        for f, c in colours.items():
            ax.plot([], [], "o", color=c, label=f)
        for meth, mk in markers.items():
            ax.plot([], [], mk, color="grey", label=meth)
        ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sweeps", help="the sweep folder of scripts/reproduce_formats.sh")
    parser.add_argument("--out", default="results/formats")
    args = parser.parse_args()
    out = Path(args.out)
    shutil.rmtree(out / "records", ignore_errors=True)
    finished = finished_records(args.sweeps)
    for path, _ in finished:
        dest = out / "records" / path.parent.relative_to(args.sweeps)
        dest.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, dest / path.name)
    print(f"{len(finished)} records")
    build_report([str(out / "records")], out, rank_metric="fid")
    rows = aggregate(record for _, record in finished_records(out / "records"))
    (out / "summary.md").write_text(summary_markdown(rows))
    for metric in ("fid", "qfid"):
        figure(rows, out / f"{metric}_vs_effective_bits.png", metric)
    print((out / "summary.md").read_text())


if __name__ == "__main__":
    main()
