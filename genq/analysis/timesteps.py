"""Diffusion over time: activation ranges of every quantizable layer at every sampling
timestep, the observation behind timestep-aware quantization (PTQ4DM, Shang et al. 2023;
Q-Diffusion, Li et al. 2023; TDQ, So et al. 2023): one static scale must cover ranges that
drift across timesteps."""

from __future__ import annotations

from typing import Any

import torch

from genq.analysis.common import quantizable_layers
from genq.models.diffusion import DiffusionAdapter


@torch.no_grad()
def activation_ranges_by_timestep(fp: DiffusionAdapter, noise: torch.Tensor,
                                  batch_size: int = 256) -> list[dict[str, Any]]:
    """Rows (layer, timestep, min, max, absmax, std) of each layer's input while sampling."""
    stats: dict[tuple[str, int], list[float]] = {}
    current = {"t": None}
    modules = dict(fp.network.named_modules())
    hooks = []
    for name in quantizable_layers(fp.network):
        def hook(_m, args, key=name):
            x = args[0]
            s = stats.setdefault((key, current["t"]), [float("inf"), float("-inf"), 0.0, 0.0, 0])
            s[0] = min(s[0], float(x.min()))
            s[1] = max(s[1], float(x.max()))
            s[2] += float(x.double().pow(2).sum())
            s[3] += float(x.double().sum())
            s[4] += x.numel()
        hooks.append(modules[name].register_forward_pre_hook(hook))
    try:
        fp.sample(noise, batch_size, callbacks=[lambda _i, t: current.__setitem__("t", int(t))])
    finally:
        for h in hooks:
            h.remove()
    rows = []
    for (layer, t), (lo, hi, sq, total, n) in stats.items():
        mean = total / n
        rows.append({"layer": layer, "timestep": t, "min": lo, "max": hi, "absmax": max(-lo, hi),
                     "std": max(sq / n - mean * mean, 0.0) ** 0.5})
    return rows


def range_drift(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per layer: how far its input range moves across timesteps (max/min of absmax)."""
    by_layer: dict[str, list[float]] = {}
    for r in rows:
        by_layer.setdefault(r["layer"], []).append(r["absmax"])
    out = [{"layer": layer, "absmax_min": min(v), "absmax_max": max(v),
            "drift_ratio": max(v) / max(min(v), 1e-12), "timesteps": len(v)}
           for layer, v in by_layer.items()]
    return sorted(out, key=lambda r: r["drift_ratio"], reverse=True)
