"""A quiet console: third-party log lines that do not concern a genq user, silenced at their
source (issue 21). Each entry says why it is noise here; genq's own progress and errors are
untouched. Call :func:`quiet_third_party` before torch and the model stack are imported."""

from __future__ import annotations

import logging
import os

# logger name -> why its warnings are noise for a genq user
QUIET_LOGGERS = {
    # "No CUDA runtime is found, using CUDA_HOME=...": a CUDA toolkit without a GPU; genq
    # refuses CUDA backends itself, in one sentence, when there is no GPU
    "torch.utils.cpp_extension": "CUDA toolkit without a GPU",
    # "<enum 'KernelPreference'> is an Enum subclass ...": torchao registers its enums with
    # pytree the deprecated way; nothing for the user to do
    "torch.utils._pytree": "torchao's enum registration",
    # "Unable to import `torchao` Tensor objects": diffusers probes torchao's tensor classes for
    # checkpoints serialized with torchao, which genq never loads
    "diffusers.quantizers.torchao.torchao_quantizer": "torchao-serialized checkpoints not used",
}


def quiet_third_party() -> None:
    """Silence the third-party lines above; idempotent."""
    # torch.profiler's kineto prints "USDT ... profiler_start/stop" and, without a GPU,
    # "ERROR: ... gpuGetDeviceCount failed with code 35" on every profile (genq profiles the
    # compiled int8 graph to count its kernels); level 6 is above all of kineto's levels.
    os.environ.setdefault("KINETO_LOG_LEVEL", "6")
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)
