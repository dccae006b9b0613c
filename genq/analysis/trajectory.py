"""Error accumulation along the sampling trajectory (the effect Q-Diffusion and PTQD, He et
al. 2023, point at): at every DDIM step, the distance between the quantized and the FP
trajectories, split into the error the quantized network introduces at that step (its
step taken from the FP state) and the error carried in from earlier steps.

    total_k      = || Q(x^Q_k) - F(x^F_k) ||
    introduced_k = || Q(x^F_k) - F(x^F_k) ||      (one quantized step from the FP state)
    carried_k    = || Q(x^Q_k) - Q(x^F_k) ||      (the earlier error, passed through step k)

with F, Q one FP / quantized DDIM step and norms the per-sample RMS averaged over samples.
"""

from __future__ import annotations

from typing import Any

import torch

from genq.models.diffusion import DiffusionAdapter


def _rms(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).pow(2).flatten(1).mean(1).sqrt().mean())


@torch.no_grad()
def trajectory_error(fp: DiffusionAdapter, q: DiffusionAdapter, noise: torch.Tensor) -> list[dict[str, Any]]:
    """One row per sampling step (same noise, same DDIM schedule for both models)."""
    scheduler = fp.sampling_scheduler()
    fp.network.eval()
    q.network.eval()
    x_fp, x_q = noise.clone(), noise.clone()
    rows = []
    for k, t in enumerate(scheduler.timesteps):
        tb = torch.full((noise.shape[0],), int(t), dtype=torch.long)
        next_fp = scheduler.step(fp.network(x_fp, tb).sample, t, x_fp, eta=0.0).prev_sample
        next_q = scheduler.step(q.network(x_q, tb).sample, t, x_q, eta=0.0).prev_sample
        next_q_from_fp = scheduler.step(q.network(x_fp, tb).sample, t, x_fp, eta=0.0).prev_sample
        rows.append({"step": k, "timestep": int(t), "total": _rms(next_q, next_fp),
                     "introduced": _rms(next_q_from_fp, next_fp),
                     "carried": _rms(next_q, next_q_from_fp)})
        x_fp, x_q = next_fp, next_q
    return rows
