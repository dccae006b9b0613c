"""CPU int8 through PT2E and oneDNN: the simulated model's integer grid run on real int8
kernels (x86 VNNI via oneDNN ``qconv``/``qlinear``), compiled whole-graph by Inductor.

Pipeline (torchao.quantization.pt2e, the successor of torch.ao's PT2E flow):
1. :func:`genq.bench.backends.lowering.lower` turns the fake-quant network into plain layers
   holding the quantized weights (ConvTranspose2d rewritten to Conv2d, BatchNorm folded);
2. ``torch.export`` captures the forward pass;
3. ``X86InductorQuantizer`` annotates exactly the layers the simulated model quantized
   (module-name configs), uint8 asymmetric activations and int8 symmetric per-channel weights;
4. the inserted observers are given the simulated model's scales (no re-calibration);
5. ``convert_pt2e`` gives the reference Q/DQ graph; ``torch.compile`` with freezing lets
   Inductor's x86 passes fuse dequantize -> conv -> quantize into single int8 oneDNN kernels
   and fuse the quantize of a layer's input into the float op that produces it (GroupNorm,
   SiLU, ...), so activations travel as uint8 between those kernels.

Without compilation (``compile=False``) the converted graph is the *reference* path: the same
integer grid, computed by quantize/dequantize ops in fp32 (correct, not fast).

X86 Inductor quantization tutorial: https://pytorch.org/tutorials/prototype/pt2e_quant_x86_inductor.html
"""

from __future__ import annotations

from typing import Any, Callable

import torch
from torch import nn

from genq.bench.backends.fixed_qparams import FixedObserver, FixedPerChannelObserver
from genq.bench.backends.lowering import Lowered, lower
from genq.errors import GenqError

INT8_OPS = ("onednn::qconv_pointwise", "onednn::qconv2d_pointwise", "onednn::qlinear_pointwise",
            "onednn::qconv_pointwise_binary", "onednn::qlinear_pointwise_binary")
FLOAT_OPS = ("aten::mkldnn_convolution", "mkldnn::_convolution_pointwise", "aten::convolution",
             "aten::addmm", "aten::mm", "mkldnn::_linear_pointwise", "aten::linear",
             "aten::conv_transpose2d", "mkldnn::_convolution_transpose_pointwise",
             "aten::_convolution", "aten::bmm", "aten::matmul")


def int8_config(a_qmax: int = 255):
    """X86 int8 config whose observers take the simulated model's qparams; activations on the
    uint8 grid ``[0, a_qmax]`` (255 for 8-bit activations, 127 for 7-bit: FBGEMM's
    ``reduce_range``, exact on CPUs whose int8 kernels saturate int16 pair sums)."""
    from torchao.quantization.pt2e.quantizer import QuantizationConfig, QuantizationSpec

    act = QuantizationSpec(dtype=torch.uint8, quant_min=0, quant_max=a_qmax, qscheme=torch.per_tensor_affine,
                           is_dynamic=False, observer_or_fake_quant_ctr=FixedObserver.with_args(eps=2 ** -12))
    weight = QuantizationSpec(dtype=torch.int8, quant_min=-128, quant_max=127,
                              qscheme=torch.per_channel_symmetric, ch_axis=0, is_dynamic=False,
                              observer_or_fake_quant_ctr=FixedPerChannelObserver.with_args(eps=2 ** -12))
    return QuantizationConfig(act, act, weight, None, False)


class _Forward(nn.Module):
    """The network's forward pass returning a tensor (diffusers returns an output object)."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, *args: torch.Tensor) -> torch.Tensor:
        out = self.net(*args)
        return out.sample if hasattr(out, "sample") else out


def _module_of(node: torch.fx.Node) -> str | None:
    stack = node.meta.get("nn_module_stack")
    if not stack:
        return None
    path = list(stack.values())[-1][0]
    return path[len("net."):] if path.startswith("net.") else path


def _strip_asserts(gm: torch.fx.GraphModule) -> None:
    """Drop export's dtype asserts (they break bf16 autocast around the graph)."""
    for node in list(gm.graph.nodes):
        if node.op == "call_function" and node.target == torch.ops.aten._assert_tensor_metadata.default:
            gm.graph.erase_node(node)
    gm.recompile()


def convert_int8(lowered: Lowered, example_args: tuple) -> tuple[torch.fx.GraphModule, list[str]]:
    """The PT2E-converted reference int8 graph of ``lowered`` and notes on shared observers."""
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

    from genq.bench.backends.inductor import import_x86_quantizer

    X86InductorQuantizer = import_x86_quantizer()

    plans = {p.target: p for p in lowered.plans if p.quantized}
    if not plans:
        raise GenqError("cpu_int8: the simulated model has no layer with static int8 weights and "
                        "activations to run on int8 kernels (recipe fp32 or weight-only?).")
    with torch.no_grad():
        # no copy: the lowered network is already genq's own (a full-size copy costs gigabytes)
        exported = torch.export.export(_Forward(lowered.network).eval(), example_args).module()
    quantizer = X86InductorQuantizer()
    configs = {q: int8_config(q) for q in {p.a_qmax for p in plans.values()}}
    for target, plan in plans.items():
        quantizer.set_module_name_qconfig(f"net.{target}", configs[plan.a_qmax])   # _Forward adds "net."
    prepared = prepare_pt2e(exported, quantizer)
    notes, seen, matched = [], {}, set()
    layer_ops = (torch.ops.aten.conv2d.default, torch.ops.aten.linear.default)
    for node in prepared.graph.nodes:
        if node.op != "call_function" or node.target not in layer_ops:
            continue
        plan = plans.get(_module_of(node) or "")
        if plan is None:
            continue
        act_node, w_node = node.args[0], node.args[1]
        for obs_node in (act_node, w_node):
            if not (isinstance(obs_node, torch.fx.Node) and obs_node.op == "call_module"):
                raise GenqError(f"cpu_int8: the X86 quantizer did not annotate layer {plan.name!r}")
        act_obs = prepared.get_submodule(act_node.target)
        if act_node.target in seen and seen[act_node.target][:2] != (plan.a_scale, plan.a_zero_point):
            notes.append(f"{plan.name}: input observer shared with {seen[act_node.target][2]}; "
                         f"its scale {seen[act_node.target][0]:.4g} is used")
        else:
            act_obs.set_qparams(plan.a_scale, plan.a_zero_point)
            seen[act_node.target] = (plan.a_scale, plan.a_zero_point, plan.name)
        prepared.get_submodule(w_node.target).set_qparams(plan.w_scale)
        matched.add(plan.target)
    missing = sorted(set(plans) - matched)
    if missing:
        raise GenqError(f"cpu_int8: layers {missing} were not found in the exported graph")
    converted = convert_pt2e(prepared)
    _strip_asserts(converted)
    return converted, notes


def compile_int8(converted: torch.fx.GraphModule, mode: str | None = None) -> Callable:
    """Inductor with freezing (constant weights: prepacked int8 oneDNN kernels) and the
    kernel profile, set only while the compiled graph is called (it compiles on its first
    call): :mod:`genq.bench.backends.inductor`."""
    from genq.bench.backends.inductor import cpu_int8_settings, import_x86_quantizer, scoped

    import_x86_quantizer()      # registers the int8 fusion and weight-prepack passes
    return scoped(torch.compile(converted, mode=mode), cpu_int8_settings())


def describe_unsupported(plans: list, show: int = 6) -> str:
    """Unsupported layers grouped by reason: 'reason: a (Conv2d), b (Linear), ... and N more'."""
    by_reason: dict[str, list[str]] = {}
    for p in plans:
        by_reason.setdefault(p.reason, []).append(f"{p.name} ({p.type})")
    parts = []
    for reason, names in by_reason.items():
        more = f" and {len(names) - show} more" if len(names) > show else ""
        parts.append(f"{', '.join(names[:show])}{more} [{len(names)} layers]: {reason}")
    return "; ".join(parts)


def check_saturation(lowered: Lowered, allow: bool, cpu: dict | None = None) -> list[str]:
    """Refuse 8-bit activations on a CPU whose int8 kernels saturate int16 pair sums
    (:func:`genq.bench.isa.int8_pairs_saturate`): the real outputs would silently differ from
    the simulated ones. ``allow``: time them anyway; the returned note says so."""
    from genq.bench.isa import cpu_info, int8_pairs_saturate

    cpu = cpu_info() if cpu is None else cpu
    wide = [p.name for p in lowered.plans if p.quantized and p.a_qmax > 127]
    if not wide or not int8_pairs_saturate(cpu):
        return []
    isa = ", ".join(cpu["isa"]) or "none listed"
    shown = ", ".join(wide[:4]) + (f" and {len(wide) - 4} more" if len(wide) > 4 else "")
    if not allow:
        raise GenqError(
            f"bench=cpu_int8 on {cpu['model']} (ISA: {isa}; no amx_int8, avx512_vnni or avx_vnni): its int8 "
            f"kernels sum pairs of u8 x s8 products in int16 with saturation, so 8-bit activations "
            f"({len(wide)} layers: {shown}) give outputs that differ from the simulated model. Accepted: "
            "quant.a_bits=7 (7-bit activations cannot overflow; FBGEMM's reduce_range), "
            "bench.compile=false (the exact reference path), or bench.allow_int8_saturation=true "
            "(time it anyway; the agreement section shows the error).")
    return [f"int8 kernels on this CPU ({isa}) saturate int16 pair sums and the activations are 8-bit "
            f"({len(wide)} layers): timed anyway (bench.allow_int8_saturation=true); the real outputs "
            "differ from the simulated ones"]


def build_cpu_int8(simulated: nn.Module, example_args: tuple, compile: bool = True,
                   mixed_bf16: bool = False, mode: str | None = None,
                   allow_saturation: bool = False, conv_zero_point: str = "fold") -> dict[str, Any]:
    """Lower, convert and (optionally) compile ``simulated`` for the CPU int8 backend.

    Returns ``fn`` (callable on the network's positional args, returning a tensor),
    ``lowered`` (plans), ``converted`` (reference graph) and ``notes``.
    Raises GenqError naming every layer that has no int8 kernel here, and, compiled, for
    8-bit activations on a CPU whose int8 kernels saturate (:func:`check_saturation`)."""
    lowered = lower(simulated, example_args, conv_zero_point)
    if lowered.unsupported:
        raise GenqError(f"cpu_int8 cannot run this model on int8 kernels; unsupported layers: "
                        f"{describe_unsupported(lowered.unsupported)}")
    saturation_notes = check_saturation(lowered, allow_saturation) if compile else []
    from genq.progress import stage

    with stage("cpu_int8: export, int8 calibration and conversion (PT2E)"):
        converted, notes = convert_int8(lowered, example_args)
    run = compile_int8(converted, mode) if compile else converted

    def fn(*args: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            if mixed_bf16:
                with torch.autocast("cpu", dtype=torch.bfloat16):
                    return run(*args).float()
            return run(*args)

    return {"fn": fn, "lowered": lowered, "converted": converted, "notes": saturation_notes + notes}
