"""genq: why generative models degrade under quantization, and what recovers it."""

import logging as _logging

# Version-mismatch notices that torchao 0.18 / diffusers print on import under torch 2.14;
# they concern torch.compile and torchao-serialized checkpoints, neither of which genq uses.
for _name in ("torch.utils._pytree", "diffusers.quantizers.torchao.torchao_quantizer"):
    _logging.getLogger(_name).setLevel(_logging.ERROR)

__version__ = "0.1.0"
