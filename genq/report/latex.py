"""A booktabs LaTeX table of result records (the same columns as the Markdown table)."""

from __future__ import annotations

from typing import Any

from genq.report.tables import COLUMNS, rows


def _tex(v: Any) -> str:
    if v is None:
        return "--"
    text = f"{v:.4g}" if isinstance(v, float) else str(v)
    return text.replace("_", r"\_").replace("%", r"\%").replace("&", r"\&")


def latex_table(records: list[dict[str, Any]], caption: str = "genq results") -> str:
    head = " & ".join(_tex(name) for name, _ in COLUMNS)
    body = "\n".join("    " + " & ".join(_tex(v) for v in row) + r" \\" for row in rows(records))
    return (
        "\\begin{table}[t]\n  \\centering\n  \\small\n"
        f"  \\begin{{tabular}}{{{'l' * len(COLUMNS)}}}\n    \\toprule\n    {head} \\\\\n    \\midrule\n"
        f"{body}\n    \\bottomrule\n  \\end{{tabular}}\n  \\caption{{{_tex(caption)}}}\n\\end{{table}}\n")
