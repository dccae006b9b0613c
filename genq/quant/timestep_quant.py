"""Per-timestep activation scales: a light form of TDQ (So et al., 2023, arXiv:2306.02316).

TDQ generates each activation quantizer's interval from the timestep with a small network.
Here the interval is looked up instead: the training timesteps [0, T) are cut into
``buckets`` equal ranges and every static activation quantizer keeps one (scale, zero point)
per bucket, each calibrated only on the calibration pairs of its bucket. A bucket no
calibration pair reached uses the scale calibrated on all pairs.

The quantized layers learn the current timestep from a :class:`TimestepContext`: a forward
pre-hook on the network (the UNet's ``forward(sample, timestep, ...)``) stores the timestep
of each call, and the quantizers read it, so the scale is the one of the timestep actually
being denoised (``quantized_layers`` are not modified).
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn

from genq.errors import GenqError
from genq.quant.quantizer import FakeQuantizer

CONTEXT_ATTR = "_genq_timestep_context"


class TimestepContext:
    """The timestep(s) of the network call in progress, shared by every quantizer."""

    def __init__(self, num_train_timesteps: int, buckets: int) -> None:
        if buckets < 1 or num_train_timesteps < 1:
            raise GenqError(f"timestep buckets={buckets} over T={num_train_timesteps} timesteps; "
                            "accepted: both positive.")
        self.num_train_timesteps, self.buckets = int(num_train_timesteps), int(buckets)
        self.t: torch.Tensor | None = None

    def bucket_of(self, t: torch.Tensor) -> torch.Tensor:
        b = (t.float() * self.buckets / self.num_train_timesteps).long()
        return b.clamp(0, self.buckets - 1)

    def set(self, t: Any) -> None:
        self.t = torch.as_tensor(t).detach().flatten().cpu()

    def current_buckets(self) -> torch.Tensor:
        if self.t is None:
            raise GenqError("a per-timestep quantizer ran outside a network call with a timestep; "
                            "call the network as network(x, t, ...) or set the context first.")
        return self.bucket_of(self.t)

    def hook(self, _module: nn.Module, args: tuple, kwargs: dict) -> None:
        t = args[1] if len(args) > 1 else kwargs.get("timestep")
        if t is None:
            raise GenqError("per-timestep quantization needs the network's timestep argument; "
                            "the call passed none.")
        self.set(t)


def install_timestep_context(network: nn.Module, num_train_timesteps: int, buckets: int) -> TimestepContext:
    """Attach a context to ``network`` and keep it updated on every forward call."""
    ctx = TimestepContext(num_train_timesteps, buckets)
    network.register_forward_pre_hook(ctx.hook, with_kwargs=True)
    setattr(network, CONTEXT_ATTR, ctx)
    return ctx


def timestep_context(network: nn.Module) -> TimestepContext | None:
    return getattr(network, CONTEXT_ATTR, None)


class TimestepFakeQuantizer(FakeQuantizer):
    """A static activation quantizer with one (scale, zero point) per timestep bucket."""

    def __init__(self, base: FakeQuantizer, ctx: TimestepContext) -> None:
        super().__init__(base.format, None, base.granularity, "minmax", base.name)
        self.observer = copy.deepcopy(base.observer)                 # sees every pair
        self.bucket_observers = nn.ModuleList(copy.deepcopy(base.observer) for _ in range(ctx.buckets))
        self.ctx = ctx
        self.register_buffer("bucket_scale", None)
        self.register_buffer("bucket_zero_point", None)
        self.calibrated_buckets: list[int] = []
        self.mode = base.mode

    def _rows_by_bucket(self, x: torch.Tensor) -> dict[int, torch.Tensor | None]:
        b = self.ctx.current_buckets()
        if (b == b[0]).all():
            return {int(b[0]): None}
        if x.shape[0] != b.numel():
            raise GenqError(f"{self.name}: a batch mixes timestep buckets but its first dimension "
                            f"({x.shape[0]}) is not the batch of {b.numel()} timesteps.")
        return {int(k): (b == k).nonzero().flatten() for k in b.unique()}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.mode == "observe":
            self.observer(x)
            for k, rows in self._rows_by_bucket(x).items():
                self.bucket_observers[k](x if rows is None else x[rows.to(x.device)])
            return x
        if self.mode == "quant":
            scale, zp = self.lookup(x)
            return self.format.fake_quantize(x, scale, zp)
        return super().forward(x)

    def lookup(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The (scale, zero point) of the timestep bucket(s) of the current call."""
        b = self.ctx.current_buckets().to(self.bucket_scale.device)
        if (b == b[0]).all():
            return self.bucket_scale[b[0]], self.bucket_zero_point[b[0]]
        if x.shape[0] != b.numel():
            raise GenqError(f"{self.name}: a batch mixes timestep buckets but its first dimension "
                            f"({x.shape[0]}) is not the batch of {b.numel()} timesteps.")
        shape = (-1,) + (1,) * (x.dim() - 1)
        return self.bucket_scale[b].view(shape), self.bucket_zero_point[b].view(shape)

    def freeze(self) -> None:
        self.scale, self.zero_point = self.observer.calculate_qparams(self.format)
        scales, zps, seen = [], [], []
        for k, obs in enumerate(self.bucket_observers):
            if getattr(obs, "min_val", None) is None and getattr(obs, "samples", None) is None:
                s, z = self.scale, self.zero_point
            else:
                s, z = obs.calculate_qparams(self.format)
                seen.append(k)
            scales.append(s.reshape(()))
            zps.append(z.reshape(()))
        self.bucket_scale, self.bucket_zero_point = torch.stack(scales), torch.stack(zps)
        self.calibrated_buckets = seen
        self.mode = "quant"

    def describe(self) -> str:
        return f"{super().describe()} x{self.ctx.buckets} timestep buckets"


def use_timestep_quantizers(model: nn.Module, ctx: TimestepContext) -> int:
    """Replace every observing static activation quantizer of ``model`` (also inside split
    quantizers) by a per-timestep one sharing ``ctx``; returns how many were replaced."""
    targets = []
    for parent in model.modules():
        for cname, child in parent.named_children():
            if type(child) is FakeQuantizer and child.mode == "observe" and not child.name.endswith(".weight"):
                targets.append((parent, cname, child))
    for parent, cname, child in targets:
        setattr(parent, cname, TimestepFakeQuantizer(child, ctx))
    return len(targets)
