"""Native CPU kernels for the simulation's hot spots, compiled on first use.

Only where eager PyTorch needs many passes over a tensor and no library has a fused CPU
kernel: block-scaled fake quantization of activations (MX, NVFP4), whose scales come from
each block at every call, and fake quantization under one scale (static per-tensor
activations: integers, and FP8/FP6/FP4 minifloats, for which torch's float8 casts are
slower on CPU and it has no FP6/FP4 dtype). Each kernel reproduces its PyTorch reference
bit for bit and falls back to it wherever it does not apply (gradients, other dtypes, no C
compiler, ``GENQ_NATIVE=0``).
"""

from genq.quant.kernels.block_fake_quant import native_block_fake_quantize
from genq.quant.kernels.build import native_status
from genq.quant.kernels.per_tensor import native_float_fake_quantize, native_int_fake_quantize

__all__ = ["native_block_fake_quantize", "native_float_fake_quantize", "native_int_fake_quantize",
           "native_status"]
