"""Built-in calibration data: FP trajectories reduced by a timestep sampler (diffusion) or
latent batches (GAN)."""

from genq.quant.calibration.data import (CalibrationSet, diffusion_calibration, gan_calibration,
                                         stack_inputs)
from genq.quant.calibration.samplers import select_pairs, selected_timesteps

__all__ = ["CalibrationSet", "diffusion_calibration", "gan_calibration", "stack_inputs",
           "select_pairs", "selected_timesteps"]
