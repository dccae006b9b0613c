"""Schema of outlier handling (``quant.outlier.*``): how a layer's input-channel outliers are
moved or spread before its weight and input are quantized (``docs/outliers.md``).

``method: none`` (the default) leaves every recipe exactly as it was.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from genq.errors import GenqError, check_choice

OUTLIER_METHODS = ("none", "smooth", "rotate", "svd")


@dataclass
class OutlierConfig:
    """One outlier method for every quantized layer.

    - ``smooth``: SmoothQuant's per-input-channel migration (Xiao et al., arXiv:2211.10438),
      ``s_j = max|X_j|^alpha / max|W_j|^(1-alpha)`` from calibration statistics;
    - ``rotate``: an orthonormal Hadamard rotation of the reduction dimension (QuaRot,
      Ashkboos et al., arXiv:2404.00456);
    - ``svd``: SVDQuant (Li et al., arXiv:2411.05007): smoothing, then a rank-``rank`` 16-bit
      branch from the SVD of the smoothed weight; the residual is quantized.
    """

    method: str = "none"                        # none | smooth | rotate | svd
    alpha: float = 0.5                          # smooth, svd: migration strength in [0, 1]
    # svd: the branch's rank; >= 1: that many (an integer), in (0, 1): that fraction of the
    # layer's width (the smaller of its input and output channels), at least 1
    rank: float = 8.0


def validate_outlier(o: Any) -> None:
    """Checks the schema types cannot express (one sentence per problem)."""
    check_choice("quant.outlier.method", o.method, OUTLIER_METHODS)
    if not 0.0 <= o.alpha <= 1.0:
        raise GenqError(f"quant.outlier.alpha={o.alpha} is out of range; accepted: [0, 1].")
    if not (0.0 < o.rank < 1.0 or (o.rank >= 1 and float(o.rank).is_integer())):
        raise GenqError(f"quant.outlier.rank={o.rank} is not a rank; accepted: an integer >= 1 "
                        "(absolute) or a fraction in (0, 1) of the layer's width.")


def rank_token(rank: float) -> str:
    """``rank`` as the label writes it: ``8``, ``0.25``."""
    return f"{float(rank):g}"
