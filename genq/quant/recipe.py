"""``QuantRecipe``: a ``quant`` config for use from Python, with W8A8 PTQ defaults."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from genq.config import QuantConfig


@dataclass
class QuantRecipe(QuantConfig):
    """A quant config with W8A8 PTQ defaults, for use from Python."""

    recipe: str = "custom"
    method: str = "ptq"
    w_bits: Optional[int] = 8
    a_bits: Optional[int] = 8
