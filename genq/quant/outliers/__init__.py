"""Outlier handling before quantization, each a recipe option (``quant.outlier.*``) that
composes with any format and bit width: SmoothQuant's migration (arXiv:2211.10438), QuaRot's
Hadamard rotation (arXiv:2404.00456), SVDQuant's 16-bit low-rank branch (arXiv:2411.05007);
and per-layer outlier statistics before and after them (:mod:`.stats`). ``docs/outliers.md``."""

from genq.quant.outliers.install import collect_input_absmax, install_outlier, smoothing_scales
from genq.quant.outliers.lowrank import lowrank_branch
from genq.quant.outliers.rotation import rotation_matrix

__all__ = ["collect_input_absmax", "install_outlier", "smoothing_scales", "lowrank_branch",
           "rotation_matrix"]
