"""The one scheduler loop every diffusion adapter samples with, in the manner of diffusers'
pipelines: the denoiser is called by keyword (``sample=``, ``timestep=``,
``encoder_hidden_states=``), the adapter says how to build those inputs and how to read the
output, and step hooks learn which step is about to run (diffusers' ``callback_on_step_end``
runs after a step; genq's ``on_step(i, t)`` runs before the network call, so that a
timestep-aware quantizer knows its step before its first layer runs).

The loop is DDIM (Song et al., 2021, arXiv:2010.02502) at eta = 0 by default: whatever
``adapter.sampling_scheduler()`` returns is stepped with ``scheduler.step(eps, t, x,
**adapter.step_kwargs)``.

What an adapter supplies (see :class:`genq.models.diffusion.DiffusionAdapter` and
``docs/extending.md``):

- ``sampling_scheduler()``: a scheduler with ``timesteps`` set;
- ``prepare_latents(x, scheduler)``: the starting latents (device, dtype, ``init_noise_sigma``);
- ``condition(n, offset)``: what conditions noise samples ``offset .. offset + n - 1``;
- ``network_inputs(x, t, cond) -> (args, kwargs)``: the denoiser's inputs at timestep ``t``;
- ``postprocess(output) -> eps``: the scheduler's model output from the network output
  (``.sample`` unwrapping, learned-sigma split, classifier-free guidance).

Step listeners live on the network (:func:`add_step_listener`), so that what a quantized
network needs (the step context of per-timestep quantizers) follows the network through
``copy.deepcopy`` and adapter clones; per-call callbacks are passed to :func:`denoise`.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import torch
from torch import nn

from genq.batching import is_batched
from genq.errors import GenqError

StepCallback = Callable[[int, torch.Tensor], None]
LISTENERS_ATTR = "_genq_step_listeners"


class StepListener(Protocol):
    """Told the step index ``i`` and timestep ``t`` (the scheduler's, a 0-d tensor) before
    the network runs at that step, and when the loop is over."""

    def on_step(self, i: int, t: torch.Tensor) -> None: ...

    def on_loop_end(self) -> None: ...


def add_step_listener(network: nn.Module, listener: StepListener) -> None:
    """Attach ``listener`` to ``network``: every sampler loop over ``network`` tells it the step."""
    listeners = list(getattr(network, LISTENERS_ATTR, ()))
    listeners.append(listener)
    object.__setattr__(network, LISTENERS_ATTR, listeners)


def step_listeners(network: nn.Module) -> list[StepListener]:
    return list(getattr(network, LISTENERS_ATTR, ()))


@dataclass
class NetworkCall:
    """One call of a network: positional ``args``, keyword ``kwargs``, and where it was made
    (``t``: the timestep of every row, ``step``: the sampler step index of every row; both
    None for a one-pass generator). Calibration data are lists of these
    (:class:`genq.quant.calibration.data.CalibrationItem`)."""

    args: tuple = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    t: torch.Tensor | None = None
    step: torch.Tensor | None = None

    def __len__(self) -> int:
        for v in (*self.args, *self.kwargs.values()):
            if isinstance(v, torch.Tensor) and v.dim() > 0:
                return int(v.shape[0])
        raise GenqError("a network call without a batched tensor input has no rows; accepted: "
                        "at least one input tensor with a batch dimension.")

    def __call__(self, network: nn.Module) -> Any:
        """Run ``network`` on this call's inputs."""
        return network(*self.args, **self.kwargs)

    def rows(self, idx: torch.Tensor) -> "NetworkCall":
        """The rows ``idx`` of every batched input (and of ``t``, ``step``)."""
        n = len(self)
        take = lambda v: v[idx] if is_batched(v, n) else v   # noqa: E731
        return NetworkCall(tuple(take(a) for a in self.args), {k: take(v) for k, v in self.kwargs.items()},
                           None if self.t is None else self.t[idx], None if self.step is None else self.step[idx])

    def chunks(self, size: int) -> list["NetworkCall"]:
        return [self.rows(rows) for rows in torch.arange(len(self)).split(size)]

    @staticmethod
    def cat(calls: Sequence["NetworkCall"]) -> "NetworkCall":
        """One call from several of the same structure, rows concatenated (inputs that are not
        batched are taken from the first)."""
        first, n = calls[0], len(calls[0])

        def join(values: list[Any]) -> Any:
            return torch.cat(values) if is_batched(values[0], n) else values[0]

        def opt(values: list[Any]) -> Any:
            return None if any(v is None for v in values) else torch.cat(values)

        return NetworkCall(tuple(join([c.args[i] for c in calls]) for i in range(len(first.args))),
                           {k: join([c.kwargs[k] for c in calls]) for k in first.kwargs},
                           opt([c.t for c in calls]), opt([c.step for c in calls]))

    def positional(self, network: nn.Module) -> tuple:
        """The same call with every input positional, bound through ``network.forward``'s
        signature (for ``torch.export`` and code that takes positional inputs)."""
        if not self.kwargs:
            return tuple(self.args)
        try:
            bound = inspect.signature(network.forward).bind(*self.args, **self.kwargs)
        except TypeError as err:
            raise GenqError(f"the inputs {sorted(self.kwargs)} do not bind to {type(network).__name__}"
                            f".forward ({err}).") from err
        if bound.kwargs:
            raise GenqError(f"{type(network).__name__}.forward takes {sorted(bound.kwargs)} by keyword "
                            "only; accepted: a network whose inputs can all be passed by position.")
        return tuple(bound.args)

    @staticmethod
    def of(batch: Any) -> "NetworkCall":
        """A call from what ``quantize_(calib=...)`` accepts: a tensor, a positional tuple (by
        genq's convention ``(x_t, t, ...)`` for a denoiser, ``(z,)`` for a GAN), or a dict."""
        if isinstance(batch, NetworkCall):
            return batch
        if isinstance(batch, torch.Tensor):
            return NetworkCall((batch,))
        if isinstance(batch, dict):
            t = batch.get("timestep")
            return NetworkCall((), dict(batch), _rows_of_t(t, batch))
        batch = tuple(batch)
        t = batch[1] if len(batch) > 1 else None
        return NetworkCall(batch, {}, _rows_of_t(t, batch))


def _rows_of_t(t: Any, batch: Any) -> torch.Tensor | None:
    if not isinstance(t, torch.Tensor) or t.dim() != 1:
        return None
    call = NetworkCall(tuple(batch.values()) if isinstance(batch, dict) else tuple(batch))
    return t if t.shape[0] == len(call) else None


def _t_rows(t: torch.Tensor, n: int) -> torch.Tensor:
    return torch.full((n,), int(t), dtype=torch.long)


def _recorded(args: tuple, kwargs: dict[str, Any], x: torch.Tensor, t: torch.Tensor, i: int) -> NetworkCall:
    """The call of step ``i``; inputs that share memory with the loop's latents ``x`` are
    copied (the loop goes on with ``x``), the rest (a batch's text embeddings) are kept as
    they are, shared between the steps."""
    keep = lambda v: v.clone() if isinstance(v, torch.Tensor) and v.data_ptr() == x.data_ptr() else v  # noqa: E731
    n = len(NetworkCall(args, kwargs))
    return NetworkCall(tuple(keep(v) for v in args), {k: keep(v) for k, v in kwargs.items()},
                       _t_rows(t, n), torch.full((n,), i, dtype=torch.long))


@torch.no_grad()
def denoise(adapter: Any, x: torch.Tensor, offset: int = 0, record: list[NetworkCall] | None = None,
            callbacks: Iterable[StepCallback] = ()) -> torch.Tensor:
    """Run the sampler loop of ``adapter`` from noise ``x`` (noise samples ``offset ..``) and
    return the final latents. ``record`` collects the network call of every step (the
    calibration data); ``callbacks`` and the network's step listeners get ``(i, t)`` before
    each step's network call."""
    network = adapter.network
    scheduler = adapter.sampling_scheduler()
    x = adapter.prepare_latents(x, scheduler)
    cond = adapter.condition(len(x), offset)
    listeners = step_listeners(network)
    hooks = [*(l.on_step for l in listeners), *callbacks]
    # flow-matching schedulers (SD3, FLUX) have no input scaling
    scale = getattr(scheduler, "scale_model_input", lambda sample, _t: sample)
    try:
        for i, t in enumerate(scheduler.timesteps):
            args, kwargs = adapter.network_inputs(scale(x, t), t, cond)
            for hook in hooks:
                hook(i, t)
            if record is not None:
                record.append(_recorded(args, kwargs, x, t, i))
            eps = adapter.postprocess(network(*args, **kwargs))
            x = scheduler.step(eps, t, x, **adapter.step_kwargs).prev_sample
    finally:
        for listener in listeners:
            listener.on_loop_end()
    return x
