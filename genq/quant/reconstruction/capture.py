"""Block inputs from the quantized model and block outputs from the FP model, on the same
calibration inputs (BRECQ's "asymmetric" reconstruction, which Q-Diffusion uses: the
quantized block sees what the already-quantized blocks before it produce, and learns to
reproduce the FP output)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from genq.batching import is_batched
from genq.quant.calibration.data import CalibrationItem


class _Stop(Exception):
    """Raised by a capture hook: nothing after the captured module needs to run."""


def _cat(values: list[Any]) -> Any:
    first = values[0]
    if isinstance(first, torch.Tensor) and first.dim() > 0:
        return torch.cat(values)
    return first


@dataclass
class BlockData:
    """Captured positional / keyword inputs of a block's first module and FP targets."""

    args: tuple
    kwargs: dict[str, Any]
    target: torch.Tensor
    t: torch.Tensor | None

    def __len__(self) -> int:
        return self.target.shape[0]

    def batch(self, rows: torch.Tensor) -> tuple[tuple, dict[str, Any], torch.Tensor, torch.Tensor | None]:
        n = len(self)
        args = tuple(a[rows] if is_batched(a, n) else a for a in self.args)
        kwargs = {k: v[rows] if is_batched(v, n) else v for k, v in self.kwargs.items()}
        return args, kwargs, self.target[rows], None if self.t is None else self.t[rows]


@torch.no_grad()
def capture_inputs(model: nn.Module, module_name: str, batches: list[tuple]) -> tuple[tuple, dict]:
    """What ``module_name`` receives when ``model`` runs each batch (concatenated)."""
    got_args: list[tuple] = []
    got_kwargs: list[dict] = []

    def grab(_m, args, kwargs):
        got_args.append(tuple(a.detach().clone() if isinstance(a, torch.Tensor) else a for a in args))
        got_kwargs.append({k: v.detach().clone() if isinstance(v, torch.Tensor) else v
                           for k, v in kwargs.items()})
        raise _Stop

    _run_until(model, model.get_submodule(module_name).register_forward_pre_hook(grab, with_kwargs=True),
               batches)
    args = tuple(_cat([a[i] for a in got_args]) for i in range(len(got_args[0])))
    kwargs = {k: _cat([kw[k] for kw in got_kwargs]) for k in got_kwargs[0]}
    return args, kwargs


@torch.no_grad()
def capture_outputs(model: nn.Module, module_name: str, batches: list[tuple]) -> torch.Tensor:
    """The output of ``module_name`` when ``model`` runs each batch (concatenated)."""
    got: list[torch.Tensor] = []

    def grab(_m, _args, out):
        out = out[0] if isinstance(out, (tuple, list)) else out
        got.append(out.detach().clone())
        raise _Stop

    _run_until(model, model.get_submodule(module_name).register_forward_hook(grab), batches)
    return torch.cat(got)


def _run_until(model: nn.Module, handle: Any, batches: list[tuple]) -> None:
    """Run every batch until the hook behind ``handle`` stops it (the rest of the network is
    skipped), then remove the hook."""
    try:
        for b in batches:
            try:
                CalibrationItem.of(b)(model)
            except _Stop:
                pass
    finally:
        handle.remove()
