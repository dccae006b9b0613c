"""Corrections of a quantized generator after calibration (GANs; empirical bias correction
also for the diffusion denoisers, whose calibration inputs span the timesteps, so the shift
removed is the one averaged over them).

- **BatchNorm re-estimation**: the BN layers keep the running statistics of the FP
  convolutions' outputs, but they now normalise the quantized convolutions' outputs, whose
  mean and variance moved. Re-estimating them on the quantized model (cumulative average over
  the calibration latents) makes each BN normalise what it actually sees, the fix used for
  quantized and pruned networks with BN (e.g. Nagel et al., 2021, arXiv:2106.08295,
  section 4.1; Li et al., 2021, arXiv:2102.05426 re-estimates after reconstruction).
- **Empirical bias correction** (Nagel et al., 2019, arXiv:1906.04721, section 4.2; the
  "empirical" variant of AIMET): the expected output shift of each quantized layer,
  ``E[y_q - y_fp]`` per output channel measured on calibration data, is subtracted from
  its bias, layer by layer in forward order so later layers see corrected inputs.

The DCGAN's transposed convolutions have no bias (each feeds a BatchNorm): for those the
shift is absorbed by the BN instead (``running_mean += shift``, which is what subtracting it
from a bias would do), and only when the BN statistics are not re-estimated, since
re-estimation already recentres them. The output layer (bias, then tanh) is corrected in its
bias.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from genq.quant.batchnorm import BN_TYPES, following_batchnorm
from genq.quant.calibration.data import feed
from genq.quant.modules import QuantMixin
from genq.quant.reconstruction.capture import capture_outputs


@torch.no_grad()
def reestimate_batchnorm(network: nn.Module, batches: list[tuple]) -> int:
    """Recompute every BatchNorm's running statistics on ``network`` as it is now."""
    bns = [m for m in network.modules() if isinstance(m, BN_TYPES)]
    if not bns:
        return 0
    saved = [(m.momentum, m.training) for m in bns]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None                      # cumulative moving average over the batches
        m.train()
    try:
        feed(network, batches)
    finally:
        for m, (momentum, training) in zip(bns, saved):
            m.momentum = momentum
            m.train(training)
    return len(bns)


def _channel_axis(layer: nn.Module) -> int:
    """Channel axis of the layer's activations (its registered target's)."""
    return layer.genq_target.input_channel_axis


@torch.no_grad()
def bias_correct(fp_network: nn.Module, q_network: nn.Module, batches: list[tuple],
                 shift_bn: bool = True) -> dict[str, Any]:
    """Empirical bias correction of every quantized layer, in forward (module) order."""
    corrected, bn_shifted, shifts = [], [], []
    for name, layer in list(q_network.named_modules()):
        if not isinstance(layer, QuantMixin):
            continue
        found = None if layer.bias is not None or not shift_bn else following_batchnorm(q_network, name)
        bn = found[1] if found else None
        if layer.bias is None and bn is None:
            continue
        y_q = capture_outputs(q_network, name, batches)
        y_fp = capture_outputs(fp_network, name, batches)
        axis = _channel_axis(layer) % y_q.dim()
        dims = [d for d in range(y_q.dim()) if d != axis]
        shift = (y_q - y_fp).mean(dim=dims)
        if layer.bias is not None:
            layer.bias.sub_(shift.to(layer.bias.dtype))
            corrected.append(name)
        else:
            bn.running_mean.add_(shift.to(bn.running_mean.dtype))
            bn_shifted.append(name)
        shifts.append(shift.abs().mean().item())
    return {"bias_corrected": corrected, "bn_mean_shifted": bn_shifted,
            "mean_abs_shift": round(sum(shifts) / len(shifts), 6) if shifts else 0.0}


def correct_gan(fp_network: nn.Module, q_network: nn.Module, calib: Any, cfg: Any) -> dict[str, Any]:
    """BN re-estimation, then bias correction, as ``cfg`` (quant.reconstruction) asks."""
    out: dict[str, Any] = {}
    q_network.eval()
    if cfg.bn_reestimate:
        out["bn_reestimated"] = reestimate_batchnorm(q_network, calib.batches)
    if cfg.bias_correction:
        out["bias_correction"] = bias_correct(fp_network, q_network, calib.batches,
                                              shift_bn=not cfg.bn_reestimate)
    return out
