"""Outlier handling on fake-quantized layers: calibration statistics, the checks
``make_plan`` runs, and installing an :class:`~genq.quant.plan.OutlierSpec` on a layer.

What is folded and what runs online (``docs/outliers.md``):

- ``smooth`` (SmoothQuant, arXiv:2211.10438): ``W * s`` is folded into the stored weight's
  quantized copy; ``X / s`` runs online as an input transform (in a deployed model it folds
  into the previous op when that is a linear layer or a norm; genq simulates it online).
- ``rotate`` (QuaRot, arXiv:2404.00456): ``W H`` is folded; ``x H`` runs online (an
  ``n x n`` matmul per call, ``n`` the input channels).
- ``svd`` (SVDQuant, arXiv:2411.05007): smoothing as above, then ``W s - L1 L2`` is
  quantized and the 16-bit branch ``x_s L1 L2`` runs beside the layer on the smoothed,
  unquantized input.
"""

from __future__ import annotations

from typing import Any, Callable, Optional

import torch
from torch import nn

from genq.errors import GenqError
from genq.quant.outliers.input_hooks import observe_inputs
from genq.quant.outliers.lowrank import LOWRANK_TYPES, lowrank_branch, matrix_dims, takes_lowrank
from genq.quant.outliers.rotation import rotation_matrix
from genq.quant.outliers.transforms import ChannelRotation, ChannelScale, LowRankResidual
from genq.quant.targets import target_for

EPS = 1e-5        # SmoothQuant's floor on the scales and the weight's channel maxima


def _weight(mod: nn.Module) -> torch.Tensor:
    return mod._parameters[target_for(mod).weight]


def input_channels(mod: nn.Module) -> int:
    """The layer's weight size along its input axis (the channels smoothed or rotated)."""
    return _weight(mod).shape[target_for(mod).in_axis]


def check_outlier_layer(name: str, mod: nn.Module, method: str) -> None:
    """Refuse, naming the layer, what ``method`` cannot do to ``mod``."""
    target = target_for(mod)
    if target is not None and not target.channel_transforms:
        raise GenqError(f"quant.outlier.method={method} scales or rotates the input channels, which "
                        f"does not fold exactly into {name} ({type(mod).__name__}: its weight is used "
                        "beyond the product with the input, e.g. a demodulation); exclude it with "
                        "quant.exclude, or quant.outlier.method=none.")
    groups = getattr(mod, "groups", 1)
    if groups != 1:
        raise GenqError(f"quant.outlier.method={method} scales or rotates whole input channels, but "
                        f"{name} is a grouped convolution (groups={groups}); accepted: groups=1 "
                        f"(exclude {name} with quant.exclude, or quant.outlier.method=none).")
    if method == "svd":
        if not takes_lowrank(mod):
            raise GenqError(f"quant.outlier.method=svd builds its branch for "
                            f"{', '.join(t.__name__ for t in LOWRANK_TYPES)}; {name} is a "
                            f"{type(mod).__name__} (exclude it with quant.exclude).")
        if getattr(mod, "padding_mode", "zeros") != "zeros":
            raise GenqError(f"quant.outlier.method=svd: {name} pads with {mod.padding_mode!r}; "
                            "accepted: padding_mode='zeros'.")


def resolve_rank(name: str, mod: nn.Module, rank: float) -> int:
    """The branch rank of ``mod``: ``rank`` itself (>= 1) or that fraction of the layer's
    width (the smaller of its input and output channels), at least 1, at most the rank of
    the weight matrix."""
    weight, target = _weight(mod), target_for(mod)
    width = min(weight.shape[target.in_axis], weight.shape[target.out_axis])
    r = int(rank) if rank >= 1 else max(1, round(rank * width))
    return min(r, *matrix_dims(weight))


def online_note(method: str, mod: nn.Module) -> str:
    """What the method runs at inference on the layer's input (the speed notes count it)."""
    n = input_channels(mod)
    return {"smooth": f"input / s ({n} channels)",
            "rotate": f"input @ H ({n}x{n})",
            "svd": f"input / s ({n} channels); 16-bit low-rank branch"}[method]


def _channel_absmax(t: torch.Tensor, axis: int) -> torch.Tensor:
    axis = axis % t.dim()
    dims = [d for d in range(t.dim()) if d != axis]
    return t.detach().abs().amax(dim=dims) if dims else t.detach().abs()


@torch.no_grad()
def collect_input_absmax(model: nn.Module, names: list[str],
                         run: Callable[[nn.Module], Any]) -> dict[str, torch.Tensor]:
    """Per layer in ``names``, the largest ``|x_j|`` of each input channel ``j`` over the
    calibration data ``run(model)`` feeds through ``model`` (``quantize_`` passes
    :func:`genq.quant.apply.run_calibration` of its ``calib``). Run on the FP model, as
    SmoothQuant does."""
    stats: dict[str, torch.Tensor] = {}

    def observe(name: str, mod: nn.Module, x: torch.Tensor, axis: int) -> None:
        amax = _channel_absmax(x, axis).float()
        stats[name] = amax if name not in stats else torch.maximum(stats[name], amax)

    observe_inputs(model, names, observe, run)
    missing = [n for n in names if n not in stats]
    if missing:
        raise GenqError(f"smoothing needs calibration inputs of every layer, but {missing[0]} got "
                        "none (it never ran on the calibration data); accepted: calibration data "
                        "that reach it, or quant.exclude it.")
    return stats


def smoothing_scales(act_absmax: torch.Tensor, weight: torch.Tensor, in_axis: int,
                     alpha: float) -> torch.Tensor:
    """SmoothQuant's ``s_j = max|X_j|^alpha / max|W_j|^(1-alpha)`` (arXiv:2211.10438, eq. 4),
    floored at ``EPS``; a channel the calibration data never excited keeps ``s_j = 1``."""
    w_absmax = _channel_absmax(weight, in_axis).float().clamp(min=EPS)
    act = act_absmax.float().to(weight.device)
    if act.shape != w_absmax.shape:
        raise GenqError(f"smoothing: {act.numel()} input channels observed, the weight has "
                        f"{w_absmax.numel()}; accepted: a layer whose input channels are its "
                        "weight's input axis.")
    s = (act.pow(alpha) / w_absmax.pow(1 - alpha)).clamp(min=EPS)
    return torch.where(act > 0, s, torch.ones_like(s))


def installed_outlier(mod: nn.Module) -> Any:
    """The :class:`OutlierSpec` installed on ``mod`` (None: none)."""
    return mod.__dict__.get("genq_outlier")


def install_outlier(mod: nn.Module, spec: Any, act_absmax: Optional[torch.Tensor]) -> None:
    """Install ``spec`` (an :class:`~genq.quant.plan.OutlierSpec`) on the fake-quantized
    layer ``mod``: weight and input transforms and, for ``svd``, the ``lowrank`` branch.
    The weight quantizer is to be calibrated on ``mod.transformed_weight()`` afterwards."""
    target = target_for(mod)
    weight = _weight(mod).detach()
    if spec.method in ("smooth", "svd"):
        if act_absmax is None:
            raise GenqError(f"quant.outlier.method={spec.method} needs calibration statistics of "
                            "the layer's input; pass calibration data (calib=...).")
        s = smoothing_scales(act_absmax, weight, target.in_axis, spec.alpha).to(weight.dtype)
        mod.weight_transforms.append(ChannelScale(s, target.in_axis, divide=False))
        mod.input_transforms.append(ChannelScale(s, target.input_channel_axis, divide=True))
        if spec.method == "svd":
            branch = lowrank_branch(mod, mod.transformed_weight().detach(), spec.rank)
            mod.lowrank = branch
            mod.weight_transforms.append(LowRankResidual(branch))
    elif spec.method == "rotate":
        h = rotation_matrix(weight.shape[target.in_axis], spec.seed).to(device=weight.device,
                                                                        dtype=weight.dtype)
        mod.weight_transforms.append(ChannelRotation(h, target.in_axis))
        mod.input_transforms.append(ChannelRotation(h, target.input_channel_axis))
    else:
        raise GenqError(f"outlier method {spec.method!r} is not supported; accepted: smooth, rotate, svd.")
    mod.__dict__["genq_outlier"] = spec
