"""Quantization-aware training (issue #7)."""
