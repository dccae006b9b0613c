"""Speed and size: latency timing, model bytes."""

from genq.bench.latency import Timing, device_name, time_call
from genq.bench.size import model_bytes, packed_model_bytes

__all__ = ["Timing", "time_call", "device_name", "model_bytes", "packed_model_bytes"]
