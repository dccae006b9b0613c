"""Per-class and per-sample views of an attribution (issue 19): which cells matter for which
classes of a class-conditional model, and for atypical latents of a GAN.

Every measurement keeps the paired LPIPS of each sample against its FP counterpart
(``lpips_per_sample``), on the same noise bank for every configuration, so a view costs no
extra sampling: the rows are regrouped by sample and the additive model
(:mod:`genq.analysis.attribution.additive`) is fitted to each group's mean LPIPS over the
same training configurations, then judged on the same held-out ones. Groups:

- class-conditional models (DiT, guided or not): the class of every noise row
  (:func:`genq.models.guided_dit.labels_of_noise`, the classes the sampler conditions on);
- GANs: quartiles of the latent's norm ``|z|`` (StyleGAN's noise rows also hold the
  per-pixel noise: only the ``z_dim`` latent entries count); for a Gaussian latent the top quartile holds
  the atypical draws that truncation (Karras et al. 2019, arXiv:1812.04948; Brock et al.
  2019, arXiv:1809.11096) pulls in, the samples quantization is expected to hurt most.

Unconditional diffusion models have no natural grouping of their noise and get no view.
qFID is a distribution distance: per group it would rest on a few dozen samples, so views
are LPIPS only.
"""

from __future__ import annotations

from typing import Any, Optional, Sequence

import numpy as np
import torch

from genq.analysis.attribution.additive import fit, validate

MIN_GROUP = 4          # a group with fewer samples is reported but not fitted


def sample_groups(adapter: Any, noise: torch.Tensor) -> Optional[dict[str, Any]]:
    """``{"kind", "groups": {name: sample indices}}`` for ``adapter``'s noise bank, or None
    where the model has no grouping (unconditional diffusion)."""
    if hasattr(adapter, "labels") and hasattr(adapter, "num_classes"):
        labels = adapter.labels(noise).cpu().numpy()
        groups = {f"class {c}": np.flatnonzero(labels == c).tolist() for c in range(int(adapter.num_classes))}
        return {"kind": "class", "groups": {k: v for k, v in groups.items() if v}}
    if getattr(adapter, "family", None) == "gan":
        rows = noise.detach().float().reshape(len(noise), -1)
        z_dim = getattr(getattr(adapter, "network", None), "z_dim", None)   # StyleGAN: z, then pixel noise
        norms = (rows[:, :z_dim] if z_dim else rows).norm(dim=1).cpu().numpy()
        edges = np.quantile(norms, [0.25, 0.5, 0.75])
        quartile = np.searchsorted(edges, norms, side="right")
        names = ["|z| Q1 (most typical)", "|z| Q2", "|z| Q3", "|z| Q4 (atypical)"]
        return {"kind": "latent_norm", "quartile_edges": edges.round(4).tolist(),
                "groups": {names[q]: np.flatnonzero(quartile == q).tolist() for q in range(4)}}
    return None


def fit_views(rows: Sequence[dict[str, Any]], grouping: dict[str, Any], n_options: int, alpha: float,
              nonnegative: bool, cell_labels: Sequence[str], top: int = 3) -> dict[str, Any]:
    """The additive LPIPS model of every group, fitted on the training rows and validated on
    the held-out ones; per group the ``top`` cells by their largest effect."""
    X = np.array([r["config"] for r in rows])
    per_sample = np.array([r["lpips_per_sample"] for r in rows])
    is_train = np.array([r["kind"] != "heldout" for r in rows])
    out: dict[str, Any] = {"kind": grouping["kind"], "metric": "lpips_vs_fp", "groups": {}}
    out.update({k: v for k, v in grouping.items() if k not in ("kind", "groups")})
    for name, idx in grouping["groups"].items():
        view: dict[str, Any] = {"n_samples": len(idx)}
        if len(idx) < MIN_GROUP:
            view["skipped"] = f"{len(idx)} samples (< {MIN_GROUP})"
            out["groups"][name] = view
            continue
        y = per_sample[:, idx].mean(axis=1)
        model = fit(X[is_train], y[is_train], n_options, alpha, False, nonnegative)
        held = validate(model, X[~is_train], y[~is_train]) if (~is_train).any() else {"spearman": None}
        strongest = model.effects.max(axis=1)
        order = np.argsort(-strongest)[:top]
        view.update({"uniform_lpips": {str(o): float(y[_uniform_row(X, o)]) for o in range(1, n_options)
                                       if _uniform_row(X, o) is not None},
                     "effects": model.effects.tolist(), "intercept": model.intercept,
                     "heldout_spearman": held["spearman"],
                     "top_cells": [{"cell": cell_labels[c], "effect": float(strongest[c]),
                                    "share": float(strongest[c] / max(strongest.sum(), 1e-12))}
                                   for c in order]})
        out["groups"][name] = view
    return out


def _uniform_row(X: np.ndarray, option: int) -> Optional[int]:
    hits = np.flatnonzero((X == option).all(axis=1))
    return int(hits[0]) if len(hits) else None


def view_matrix(views: dict[str, Any], option: int) -> tuple[list[str], np.ndarray]:
    """(group names, groups x cells effects of ``option``) of the fitted groups."""
    names = [n for n, v in views["groups"].items() if "effects" in v]
    return names, np.array([np.asarray(views["groups"][n]["effects"])[:, option] for n in names])
