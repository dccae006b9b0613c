"""Built-in calibration data: FP trajectories reduced by a timestep sampler (diffusion) or
latent batches (GAN)."""

from genq.quant.calibration.batches import split_batch, stack_batches, take_rows
from genq.quant.calibration.data import CalibrationSet, diffusion_calibration, gan_calibration
from genq.quant.calibration.samplers import select_pairs, selected_timesteps

__all__ = ["CalibrationSet", "diffusion_calibration", "gan_calibration", "split_batch", "stack_batches", "take_rows",
           "select_pairs", "selected_timesteps"]
