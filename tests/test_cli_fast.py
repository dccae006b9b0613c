"""The CLI answers fast (issue 21): validating a config, and every check before the model
loads, imports no torch; ``genq --help`` and a config error answer without it."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "torchvision", "diffusers", "torchmetrics", "transformers", "torchao")


def _python(code: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code), *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)   # a hang guard, not a timing: loaded CI machines are slow


def test_validation_path_imports_no_torch(tmp_path):
    """Compose, validate, preflight (data, processes, output folder), the CLI module itself and
    the public package names: none of them loads torch or the model stack."""
    out = _python(f"""
        import sys
        from genq.config import compose_config, validate
        from genq.preflight import preflight
        import genq.run, genq.metrics, genq.data, genq.tracking, genq.compat, genq.interrupts
        from genq.metrics.checks import validate_metrics
        from genq.data.checks import check_data_config
        from genq.tracking.resume import config_hash, completed_record
        for overrides in (["experiment=smoke"], ["quant=w4a8_brecq"], ["quant=qat_lsq_w4a8"],
                          ["metrics=standard", "data=cifar10", "data.download=true"],
                          ["bench=cpu_int8"]):
            cfg = compose_config(*overrides)
            validate(cfg)
            preflight(cfg, {str(tmp_path)!r})
            config_hash(cfg)
        heavy = sorted(m for m in sys.modules if m.split(".")[0] in {HEAVY!r})
        assert not heavy, heavy
        print("ok")
    """)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_public_import_paths_still_work():
    """The lazy package exports resolve to the real objects."""
    out = _python("""
        from genq.metrics import score_run, frechet_distance, check_metric_weights, prdc
        from genq.metrics import bootstrap
        from genq.data import load_reference, check_data_config, DATASETS, load_digits
        from genq.tracking import write_json_atomic, save_grid, RESULT_FILE
        from genq.bench.backends import BACKENDS, CUDA_BACKENDS, check_cuda
        import genq.metrics as m
        assert callable(score_run) and callable(bootstrap.bootstrap_metrics if hasattr(bootstrap, "bootstrap_metrics") else score_run)
        assert "score_run" in dir(m) and RESULT_FILE == "result.json" and "cuda_fp8" in BACKENDS
        try:
            m.no_such_name
        except AttributeError:
            print("ok")
    """)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_help_lists_groups_without_torch():
    out = _python("""
        import sys
        sys.argv = ["genq", "--help", "quant=w4a8"]
        from genq.run import main
        main()
        assert "torch" not in sys.modules
    """)
    assert out.returncode == 0, out.stderr
    assert "model: dcgan_digits, ddpm_digits" in out.stdout
    assert "w_bits: 4" in out.stdout and "_schema" not in out.stdout
