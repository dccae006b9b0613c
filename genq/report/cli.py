"""``genq-report SWEEP_DIR... --out DIR [--rank-metric fid]``: tables and figures from every
``result.json`` below the given folders, with rows aggregated over seeds. Runs that differ
only in ``seed`` and ``quant.seed`` are one row: each metric its mean ± the 95% t-interval
over the seeds (just the mean with one seed), and a "vs best" verdict against the best row
of its model on the ranking metric. Written: ``table.md``/``.csv``/``.tex`` (aggregated),
``records.csv`` (one row per run), ``compare.md``/``.csv`` (every pair of rows of a model,
paired t over their shared seeds), ``quality_vs_bits.png`` and ``pareto.png`` (means with
t-interval error bars), ``samples_montage.png``. Failed runs are listed, not tabulated."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from genq.report.aggregate import aggregate
from genq.report.compare_table import compare_markdown, write_compare_csv
from genq.report.figures import plot_pareto, plot_quality_vs_bits, sample_montage
from genq.report.latex import aggregated_latex
from genq.report.seed_table import aggregated_markdown, write_aggregated_csv
from genq.report.tables import sort_key, write_csv
from genq.tracking.record import finished_records


def build_report(dirs: list[str], out: str | Path, rank_metric: str = "fid") -> dict[str, Path]:
    """Write the report of the finished runs below ``dirs`` into ``out``, rows aggregated
    over seeds and ranked on ``rank_metric``; return the written files by kind."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    finished = finished_records(*dirs)
    if not finished:
        raise SystemExit(f"genq-report: no finished result.json under {' '.join(dirs)}")
    records = sorted((record for _, record in finished), key=sort_key)
    rows = aggregate(records)
    if all(row.mean(rank_metric) is None for row in rows):
        print(f"genq-report: no run has the ranking metric {rank_metric!r}", file=sys.stderr)
    grids = [(f"{r['model']} {r['quant']['recipe']} ({p.parent.name})", p.parent / "samples.png")
             for p, r in finished if (p.parent / "samples.png").exists()]
    written = {"md": out / "table.md", "csv": out / "table.csv", "tex": out / "table.tex",
               "records": out / "records.csv", "compare": out / "compare.md",
               "compare_csv": out / "compare.csv"}
    written["md"].write_text(aggregated_markdown(rows, rank_metric))
    write_aggregated_csv(rows, written["csv"], rank_metric)
    written["tex"].write_text(aggregated_latex(rows, rank_metric))
    write_csv(records, written["records"])
    written["compare"].write_text(compare_markdown(rows, rank_metric))
    write_compare_csv(rows, written["compare_csv"], rank_metric)
    written["bits"] = plot_quality_vs_bits(rows, out / "quality_vs_bits.png")
    written["pareto"] = plot_pareto(rows, out / "pareto.png", metric=rank_metric)
    montage = sample_montage(grids, out / "samples_montage.png")
    if montage:
        written["montage"] = montage
    print(f"genq-report: {len(records)} finished runs in {len(rows)} rows (aggregated over seeds) -> {out}")
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="genq-report", description=" ".join(__doc__.split()))
    parser.add_argument("dirs", nargs="+", help="sweep or run folders holding result.json files")
    parser.add_argument("--out", required=True, help="folder for the tables and figures")
    parser.add_argument("--rank-metric", default="fid",
                        help="metric key the 'vs best' column, the Pareto plot and compare.md rank "
                             "rows on (fid, kid, qfid, lpips_vs_fp...; default fid)")
    args = parser.parse_args(argv)
    build_report(args.dirs, args.out, rank_metric=args.rank_metric)
    return 0


if __name__ == "__main__":
    sys.exit(main())
