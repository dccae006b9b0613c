"""Datasets: the embedded digits (offline default)."""

from genq.data.digits import DigitsSplit, load_digits

__all__ = ["DigitsSplit", "load_digits"]
