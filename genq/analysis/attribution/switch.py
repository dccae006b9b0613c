"""One model that runs any configuration of an attribution grid without re-quantizing.

Each quantized option is applied and calibrated once, the way a run would (diffusion:
:func:`genq.quant.schedule.apply_schedule` with the option's plan in every window of the
grid and :func:`~genq.quant.schedule.calibrate_schedule`, so each window's static
activation scales come from its own steps; a one-pass generator: :func:`genq.quant.quantize_`).
Their calibrated quantizers are then gathered into one FP copy: every layer gets, per role
(weight, input), a :class:`~genq.quant.schedule.ScheduledQuantizer` whose members are
``[FP, option 1 window 0, option 1 window 1, ..., option 2 window 0, ...]``. A
configuration is applied by setting Python ints (``active``): :class:`CellSwitch`, a step
listener like :class:`~genq.quant.schedule.ScheduleContext`, sets each layer's member from
the cell (its group, the current step's window) at the start of every window. No forward
pass, calibration or copy per configuration: the cost of a measurement is sampling alone.
"""

from __future__ import annotations

import bisect
import copy
from typing import Any, Optional

import numpy as np
from torch import nn

from genq.analysis.attribution.cells import FP, CellGrid
from genq.analysis.attribution.costs import cost_table
from genq.errors import GenqError
from genq.models.base import GeneratorAdapter
from genq.models.sampler import add_step_listener
from genq.quant import quantize_
from genq.quant.modules import quantize_layer
from genq.quant.schedule import PrecisionSchedule, ScheduledQuantizer, Window, apply_schedule, calibrate_schedule


def _member(q: Optional[nn.Module], window: int) -> nn.Module:
    """What quantizer ``q`` of one option runs in ``window`` (Identity: FP there)."""
    if q is None:
        return nn.Identity()
    if isinstance(q, ScheduledQuantizer):
        return q.quantizers[window]
    return q


class CellSwitch:
    """The step listener that runs a configuration: each layer's quantizers take the member
    of (the option its cell has in the current window, that window)."""

    def __init__(self, grid: CellGrid, entries: list[tuple[str, list[ScheduledQuantizer]]]) -> None:
        self.grid = grid
        self.starts = [s for s, _ in grid.windows]
        self.entries = entries                      # (group, [weight and input switches])
        self.table: list[list[int]] = []            # per entry, the member index per window
        self.window: Optional[int] = None
        self.config: Optional[np.ndarray] = None

    def member_index(self, option: int, window: int) -> int:
        return 0 if option == FP else 1 + (option - 1) * len(self.grid.windows) + window

    def set_config(self, config: np.ndarray) -> None:
        config = self.grid.check(config)
        groups = list(self.grid.groups)
        K = len(self.grid.windows)
        self.table = [[self.member_index(int(config[groups.index(g) * K + k]), k) for k in range(K)]
                      for g, _ in self.entries]
        self.config = config
        self.window = None
        self.set_window(0)

    def set_window(self, k: int) -> None:
        if k == self.window:
            return
        for (_, switches), row in zip(self.entries, self.table):
            for q in switches:
                q.active = row[k]
        self.window = k

    # --- genq.models.sampler.StepListener ----------------------------------------------
    def on_step(self, i: int, t: Any) -> None:
        self.set_window(bisect.bisect_right(self.starts, int(i)) - 1)

    def on_loop_end(self) -> None:
        pass


def quantized_copies(fp: GeneratorAdapter, grid: CellGrid, calib: Any) -> list[nn.Module]:
    """Per quantized option, a copy of the network with that option applied and calibrated."""
    networks = []
    for option in grid.options[1:]:
        q = fp.clone()
        plan = option.plan
        if fp.is_denoiser:
            schedule = PrecisionSchedule([Window(s, e, copy.deepcopy(plan)) for s, e in grid.windows])
            apply_schedule(q.network, schedule)
            if schedule.needs_static_calibration():
                calibrate_schedule(q.network, calib.batches)
        else:
            quantize_(q.network, plan=plan, calib=calib.run if plan.needs_static_calibration() else None)
        networks.append(q.network)
    return networks


def switchable(fp: GeneratorAdapter, grid: CellGrid, calib: Any,
               copies: Optional[list[nn.Module]] = None) -> tuple[GeneratorAdapter, CellSwitch, dict[str, Any]]:
    """A copy of ``fp`` whose cells switch between the grid's options (module docstring),
    its :class:`CellSwitch` and the cost table of the options
    (:func:`genq.analysis.attribution.costs.cost_table`); ``calib``: a
    :class:`genq.quant.calibration.CalibrationSet` of the FP model (with the sampler step of
    every row for a denoiser); ``copies``: the options' calibrated networks when the caller
    made them (:func:`quantized_copies`). The model starts all-FP."""
    if any(o.plan.attention for o in grid.options[1:]):
        raise GenqError("attention-matmul quantization (quant.attn_bits/softmax_bits) is not "
                        "attributed per cell; accepted: options with attn_bits=null, softmax_bits=null.")
    if not fp.is_denoiser and len(grid.windows) != 1:
        raise GenqError(f"a {fp.family} model samples in one pass; accepted: --windows 1.")
    copies = quantized_copies(fp, grid, calib) if copies is None else copies
    costs = cost_table(fp.network, copies, grid)
    out = fp.clone()
    modules = dict(out.network.named_modules())
    sources = [dict(n.named_modules()) for n in copies]
    K = len(grid.windows)
    entries = []
    for group, layers in grid.groups.items():
        for name in layers:
            switches = []
            roles = []
            for role in ("weight_quantizer", "input_quantizer"):
                members: list[nn.Module] = [nn.Identity()]
                for src in sources:
                    q = getattr(src[name], role, None)
                    members += [_member(q, k) for k in range(K)]
                if all(isinstance(m, nn.Identity) for m in members):
                    roles.append(None)
                    continue
                switch = ScheduledQuantizer(members, f"{name}.{role.split('_')[0]}")
                roles.append(switch)
                switches.append(switch)
            quantize_layer(modules[name], *roles)
            entries.append((group, switches))
    listener = CellSwitch(grid, entries)
    add_step_listener(out.network, listener)
    listener.set_config(grid.uniform(FP))
    return out, listener, costs
