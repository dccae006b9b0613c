"""Precision schedules: windows of sampler steps, each with its own :class:`QuantPlan`.

A diffusion sampler calls the same network at every step, and what each step needs differs
(activation ranges drift with the timestep, TDQ, So et al. 2023, arXiv:2306.02316; early
steps fix the layout and late ones the detail, so precision can be spent unevenly, as
mixed-precision-over-time studies do). A :class:`PrecisionSchedule` is an ordered list of
windows ``[start, end)`` of sampler steps covering ``0 .. num_steps - 1``, each holding a
plan; every plan names the same layers (a layer may be kept in FP in some windows).

Applied (:func:`apply_schedule`), each quantized layer gets, per role (weight, input), a
:class:`ScheduledQuantizer`: one quantizer per window in an ``nn.ModuleList`` and a Python
``int`` ``active``. A :class:`ScheduleContext`, one of the network's step listeners
(:func:`genq.models.sampler.add_step_listener`), maps the sampler's step ``i`` to its window
once per step, in pure Python, and sets ``active`` on every scheduled quantizer. The forward
is ``self.quantizers[self.active](x)``: no host sync and no branch on a tensor value per
call, so ``torch.compile`` traces it (it specializes on ``active``: one graph per window).
Roles whose spec is the same in every window and needs no data (weights, dynamic
activations) share one quantizer and are not wrapped.

Calibration (:func:`calibrate_schedule`): calibration items carry the sampler ``step`` of
every row (:class:`genq.quant.calibration.data.CalibrationItem`); each item is split by
window and run with that window active, so a window's static activation quantizers observe
only the steps of their window. A window that no calibration item reached raises, or, with
``empty="all"``, takes the scales calibrated on every item (what per-timestep buckets do).

Per-timestep activation scales (``quant.calibration.timestep_buckets``) are the schedule
:func:`genq.quant.timestep_quant.timestep_bucket_schedule` builds: the same plan in every
window, windows the runs of steps whose timesteps share a bucket.

File format (``save``/``load``), ``plan`` either a plan dict (``QuantPlan.to_dict``) or the
path of a plan file, relative to the schedule file::

    {"genq_schedule_version": 1,
     "windows": [{"start": 0, "end": 10, "plan": "w8a8_plan.json"},
                 {"start": 10, "end": 25, "plan": {...}}]}
"""

from __future__ import annotations

import bisect
import copy
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import torch
from torch import nn

from genq.errors import GenqError
from genq.tracking.record import write_json_atomic
from genq.models.sampler import NetworkCall, add_step_listener
from genq.quant.apply import _check_plan_matches, activation_quantizer, weight_quantizer
from genq.quant.modules import dequantize_layer, is_quantized, quantize_layer
from genq.quant.plan import AttentionSpec, QuantPlan, TensorSpec
from genq.quant.quantizer import FakeQuantizer
from genq.quant.report import LayerReport, QuantReport
from genq.quant.targets import target_for

SCHEDULE_VERSION = 1
CONTEXT_ATTR = "_genq_schedule_context"


@dataclass
class Window:
    """Sampler steps ``start .. end - 1`` quantized as ``plan`` says."""

    start: int
    end: int
    plan: QuantPlan

    def __contains__(self, step: int) -> bool:
        return self.start <= step < self.end

    def label(self) -> str:
        return f"[{self.start}, {self.end})"


@dataclass
class PrecisionSchedule:
    """Windows of sampler steps, in order, each with a plan (validated on construction)."""

    windows: list[Window] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.validate()

    # --- checks -----------------------------------------------------------------------
    def validate(self) -> None:
        if not self.windows:
            raise GenqError("a precision schedule needs at least one window; accepted: windows "
                            "[start, end) of sampler steps covering 0 .. num_steps - 1.")
        expected = 0
        for w in self.windows:
            if not isinstance(w.start, int) or not isinstance(w.end, int) or w.start < 0 or w.end <= w.start:
                raise GenqError(f"schedule window {w.label()} is empty or malformed; accepted: "
                                "integers 0 <= start < end.")
            if w.start != expected:
                what = "overlaps the previous one" if w.start < expected else f"leaves steps {expected} .. {w.start - 1} uncovered"
                raise GenqError(f"schedule window {w.label()} {what}; accepted: contiguous windows, "
                                f"this one starting at step {expected}.")
            expected = w.end
        first = self.windows[0]
        names, attn = _layer_names(first.plan), _attention_names(first.plan)
        for w in self.windows[1:]:
            for kind, mine, theirs in (("layers", _layer_names(w.plan), names),
                                       ("attention modules", _attention_names(w.plan), attn)):
                if mine != theirs:
                    extra, missing = sorted(set(mine) - set(theirs)), sorted(set(theirs) - set(mine))
                    raise GenqError(f"schedule window {w.label()} names other {kind} than window "
                                    f"{first.label()} (extra: {extra[:3]}, missing: {missing[:3]}); "
                                    "accepted: plans of the same model, every layer in every window "
                                    "(keep_fp for a window that leaves it in FP).")

    @property
    def num_steps(self) -> int:
        return self.windows[-1].end

    def check_steps(self, num_steps: int) -> None:
        """The schedule must cover exactly the ``num_steps`` steps the sampler takes."""
        if self.num_steps != num_steps:
            raise GenqError(f"the precision schedule covers sampler steps 0 .. {self.num_steps - 1} "
                            f"(last window {self.windows[-1].label()}) but the model samples "
                            f"{num_steps} steps; accepted: windows ending at step {num_steps}.")

    def window_of(self, step: int) -> int:
        """The index of the window holding sampler step ``step`` (pure Python)."""
        k = bisect.bisect_right([w.start for w in self.windows], int(step)) - 1
        if k < 0 or step >= self.windows[k].end:
            raise GenqError(f"sampler step {step} is outside the precision schedule's steps "
                            f"0 .. {self.num_steps - 1}.")
        return k

    @property
    def plans(self) -> list[QuantPlan]:
        return [w.plan for w in self.windows]

    def needs_static_calibration(self) -> bool:
        return any(p.needs_static_calibration() for p in self.plans)

    # --- files ------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {"genq_schedule_version": SCHEDULE_VERSION,
                "windows": [{"start": w.start, "end": w.end, "plan": w.plan.to_dict()}
                            for w in self.windows]}

    @classmethod
    def from_dict(cls, data: dict[str, Any], base: Optional[Path] = None) -> "PrecisionSchedule":
        version = data.get("genq_schedule_version") if isinstance(data, dict) else None
        if version != SCHEDULE_VERSION:
            raise GenqError(f"schedule version {version!r} is not supported; accepted: {SCHEDULE_VERSION}.")
        windows = []
        for i, d in enumerate(data.get("windows") or []):
            try:
                start, end, plan = d["start"], d["end"], d["plan"]
            except (KeyError, TypeError):
                raise GenqError(f"schedule window {i} is malformed ({d!r:.80}); accepted: "
                                '{"start": int, "end": int, "plan": a plan dict or plan file}.') from None
            if isinstance(plan, str):
                path = Path(plan) if base is None or Path(plan).is_absolute() else base / plan
                plan = QuantPlan.load(path)
            else:
                plan = QuantPlan.from_dict(plan)
            windows.append(Window(start, end, plan))
        return cls(windows)

    def save(self, path: str | Path) -> Path:
        """Write the schedule as JSON (atomically), every plan inline."""
        return write_json_atomic(path, self.to_dict())

    @classmethod
    def load(cls, path: str | Path) -> "PrecisionSchedule":
        path = Path(path)
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            raise GenqError(f"schedule file {path} does not exist (quant.schedule); accepted: a "
                            "file written by PrecisionSchedule.save.") from None
        except json.JSONDecodeError as e:
            raise GenqError(f"schedule file {path} is not JSON ({e}).") from None
        return cls.from_dict(data, path.parent)


def _layer_names(plan: QuantPlan) -> list[str]:
    return sorted(s.name for s in plan.layers)


def _attention_names(plan: QuantPlan) -> list[str]:
    return sorted(a.name for a in plan.attention)


# --- the applied form -----------------------------------------------------------------

class ScheduledQuantizer(nn.Module):
    """One quantizer per schedule window (``nn.Identity`` where the window leaves the tensor
    in FP); ``active`` (a Python int, set by the :class:`ScheduleContext`) picks the one
    that runs. During calibration an optional ``fallback`` quantizer observes every call."""

    def __init__(self, quantizers: list[nn.Module], name: str = "") -> None:
        super().__init__()
        self.quantizers = nn.ModuleList(quantizers)
        self.active = 0
        self.name = name
        self.fallback: Optional[FakeQuantizer] = None

    @property
    def current(self) -> nn.Module:
        return self.quantizers[self.active]

    @property
    def mode(self) -> str:
        """``observe`` while any window observes, else ``quant`` (the layer's weight cache
        keys on ``active`` too, :func:`genq.quant.modules._state_token`)."""
        modes = [getattr(q, "mode", "quant") for q in self.quantizers]
        return "observe" if "observe" in modes else "quant"

    @property
    def format(self):
        """The active window's format (size accounting); None for an FP window."""
        return getattr(self.current, "format", None)

    @property
    def bits(self) -> int:
        fmt = self.format
        return 32 if fmt is None else fmt.bits

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.fallback is not None:
            self.fallback(x)
        return self.quantizers[self.active](x)

    def describe(self) -> str:
        parts = [q.describe() if hasattr(q, "describe") else "fp" for q in self.quantizers]
        if len(set(parts)) == 1:
            return f"{parts[0]} x{len(parts)} windows"
        return " | ".join(parts)

    def extra_repr(self) -> str:
        return f"active={self.active}"


class ScheduleContext:
    """The step listener that selects each window's quantizers: told step ``i`` by the
    sampler loop before the network call, it sets ``active`` on every scheduled quantizer
    when the window changes (once per step, pure Python)."""

    def __init__(self, schedule: PrecisionSchedule, quantizers: list[ScheduledQuantizer]) -> None:
        self.schedule = schedule
        self.starts = [w.start for w in schedule.windows]
        self.quantizers = quantizers
        self.active = 0
        self.step: Optional[int] = None
        self.fed: set[int] = set()           # windows calibration items reached

    def window_of(self, step: int) -> int:
        k = bisect.bisect_right(self.starts, step) - 1
        if k < 0 or step >= self.schedule.num_steps:
            return self.schedule.window_of(step)          # raises, naming the range
        return k

    def set_window(self, k: int) -> None:
        if k != self.active:
            for q in self.quantizers:
                q.active = k
            self.active = k

    def set_step(self, step: int) -> None:
        """Make sampler step ``step`` current (calibration replays, direct calls)."""
        self.step = int(step)
        self.set_window(self.window_of(self.step))

    # --- genq.models.sampler.StepListener ----------------------------------------------
    def on_step(self, i: int, t: torch.Tensor) -> None:
        self.set_step(i)

    def on_loop_end(self) -> None:
        pass

    def split(self, item: NetworkCall) -> list[tuple[int, NetworkCall]]:
        """``item``'s rows by window (one part when every row is in one window)."""
        if item.step is None:
            raise GenqError("calibrating a precision schedule needs the sampler step of every "
                            "calibration row (CalibrationItem.step); this item has none: accepted: "
                            "items recorded along the sampler's trajectory (build_calibration).")
        steps = [int(s) for s in item.step.flatten().tolist()]
        windows = [self.window_of(s) for s in steps]
        if len(set(windows)) == 1:
            return [(windows[0], item)]
        return [(k, item.rows(torch.tensor([r for r, w in enumerate(windows) if w == k])))
                for k in sorted(set(windows))]


def schedule_context(network: nn.Module) -> Optional[ScheduleContext]:
    return getattr(network, CONTEXT_ATTR, None)


def _role(specs: list[Optional[TensorSpec]], build, name: str, shareable: bool) -> Optional[nn.Module]:
    """One role's quantizer: shared when every window has the same data-free spec (weights:
    ``shareable``; dynamic activations), a ScheduledQuantizer otherwise (its windows with
    equal data-free specs share a member), None when every window leaves the tensor in FP."""
    if all(s is None for s in specs):
        return None
    share = lambda s: shareable or not s.static          # noqa: E731  (data-free specs)
    if all(s is not None and s == specs[0] and share(s) for s in specs):
        return build(specs[0])
    members: list[nn.Module] = []
    built: list[tuple[TensorSpec, nn.Module]] = []
    for s in specs:
        if s is None:
            members.append(nn.Identity())
            continue
        q = next((q for t, q in built if share(s) and t == s), None)
        if q is None:
            q = build(s)
            built.append((s, q))
        members.append(q)
    return ScheduledQuantizer(members, name)


def apply_schedule(model: nn.Module, schedule: PrecisionSchedule) -> tuple[ScheduleContext, QuantReport]:
    """Make ``model``'s layers fake-quantized per window of ``schedule`` (in place) and attach
    the :class:`ScheduleContext` as a step listener; returns it and the report. Static
    activation quantizers observe: run :func:`calibrate_schedule` next."""
    if schedule_context(model) is not None:
        raise GenqError("the model already has a precision schedule; apply one to a fresh copy.")
    plans = schedule.plans
    modules = {}
    for plan in plans:
        modules = _check_plan_matches(model, plan)
    report = QuantReport()
    scheduled: list[ScheduledQuantizer] = []
    built = []
    for spec0 in plans[0].layers:
        name = spec0.name
        specs = [p.layer(name) for p in plans]
        mod = modules[name]
        if all(s.keep_fp for s in specs):
            if is_quantized(mod):
                dequantize_layer(mod)
            report.layers.append(LayerReport(name, spec0.layer_type, "skipped", reason=spec0.reason))
            continue
        target = target_for(mod)
        w_specs = [None if s.keep_fp else s.weight for s in specs]
        a_specs = [None if s.keep_fp else s.input for s in specs]
        wq = _role(w_specs, lambda s: weight_quantizer(s, target, name), f"{name}.weight", True)
        aq = _role(a_specs, lambda s: activation_quantizer(s, f"{name}.input", target.input_channel_axis),
                   f"{name}.input", False)
        built.append((mod, target, wq, aq))
        reasons = sorted({s.reason for s in specs if s.reason})
        report.layers.append(LayerReport(name, spec0.layer_type, "quantized",
                                         wq.describe() if wq is not None else None,
                                         aq.describe() if aq is not None else None, "; ".join(reasons)))
    for mod, target, wq, aq in built:
        for q in _members(wq):
            if isinstance(q, FakeQuantizer) and q.mode != "quant":
                q.calibrate_from(mod._parameters[target.weight])
        if is_quantized(mod):
            mod.weight_quantizer, mod.input_quantizer = wq, aq
        else:
            quantize_layer(mod, wq, aq)
        scheduled += [q for q in (wq, aq) if isinstance(q, ScheduledQuantizer)]
    scheduled += _schedule_attention(modules, plans, report)
    ctx = ScheduleContext(schedule, scheduled)
    add_step_listener(model, ctx)
    object.__setattr__(model, CONTEXT_ATTR, ctx)
    return ctx, report


def _members(q: Optional[nn.Module]) -> list[nn.Module]:
    if q is None:
        return []
    return list(q.quantizers) if isinstance(q, ScheduledQuantizer) else [q]


def _schedule_attention(modules: dict[str, nn.Module], plans: list[QuantPlan],
                        report: QuantReport) -> list[ScheduledQuantizer]:
    """Attention matmul quantizers per window: the model's processor wrapped once, each of
    its quantizers a ScheduledQuantizer."""
    if not plans[0].attention:
        return []
    from genq.quant.attention import quantize_attention

    scheduled = []
    for a0 in plans[0].attention:
        specs = [next(a for a in p.attention if a.name == a0.name) for p in plans]
        merged = AttentionSpec(a0.name, next((s.qkv for s in specs if s.qkv is not None), None),
                               next((s.softmax for s in specs if s.softmax is not None), None))

        def make(_spec: TensorSpec, qname: str, axis: int, specs=specs) -> nn.Module:
            role = "softmax" if qname.endswith(".softmax") else "qkv"
            q = _role([getattr(s, role) for s in specs],
                      lambda s: activation_quantizer(s, qname, axis), qname, False)
            if isinstance(q, ScheduledQuantizer):
                scheduled.append(q)
            return q

        report.layers.append(quantize_attention(modules[a0.name], merged, make))
    return scheduled


def calibrate_schedule(model: nn.Module, items: Iterable[Any], empty: str = "error") -> int:
    """Run calibration ``items`` (with their sampler ``step``) through ``model``, each part
    with its window active, and freeze every observing quantizer; returns how many were
    frozen. ``empty``: what a window no item reached gets, ``error`` (raise, naming it) or
    ``all`` (the scales calibrated on every item)."""
    if empty not in ("error", "all"):
        raise GenqError(f"calibrate_schedule(empty={empty!r}); accepted: error, all.")
    ctx = schedule_context(model)
    if ctx is None:
        raise GenqError("calibrate_schedule needs a model with a schedule applied (apply_schedule).")
    observing = [q for q in ctx.quantizers if q.mode == "observe"]
    if empty == "all":
        for q in observing:
            q.fallback = copy.deepcopy(next(m for m in q.quantizers if getattr(m, "mode", None) == "observe"))
    was_training = model.training
    model.eval()
    ctx.fed = set()
    try:
        with torch.no_grad():
            for item in items:
                for k, part in ctx.split(NetworkCall.of(item)):
                    ctx.set_window(k)
                    ctx.fed.add(k)
                    part(model)
    finally:
        model.train(was_training)
        ctx.set_window(0)
    missing = [k for k in range(len(schedule_windows(ctx))) if k not in ctx.fed]
    if missing and empty == "error" and observing:
        w = schedule_windows(ctx)[missing[0]]
        raise GenqError(f"no calibration item reached schedule window {w.label()} (sampler steps "
                        f"{w.start} .. {w.end - 1}), so its static activation scales cannot be "
                        "calibrated; accepted: calibration data covering every window (e.g. "
                        "quant.calibration.sampler=trajectory), or dynamic activations there.")
    frozen = 0
    for q in observing:
        for fb in [q.fallback] if q.fallback is not None else []:
            fb.freeze()
        for k, m in enumerate(q.quantizers):
            if getattr(m, "mode", None) != "observe":
                continue
            if k in ctx.fed:
                m.freeze()
            else:                                  # empty == "all"
                m.scale, m.zero_point = q.fallback.scale.clone(), q.fallback.zero_point.clone()
                m.mode = "quant"
            frozen += 1
        q.fallback = None
    for m in model.modules():                      # anything else that observed (not scheduled)
        if isinstance(m, FakeQuantizer) and m.mode == "observe":
            m.freeze()
            frozen += 1
    return frozen


def schedule_windows(ctx: ScheduleContext) -> list[Window]:
    return ctx.schedule.windows
