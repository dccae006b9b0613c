"""genq's quantization engine (DESIGN.md section 4): number formats, granularities,
observers, the layer-type registry, the per-module plan, fake-quantized layers and
``quantize_``."""

from genq.quant.api import QuantRecipe, quantize_
from genq.quant.apply import apply_plan, calibrate
from genq.quant.formats import (BlockFormat, FloatFormat, IntFormat, NAMED_FORMATS, parse_format)
from genq.quant.granularity import PerBlock, PerChannel, PerGroup, PerTensor, as_granularity
from genq.quant.plan import AttentionSpec, LayerSpec, OutlierSpec, QuantPlan, TensorSpec, make_plan
from genq.quant.primitives import choose_qparams, fake_quantize, qrange, round_ste
from genq.quant.report import LayerReport, QuantReport
from genq.quant.schedule import PrecisionSchedule, apply_schedule, calibrate_schedule
from genq.quant.targets import LayerTarget, register_layer_target, target_for

__all__ = ["quantize_", "QuantRecipe", "QuantReport", "LayerReport", "choose_qparams",
           "fake_quantize", "qrange", "round_ste", "PerTensor", "PerChannel", "PerGroup",
           "PerBlock", "as_granularity", "IntFormat", "FloatFormat", "BlockFormat",
           "NAMED_FORMATS", "parse_format", "make_plan", "apply_plan", "calibrate", "QuantPlan",
           "LayerSpec", "TensorSpec", "AttentionSpec", "OutlierSpec", "LayerTarget", "register_layer_target",
           "target_for", "PrecisionSchedule", "apply_schedule", "calibrate_schedule"]
