"""The allocator's choice as a plain recipe file: a precision schedule (diffusion: one plan
per window, every layer of a cell at the cell's option, FP as ``keep_fp``) or a plan (a
one-pass generator), which ``genq quant=w8a8 quant.schedule=<file>`` (``quant.plan=<file>``)
runs as any hand-written one."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np

from genq.quant.plan import LayerSpec, QuantPlan
from genq.quant.schedule import PrecisionSchedule, Window


def window_plan(attribution: dict[str, Any], config: np.ndarray, window: int) -> QuantPlan:
    """The plan of one window: each layer's spec from the option of its cell there."""
    options = attribution["options"]
    plans = {name: QuantPlan.from_dict(d) for name, d in attribution["option_plans"].items()}
    first = plans[options[1]]
    K = len(attribution["windows"])
    group_of = {n: g for g, layers in attribution["groups"].items() for n in layers}
    groups = list(attribution["groups"])
    layers = []
    for spec in first.layers:
        g = group_of.get(spec.name)
        o = 0 if g is None else int(config[groups.index(g) * K + window])
        if o == 0:
            why = "FP in this cell (quant=auto)" if g is not None else spec.reason
            layers.append(LayerSpec(spec.name, spec.layer_type, keep_fp=True, reason=why))
        else:
            chosen = copy.deepcopy(plans[options[o]].layer(spec.name))
            chosen.reason = f"{options[o]} in this cell (quant=auto)"
            layers.append(chosen)
    return QuantPlan(layers, [], recipe="auto")


def write_recipe(attribution: dict[str, Any], config: np.ndarray, path: str | Path) -> tuple[Path, str]:
    """Write the configuration as a schedule (denoisers) or plan file; (path, the quant
    key that runs it: ``schedule`` or ``plan``)."""
    windows = attribution["windows"]
    if attribution["family"] == "diffusion":
        schedule = PrecisionSchedule([Window(int(s), int(e), window_plan(attribution, config, k))
                                      for k, (s, e) in enumerate(windows)])
        return schedule.save(path), "schedule"
    return window_plan(attribution, config, 0).save(path), "plan"
