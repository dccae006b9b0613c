"""Booktabs LaTeX tables: of seed-aggregated rows (the columns of the aggregated Markdown
table, metric cells "mean $\\pm$ half-width"), or of result records (one row per record)."""

from __future__ import annotations

from typing import Any

from genq.report.aggregate import AggregatedRow
from genq.report.seed_table import format_cell, table
from genq.report.tables import record_columns, rows


def _escape(text: str) -> str:
    return text.replace("_", r"\_").replace("%", r"\%").replace("&", r"\&")


def _tex(v: Any) -> str:
    if v is None:
        return "--"
    return _escape(f"{v:.4g}" if isinstance(v, float) else str(v))


def _tabular(head: list[str], body: list[list[str]], caption: str) -> str:
    lines = "\n".join("    " + " & ".join(cells) + r" \\" for cells in body)
    return (
        "\\begin{table}[t]\n  \\centering\n  \\small\n"
        f"  \\begin{{tabular}}{{{'l' * len(head)}}}\n    \\toprule\n    {' & '.join(head)} \\\\\n"
        f"    \\midrule\n{lines}\n    \\bottomrule\n  \\end{{tabular}}\n  \\caption{{{_tex(caption)}}}\n"
        "\\end{table}\n")


def latex_table(records: list[dict[str, Any]], caption: str = "genq results") -> str:
    """One row per record (the columns of ``genq.report.tables.record_columns``)."""
    columns = record_columns(records)
    return _tabular([_tex(name) for name, _ in columns],
                    [[_tex(v) for v in row] for row in rows(records, columns)], caption)


def aggregated_latex(rows_: list[AggregatedRow], rank_metric: str = "fid",
                     caption: str = "genq results, mean $\\pm$ 95% t-interval over seeds") -> str:
    """One row per seed-aggregated setting (genq.report.seed_table)."""
    head, body = table(rows_, rank_metric)
    return _tabular([_tex(name) for name in head],
                    [[_tex(v) if v is None else _escape(format_cell(v, pm="$\\pm$")) for v in cells]
                     for cells in body], caption)
