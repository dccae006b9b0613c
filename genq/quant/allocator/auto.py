"""``quant=auto``: read an attribution, solve the allocator's integer program under
``quant.budget``, write the chosen recipe and hand PTQ a quant config that runs it (the
same path as ``quant.schedule=<file>``, so a rerun of the written file gives the same
record)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any, Optional

import numpy as np

from genq.errors import GenqError
from genq.quant.allocator.budget import CostModel
from genq.quant.allocator.milp import allocate

ATTRIBUTION_VERSION = 1


def load_attribution(path: str | Path) -> dict[str, Any]:
    """An ``attribution.json`` written by ``genq-analyze --attribution``."""
    try:
        data = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise GenqError(f"quant.budget.attribution={path} does not exist; accepted: the "
                        "attribution.json that genq-analyze --attribution writes.") from None
    if not isinstance(data, dict) or data.get("genq_attribution_version") != ATTRIBUTION_VERSION:
        raise GenqError(f"{path} is not an attribution file of version {ATTRIBUTION_VERSION}.")
    return data


def choose(attribution: dict[str, Any], kind: str, value: float, metric: str = "qfid"):
    """The :class:`~genq.quant.allocator.milp.Allocation` for this budget."""
    fitted = attribution["effects"].get(metric)
    if fitted is None:
        raise GenqError(f"quant.budget.metric={metric} was not measured by this attribution; "
                        f"accepted: {', '.join(attribution['effects'])}.")
    pairs = None if fitted.get("pairs") is None else np.asarray(fitted["pairs"])
    return allocate(np.asarray(fitted["effects"]), CostModel.from_table(attribution["costs"]), kind,
                    float(value), float(fitted["intercept"]), pairs)


def resolve_auto(q: Any, run_dir: Optional[str | Path]) -> tuple[Any, dict[str, Any]]:
    """(a copy of ``q`` that runs the chosen recipe file, the record's ``allocator`` entry)."""
    from genq.quant.allocator.recipe import write_recipe

    b = q.budget
    if not b.attribution or b.value is None:
        raise GenqError("quant=auto needs quant.budget.attribution (an attribution.json) and "
                        f"quant.budget.value; got attribution={b.attribution!r}, value={b.value!r}.")
    attribution = load_attribution(b.attribution)
    alloc = choose(attribution, b.kind, b.value, b.metric)
    if b.out:
        path = Path(b.out)
    elif run_dir is not None:
        path = Path(run_dir) / "auto_recipe.json"
    else:
        raise GenqError("quant=auto writes its recipe file to quant.budget.out or the run folder; "
                        "neither is set.")
    path.parent.mkdir(parents=True, exist_ok=True)
    path, key = write_recipe(attribution, alloc.config, path)
    chosen = copy.deepcopy(q)
    chosen.auto = False
    setattr(chosen, key, str(path))
    info = {"attribution": str(b.attribution), "model": attribution["model"], "metric": b.metric,
            "budget": {"kind": b.kind, "value": float(b.value)}, "cost": alloc.cost,
            f"predicted_{b.metric}": alloc.predicted, "recipe_file": str(path),
            "config": {c["label"]: attribution["options"][o]
                       for c, o in zip(attribution["cells"], alloc.config.tolist())},
            "rerun": f"genq model={attribution['model']} quant=w8a8 quant.{key}={path} "
                     "(with this run's calibration settings and quant.seed)"}
    return chosen, info
