"""The columns the report tables share: what identifies a row (model, recipe, quantizer
settings), the quality metrics, and the run's size and timing fields. Each is a
(header, getter of a result record) pair; metrics are (header, key in ``record["metrics"]``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Column = tuple[str, Callable[[dict[str, Any]], Any]]

KEY_COLUMNS: tuple[Column, ...] = (
    ("model", lambda r: r["model"]), ("recipe", lambda r: r["quant"]["recipe"]),
    ("method", lambda r: r["quant"]["method"]),
    ("W", lambda r: r["quant"]["w_bits"] or "fp"), ("A", lambda r: r["quant"]["a_bits"] or "fp"),
    ("granularity", lambda r: r["quant"].get("granularity")),
    ("observer", lambda r: r["quant"].get("observer")))

# The quality metrics the tables show, in order; lower is better except where noted in
# genq.report.compare.HIGHER_IS_BETTER.
METRICS: tuple[tuple[str, str], ...] = (
    ("FID", "fid"), ("FID FP", "fid_fp"), ("KID", "kid"), ("qFID", "qfid"),
    ("LPIPS vs FP", "lpips_vs_fp"), ("PSNR vs FP", "psnr_vs_fp"), ("precision", "precision"),
    ("recall", "recall"), ("density", "density"), ("coverage", "coverage"))

# The metrics every record-level table shows, even where no record has them (as before
# seed aggregation); the others only appear when some record has them.
ALWAYS_SHOWN = ("fid", "fid_fp", "kid", "qfid", "lpips_vs_fp", "psnr_vs_fp")

TAIL_COLUMNS: tuple[Column, ...] = (
    ("n", lambda r: r["metrics"].get("n_samples")),
    ("ms/img", lambda r: r["speed"].get("latency_ms_per_image")),
    ("ms/img FP", lambda r: r["speed"].get("latency_ms_per_image_fp")),
    ("backend", lambda r: r["speed"].get("backend")),
    ("bytes", lambda r: r["speed"].get("model_bytes")))


def metric_getter(key: str) -> Callable[[dict[str, Any]], Any]:
    """A column getter for ``record["metrics"][key]`` (None where absent)."""
    return lambda r: r["metrics"].get(key)

