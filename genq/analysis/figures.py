"""Figures of the diagnostics (matplotlib, written as PNG)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def _save(fig, out: str | Path) -> Path:
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return Path(out)


def sensitivity_bars(rows: list[dict[str, Any]], title: str, out: str | Path) -> Path:
    rows = sorted(rows, key=lambda r: r["only_lpips_vs_fp"])
    fig, ax = plt.subplots(figsize=(7, 0.28 * len(rows) + 1.2))
    y = np.arange(len(rows))
    ax.barh(y - 0.2, [r["only_lpips_vs_fp"] for r in rows], 0.4, label="only this unit quantized")
    ax.barh(y + 0.2, [r["all_but_lpips_vs_fp"] for r in rows], 0.4, label="all but this unit")
    ax.axvline(rows[0]["full_lpips_vs_fp"], color="k", ls="--", lw=1, label="all quantized")
    ax.set_yticks(y, [r["unit"] for r in rows], fontsize=7)
    ax.set_xlabel("LPIPS vs FP (digits-classifier features)")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7)
    return _save(fig, out)


def timestep_heatmap(rows: list[dict[str, Any]], title: str, out: str | Path) -> Path:
    layers = sorted({r["layer"] for r in rows}, key=lambda n: [r["layer"] for r in rows].index(n))
    steps = sorted({r["timestep"] for r in rows}, reverse=True)
    grid = np.zeros((len(layers), len(steps)))
    for r in rows:
        grid[layers.index(r["layer"]), steps.index(r["timestep"])] = r["absmax"]
    grid = grid / grid.max(axis=1, keepdims=True)
    fig, ax = plt.subplots(figsize=(8, 0.12 * len(layers) + 1.5))
    im = ax.imshow(grid, aspect="auto", cmap="viridis")
    ax.set_xticks(range(0, len(steps), max(1, len(steps) // 10)), steps[::max(1, len(steps) // 10)], fontsize=7)
    ax.set_yticks(range(len(layers)), layers, fontsize=4)
    ax.set_xlabel("timestep (sampling order, left to right)")
    ax.set_title(title, fontsize=9)
    fig.colorbar(im, ax=ax, label="input absmax / layer's max over timesteps")
    return _save(fig, out)


def trajectory_lines(curves: dict[str, list[dict[str, Any]]], title: str, out: str | Path) -> Path:
    fig, ax = plt.subplots(figsize=(6, 3.6))
    for label, rows in curves.items():
        steps = [r["step"] for r in rows]
        line, = ax.plot(steps, [r["total"] for r in rows], label=f"{label}: total")
        ax.plot(steps, [r["introduced"] for r in rows], ls="--", color=line.get_color(),
                label=f"{label}: introduced at the step")
    ax.set_yscale("log")
    ax.set_xlabel("sampling step")
    ax.set_ylabel("RMS distance to FP trajectory")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7)
    return _save(fig, out)


def latent_error_bars(curves: dict[str, list[dict[str, Any]]], title: str, out: str | Path) -> Path:
    fig, ax = plt.subplots(figsize=(6, 3.4))
    for label, rows in curves.items():
        mids = [(r["norm_lo"] + r["norm_hi"]) / 2 for r in rows]
        ax.plot(mids, [r["lpips_vs_fp"] for r in rows], marker="o", label=label)
    ax.set_xlabel("latent norm ||z|| (typical: sqrt(dim))")
    ax.set_ylabel("LPIPS vs FP")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7)
    return _save(fig, out)


def kept_bars(rows: list[dict[str, Any]], title: str, out: str | Path) -> Path:
    recipes = sorted({r["recipe"] for r in rows})
    models = sorted({r["model"] for r in rows})
    fig, ax = plt.subplots(figsize=(6, 3.4))
    width = 0.8 / len(models)
    for i, model in enumerate(models):
        vals = [next((r["quality_kept"] for r in rows if r["model"] == model and r["recipe"] == rec), 0)
                for rec in recipes]
        ax.bar(np.arange(len(recipes)) + i * width, vals, width, label=model)
    ax.set_xticks(np.arange(len(recipes)) + 0.4 - width / 2, recipes)
    ax.axhline(1.0, color="k", lw=0.8)
    ax.set_ylabel("fraction of FP quality kept")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7)
    return _save(fig, out)
