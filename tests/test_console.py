"""A quiet console (issue 21): the third-party lines genq silences stay silent, and a genq
run prints none of them."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

NOISE = re.compile(r"USDT|gpuGetDeviceCount|No CUDA runtime|Enum subclass|Unable to import `torchao`|^[WE]\d{4} ",
                   re.MULTILINE)
ROOT = Path(__file__).resolve().parents[1]


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "KINETO_LOG_LEVEL"}
    env["PYTHONPATH"] = str(ROOT)
    return env


def test_the_silenced_sources_print_nothing():
    code = """
from genq.console import quiet_third_party
quiet_third_party()
import torch, torch.utils.cpp_extension, torchao
import diffusers.quantizers.torchao.torchao_quantizer
from genq.bench.backends.coverage import kernel_counts
kernel_counts(lambda: torch.nn.functional.linear(torch.ones(2, 3), torch.ones(4, 3)), ("x",), ("aten::linear",))
print("ok")
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=_env(), timeout=300)
    assert out.returncode == 0 and out.stdout.strip().endswith("ok"), out.stderr
    assert not NOISE.search(out.stderr), out.stderr


def test_a_smoke_run_prints_no_third_party_line(tmp_path):
    out = subprocess.run([sys.executable, "-m", "genq.run", "experiment=smoke", "logger=none", "model=dcgan_digits",
                          f"hydra.run.dir={tmp_path}/run"], capture_output=True, text=True, env=_env(),
                         cwd=tmp_path, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    assert not NOISE.search(out.stderr + out.stdout), out.stderr
    assert "FID (vs real)" in out.stdout          # ends with the table
