"""Pretrained diffusers pipelines (model=hub_ddpm | hub_ldm | hub_sd) loaded through
model.repo_id from tiny folders saved offline (HF_HUB_OFFLINE=1, set by conftest)."""

from __future__ import annotations

import json
import os
import shutil

import pytest
import torch

import hub_tiny
from hub_tiny import one_thread  # noqa: F401  (autouse: one intra-op thread)
from adapter_mixin import AdapterTests, ConformanceTests
from conftest import compose
from genq.config import validate
from genq.errors import GenqError
from genq.models.hub_diffusion import HubDiffusionAdapter, HubTextToImageAdapter
from genq.models.registry import load_generator
from genq.quant import QuantRecipe, quantize_

PROMPTS = ["the cat", "a house and a tree"]


@pytest.fixture(scope="module")
def hub_folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("hub")
    return {"ddpm": hub_tiny.make_ddpm_folder(root / "ddpm"), "ldm": hub_tiny.make_ldm_folder(root / "ldm"),
            "sd": hub_tiny.make_sd_folder(root / "sd")}


def hub_cfg(kind: str, repo_id, *overrides: str):
    cfg = compose(f"model=hub_{kind}", "experiment=smoke", *overrides).model
    cfg.repo_id = str(repo_id)
    if kind == "sd":
        cfg.prompts = list(PROMPTS)
    return cfg


class HubAdapterTests(ConformanceTests, AdapterTests):
    kind: str

    @pytest.fixture(autouse=True)
    def _folder(self, hub_folders):
        self.folder = hub_folders[self.kind]

    def model_cfg(self, weights):       # hub models load from model.repo_id, not model.weights
        return hub_cfg(self.kind, weights)

    def make_adapter(self):
        return load_generator(self.model_cfg(self.folder))


class TestHubDDPM(HubAdapterTests):
    family, model_name, kind = "diffusion", "hub_ddpm", "ddpm"

    def test_calibration_inputs_follow_the_fp_trajectory(self):
        adapter = self.make_adapter()
        adapter.num_inference_steps = 3
        inputs = adapter.calibration_inputs(adapter.make_noise(4, 0), batch_size=2)
        assert len(inputs) == 2 * 3 and all(len(i) == 2 for i in inputs)
        torch.testing.assert_close(inputs[0][0], adapter.make_noise(4, 0)[:2])
        steps = [int(t[0]) for _, t in inputs[:3]]
        assert steps == sorted(steps, reverse=True)

    def test_is_a_diffusion_adapter_sampled_by_ddim_from_the_pipeline_config(self):
        adapter = self.make_adapter()
        assert isinstance(adapter, HubDiffusionAdapter) and adapter.image_shape == (1, 16, 16)
        assert type(adapter.sampling_scheduler()).__name__ == "DDIMScheduler"
        assert adapter.scheduler_config["beta_schedule"] == "linear"     # from scheduler/ of the folder
        assert adapter.source["kind"] == "ddpm" and adapter.source["local"]

    def test_scheduler_overrides_and_dtype(self):
        cfg = hub_cfg("ddpm", self.folder, "model.dtype=bfloat16",
                      "+model.scheduler.timestep_spacing=trailing")
        adapter = load_generator(cfg)
        assert next(adapter.network.parameters()).dtype == torch.bfloat16
        assert adapter.sampling_scheduler().config.timestep_spacing == "trailing"
        noise = adapter.make_noise(2, 0)
        assert noise.dtype == torch.float32
        images = adapter.sample(noise)
        assert images.dtype == torch.float32 and images.shape == (2, 1, 16, 16)
        assert adapter.calibration_inputs(noise)[0][0].dtype == torch.bfloat16

    def test_folder_written_by_save_loads_in_diffusers(self, tmp_path):
        from diffusers import DiffusionPipeline

        self.make_adapter().save(tmp_path / "saved")
        index = json.loads((tmp_path / "saved" / "model_index.json").read_text())
        assert index["unet"] == ["diffusers", "UNet2DModel"]
        pipe = DiffusionPipeline.from_pretrained(tmp_path / "saved", local_files_only=True)
        assert type(pipe.unet).__name__ == "UNet2DModel"


class TestHubLDM(HubAdapterTests):
    family, model_name, kind = "diffusion", "hub_ldm", "ldm"

    def test_latent_space_and_vq_scaling(self):
        adapter = self.make_adapter()
        assert adapter.latent_shape == (3, 8, 8) and adapter.image_shape == (1, 16, 16)
        assert type(adapter.vae).__name__ == "VQModel"
        assert adapter.latent_scale == 1.0          # the VQ config sets no scaling_factor
        assert adapter.calibration_inputs(adapter.make_noise(2, 0))[0][0].shape == (2, 3, 8, 8)
        scaled = load_generator(hub_cfg("ldm", self.folder, "model.latent_scale=0.5"))
        assert scaled.latent_scale == 0.5

    def test_the_vae_stays_fp_and_is_shared(self):
        fp = self.make_adapter()
        q = fp.clone()
        calib = fp.calibration_inputs(fp.make_noise(2, 1))
        quantize_(q.network, QuantRecipe(w_bits=8, a_bits=8), calib=calib)
        assert q.vae is fp.vae and q.network is not fp.network
        assert not any(type(m).__module__.startswith("genq.quant") for m in q.vae.modules())


class TestHubSD(HubAdapterTests):
    family, model_name, kind = "diffusion", "hub_sd", "sd"

    def test_calibration_inputs_are_the_guided_unet_batch(self):
        adapter = self.make_adapter()
        assert isinstance(adapter, HubTextToImageAdapter) and adapter.guided
        inputs = adapter.calibration_inputs(adapter.make_noise(3, 0), batch_size=3)
        latents, t, context = inputs[0]
        assert len(inputs) == 2                            # 2 steps (experiment=smoke)
        assert latents.shape == (6, 4, 8, 8) and t.shape == (6,) and context.shape == (6, 16, 32)
        uncond = adapter.encode_prompts([""])
        cond = adapter.encode_prompts([PROMPTS[0], PROMPTS[1], PROMPTS[0]])  # sample i gets prompt i % 2
        torch.testing.assert_close(context[:3], uncond.expand(3, -1, -1))   # unconditional half first
        torch.testing.assert_close(context[3:], cond)
        assert all(c is context for _, _, c in inputs)                      # encoded once per batch
        unguided = load_generator(hub_cfg("sd", self.folder, "model.guidance_scale=1.0"))
        assert not unguided.guided
        assert unguided.calibration_inputs(adapter.make_noise(3, 0), 3)[0][0].shape == (3, 4, 8, 8)

    def test_sample_i_gets_prompt_i_mod_len(self):
        two = self.make_adapter()
        cfg = hub_cfg("sd", self.folder)
        cfg.prompts = [PROMPTS[0]]
        one = load_generator(cfg)
        noise = two.make_noise(4, 0)
        a, b = two.sample(noise, 4), one.sample(noise, 4)
        torch.testing.assert_close(a[0::2], b[0::2], atol=1e-5, rtol=0)
        assert not torch.allclose(a[1::2], b[1::2])
        assert two.prompt_of(3) == PROMPTS[1]

    def test_data_prompts_win_over_model_prompts(self):
        adapter = load_generator(hub_cfg("sd", self.folder), prompts=["a dog"])
        assert adapter.prompts == ["a dog"]

    def test_no_prompts_is_a_clear_error_before_loading(self):
        cfg = hub_cfg("sd", self.folder)
        cfg.prompts = []
        with pytest.raises(GenqError, match="needs prompts: set data.prompts"):
            load_generator(cfg)

    def test_tokenizer_and_text_encoder_are_real_and_fp(self):
        adapter = self.make_adapter()
        assert type(adapter.tokenizer).__name__ == "CLIPTokenizer"
        assert type(adapter.text_encoder).__name__ == "CLIPTextModel"
        ids = adapter.tokenizer(["the cat"]).input_ids[0]
        assert ids[0] == adapter.tokenizer.bos_token_id and ids[-1] == adapter.tokenizer.eos_token_id
        q = adapter.clone()
        quantize_(q.network, QuantRecipe(w_bits=8, a_bits=None))
        assert q.text_encoder is adapter.text_encoder


@pytest.mark.parametrize("name", ["hub_ddpm", "hub_ldm", "hub_sd", "hub_gan"])
def test_hub_configs_compose_and_validate(name):
    cfg = compose(f"model={name}", "experiment=smoke")
    validate(cfg)
    assert cfg.model.hub == name.removeprefix("hub_") and cfg.model.dtype == "float32"


def test_wrong_kind_names_the_right_config(hub_folders):
    with pytest.raises(GenqError, match="use model=hub_ldm"):
        load_generator(hub_cfg("ddpm", hub_folders["ldm"]))
    with pytest.raises(GenqError, match="use model=hub_sd"):
        load_generator(hub_cfg("ldm", hub_folders["sd"]))


def test_unsupported_pipeline_is_one_sentence(hub_folders, tmp_path):
    folder = tmp_path / "sdxl"
    shutil.copytree(hub_folders["sd"], folder)
    (folder / "text_encoder_2").mkdir()
    with pytest.raises(GenqError, match="second text encoder") as err:
        load_generator(hub_cfg("sd", folder))
    assert "\n" not in str(err.value)


def test_missing_repo_offline_is_one_sentence_naming_how_to_fetch():
    with pytest.raises(GenqError) as err:
        load_generator(hub_cfg("ddpm", "nobody/nothing"))
    message = str(err.value)
    assert "'nobody/nothing'" in message and "hf download nobody/nothing" in message
    assert "huggingface-cli download nobody/nothing" in message and "HF_HUB_OFFLINE=1" in message
    assert "\n" not in message


def test_missing_local_folder_is_one_sentence(tmp_path):
    with pytest.raises(GenqError, match="not an existing folder"):
        load_generator(hub_cfg("ddpm", f"{tmp_path}/nowhere"))


def test_repo_fetched_ahead_loads_offline_from_the_hf_cache(hub_folders, tmp_path, monkeypatch):
    """The layout `hf download owner/name` leaves in HF_HUB_CACHE, used with HF_HUB_OFFLINE=1."""
    from huggingface_hub import constants

    commit = "0" * 40
    repo = tmp_path / "models--someone--tiny-ddpm"
    shutil.copytree(hub_folders["ddpm"], repo / "snapshots" / commit)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))
    adapter = load_generator(hub_cfg("ddpm", "someone/tiny-ddpm"))
    assert adapter.source["repo_id"] == "someone/tiny-ddpm" and not adapter.source["local"]
    assert adapter.sample(adapter.make_noise(2, 0)).shape == (2, 1, 16, 16)


def test_smoke_run_end_to_end(hub_folders, tmp_path, smoke_cfg):
    from genq.run import run_experiment

    cfg = smoke_cfg("model=hub_ddpm")
    cfg.model.repo_id = str(hub_folders["ddpm"])
    record = run_experiment(cfg, tmp_path)
    assert record["model"] == "hub_ddpm" and record["quant"]["coverage"]["quantized"] > 0
    assert isinstance(record["metrics"]["fid"], float) and isinstance(record["metrics"]["lpips_vs_fp"], float)
    from metric_checks import assert_finite_metrics
    assert_finite_metrics(record, required=("fid", "fid_fp", "qfid", "lpips_vs_fp"))
    assert record["config"]["model"]["repo_id"] == str(hub_folders["ddpm"])
    assert (tmp_path / "result.json").is_file()


def test_text_to_image_smoke_run_end_to_end(tmp_path, smoke_cfg):
    """2 DDIM steps with guidance, prompts from hub_sd.yaml; a grey VAE so that the offline
    digits metrics can score it."""
    from genq.run import run_experiment

    cfg = smoke_cfg("model=hub_sd")
    cfg.model.repo_id = str(hub_tiny.make_sd_folder(tmp_path / "sd_grey", channels=1))
    record = run_experiment(cfg, tmp_path / "run")
    assert record["model"] == "hub_sd" and record["quant"]["coverage"]["quantized"] > 0
    assert isinstance(record["metrics"]["fid"], float) and record["config"]["model"]["guidance_scale"] == 7.5
    from metric_checks import assert_finite_metrics
    assert_finite_metrics(record, required=("fid", "fid_fp", "qfid"))


def test_cli_missing_repo_exits_with_the_message_and_no_traceback(tmp_path, genq_cli):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "GENQ_CACHE": str(tmp_path / "cache")}
    env.pop("HYDRA_FULL_ERROR", None)
    out = genq_cli(["experiment=smoke", "model=hub_ddpm", "model.repo_id=nobody/nothing", "logger=none"],
                   cwd=tmp_path, timeout=300, env=env)          # a fork of a warm genq process (conftest)
    assert out.returncode != 0
    assert "Traceback" not in out.stderr + out.stdout
    assert "'nobody/nothing'" in out.stderr and "hf download nobody/nothing" in out.stderr


@pytest.mark.parametrize("variant, expected", [
    (None, {"unet/diffusion_pytorch_model.safetensors", "vae/diffusion_pytorch_model.safetensors"}),
    ("fp16", {"unet/diffusion_pytorch_model.fp16.safetensors"}),
])
def test_weight_patterns_fetch_one_copy_of_the_needed_weights(variant, expected):
    from huggingface_hub.utils import filter_repo_objects

    from genq.models.hub import weight_patterns

    files = ["model_index.json", "unet/config.json", "unet/diffusion_pytorch_model.safetensors",
             "unet/diffusion_pytorch_model.fp16.safetensors", "unet/diffusion_pytorch_model.bin",
             "unet/diffusion_pytorch_model.non_ema.safetensors", "vae/diffusion_pytorch_model.safetensors",
             "safety_checker/model.safetensors", "v1-5-pruned.ckpt"]
    subfolders = ["unet", "vae"] if variant is None else ["unet"]
    allow, ignore = weight_patterns(subfolders, "safetensors", variant)
    assert set(filter_repo_objects(files, allow_patterns=allow, ignore_patterns=ignore)) == expected
    allow, ignore = weight_patterns(["unet"], "bin", variant)
    assert set(filter_repo_objects(files, allow_patterns=allow, ignore_patterns=ignore)) == (
        {"unet/diffusion_pytorch_model.bin"} if variant is None else set())
