"""What each option of each cell costs, for the allocator (:mod:`genq.quant.allocator`):
the weight bits of every group at every option, counted as the record counts them
(:func:`genq.quant.effective_bits.weight_bits`: format bits plus scales; FP at the stored
dtype), and what lies outside the cells (covered layers no option quantizes, other
parameters and buffers)."""

from __future__ import annotations

from typing import Any

from torch import nn

from genq.analysis.attribution.cells import CellGrid
from genq.bench.size import model_bytes
from genq.quant.effective_bits import covered_layers, weight_bits


def cost_table(fp_network: nn.Module, copies: list[nn.Module], grid: CellGrid) -> dict[str, Any]:
    """``weight_bits[g][o]`` (group g at option o), ``weight_elements[g]``, the constant
    ``other_weight_bits``/``other_weight_elements`` of covered layers outside every group,
    ``other_bytes`` (every other parameter and buffer) and ``window_steps``."""
    fp_layers = dict(covered_layers(fp_network))
    sources = [fp_layers] + [dict(covered_layers(n)) for n in copies]
    in_groups = {n for layers in grid.groups.values() for n in layers}
    bits, elements = [], []
    for layers in grid.groups.values():
        bits.append([sum(weight_bits(src[n])[0] for n in layers) for src in sources])
        elements.append(sum(weight_bits(fp_layers[n])[1] for n in layers))
    outside = [weight_bits(m) for n, m in fp_layers.items() if n not in in_groups]
    covered_fp_bytes = sum(weight_bits(m)[0] for m in fp_layers.values()) / 8
    return {"groups": list(grid.groups), "options": [o.name for o in grid.options],
            "weight_bits": bits, "weight_elements": elements,
            "other_weight_bits": sum(b for b, _ in outside),
            "other_weight_elements": sum(n for _, n in outside),
            "other_bytes": model_bytes(fp_network) - covered_fp_bytes,
            "window_steps": [e - s for s, e in grid.windows]}
