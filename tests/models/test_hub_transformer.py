"""Transformer pipelines from the hub (model=hub_dit, model=hub_transformer_t2i) and
quant.components, on tiny pipelines built from configs and saved with diffusers'
save_pretrained (HF_HUB_OFFLINE=1, set by conftest)."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

import hub_tiny
from hub_tiny import one_thread  # noqa: F401  (autouse: one intra-op thread)
from conftest import compose
from genq.config import validate
from genq.errors import GenqError
from genq.models.guided_dit import labels_of_noise
from genq.models.registry import load_generator
from genq.quant.pipeline import quantize_adapter

PROMPTS = ["the cat", "a house"]
MODELS = {"dit": "hub_dit", "pixart": "hub_transformer_t2i", "sd3": "hub_transformer_t2i",
          "sd": "hub_sd", "ldm": "hub_ldm", "ddpm": "hub_ddpm"}


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("hub_transformer")
    return {"dit": hub_tiny.make_dit_folder(root / "dit"), "pixart": hub_tiny.make_pixart_folder(root / "pixart"),
            "sd3": hub_tiny.make_sd3_folder(root / "sd3"), "sd": hub_tiny.make_sd_folder(root / "sd", channels=1),
            "ldm": hub_tiny.make_ldm_folder(root / "ldm"), "ddpm": hub_tiny.make_ddpm_folder(root / "ddpm")}


def overrides(which: str, folder, *extra: str) -> list[str]:
    out = [f"model={MODELS[which]}", f"model.repo_id={folder}", "experiment=smoke", "logger=none"]
    if which in ("pixart", "sd3", "sd"):
        out.append(f"model.prompts=[{','.join(PROMPTS)}]")
    if which in ("pixart", "sd3"):
        out.append(f"model.max_sequence_length={12 if which == 'pixart' else 16}")
    return out + list(extra)


def load(which: str, folders, *extra: str):
    return load_generator(compose(*overrides(which, folders[which], *extra)).model)


def quantized(which: str, folders, components: str | None, *extra: str):
    """(FP adapter, quantized outcome) of a W8A8 PTQ with ``quant.components=components``."""
    more = [f"quant.components={components}"] if components else []
    cfg = compose(*overrides(which, folders[which], "quant=w8a8", *more, *extra))
    validate(cfg)
    fp = load_generator(cfg.model)
    return fp, quantize_adapter(fp, cfg.quant, cfg.quant.seed, validated=True)


def prefixes(outcome) -> set[str]:
    """The components the coverage report lists ('' for the denoiser's unprefixed layers)."""
    return {r.name.split(".")[0] if r.name.split(".")[0] in ("vae_decoder", "text_encoder") else ""
            for r in outcome.report.layers if r.status == "quantized"}


# --- loading and sampling ------------------------------------------------------------------
def test_hub_dit_draws_classes_from_the_noise_and_guides_with_the_null_class(folders):
    adapter = load("dit", folders)
    assert type(adapter).__name__ == "HubDiTAdapter" and adapter.guidance_scale == 4.0
    assert adapter.latent_shape == (4, 8, 8) and adapter.image_shape == (1, 16, 16)
    noise = adapter.make_noise(3, 0)
    calls = adapter.calibration_calls(noise, 3)
    labels = calls[0].kwargs["class_labels"]
    assert labels.tolist() == [10] * 3 + labels_of_noise(noise, 10).tolist()   # [null; classes]
    assert calls[0].kwargs["hidden_states"].shape == (6, 4, 8, 8) and len(calls) == 2
    unguided = load("dit", folders, "model.guidance_scale=1.0")
    assert unguided.calibration_calls(noise, 3)[0].kwargs["class_labels"].tolist() == labels[3:].tolist()


def test_hub_dit_guidance_scale_one_is_the_conditional_pass(folders):
    adapter = load("dit", folders, "model.guidance_scale=1.0")
    noise = adapter.make_noise(2, 0)
    scheduler = adapter.sampling_scheduler()
    adapter._labels = adapter.labels(noise)
    cond = adapter.condition(2, 0)
    t = scheduler.timesteps[0]
    _, kwargs = adapter.network_inputs(noise, t, cond)
    direct = adapter.network(**kwargs).sample[:, :4]
    torch.testing.assert_close(adapter.postprocess(adapter.network(**kwargs)), direct)
    guided = load("dit", folders, "model.guidance_scale=3.0")
    guided._labels = adapter._labels
    _, gk = guided.network_inputs(noise, t, guided.condition(2, 0))
    out = guided.network(**gk).sample[:, :4]
    torch.testing.assert_close(out[2:], direct)                        # the conditional half
    torch.testing.assert_close(guided.postprocess(guided.network(**gk)), out[:2] + 3.0 * (out[2:] - out[:2]))


def test_pixart_is_conditioned_by_the_pipelines_t5_encoding(folders):
    adapter = load("pixart", folders)
    assert type(adapter).__name__ == "HubPixArtAdapter" and adapter.pipeline_class == "PixArtSigmaPipeline"
    assert type(adapter.sampling_scheduler()).__name__ == "DDIMScheduler"
    assert type(adapter.pipe.text_encoder).__name__ == "T5EncoderModel"
    call = adapter.calibration_calls(adapter.make_noise(3, 0), 3)[0]
    embeds, mask = call.kwargs["encoder_hidden_states"], call.kwargs["encoder_attention_mask"]
    assert embeds.shape == (6, 12, 32) and mask.shape == (6, 12)
    expected, expected_mask, _, _ = adapter.pipe.encode_prompt([PROMPTS[0], PROMPTS[1], PROMPTS[0]],
                                                               do_classifier_free_guidance=False,
                                                               max_sequence_length=12)
    torch.testing.assert_close(embeds[3:], expected)            # sample i gets prompt i % 2
    torch.testing.assert_close(mask[3:], expected_mask)
    assert adapter.sample(adapter.make_noise(2, 0)).shape == (2, 1, 16, 16)


def test_sd3_samples_with_the_pipelines_flow_matching_scheduler(folders):
    adapter = load("sd3", folders)
    assert type(adapter).__name__ == "HubSD3Adapter"
    scheduler = adapter.sampling_scheduler()
    assert type(scheduler).__name__ == "FlowMatchEulerDiscreteScheduler" and scheduler.config.shift == 3.0
    assert adapter.latent_shift == pytest.approx(0.1) and adapter.latent_scale == pytest.approx(1.5)
    call = adapter.calibration_calls(adapter.make_noise(2, 0), 2)[0]
    assert call.kwargs["pooled_projections"].shape == (4, 64)
    assert call.kwargs["encoder_hidden_states"].shape == (4, 32, 32)   # CLIP tokens + T5 tokens
    assert call.kwargs["timestep"].dtype == torch.float32 and float(call.kwargs["timestep"][0]) == 1000.0
    assert set(adapter.text_encoders()) == {"text_encoder", "text_encoder_2", "text_encoder_3"}


def test_sd3_without_t5_loads_with_the_null_components(tmp_path):
    folder = hub_tiny.make_sd3_folder(tmp_path / "sd3_no_t5", with_t5=False)
    adapter = load_generator(compose(*overrides("sd3", folder)).model)
    assert set(adapter.text_encoders()) == {"text_encoder", "text_encoder_2"}
    assert adapter.sample(adapter.make_noise(1, 0)).shape == (1, 1, 16, 16)


@pytest.mark.parametrize("which", ["dit", "pixart", "sd3"])
def test_end_to_end_fp_and_w8a8_records(which, folders, tmp_path):
    """FP and W8A8 PTQ images of the same noise scored by the offline digits metrics; the
    record says which components were quantized."""
    from genq.run import run_experiment
    from metric_checks import assert_finite_metrics

    record = run_experiment(compose(*overrides(which, folders[which], "quant=w8a8")), tmp_path)
    assert record["model"] == MODELS[which] and record["status"] == "ok"
    assert record["quant"]["components"] == {"quantized": ["transformer"],
                                             "fp": ["vae_decoder"] + ([] if which == "dit" else ["text_encoder"])}
    assert record["quant"]["coverage"]["quantized"] > 0
    assert record["guidance_scale"] == {"dit": 4.0, "pixart": 4.5, "sd3": 4.5}[which]
    assert record["model_source"]["kind"] == ("dit" if which == "dit" else "t2i")
    assert_finite_metrics(record, required=("fid", "fid_fp", "qfid", "lpips_vs_fp"))
    assert (tmp_path / "result.json").is_file()


def test_fp_run_records_every_component_as_fp(folders, tmp_path):
    from genq.run import run_experiment

    record = run_experiment(compose(*overrides("dit", folders["dit"], "quant=fp32")), tmp_path)
    assert record["quant"]["components"] == {"quantized": [], "fp": ["transformer", "vae_decoder"]}


# --- quant.components --------------------------------------------------------------------
@pytest.mark.parametrize("components, listed", [
    (None, {""}),
    ("[transformer,vae_decoder]", {"", "vae_decoder"}),
    ("[denoiser,text_encoder]", {"", "text_encoder"}),
    ("[text_encoder,vae_decoder]", {"vae_decoder", "text_encoder"}),
])
def test_components_choose_the_layers_the_coverage_report_lists(components, listed, folders):
    fp, outcome = quantized("pixart", folders, components)
    assert prefixes(outcome) == listed
    q = outcome.model
    names = {r.name for r in outcome.report.layers}
    if "vae_decoder" in listed:
        assert "vae_decoder.decoder.conv_out" in names and q.vae is not fp.vae
        assert not any(n.startswith("vae_decoder.encoder") for n in names)     # decoding path only
    else:
        assert q.vae is fp.vae
    if "text_encoder" in listed:
        assert any(n.startswith("text_encoder.text_encoder.encoder.block.0") for n in names)
        assert q.pipe.text_encoder is not fp.pipe.text_encoder
    else:
        assert q.pipe.text_encoder is fp.pipe.text_encoder
    fp_layers = [m for part in (fp.network, fp.vae, fp.pipe.text_encoder) for m in part.modules()]
    assert not any(type(m).__module__.startswith("genq.quant") for m in fp_layers)   # FP untouched
    assert outcome.info["coverage"]["quantized"] == sum(r.status == "quantized" for r in outcome.report.layers)
    images = q.sample(fp.make_noise(2, 0))
    assert torch.isfinite(images).all() and images.shape == (2, 1, 16, 16)


def test_quantized_text_encoder_conditions_the_quantized_model_only(folders):
    fp, outcome = quantized("sd3", folders, "[text_encoder]")
    q = outcome.model
    assert outcome.info["components"] == {"quantized": ["text_encoder"], "fp": ["transformer", "vae_decoder"]}
    assert set(outcome.info["component_coverage"]) == {"text_encoder"}
    assert {r.name.split(".")[1] for r in outcome.report.layers} == {"text_encoder", "text_encoder_2",
                                                                     "text_encoder_3"}
    fp_cond, q_cond = fp.encode(PROMPTS), q.encode(PROMPTS)
    assert not torch.equal(fp_cond[0], q_cond[0])                  # quantized encoders, same prompts
    torch.testing.assert_close(fp.encode(PROMPTS)[0], fp_cond[0])  # the FP adapter's are untouched


@pytest.mark.parametrize("which, components, listed", [
    ("sd", "[unet,text_encoder]", {"", "text_encoder"}),
    ("sd", "[vae_decoder]", {"vae_decoder"}),
    ("ldm", "[denoiser,vae_decoder]", {"", "vae_decoder"}),
])
def test_components_on_the_unet_latent_models(which, components, listed, folders):
    fp, outcome = quantized(which, folders, components)
    assert prefixes(outcome) == listed
    if "text_encoder" in listed:
        assert outcome.model.text_encoder is not fp.text_encoder
        assert any(r.name.startswith("text_encoder.text_encoder.encoder.layers.0") for r in outcome.report.layers)
    assert torch.isfinite(outcome.model.sample(fp.make_noise(2, 0))).all()


@pytest.mark.parametrize("which, components, message", [
    ("ddpm", "[unet,vae_decoder]", "has no such component (its network is a unet); accepted for this model: "
                                   "denoiser, unet."),
    ("dit", "[text_encoder]", "'text_encoder', but"),
    ("sd", "[transformer]", "accepted for this model: denoiser, unet, vae_decoder, text_encoder."),
])
def test_a_component_the_model_lacks_is_a_clear_error(which, components, message, folders):
    with pytest.raises(GenqError) as err:
        quantized(which, folders, components)
    assert message in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize("value, message", [
    ("[transformer,vae]", "quant.components has 'vae', which is not a component name; accepted: denoiser, "
                          "unet, transformer, generator, vae_decoder, text_encoder."),
    ("[]", "quant.components=[] is not a non-empty list"),
])
def test_a_bad_component_name_fails_validation(value, message):
    cfg = compose("model=hub_dit", "experiment=smoke", f"quant.components={value}")
    with pytest.raises(GenqError) as err:
        validate(cfg)
    assert message in str(err.value)


def test_denoiser_methods_are_refused_when_the_denoiser_stays_fp(folders):
    with pytest.raises(GenqError, match="leaves the denoiser in FP, but quant.reconstruction.method='brecq'"):
        quantized("ldm", folders, "[vae_decoder]", "quant_method=brecq")


# --- what is refused before loading --------------------------------------------------------
def test_wrong_model_for_the_pipeline_names_the_right_one(folders):
    with pytest.raises(GenqError, match="use model=hub_transformer_t2i"):
        load_generator(compose(*overrides("dit", folders["pixart"])).model)
    with pytest.raises(GenqError, match="use model=hub_dit"):
        load_generator(compose(*overrides("pixart", folders["dit"])).model)
    with pytest.raises(GenqError, match="use model=hub_sd"):
        load_generator(compose(*overrides("pixart", folders["sd"])).model)
    with pytest.raises(GenqError, match="use model=hub_dit for a DiTPipeline"):
        load_generator(compose(*overrides("sd", folders["dit"])).model)


def test_a_component_class_outside_the_tables_is_refused_before_loading(folders, tmp_path):
    folder = tmp_path / "custom"
    shutil.copytree(folders["pixart"], folder)
    index = json.loads((folder / "model_index.json").read_text())
    index["text_encoder"] = ["my_package", "MyEncoder"]
    (folder / "model_index.json").write_text(json.dumps(index))
    with pytest.raises(GenqError, match="text_encoder of model.repo_id=.* is my_package.MyEncoder; accepted: "
                                        "CLIPTextModel, CLIPTextModelWithProjection, T5EncoderModel"):
        load_generator(compose(*overrides("pixart", folder)).model)


def test_missing_repo_offline_is_one_sentence_naming_how_to_fetch():
    with pytest.raises(GenqError) as err:
        load_generator(compose("model=hub_dit", "experiment=smoke").model)   # facebook/DiT-XL-2-256, not cached
    message = str(err.value)
    assert "'facebook/DiT-XL-2-256'" in message and "hf download facebook/DiT-XL-2-256" in message
    assert "HF_HUB_OFFLINE=1" in message and "\n" not in message


def test_text_to_image_without_prompts_fails_before_loading(folders):
    cfg = compose(*overrides("pixart", folders["pixart"]))
    cfg.model.prompts = []
    with pytest.raises(GenqError, match="needs prompts"):
        load_generator(cfg.model)


@pytest.mark.parametrize("name, hub", [("hub_dit", "dit"), ("hub_transformer_t2i", "t2i")])
def test_configs_compose_and_validate(name, hub):
    cfg = compose(f"model={name}", "experiment=smoke")
    validate(cfg)
    assert cfg.model.hub == hub and cfg.model.family == "diffusion" and cfg.quant.components is None


@pytest.mark.parametrize("which, block, kind", [("dit", "transformer_blocks.0", "dit_block"),
                                                ("pixart", "transformer.transformer_blocks.0", "dit_block"),
                                                ("sd3", "transformer_blocks.0.ff", "mlp")])
def test_block_reconstruction_runs_on_the_transformer_blocks(which, block, kind, folders):
    """BRECQ's units: whole DiT/PixArt blocks (one output each); SD3's joint blocks return two
    streams, so their MLPs are the units."""
    fp, outcome = quantized(which, folders, None, "quant=w4a8_brecq", "quant.reconstruction.iters=3")
    assert fp.reconstruction_blocks(fp.network)[block] == kind
    assert outcome.info["reconstruction"] is not None
    assert torch.isfinite(outcome.model.sample(fp.make_noise(2, 0))).all()


def _cached(folder, tmp_path, monkeypatch, name: str):
    """``folder`` laid out as `hf download someone/<name>` leaves it in HF_HUB_CACHE."""
    from huggingface_hub import constants

    commit = "0" * 40
    repo = tmp_path / f"models--someone--{name}"
    shutil.copytree(folder, repo / "snapshots" / commit)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))
    return repo / "snapshots" / commit


def test_hub_dit_fetched_ahead_loads_offline_from_the_hf_cache(folders, tmp_path, monkeypatch):
    _cached(folders["dit"], tmp_path, monkeypatch, "tiny-dit")
    adapter = load("dit", {"dit": "someone/tiny-dit"})
    assert adapter.source["repo_id"] == "someone/tiny-dit" and not adapter.source["local"]
    assert adapter.sample(adapter.make_noise(1, 0)).shape == (1, 1, 16, 16)


def test_weights_missing_offline_say_how_to_fetch_them(folders, tmp_path, monkeypatch):
    snapshot = _cached(folders["pixart"], tmp_path, monkeypatch, "tiny-pixart")
    for weights in (snapshot / "transformer").glob("*.safetensors"):
        weights.unlink()
    with pytest.raises(GenqError) as err:
        load("pixart", {"pixart": "someone/tiny-pixart"})
    message = str(err.value)
    assert message.startswith("transformer/ of model.repo_id='someone/tiny-pixart' holds no weight file")
    assert "hf download someone/tiny-pixart" in message and "\n" not in message
    local = tmp_path / "local"
    shutil.copytree(folders["dit"], local)
    for weights in (local / "vae").glob("*.safetensors"):
        weights.unlink()
    with pytest.raises(GenqError, match="vae/ of model.repo_id=.* holds no weight file .*accepted: a pipeline folder"):
        load("dit", {"dit": local})


@pytest.mark.parametrize("components, label", [(None, "w8a8"), ("[denoiser]", "w8a8"),
                                               ("[transformer,vae_decoder]", "w8a8_comp_transformer-vae_decoder")])
def test_recipe_label_names_the_quantized_components(components, label):
    more = [f"quant.components={components}"] if components else []
    assert compose("model=hub_dit", "quant=w8a8", *more).quant.recipe == label


def test_embedded_models_have_their_network_as_their_only_component():
    from genq.quant.components import available

    for name, role in (("ddpm_digits", "unet"), ("dit_digits", "transformer"), ("dcgan_digits", "generator"),
                       ("stylegan_digits", "generator")):
        adapter = load_generator(compose(f"model={name}", "experiment=smoke").model)
        assert available(adapter) == [role]
        with pytest.raises(GenqError, match=f"has no such component \\(its network is a {role}\\)"):
            from genq.quant.components import resolve
            resolve(adapter, ["vae_decoder"])


def test_subfolders_do_not_apply_to_transformer_pipelines(folders):
    with pytest.raises(GenqError, match="model.subfolders=.* does not apply to model=hub_dit"):
        load("dit", folders, "+model.subfolders.unet=transformer")
