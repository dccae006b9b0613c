"""Whether a real backend times the format the simulated model scored.

``cpu_int8`` lowers the simulated model itself (its formats and scales are the timed ones,
or the layer is refused). The CUDA int8/fp8 backends instead apply a torchao config to the
FP network: their weight and activation formats are torchao's, whatever the recipe says.
:func:`format_notes` compares the two per layer so the record says, in words, where the
scored format and the timed one differ (e.g. a W4A8 recipe timed as fp8 e4m3).
"""

from __future__ import annotations

from collections import Counter

from torch import nn

# backend -> (weight format, activation format) torchao runs on Linear layers
TIMED_FORMATS: dict[str, tuple[str, str]] = {
    "cuda_int8": ("int8", "int8 dynamic per-token"),
    "cuda_fp8": ("fp8_e4m3", "fp8_e4m3 dynamic per-row"),
}


def _scored(q: nn.Module | None) -> str:
    if q is None:
        return "fp"
    fmt = getattr(q, "format", None)
    return fmt.name if fmt is not None else f"int{getattr(q, 'bits', '?')}"


def format_notes(backend: str, simulated: nn.Module | None) -> list[str]:
    """Sentences naming every (scored -> timed) format pair that differs, with counts."""
    if backend not in TIMED_FORMATS:
        return []
    w_timed, a_timed = TIMED_FORMATS[backend]
    if simulated is None:
        return [f"quant=fp32 scores the FP model; {backend} times Linear layers at {w_timed} weights "
                f"and {a_timed} activations"]
    pairs: Counter = Counter()
    for mod in simulated.modules():
        if isinstance(mod, nn.Linear) and hasattr(mod, "weight_quantizer"):
            w = _scored(mod.weight_quantizer)
            a_q = mod.input_quantizer
            a = _scored(a_q) + (" dynamic" if getattr(a_q, "dynamic", False) else " static" if a_q else "")
            if w != w_timed or a.split()[0] != a_timed.split()[0]:
                pairs[(w, a)] += 1
    return [f"{n} Linear layers scored as weights {w} / activations {a} are timed as weights "
            f"{w_timed} / activations {a_timed}: this speed is not that of the scored format"
            for (w, a), n in sorted(pairs.items())]
