"""Schemas of diffusion-aware PTQ: how calibration inputs are drawn and how layers are
reconstructed after calibration (``quant.calibration.*``, ``quant.reconstruction.*``).

Kept apart from :mod:`genq.config` so the PTQ methods own their settings in one file.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class CalibrationConfig:
    """Which (x_t, t) pairs (diffusion) or latents (GAN) calibrate the activation scales."""

    # trajectory: every step of the FP sampler's trajectory, started from calib_samples noises
    sampler: str = "trajectory"


@dataclass
class ReconstructionConfig:
    """Post-calibration weight rounding / block reconstruction (none: plain rounding)."""

    method: str = "none"
