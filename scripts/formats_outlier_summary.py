#!/usr/bin/env python
"""Median and maximum over layers of the outlier statistics ``genq-analyze --outliers`` wrote
(activation and weight kurtosis, channel max/median ratio, before and after each outlier
method) per model: ``<dir>/outlier_summary.md``, the table results/formats/README.md quotes.

    scripts/formats_outlier_summary.py results/formats/outliers
"""

from __future__ import annotations

import csv
import statistics
import sys
from pathlib import Path

STATS = ["act_kurtosis", "act_ratio", "w_kurtosis", "w_ratio"]


def summarize(folder: Path) -> str:
    lines = ["Per model and outlier method, over the quantized layers: median / max of each statistic",
             "before -> after the method (kurtosis 3 = Gaussian tails; ratio = largest channel's absolute",
             "maximum over the median channel's).", "",
             "| model | method | layers | " + " | ".join(STATS) + " |", "|---|---|---|" + "---|" * len(STATS)]
    for path in sorted(folder.glob("outliers_*.csv")):
        rows = list(csv.DictReader(path.open()))
        model = path.stem.removeprefix("outliers_")
        for method in dict.fromkeys(r["method"] for r in rows):
            sub = [r for r in rows if r["method"] == method]
            cells = []
            for s in STATS:
                before = [float(r[f"{s}_before"]) for r in sub if r[f"{s}_before"] not in ("", "None")]
                after = [float(r[f"{s}_after"]) for r in sub if r[f"{s}_after"] not in ("", "None")]
                cells.append(f"{statistics.median(before):.2f} / {max(before):.2f} -> "
                             f"{statistics.median(after):.2f} / {max(after):.2f}")
            lines.append(f"| {model} | {method} | {len(sub)} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    folder = Path(sys.argv[1] if len(sys.argv) > 1 else "results/formats/outliers")
    text = summarize(folder)
    (folder / "outlier_summary.md").write_text(text)
    print(text)
