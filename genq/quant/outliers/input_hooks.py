"""Run a model once with a forward pre-hook on the input of each of some layers: how
smoothing (per-channel input maxima, SmoothQuant) and the outlier statistics both observe
the activations a layer receives during calibration."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from genq.quant.targets import target_for


@torch.no_grad()
def observe_inputs(model: nn.Module, names: list[str],
                   observe: Callable[[str, nn.Module, torch.Tensor, int], None],
                   run: Callable[[nn.Module], Any]) -> None:
    """Call ``observe(name, module, x, channel_axis)`` with the input ``x`` of every layer in
    ``names`` (its registered target's input argument and input-channel axis) while
    ``run(model)`` feeds data through ``model`` in eval mode; hooks removed and the training
    mode restored afterwards, also on error."""
    hooks = []
    for name in names:
        mod = model.get_submodule(name)
        target = target_for(mod)

        def hook(m, args, kwargs, name=name, target=target):
            observe(name, m, args[0] if args else kwargs[target.input_arg], target.input_channel_axis)

        hooks.append(mod.register_forward_pre_hook(hook, with_kwargs=True))
    was_training = model.training
    model.eval()
    try:
        run(model)
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
