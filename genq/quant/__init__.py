"""genq's quantization engine (DESIGN.md section 4): primitives, granularities, observers,
fake-quantized modules and ``quantize_``."""

from genq.quant.api import QuantRecipe, quantize_
from genq.quant.granularity import PerChannel, PerGroup, PerTensor, as_granularity
from genq.quant.primitives import choose_qparams, fake_quantize, qrange, round_ste
from genq.quant.report import LayerReport, QuantReport

__all__ = ["quantize_", "QuantRecipe", "QuantReport", "LayerReport", "choose_qparams",
           "fake_quantize", "qrange", "round_ste", "PerTensor", "PerChannel", "PerGroup",
           "as_granularity"]
