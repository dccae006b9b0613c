"""Figures of an attribution: the fitted effect of every cell (layers x timestep windows,
one panel per quantized option) and predicted vs measured loss on held-out configurations."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from genq.analysis.figures import _save, plt


def effect_heatmap(effects: np.ndarray, groups: list[str], windows: list[tuple[int, int]],
                   options: list[str], metric: str, title: str, out: str | Path) -> Path:
    """``effects`` (cells x options, cell = group x window): one panel per quantized option,
    rows the groups in the order the network defines them, columns the windows in sampling order (noise first)."""
    n_opt = len(options) - 1
    fig, axes = plt.subplots(1, n_opt, figsize=(2.0 + 1.2 * len(windows) * n_opt, 0.32 * len(groups) + 1.6),
                             squeeze=False)
    grid = effects.reshape(len(groups), len(windows), len(options))
    vmax = max(float(np.abs(grid[:, :, 1:]).max()), 1e-12)
    for j, ax in enumerate(axes[0]):
        im = ax.imshow(grid[:, :, j + 1], cmap="RdBu_r", vmin=-vmax, vmax=vmax, aspect="auto")
        ax.set_xticks(range(len(windows)), [f"{s}-{e - 1}" for s, e in windows], fontsize=7)
        ax.set_yticks(range(len(groups)), groups if j == 0 else [""] * len(groups), fontsize=7)
        ax.set_xlabel("sampler steps (window)", fontsize=8)
        ax.set_title(options[j + 1], fontsize=8)
        for (r, c), v in np.ndenumerate(grid[:, :, j + 1]):
            ax.text(c, r, f"{v:.2g}", ha="center", va="center", fontsize=6)
    fig.colorbar(im, ax=axes[0].tolist(), label=f"fitted {metric} added by the cell")
    fig.suptitle(title, fontsize=9)
    fig.savefig(out, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return Path(out)


def predicted_vs_measured(pred: np.ndarray, measured: np.ndarray, metric: str, spearman: float | None,
                          title: str, out: str | Path) -> Path:
    fig, ax = plt.subplots(figsize=(4.2, 4))
    ax.scatter(measured, pred, s=12, alpha=0.7)
    lo, hi = float(min(pred.min(), measured.min())), float(max(pred.max(), measured.max()))
    ax.plot([lo, hi], [lo, hi], "k--", lw=1)
    ax.set_xlabel(f"measured {metric}")
    ax.set_ylabel(f"predicted {metric} (additive model)")
    rho = "n/a" if spearman is None else f"{spearman:.3f}"
    ax.set_title(f"{title}\nheld-out n={len(measured)}, Spearman {rho}", fontsize=8)
    return _save(fig, out)


def view_heatmap(groups: list[str], effects: np.ndarray, cells: list[str], option: str, kind: str,
                 title: str, out: str | Path) -> Path:
    """Per-group fitted LPIPS effects (groups x cells) of one quantized option: which cells
    matter for which class / latent quartile; each row normalised by its largest effect."""
    scale = np.maximum(effects.max(axis=1, keepdims=True), 1e-12)
    fig, ax = plt.subplots(figsize=(2.5 + 0.28 * len(cells), 0.3 * len(groups) + 2.2))
    im = ax.imshow(effects / scale, cmap="viridis", vmin=0, vmax=1, aspect="auto")
    ax.set_xticks(range(len(cells)), cells, rotation=90, fontsize=6)
    ax.set_yticks(range(len(groups)), groups, fontsize=7)
    ax.set_xlabel("cell (layer group @ sampler steps)", fontsize=8)
    ax.set_ylabel(kind, fontsize=8)
    fig.colorbar(im, ax=ax, label=f"{option}: LPIPS effect / row max")
    ax.set_title(title, fontsize=8)
    return _save(fig, out)
