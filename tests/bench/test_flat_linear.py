"""FlatLinear (genq.bench.backends.lowering): a non-contiguous input is flattened to 2-D (so
Inductor's int8 qlinear fusion matches attention's q/k/v), a contiguous one is not (a reshape
between a Linear and its GELU would hide the qlinear + GELU fusion)."""

import torch
from torch import nn

from genq.bench.backends.lowering import FlatLinear


class _Mlp(nn.Module):
    def __init__(self, transposed: bool) -> None:
        super().__init__()
        self.proj = FlatLinear(nn.Linear(8, 16))
        self.transposed = transposed

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.transposed:
            x = x.transpose(1, 2)
        return torch.nn.functional.gelu(self.proj(x), approximate="tanh")


def test_contiguous_input_goes_through_unflattened() -> None:
    torch.manual_seed(0)
    mlp = _Mlp(transposed=False).eval()
    x = torch.randn(2, 5, 8)
    assert torch.allclose(mlp(x), torch.nn.functional.gelu(mlp.proj.linear(x), approximate="tanh"))
    graph = torch.export.export(mlp, (x,)).graph
    gelu = next(n for n in graph.nodes if n.op == "call_function" and "gelu" in str(n.target))
    assert "linear" in str(gelu.args[0].target), f"GELU's input is {gelu.args[0].target}, not the Linear"

def test_non_contiguous_input_is_flattened() -> None:
    torch.manual_seed(0)
    mlp = _Mlp(transposed=True).eval()
    x = torch.randn(2, 8, 5)
    expected = torch.nn.functional.gelu(mlp.proj.linear(x.transpose(1, 2)), approximate="tanh")
    assert torch.allclose(mlp(x), expected, atol=1e-6)
    graph = torch.export.export(mlp, (x,)).graph
    linear = next(n for n in graph.nodes if n.op == "call_function" and "linear" in str(n.target))
    assert len(linear.args[0].meta["val"].shape) == 2
