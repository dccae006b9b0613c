"""Bad input through the ``genq`` CLI (issue 21): each case exits with status 2 and prints one
sentence on stderr that names the bad value, with no traceback, and leaves no run folder
behind. Config cases answer before torch loads; model cases use experiment=smoke.
docs/errors.md holds the same table (tests/test_errors_doc.py checks it)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SMOKE = ("experiment=smoke", "logger=none")
sys.path.insert(0, str(ROOT / "tests" / "models"))      # hub_tiny: tiny local hub folders

# (id, overrides, text the one sentence must contain); run from config checks alone
CONFIG_CASES = [
    ("w_bits_zero", ("quant.w_bits=0",), "quant.w_bits=0 is out of range"),
    ("w_bits_too_high", ("quant.w_bits=17",), "quant.w_bits=17 is out of range"),
    ("a_bits_one", ("quant.a_bits=1",), "quant.a_bits=1 is out of range"),
    ("w_bits_word", ("quant.w_bits=abc",), "quant.w_bits=abc has the wrong type"),
    ("w_bits_float", ("quant.w_bits=4.5",), "quant.w_bits=4.5 has the wrong type"),
    ("granularity_unknown", ("quant.granularity=per_row",), "quant.granularity='per_row' is not supported"),
    ("granularity_list", ("quant.granularity=[1,2]",), "quant.granularity=[1,2] has the wrong type"),
    ("per_group_no_size", ("quant.granularity=per_group",), "quant.group_size=None"),
    ("per_token_static", ("quant.a_granularity=per_token",), "quant.a_granularity=per_token needs"),
    ("observer_unknown", ("quant.observer=median",), "quant.observer='median' is not supported"),
    ("first_last_unknown", ("quant.first_last=drop",), "quant.first_last='drop' is not supported"),
    ("components_unknown", ("quant.components=[unet,vae]",),
     "quant.components has 'vae', which is not a component name; accepted: denoiser, unet"),
    ("outlier_rank", ("quant.outlier.method=svd", "quant.outlier.rank=2.5"), "quant.outlier.rank=2.5 is not a rank"),
    ("override_bits", ("quant.overrides=[{pattern: 'conv*', w_bits: 1}]",), "quant.overrides[0].w_bits=1"),
    ("fp_with_bits", ("quant=fp32", "quant.w_bits=8"), "quant.method='fp' quantizes nothing"),
    ("ptq_without_bits", ("quant.w_bits=null", "quant.a_bits=null"), "quant.method='ptq' needs quant.w_bits"),
    ("brecq_per_group", ("quant=w4a8_brecq", "quant.granularity=per_group", "quant.group_size=8"),
     "quant.granularity=per_group is not supported"),
    ("qat_with_adaround", ("quant=qat_lsq_w4a8", "quant.reconstruction.method=adaround"),
     "quant.method=qat does not use quant.reconstruction.method"),
    ("n_samples_one", ("metrics.n_samples=1",), "metrics.n_samples=1 is too small"),
    ("pr_k_vs_samples", ("metrics.pr_k=40",), "metrics.pr_k=40 needs more samples"),
    ("bootstrap_few", ("metrics.bootstrap=5",), "metrics.bootstrap=5"),
    ("extractor_unknown", ("metrics.feature_extractor=clip",), "metrics.feature_extractor='clip' is not supported"),
    ("quant_option_unknown", ("quant=w9a9",), "quant=w9a9 is not a config of group 'quant'"),
    ("key_typo", ("quant.w_bitz=4",), "quant.w_bitz is not a genq setting"),
    ("data_unknown", ("data=bogus",), "data=bogus is not a config of group 'data'"),
    ("cifar_missing", ("data=cifar10", "data.root=/nonexistent/genq-cifar"), "CIFAR-10 is not in data.root="),
    ("device_unknown", ("device=tpu",), "device='tpu' is not supported"),
    ("steps_zero", ("model.num_inference_steps=0",), "model.num_inference_steps=0 must be at least 1"),
    ("override_unparsable", ("foo",), "Error parsing override 'foo'"),
]


def run_cli(tmp_path: Path, *overrides: str, env: dict | None = None, run_dir: Path | None = None,
            timeout: float = 600, runner=None) -> tuple[subprocess.CompletedProcess, Path]:
    """The CLI in a fresh ``python -m genq.run`` process, or through ``runner`` (the
    ``genq_cli`` fixture: a fork of a warm process, for the cases that load a model)."""
    run_dir = run_dir or tmp_path / "run"
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1",
                "GENQ_CACHE": str(tmp_path / "cache"), **(env or {})}
    args = [*SMOKE, *overrides, f"hydra.run.dir={run_dir}"]
    if runner is not None:
        return runner(args, cwd=tmp_path, env=full_env, timeout=timeout), run_dir
    cmd = [sys.executable, "-m", "genq.run", *args]
    return subprocess.run(cmd, cwd=tmp_path, env=full_env, capture_output=True, text=True,
                          timeout=timeout), run_dir


def assert_refused(proc: subprocess.CompletedProcess, run_dir: Path, expected: str) -> str:
    """Exit 2, one sentence naming the value, no traceback, no run folder left."""
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-3000:])
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    errors = [line for line in proc.stderr.splitlines() if line.startswith("genq: error:")]
    assert len(errors) == 1, proc.stderr[-3000:]
    assert expected in errors[0], errors[0]
    assert any(w in errors[0] for w in ("accepted", "needs", "must", " set ", "look like", "expected")), errors[0]   # what fits
    assert not run_dir.exists() or not any(run_dir.iterdir()), sorted(run_dir.rglob("*"))
    return errors[0]


@pytest.mark.parametrize("case", CONFIG_CASES, ids=[c[0] for c in CONFIG_CASES])
def test_config_error(case, tmp_path):
    _, overrides, expected = case
    proc, run_dir = run_cli(tmp_path, *overrides)
    assert_refused(proc, run_dir, expected)


def test_cuda_backend_on_a_machine_without_gpu(tmp_path):
    from genq.config.bench import nvidia_driver_present

    if nvidia_driver_present():
        pytest.skip("this machine has an NVIDIA driver: the refusal cannot show")
    proc, run_dir = run_cli(tmp_path, "bench=cuda_fp8")
    assert_refused(proc, run_dir, "bench.backend='cuda_fp8' needs a CUDA GPU")


def test_more_processes_than_samples(tmp_path):
    proc, run_dir = run_cli(tmp_path, env={"WORLD_SIZE": "64"})
    assert_refused(proc, run_dir, "metrics.n_samples=32 cannot be split across 64 processes")


def test_unwritable_output_folder(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    proc, run_dir = run_cli(tmp_path, run_dir=blocker / "run")
    assert_refused(proc, run_dir, "cannot be created")
    assert blocker.read_text() == "not a folder"


def test_empty_image_folder(tmp_path):
    (tmp_path / "empty").mkdir()
    proc, run_dir = run_cli(tmp_path, "data=image_folder", f"data.root={tmp_path / 'empty'}")
    assert_refused(proc, run_dir, "holds no image files")


# ---- cases that load a model (experiment=smoke: tiny, seconds) -------------------------

@pytest.mark.parametrize("key,pattern", [("include", "nomatch.*"), ("exclude", "zzz_*")])
def test_unknown_layer_pattern(tmp_path, key, pattern, genq_cli):
    proc, run_dir = run_cli(tmp_path, "model=dcgan_digits", f"quant.{key}=[{pattern}]", runner=genq_cli)
    assert_refused(proc, run_dir, f"pattern '{pattern}' matches no module")


def test_unknown_override_pattern(tmp_path, genq_cli):
    proc, run_dir = run_cli(tmp_path, "model=dcgan_digits", "quant.overrides=[{pattern: 'zzz*', w_bits: 4}]",
                            runner=genq_cli)
    assert_refused(proc, run_dir, "pattern 'zzz*' matches no module")


def _embedded_copy(tmp_path: Path, name: str) -> Path:
    folder = tmp_path / f"{name}_copy"
    shutil.copytree(ROOT / "genq" / "weights" / name, folder)
    return folder


def test_missing_checkpoint_file(tmp_path, genq_cli):
    folder = _embedded_copy(tmp_path, "dcgan_digits")
    (folder / "model.safetensors").unlink()
    (folder / "sha256.json").unlink()
    proc, run_dir = run_cli(tmp_path, "model=dcgan_digits", f"model.weights={folder}", runner=genq_cli)
    assert_refused(proc, run_dir, "model.safetensors' does not exist")


@pytest.mark.parametrize("damage", ["truncated", "garbage"])
def test_corrupt_checkpoint_file(tmp_path, damage, genq_cli):
    folder = _embedded_copy(tmp_path, "dcgan_digits")
    (folder / "sha256.json").unlink()          # a genq-train folder: no manifest, safetensors says it
    path = folder / "model.safetensors"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2] if damage == "truncated" else b"\x00garbage" * 100)
    proc, run_dir = run_cli(tmp_path, "model=dcgan_digits", f"model.weights={folder}", runner=genq_cli)
    assert_refused(proc, run_dir, "is unreadable")


def test_shipped_weights_hash_mismatch(tmp_path, genq_cli):
    folder = _embedded_copy(tmp_path, "dcgan_digits")
    path = folder / "model.safetensors"
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF                           # one flipped bit pattern in the last tensor byte
    path.write_bytes(bytes(data))
    proc, run_dir = run_cli(tmp_path, "model=dcgan_digits", f"model.weights={folder}", runner=genq_cli)
    assert_refused(proc, run_dir, "but sha256.json lists")


def test_shipped_manifests_match_the_shipped_files():
    from genq.models.integrity import verify_manifest

    for name in ("dcgan_digits", "ddpm_digits", "dit_digits", "stylegan_digits", "digits_classifier"):
        folder = ROOT / "genq" / "weights" / name
        listed = json.loads((folder / "sha256.json").read_text())
        assert set(listed) == {"config.json", "model.safetensors"}
        verify_manifest(folder)


def test_nan_weights(tmp_path, genq_cli):
    from safetensors.torch import load_file, save_file

    folder = _embedded_copy(tmp_path, "dcgan_digits")
    (folder / "sha256.json").unlink()
    tensors = load_file(str(folder / "model.safetensors"))
    key = next(k for k, v in tensors.items() if k.startswith("generator.") and v.is_floating_point())
    tensors[key].view(-1)[0] = float("nan")
    save_file(tensors, str(folder / "model.safetensors"))
    proc, run_dir = run_cli(tmp_path, "model=dcgan_digits", f"model.weights={folder}", runner=genq_cli)
    assert_refused(proc, run_dir, "has non-finite weights")


def test_hub_folder_missing_component(tmp_path, genq_cli):
    from hub_tiny import make_ddpm_folder

    folder = make_ddpm_folder(tmp_path / "hub")
    shutil.rmtree(folder / "unet")
    proc, run_dir = run_cli(tmp_path, "model=hub_ddpm", f"model.repo_id={folder}", runner=genq_cli)
    assert_refused(proc, run_dir, str(folder))


def test_model_shape_does_not_fit_the_metrics(tmp_path, genq_cli):
    """A 3-channel 32x32 DDPM with the default digits metrics: refused before sampling, naming
    both shapes and the settings that fit."""
    from diffusers import DDPMPipeline, DDPMScheduler
    from hub_tiny import SCHEDULER, tiny_unet

    folder = tmp_path / "rgb"
    DDPMPipeline(unet=tiny_unet(sample_size=32, channels=3), scheduler=DDPMScheduler(**SCHEDULER)).save_pretrained(folder)
    proc, run_dir = run_cli(tmp_path, "model=hub_ddpm", f"model.repo_id={folder}", runner=genq_cli)
    line = assert_refused(proc, run_dir, "makes 3x32x32 images")
    assert "1x16x16" in line and "data=cifar10 metrics=standard" in line


def test_qat_resume_from_another_config(tmp_path, genq_cli):
    """A run folder holding a QAT checkpoint of another config: refused before anything loads."""
    run_dir = tmp_path / "run"
    ckpt = run_dir / "qat" / "checkpoints" / "step_000010"
    ckpt.mkdir(parents=True)
    (ckpt / "state.json").write_text(json.dumps({"fingerprint": "0123456789ab", "step": 10}))
    proc, _ = run_cli(tmp_path, "quant=qat_lsq_w4a8", run_dir=run_dir, runner=genq_cli)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr[-3000:]
    assert "was written by a different quant config" in proc.stderr
    assert (ckpt / "state.json").is_file()                 # the old checkpoint is kept
    assert not (run_dir / "result.json").exists()
