"""Built-in calibration data: FP trajectories reduced by a timestep sampler (diffusion) or
latent batches (GAN), as calibration items (args, kwargs, t, step)."""

from genq.batching import split_batch, stack_batches, take_rows
from genq.quant.calibration.data import (CalibrationItem, CalibrationSet, build_calibration,
                                         diffusion_calibration, feed, gan_calibration, stack_inputs)
from genq.quant.calibration.samplers import select_pairs, selected_timesteps

__all__ = ["CalibrationItem", "CalibrationSet", "build_calibration", "diffusion_calibration", "feed",
           "gan_calibration", "stack_inputs", "select_pairs", "selected_timesteps", "split_batch",
           "stack_batches", "take_rows"]
