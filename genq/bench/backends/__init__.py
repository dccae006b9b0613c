"""Real low-precision backends (DESIGN.md section 4, layer 7): CPU int8 through PT2E and
oneDNN, CPU bf16/fp16 autocast, CUDA fp16/bf16/int8/fp8 through torchao. Each either runs a
model for real or refuses it naming the layers it cannot run."""

from genq.bench.backends.cuda import check_cuda
from genq.config.bench import BACKENDS, CPU_BACKENDS, CUDA_BACKENDS

__all__ = ["BACKENDS", "CPU_BACKENDS", "CUDA_BACKENDS", "check_cuda"]
