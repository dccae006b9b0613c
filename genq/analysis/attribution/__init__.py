"""Causal error attribution over cells (layer groups x sampler-timestep windows) and the
additive model of the loss the mixed-precision allocator (``quant=auto``) optimises;
``docs/attribution.md``."""

from genq.analysis.attribution.additive import AdditiveModel, fit, validate
from genq.analysis.attribution.cells import FP, Cell, CellGrid, Option, split_steps

__all__ = ["AdditiveModel", "fit", "validate", "FP", "Cell", "CellGrid", "Option", "split_steps",
           "run_attribution"]


def run_attribution(*args, **kwargs):
    """:func:`genq.analysis.attribution.study.run_attribution` (imported on first use)."""
    from genq.analysis.attribution.study import run_attribution as run

    return run(*args, **kwargs)
