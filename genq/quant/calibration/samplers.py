"""Timestep samplers for diffusion calibration: which steps of the FP sampler's trajectory
give the (x_t, t) pairs that calibrate the activation scales.

A grid of ``n_traj`` trajectories x ``S`` steps (timesteps ``timesteps[0] > ... >
timesteps[S-1]``, the order the sampler visits them) is reduced to a map step index ->
trajectory indices:

- ``trajectory``: every pair (genq's original calibration).
- ``uniform``: ``n_steps`` steps evenly spaced over the trajectory, every trajectory at each
  (Q-Diffusion, Li et al. 2023, arXiv:2302.04304: every ``nsteps // cali_st``-th step).
- ``normal``: per trajectory, ``per_trajectory`` timesteps ``t ~ N(mean*T, (std*T)^2)``
  clipped to [0, T), each snapped to the nearest visited timestep (PTQ4DM, Shang et al.
  2023, arXiv:2211.15736, "normally distributed time-step calibration", mean 0.4T).
- ``single``: one step (``step``; -1 = the last, t near 0) of every trajectory: the naive
  "calibrate on one timestep" baseline both papers compare against.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from genq.errors import GenqError, check_choice
from genq.config.ptq import SAMPLERS

StepSelection = dict[int, torch.Tensor]   # step index -> trajectory indices (LongTensor)


def _uniform_steps(n_total: int, n_steps: int | None) -> list[int]:
    n = n_total if n_steps is None else min(n_steps, n_total)
    return sorted({int(round(v)) for v in torch.linspace(0, n_total - 1, n).tolist()})


def select_pairs(timesteps: Sequence[int], n_traj: int, cfg: Any,
                 num_train_timesteps: int) -> StepSelection:
    """The (step, trajectories) pairs ``cfg.sampler`` keeps from the trajectory grid."""
    check_choice("quant.calibration.sampler", cfg.sampler, SAMPLERS)
    n_total = len(timesteps)
    if n_total == 0 or n_traj < 1:
        raise GenqError(f"calibration needs at least one trajectory and one step; got {n_traj} "
                        f"trajectories of {n_total} steps.")
    everyone = torch.arange(n_traj)
    if cfg.sampler == "trajectory":
        return {j: everyone for j in range(n_total)}
    if cfg.sampler == "uniform":
        return {j: everyone for j in _uniform_steps(n_total, cfg.n_steps)}
    if cfg.sampler == "single":
        if not -n_total <= cfg.step < n_total:
            raise GenqError(f"quant.calibration.step={cfg.step} is out of range for a {n_total}-step "
                            f"trajectory; accepted: {-n_total} to {n_total - 1}.")
        return {cfg.step % n_total: everyone}
    return _normal(timesteps, n_traj, cfg, num_train_timesteps)


def _normal(timesteps: Sequence[int], n_traj: int, cfg: Any, num_train_timesteps: int) -> StepSelection:
    gen = torch.Generator().manual_seed(int(cfg.seed))
    t_grid = torch.tensor([float(t) for t in timesteps])
    T = float(num_train_timesteps)
    draws = torch.randn(n_traj, cfg.per_trajectory, generator=gen) * cfg.std * T + cfg.mean * T
    draws = draws.clamp(0.0, T - 1.0)
    steps = (draws[..., None] - t_grid).abs().argmin(dim=-1)        # (n_traj, per_trajectory)
    selection: StepSelection = {}
    for j in steps.unique().tolist():
        rows = (steps == j).any(dim=1).nonzero().flatten()
        selection[int(j)] = rows
    return dict(sorted(selection.items()))


def selected_timesteps(selection: StepSelection, timesteps: Sequence[int]) -> torch.Tensor:
    """The timestep of every selected pair (one entry per pair), for histograms and tests."""
    parts = [torch.full((len(rows),), int(timesteps[j])) for j, rows in selection.items()]
    return torch.cat(parts) if parts else torch.zeros(0, dtype=torch.long)
