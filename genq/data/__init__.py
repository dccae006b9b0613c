"""Datasets: the embedded digits (offline default), torchvision sets and image folders as
FID/KID references (``load_reference``), and text-to-image prompts (``load_prompts``).

Exports load lazily (genq._lazy): ``genq.data.checks`` checks a data config without torch."""

from genq._lazy import lazy_exports

_EXPORTS = {"DigitsSplit": "digits", "load_digits": "digits", "load_prompts": "prompts",
            "DATASETS": "checks", "check_data_config": "checks", "describe_reference": "reference",
            "load_reference": "reference"}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

__all__ = ["DigitsSplit", "load_digits", "load_reference", "describe_reference", "check_data_config",
           "load_prompts", "DATASETS"]
