"""Load a QAT student from a snapshot or checkpoint (``model.safetensors`` / ``step_N.safetensors``)
without repeating the calibration: the prepared structure is rebuilt with min-max observers
on a single calibration sample (only the module layout matters; observers leave no state in a
learnable quantizer), then every step size, offset, weight and LoRA factor comes from the file.
Used for the quality-vs-steps curve of a single training run.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf
from safetensors.torch import load_file

from genq.models.base import GeneratorAdapter
from genq.qat.pipeline import convert, prepare


def load_student(fp: GeneratorAdapter, q: Any, path: str | Path) -> GeneratorAdapter:
    """The converted QAT model of ``fp`` under quant config ``q`` with the tensors of ``path``."""
    q = copy.deepcopy(q)
    if OmegaConf.is_config(q):
        OmegaConf.set_readonly(q, False)
        OmegaConf.set_struct(q, False)
    q.observer, q.w_observer = "minmax", "minmax"
    student = fp.clone()
    calib = fp.calibration_inputs(fp.make_noise(1, 0), 1)      # used only when the plan needs it
    prepare(student, q, calib)
    student.network.load_state_dict(load_file(str(path)), strict=True)
    convert(student.network)
    return student
