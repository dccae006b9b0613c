"""Hand-made result records with the keys genq.report reads, for the report tests."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any


def make_record(seed: int = 0, quant_seed: int | None = 0, model: str = "ddpm_digits",
                recipe: str = "w8a8", w_bits: int | None = 8, a_bits: int | None = 8,
                metrics: dict[str, Any] | None = None, with_config: bool = True) -> dict[str, Any]:
    """A finished run: ``metrics`` as given (plus n_samples), seeds in the record, its quant
    section and its resolved config (``seed``, ``quant.seed``) like genq.run writes them."""
    method = "fp" if w_bits is None and a_bits is None else "ptq"
    quant = {"recipe": recipe, "method": method, "w_bits": w_bits, "a_bits": a_bits,
             "granularity": "per_channel" if method == "ptq" else None,
             "observer": "minmax" if a_bits else None}
    if quant_seed is not None:
        quant["seed"] = quant_seed
    record = {
        "schema": 1, "run_id": f"{model}-{recipe}-{seed}-{quant_seed}", "experiment": "test",
        "model": model, "quant": quant,
        "metrics": {"n_samples": 100, "feature_extractor": "digits_classifier", **(metrics or {})},
        "speed": {"backend": "fake-quant", "device": "cpu", "latency_ms_per_image": 1.0 + (w_bits or 0),
                  "latency_ms_per_image_fp": 1.0, "model_bytes": 1000, "model_bytes_fp": 4000},
        "seed": seed, "status": "ok",
    }
    if with_config:
        config_quant = {k: v for k, v in quant.items() if k != "seed"}
        config_quant.update({"calibration": {"seed": 0}, "reconstruction": {"seed": 0}})
        if quant_seed is not None:
            config_quant["seed"] = quant_seed
        record["config"] = {"model": {"name": model}, "quant": config_quant,
                            "metrics": {"n_samples": 100}, "experiment": "test", "seed": seed}
    return copy.deepcopy(record)


def write_records(root: Path, records: list[dict[str, Any]]) -> Path:
    """Each record as ``root/<i>/result.json``."""
    for i, record in enumerate(records):
        (root / str(i)).mkdir(parents=True, exist_ok=True)
        (root / str(i) / "result.json").write_text(json.dumps(record))
    return root
