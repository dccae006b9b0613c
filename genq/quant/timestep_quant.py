"""Per-timestep activation scales: a light form of TDQ (So et al., 2023, arXiv:2306.02316).

TDQ generates each activation quantizer's interval from the timestep with a small network.
Here the interval is looked up instead: the training timesteps [0, T) are cut into
``buckets`` equal ranges and every static activation quantizer keeps one (scale, zero point)
per bucket, each calibrated only on the calibration pairs of its bucket. A bucket no
calibration pair reached uses the scale calibrated on all pairs.

The quantized layers learn the current timestep from a :class:`TimestepContext`, shared by
every per-timestep quantizer of a network (``quantized_layers`` are not modified):

- while the sampler loop (:mod:`genq.models.sampler`) runs, the context is one of the
  network's step listeners: it is told ``(i, t)`` once per step, before the network call,
  and works out the bucket then, once per step (no host sync per quantizer call);
- for a direct network call (calibration replays, reconstruction, tests) a forward pre-hook
  reads the call's argument named ``timestep`` (by keyword, or positionally through the
  network's ``forward`` signature, so ``forward(hidden_states, encoder_hidden_states,
  timestep)`` denoisers are read right too).
"""

from __future__ import annotations

import copy
import inspect
from typing import Any

import torch
from torch import nn

from genq.errors import GenqError
from genq.models.sampler import add_step_listener
from genq.quant.quantizer import FakeQuantizer

CONTEXT_ATTR = "_genq_timestep_context"


class TimestepContext:
    """The timestep(s) of the network call in progress, shared by every quantizer.

    ``t`` holds the timestep(s) (on the CPU); :meth:`current_buckets` their buckets, and
    ``uniform`` the single bucket index when every row is in the same bucket (the common
    case: a sampler step), computed once when the timestep is set."""

    def __init__(self, num_train_timesteps: int, buckets: int) -> None:
        if buckets < 1 or num_train_timesteps < 1:
            raise GenqError(f"timestep buckets={buckets} over T={num_train_timesteps} timesteps; "
                            "accepted: both positive.")
        self.num_train_timesteps, self.buckets = int(num_train_timesteps), int(buckets)
        self.t: torch.Tensor | None = None
        self.step: int | None = None
        self._buckets: torch.Tensor | None = None
        self.uniform: int | None = None
        self._on_device: dict[torch.device, torch.Tensor] = {}
        self._in_loop = False
        self._signature: inspect.Signature | None = None

    def bucket_of(self, t: torch.Tensor) -> torch.Tensor:
        b = (t.float() * self.buckets / self.num_train_timesteps).long()
        return b.clamp(0, self.buckets - 1)

    def set(self, t: Any, step: int | None = None) -> None:
        """Make ``t`` (a scalar or one timestep per row) the current timestep."""
        self.t = torch.as_tensor(t).detach().flatten().cpu()
        self.step = step
        self._buckets = self.bucket_of(self.t)
        first = int(self._buckets[0])
        self.uniform = first if bool((self._buckets == first).all()) else None
        self._on_device = {}

    def current_buckets(self) -> torch.Tensor:
        if self._buckets is None:
            raise GenqError("a per-timestep quantizer ran outside a network call with a timestep; "
                            "call the network with its timestep argument, or sample through "
                            "genq.models.sampler, or set the context first.")
        return self._buckets

    def buckets_on(self, device: torch.device) -> torch.Tensor:
        """The current buckets on ``device`` (copied once per timestep, not per call)."""
        b = self._on_device.get(device)
        if b is None:
            b = self._on_device[device] = self.current_buckets().to(device)
        return b

    # --- the sampler's step context (genq.models.sampler.StepListener) ------------------
    def on_step(self, i: int, t: torch.Tensor) -> None:
        self.set(t, i)
        self._in_loop = True

    def on_loop_end(self) -> None:
        self._in_loop = False

    # --- direct calls: the timestep argument --------------------------------------------
    def hook(self, module: nn.Module, args: tuple, kwargs: dict) -> None:
        if self._in_loop:              # the sampler already said which step this is
            return
        t = kwargs.get("timestep")
        if t is None and args:
            if self._signature is None:
                self._signature = inspect.signature(module.forward)
            try:
                t = self._signature.bind_partial(*args, **kwargs).arguments.get("timestep")
            except TypeError:
                t = None
        if t is None:
            raise GenqError("per-timestep quantization needs the network's timestep argument "
                            "(named 'timestep'); the call passed none.")
        self.set(t)

    def __deepcopy__(self, memo: dict) -> "TimestepContext":
        other = copy.copy(self)
        memo[id(self)] = other
        other.t = None if self.t is None else self.t.clone()
        other._buckets = None if self._buckets is None else self._buckets.clone()
        other._on_device = {}
        other._signature = None
        return other


def install_timestep_context(network: nn.Module, num_train_timesteps: int, buckets: int) -> TimestepContext:
    """Attach a context to ``network``: the sampler loop tells it each step, and a forward
    pre-hook reads the timestep of direct calls."""
    ctx = TimestepContext(num_train_timesteps, buckets)
    network.register_forward_pre_hook(ctx.hook, with_kwargs=True)
    add_step_listener(network, ctx)
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
        if self.ctx.uniform is not None:
            return {self.ctx.uniform: None}
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
        self.ctx.current_buckets()                 # raises outside a call with a timestep
        k = self.ctx.uniform                       # one bucket: a Python index, no device copy
        if k is not None:
            return self.bucket_scale[k], self.bucket_zero_point[k]
        b = self.ctx.buckets_on(self.bucket_scale.device)
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


def timestep_bucket_schedule(plan: Any, num_inference_steps: int, step_timesteps: Any,
                             num_train_timesteps: int, buckets: int) -> Any:
    """Per-timestep activation scales as a :class:`~genq.quant.schedule.PrecisionSchedule`:
    ``plan`` in every window, the windows the runs of consecutive sampler steps whose
    timesteps (``step_timesteps[i]``: the timestep of step ``i``) fall in the same one of
    ``buckets`` equal ranges of ``[0, num_train_timesteps)`` (the bucket arithmetic of
    :class:`TimestepContext`). Only calibration differs between the windows: calibrated with
    ``calibrate_schedule(..., empty="all")`` on step-tagged items it gives the scales of
    :class:`TimestepFakeQuantizer` for every bucket the sampler visits (see
    ``docs/extending.md``, "Precision schedules", for where the two paths differ)."""
    from genq.quant.schedule import PrecisionSchedule, Window

    steps = torch.as_tensor(step_timesteps).flatten()
    if steps.numel() != num_inference_steps:
        raise GenqError(f"{steps.numel()} step timesteps for {num_inference_steps} sampler steps; "
                        "accepted: one timestep per step (the sampling scheduler's timesteps).")
    of = TimestepContext(num_train_timesteps, buckets).bucket_of(steps).tolist()
    windows, start = [], 0
    for i in range(1, len(of) + 1):
        if i == len(of) or of[i] != of[start]:
            windows.append(Window(start, i, copy.deepcopy(plan)))
            start = i
    return PrecisionSchedule(windows)
