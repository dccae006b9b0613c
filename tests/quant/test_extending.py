"""The worked examples of docs/extending.md ("Adding a format", "Adding a layer type"),
run as written: the code blocks are copied here and checked to still match the doc."""

import re
from pathlib import Path

import torch
from torch import nn

DOC = Path(__file__).resolve().parents[2] / "docs" / "extending.md"


def _block(heading: str) -> str:
    text = DOC.read_text()
    section = text.split(f"## {heading}", 1)[1].split("\n## ", 1)[0]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_adding_a_format_example_runs():
    scope: dict = {}
    exec(compile(_block("Adding a format"), str(DOC), "exec"), scope)   # noqa: S102 - our own doc
    from genq.quant.formats import NAMED_FORMATS
    try:
        report, err = scope["report"], scope["err"]
        assert all("log4" in r.weight for r in report.layers if r.status == "quantized")
        assert 0 < err < 0.5
        w = torch.tensor([0.3, -0.06, 1.0])
        q = NAMED_FORMATS["log4"].fake_quantize(w, torch.tensor(1.0), torch.tensor(0.0))
        assert torch.equal(q.abs().log2(), q.abs().log2().round())       # powers of two
    finally:
        NAMED_FORMATS.pop("log4", None)


def test_adding_a_layer_type_example_runs():
    scope: dict = {}
    exec(compile(_block("Adding a layer type"), str(DOC), "exec"), scope)   # noqa: S102
    from genq.quant.targets import unregister_layer_target
    try:
        report, err = scope["report"], scope["err"]
        rows = {r.name: r for r in report.layers}
        assert rows["1"].status == "quantized" and rows["1"].type == "ScaledLinear"
        assert 0 < err < 0.05
        assert isinstance(scope["model"][1], nn.Module) and scope["model"][1].weight_quantizer.mode == "quant"
    finally:
        unregister_layer_target(scope["ScaledLinear"])
