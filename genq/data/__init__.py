"""Datasets: the embedded digits (offline default), torchvision sets and image folders as
FID/KID references (``load_reference``), and text-to-image prompts (``load_prompts``)."""

from genq.data.digits import DigitsSplit, load_digits
from genq.data.prompts import load_prompts
from genq.data.reference import DATASETS, check_data_config, describe_reference, load_reference

__all__ = ["DigitsSplit", "load_digits", "load_reference", "describe_reference", "check_data_config",
           "load_prompts", "DATASETS"]
