"""Schemas of diffusion-aware PTQ: how calibration inputs are drawn and how layers are
reconstructed after calibration (``quant.calibration.*``, ``quant.reconstruction.*``).

Kept apart from :mod:`genq.config` so the PTQ methods own their settings in one file.
The defaults reproduce plain min-max PTQ on every step of the FP trajectory, so recipes
that do not name these keys behave as before. ``docs/ptq_methods.md`` explains each knob.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

from genq.errors import GenqError, check_choice

SAMPLERS = ("trajectory", "uniform", "normal", "single")
RECONSTRUCTIONS = ("none", "adaround", "brecq")


@dataclass
class CalibrationConfig:
    """Which (x_t, t) pairs (diffusion) or latents (GAN) calibrate the activation scales,
    and how the activation quantizers are laid out (split shortcuts, per-timestep scales).

    Diffusion: ``quant.calib_samples`` noises are run along the FP sampler's trajectory;
    the sampler then picks (trajectory, step) pairs from that grid.
    """

    # trajectory: every step of every trajectory (genq's original behaviour)
    # uniform: n_steps steps evenly spaced over the trajectory, all trajectories at each
    #          (Q-Diffusion, Li et al. 2023)
    # normal:  per trajectory, per_trajectory timesteps t ~ N(mean*T, (std*T)^2) clipped to
    #          [0, T), snapped to the nearest sampler step (PTQ4DM, Shang et al. 2023)
    # single:  one step of every trajectory (step; -1 = the last, t ~ 0): the naive baseline
    sampler: str = "trajectory"
    n_steps: Optional[int] = None               # uniform: steps kept (null: every step)
    mean: float = 0.4                           # normal: mean, fraction of the T training steps
    std: float = 0.4                            # normal: standard deviation, fraction of T
    per_trajectory: int = 1                     # normal: timesteps drawn per trajectory
    step: int = -1                              # single: index into the trajectory
    seed: int = 0                               # normal: draws
    # Q-Diffusion shortcut splitting: the UNet's concatenated skip inputs get one activation
    # scale (and weight slice scale) per half
    shortcut_split: bool = False
    # > 0: activation scales per timestep bucket (a light TDQ, So et al. 2023): the
    # [0, T) range cut into this many equal buckets, each calibrated on its own pairs
    timestep_buckets: int = 0


@dataclass
class ReconstructionConfig:
    """Post-calibration weight rounding / block reconstruction (none: plain rounding), and
    the GAN's post-quantization corrections."""

    # none | adaround (each layer alone, Nagel et al. 2020) | brecq (diffusers ResNet and
    # attention blocks, GAN upsampling blocks; the other layers alone; Li et al. 2021)
    method: str = "none"
    iters: int = 300                            # Adam steps per block for the rounding
    batch_size: int = 32                        # calibration pairs per step
    samples: int = 256                          # calibration pairs used (subsampled, seeded)
    # Adam learning rate of the rounding variables; 0.01 left 15% of them soft after 300
    # steps on the embedded DCGAN (scripts/adaround_lr_convergence.py)
    lr: float = 5e-2
    round_weight: float = 0.01                  # lambda of the rounding regulariser
    beta_start: float = 20.0                    # annealed temperature of the regulariser
    beta_end: float = 2.0
    warmup: float = 0.2                         # fraction of iters without the regulariser
    learn_act_scale: bool = False               # then learn activation step sizes (LSQ)
    act_iters: int = 100
    act_lr: float = 4e-4
    progress: bool = True                       # tqdm progress bars
    seed: int = 0
    # GAN corrections after quantization (Nagel et al. 2019; BN re-estimation)
    bias_correction: bool = False
    bn_reestimate: bool = False


def validate_ptq(q: Any) -> None:
    """Checks of ``quant.calibration`` / ``quant.reconstruction`` (before any forward pass)."""
    c, r = q.calibration, q.reconstruction
    check_choice("quant.calibration.sampler", c.sampler, SAMPLERS)
    if c.n_steps is not None and c.n_steps < 1:
        raise GenqError(f"quant.calibration.n_steps={c.n_steps} must be at least 1, or null for every step.")
    if not 0.0 <= c.mean <= 1.0 or not c.std > 0.0:
        raise GenqError(f"quant.calibration.mean={c.mean} / std={c.std} are out of range; accepted: "
                        "mean in [0, 1] and std > 0 (fractions of the training timesteps).")
    if c.per_trajectory < 1:
        raise GenqError(f"quant.calibration.per_trajectory={c.per_trajectory} must be at least 1.")
    if c.timestep_buckets < 0:
        raise GenqError(f"quant.calibration.timestep_buckets={c.timestep_buckets} must be 0 (off) "
                        "or a positive number of buckets.")
    check_choice("quant.reconstruction.method", r.method, RECONSTRUCTIONS)
    for key in ("iters", "batch_size", "samples"):
        if getattr(r, key) < 1:
            raise GenqError(f"quant.reconstruction.{key}={getattr(r, key)} must be at least 1.")
    if r.learn_act_scale and r.method == "none":
        raise GenqError("quant.reconstruction.learn_act_scale=true learns step sizes block by block; "
                        "it needs quant.reconstruction.method=adaround or brecq.")
    if r.learn_act_scale and r.act_iters < 1:
        raise GenqError(f"quant.reconstruction.act_iters={r.act_iters} must be at least 1.")
    if not 0.0 <= r.warmup < 1.0:
        raise GenqError(f"quant.reconstruction.warmup={r.warmup} is out of range; accepted: [0, 1).")
    if r.method != "none" and q.granularity == "per_group":
        raise GenqError("quant.reconstruction.method=%r rounds per-tensor or per-channel weight grids; "
                        "quant.granularity=per_group is not supported: accepted: per_tensor, "
                        "per_channel." % r.method)
    method = getattr(getattr(q, "outlier", None), "method", "none")
    clash = [k for k, on in (("quant.reconstruction.method", r.method != "none"),
                             ("quant.calibration.shortcut_split", c.shortcut_split)) if on]
    if method != "none" and clash:
        raise GenqError(f"quant.outlier.method={method!r} does not combine with {clash[0]} (it "
                        "reads the layer's stored weight and input channels, not the smoothed or "
                        "rotated ones); accepted: its default, or quant.outlier.method=none.")
    if r.method != "none" and q.w_bits is None:
        raise GenqError(f"quant.reconstruction.method={r.method!r} reconstructs weight rounding but "
                        "quant.w_bits is null; accepted: method=none for activation-only recipes.")
