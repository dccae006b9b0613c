"""``genq-report SWEEP_DIR... --out DIR``: tables (Markdown, CSV, LaTeX) and figures
(quality vs bits, quality-vs-speed Pareto front, a montage of sample grids) from every
``result.json`` below the given folders. Failed runs are listed, not tabulated."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from genq.report.figures import plot_pareto, plot_quality_vs_bits, sample_montage
from genq.report.latex import latex_table
from genq.report.tables import markdown_table, sort_key, write_csv
from genq.tracking.record import finished_records


def build_report(dirs: list[str], out: str | Path) -> dict[str, Path]:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    finished = finished_records(*dirs)
    if not finished:
        raise SystemExit(f"genq-report: no finished result.json under {' '.join(dirs)}")
    records = sorted((record for _, record in finished), key=sort_key)
    grids = [(f"{r['model']} {r['quant']['recipe']} ({p.parent.name})", p.parent / "samples.png")
             for p, r in finished if (p.parent / "samples.png").exists()]
    written = {"md": out / "table.md", "csv": out / "table.csv", "tex": out / "table.tex"}
    written["md"].write_text(markdown_table(records))
    write_csv(records, written["csv"])
    written["tex"].write_text(latex_table(records))
    written["bits"] = plot_quality_vs_bits(records, out / "quality_vs_bits.png")
    written["pareto"] = plot_pareto(records, out / "pareto.png")
    montage = sample_montage(grids, out / "samples_montage.png")
    if montage:
        written["montage"] = montage
    print(f"genq-report: {len(records)} finished runs -> {out}")
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="genq-report", description=__doc__.splitlines()[0])
    parser.add_argument("dirs", nargs="+", help="sweep or run folders holding result.json files")
    parser.add_argument("--out", required=True, help="folder for the tables and figures")
    args = parser.parse_args(argv)
    build_report(args.dirs, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
