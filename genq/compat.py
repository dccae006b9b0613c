"""Does the model's image fit the reference data and the metrics? Checked after the model
loads and before any sampling (issue 21): a 3-channel 32x32 hub DDPM scored by the digits
classifier used to end in a 40-line traceback from deep inside the feature network.

- The digits classifier (``metrics.feature_extractor`` / ``metrics.lpips_net`` =
  ``digits_classifier``, the ``metrics=digits`` default) reads 1-channel 16x16 images only:
  any other shape is refused in one sentence naming both shapes and the settings that fit.
- Inception (``metrics=standard``) resizes any image to 299x299 and repeats a grey channel,
  the standard convention; nothing to refuse.
- Reference images are brought to the model's shape by the standard conventions
  (resize; grey -> RGB repeats the channel, RGB -> grey takes ITU-R 601-2 luma), and
  :func:`reference_conversion` says so in the record.
"""

from __future__ import annotations

from typing import Any

from genq.errors import GenqError

DIGITS_SHAPE = (1, 16, 16)                      # what genq's digits classifier reads
NATIVE_SHAPES = {"digits": (1, 8, 8), "mnist": (1, 28, 28), "cifar10": (3, 32, 32)}


def shape_str(shape: tuple[int, ...]) -> str:
    """``(3, 32, 32)`` -> ``'3x32x32'`` (channels x height x width)."""
    return "x".join(str(int(s)) for s in shape)


def _fitting_settings(shape: tuple[int, int, int]) -> str:
    if shape[0] == 3:
        return ("data=cifar10 metrics=standard (Inception features, any RGB size) or "
                "data=image_folder data.root=<your images> metrics=standard")
    return ("metrics=standard (Inception features, any size) with data=mnist or "
            "data=image_folder data.root=<your images>")


def check_metrics_fit(image_shape: tuple[int, int, int], metrics_cfg: Any, model_name: str = "the model",
                      latent: bool = False) -> None:
    """Refuse a metrics config whose feature network cannot read the model's images."""
    shape = tuple(int(s) for s in image_shape)
    users = [f"metrics.{key}=digits_classifier" for key in ("feature_extractor", "lpips_net")
             if getattr(metrics_cfg, key, None) == "digits_classifier"]
    if users and shape != DIGITS_SHAPE:
        kind = "decoded pixel images" if latent else "images"
        raise GenqError(f"model={model_name} makes {shape_str(shape)} {kind}, but {' and '.join(users)} "
                        f"(metrics={getattr(metrics_cfg, 'name', '?')}) reads {shape_str(DIGITS_SHAPE)} digits "
                        f"only; accepted: a 1x16x16 digits model, or {_fitting_settings(shape)}.")


def reference_conversion(data_cfg: Any, image_shape: tuple[int, int, int]) -> str | None:
    """How the reference images are converted to the model's shape, for the record (None: no
    conversion, or a folder of images of unknown native shape)."""
    native = NATIVE_SHAPES.get(data_cfg.name)
    shape = tuple(int(s) for s in image_shape)
    if native is None or native == shape:
        return None
    steps = []
    if native[0] != shape[0]:
        steps.append("grey -> RGB (channel repeated)" if native[0] == 1 else "RGB -> grey (ITU-R 601-2 luma)")
    if native[1:] != shape[1:]:
        steps.append(f"resized {native[1]}x{native[2]} -> {shape[1]}x{shape[2]}")
    return f"data={data_cfg.name} {shape_str(native)} -> {shape_str(shape)}: " + ", ".join(steps)


def check_fits(image_shape: tuple[int, int, int], cfg: Any, latent: bool = False) -> dict[str, Any]:
    """All checks above; returns the record's ``compatibility`` section."""
    check_metrics_fit(image_shape, cfg.metrics, cfg.model.name, latent)
    return {"image_shape": [int(s) for s in image_shape], "latent": latent,
            "reference_conversion": reference_conversion(cfg.data, image_shape)}
