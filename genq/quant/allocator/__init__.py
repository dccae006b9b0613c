"""The mixed-precision allocator (``quant=auto``): per cell of an attribution, FP or one of
its options, minimising the fitted loss under a budget by an exact integer program;
``docs/attribution.md``."""

from genq.quant.allocator.budget import KINDS, CostModel
from genq.quant.allocator.milp import Allocation, allocate, brute_force

__all__ = ["KINDS", "CostModel", "Allocation", "allocate", "brute_force"]
