"""Reconstruction after calibration: AdaRound weight rounding per layer or per block
(BRECQ), then optionally learned activation step sizes."""

from genq.quant.reconstruction.adaround import AdaRoundQuantizer
from genq.quant.reconstruction.blocks import Block, find_blocks
from genq.quant.reconstruction.reconstruct import reconstruct, reconstruct_block

__all__ = ["AdaRoundQuantizer", "Block", "find_blocks", "reconstruct", "reconstruct_block"]
