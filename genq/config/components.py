"""The names ``quant.components`` accepts (checked before torch and any model load; what
each one quantizes: :mod:`genq.quant.components`)."""

from __future__ import annotations

from typing import Any

from genq.errors import GenqError

DENOISER_ROLES = ("unet", "transformer", "generator")
EXTRA = ("vae_decoder", "text_encoder")
COMPONENTS = ("denoiser", *DENOISER_ROLES, *EXTRA)


def check_component_names(names: Any) -> None:
    """``quant.components``: null, or a non-empty list of :data:`COMPONENTS`."""
    if names is None:
        return
    if isinstance(names, str) or not len(names):
        raise GenqError(f"quant.components={names!r} is not a non-empty list; accepted: null (the "
                        f"denoiser alone) or a list of {', '.join(COMPONENTS)}.")
    for name in names:
        if name not in COMPONENTS:
            raise GenqError(f"quant.components has {name!r}, which is not a component name; "
                            f"accepted: {', '.join(COMPONENTS)}.")
