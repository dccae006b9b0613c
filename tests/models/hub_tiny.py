"""Tiny pretrained-model folders built offline from configs, written with the libraries' own
``save_pretrained``, as a hub repo would hold them (tests load them through model.repo_id).

The text-to-image folder's tokenizer is a real ``CLIPTokenizer`` (byte-level BPE) with a
minimal vocabulary written here: the 256 byte symbols, their end-of-word forms, a few merges
and CLIP's two special tokens. It tokenizes any prompt through the same code path as SD's
49,408-token vocabulary, just into more, shorter pieces.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

RESOLUTION, CHANNELS = 16, 1          # what experiment=smoke's digits reference expects
SCHEDULER = {"num_train_timesteps": 1000, "beta_schedule": "linear", "beta_start": 0.0001,
             "beta_end": 0.02, "prediction_type": "epsilon", "clip_sample": True}


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny models gain nothing from intra-op threads, and on a busy shared CPU OpenMP's
    spinning threads make the first call of each new shape take seconds (a tiny UNet's
    sample: 7 s with 2 threads, 0.05 s with 1). Imported by the hub test modules; restored
    after each module."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def tiny_unet(sample_size=RESOLUTION, channels=CHANNELS):
    from diffusers import UNet2DModel

    torch.manual_seed(0)
    return UNet2DModel(sample_size=sample_size, in_channels=channels, out_channels=channels,
                       layers_per_block=1, block_out_channels=(8, 16), norm_num_groups=4,
                       down_block_types=("DownBlock2D", "AttnDownBlock2D"),
                       up_block_types=("AttnUpBlock2D", "UpBlock2D"), attention_head_dim=8)


def make_ddpm_folder(folder: Path) -> Path:
    """A DDPMPipeline folder (model_index.json, unet/, scheduler/), 16x16 grey."""
    from diffusers import DDPMPipeline, DDPMScheduler

    DDPMPipeline(unet=tiny_unet(), scheduler=DDPMScheduler(**SCHEDULER)).save_pretrained(folder)
    return Path(folder)


def make_ldm_folder(folder: Path) -> Path:
    """An LDMPipeline-style folder: a UNet2DModel on 8x8x3 latents of a tiny VQModel (vqvae/)
    that decodes to 16x16 grey images; its config sets no scaling_factor, like CompVis'."""
    from diffusers import DDIMScheduler, VQModel

    folder = Path(folder)
    unet = tiny_unet(sample_size=8, channels=3)
    torch.manual_seed(1)
    vq = VQModel(in_channels=CHANNELS, out_channels=CHANNELS, latent_channels=3, num_vq_embeddings=32,
                 vq_embed_dim=3, block_out_channels=(8, 16), layers_per_block=1, norm_num_groups=4,
                 down_block_types=("DownEncoderBlock2D",) * 2, up_block_types=("UpDecoderBlock2D",) * 2)
    unet.save_pretrained(folder / "unet")
    vq.save_pretrained(folder / "vqvae")
    config = json.loads((folder / "vqvae" / "config.json").read_text())
    config.pop("scaling_factor", None)
    (folder / "vqvae" / "config.json").write_text(json.dumps(config))
    DDIMScheduler(**{**SCHEDULER, "clip_sample": False}).save_pretrained(folder / "scheduler")
    (folder / "model_index.json").write_text(json.dumps({
        "_class_name": "LDMPipeline", "unet": ["diffusers", "UNet2DModel"],
        "vqvae": ["diffusers", "VQModel"], "scheduler": ["diffusers", "DDIMScheduler"]}))
    return folder


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2/CLIP's reversible byte -> printable character table."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + \
        list(range(ord("®"), ord("ÿ") + 1))
    cs, n = bs[:], 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


def write_tiny_clip_tokenizer(folder: Path, max_length: int = 16) -> Path:
    """vocab.json + merges.txt + tokenizer_config.json, the files an SD repo's tokenizer/ has."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    chars = list(_bytes_to_unicode().values())
    merges = ["t h", "th e</w>", "a n", "an d</w>", "o f</w>"]
    vocab = {c: i for i, c in enumerate(chars + [c + "</w>" for c in chars]
                                        + [m.replace(" ", "") for m in merges]
                                        + ["<|startoftext|>", "<|endoftext|>"])}
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n")
    (folder / "tokenizer_config.json").write_text(json.dumps({
        "tokenizer_class": "CLIPTokenizer", "model_max_length": max_length, "bos_token": "<|startoftext|>",
        "eos_token": "<|endoftext|>", "pad_token": "<|endoftext|>", "unk_token": "<|endoftext|>"}))
    return folder


def make_sd_folder(folder: Path, channels: int = 3) -> Path:
    """A StableDiffusionPipeline-style folder: UNet2DConditionModel on 8x8x4 latents, a tiny
    AutoencoderKL to 16x16 RGB (``channels=1``: grey, for a run scored against the digits),
    a 2-layer CLIP text encoder (hidden 32, 1000-token vocab, 16 positions) and the tiny CLIP
    tokenizer; PNDM scheduler config, as SD ships."""
    from diffusers import AutoencoderKL, PNDMScheduler, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    folder = Path(folder)
    write_tiny_clip_tokenizer(folder / "tokenizer")
    vocab = json.loads((folder / "tokenizer" / "vocab.json").read_text())
    torch.manual_seed(0)
    unet = UNet2DConditionModel(sample_size=8, in_channels=4, out_channels=4, layers_per_block=1,
                                block_out_channels=(8, 16), norm_num_groups=4, cross_attention_dim=32,
                                attention_head_dim=4,
                                down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
                                up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"))
    vae = AutoencoderKL(in_channels=channels, out_channels=channels, latent_channels=4,
                        block_out_channels=(8, 16), layers_per_block=1, norm_num_groups=4,
                        down_block_types=("DownEncoderBlock2D",) * 2,
                        up_block_types=("UpDecoderBlock2D",) * 2)
    text = CLIPTextModel(CLIPTextConfig(hidden_size=32, intermediate_size=37, num_attention_heads=4,
                                        num_hidden_layers=2, vocab_size=1000, max_position_embeddings=16,
                                        bos_token_id=vocab["<|startoftext|>"],
                                        eos_token_id=vocab["<|endoftext|>"],
                                        pad_token_id=vocab["<|endoftext|>"]))
    unet.save_pretrained(folder / "unet")
    vae.save_pretrained(folder / "vae")
    text.save_pretrained(folder / "text_encoder")
    PNDMScheduler(num_train_timesteps=1000, beta_schedule="scaled_linear", beta_start=0.00085,
                  beta_end=0.012, skip_prk_steps=True, steps_offset=1,
                  set_alpha_to_one=False).save_pretrained(folder / "scheduler")
    (folder / "model_index.json").write_text(json.dumps({
        "_class_name": "StableDiffusionPipeline", "unet": ["diffusers", "UNet2DConditionModel"],
        "vae": ["diffusers", "AutoencoderKL"], "text_encoder": ["transformers", "CLIPTextModel"],
        "tokenizer": ["transformers", "CLIPTokenizer"], "scheduler": ["diffusers", "PNDMScheduler"],
        "safety_checker": [None, None], "feature_extractor": [None, None]}))
    return folder


def make_gan_folder(folder: Path) -> Path:
    """A PyTorchModelHubMixin DCGAN folder (config.json + model.safetensors), 16x16 grey."""
    from genq.models.hub_gan import DCGANHubGenerator

    torch.manual_seed(0)
    generator = DCGANHubGenerator(latent_dim=16, base_channels=16, channels=CHANNELS, resolution=RESOLUTION)
    generator.save_pretrained(folder)
    return Path(folder)


def tiny_vae(channels: int = CHANNELS, **config):
    """An AutoencoderKL from 8x8x4 latents to 16x16 images."""
    from diffusers import AutoencoderKL

    torch.manual_seed(1)
    return AutoencoderKL(in_channels=channels, out_channels=channels, latent_channels=4,
                         block_out_channels=(8, 16), layers_per_block=1, norm_num_groups=4,
                         down_block_types=("DownEncoderBlock2D",) * 2,
                         up_block_types=("UpDecoderBlock2D",) * 2, **config)


def make_dit_folder(folder: Path, num_classes: int = 10) -> Path:
    """A DiTPipeline folder (diffusers' save_pretrained): a 2-block DiTTransformer2DModel with
    learned sigma on 8x8x4 latents, ``num_classes`` classes, a tiny VAE to 16x16 grey; DDIM."""
    from diffusers import DDIMScheduler, DiTPipeline, DiTTransformer2DModel

    torch.manual_seed(0)
    dit = DiTTransformer2DModel(sample_size=8, patch_size=2, in_channels=4, out_channels=8, num_layers=2,
                                attention_head_dim=8, num_attention_heads=2, num_embeds_ada_norm=num_classes,
                                norm_type="ada_norm_zero")
    DiTPipeline(transformer=dit, vae=tiny_vae(), scheduler=DDIMScheduler(**SCHEDULER)).save_pretrained(folder)
    return Path(folder)


def write_tiny_t5_tokenizer(folder: Path, max_length: int = 12) -> Path:
    """A T5 tokenizer (tokenizers' Unigram model, saved by transformers) over printable ASCII:
    one token per character, ``</s>`` appended, ``<pad>`` = 0, as T5's special tokens."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import T5TokenizerFast

    vocab = ["<pad>", "</s>", "<unk>"] + [chr(c) for c in range(32, 127)] + ["\u2581"]
    tok = Tokenizer(models.Unigram([(v, 0.0 if i < 3 else -1.0) for i, v in enumerate(vocab)], unk_id=2))
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.post_processor = processors.TemplateProcessing(single="$A </s>", special_tokens=[("</s>", 1)])
    T5TokenizerFast(tokenizer_object=tok, pad_token="<pad>", eos_token="</s>", unk_token="<unk>",
                    extra_ids=0, model_max_length=max_length).save_pretrained(folder)
    return Path(folder)


def tiny_t5(vocab_size: int = 100):
    from transformers import T5Config, T5EncoderModel

    torch.manual_seed(2)
    return T5EncoderModel(T5Config(vocab_size=vocab_size, d_model=32, d_kv=8, d_ff=37, num_layers=2, num_heads=4,
                                   relative_attention_num_buckets=8, pad_token_id=0, eos_token_id=1,
                                   decoder_start_token_id=0))


def make_pixart_folder(folder: Path) -> Path:
    """A PixArtSigmaPipeline folder: a 2-block PixArtTransformer2DModel (learned sigma, no
    micro-conditions) on 8x8x4 latents, a 2-layer T5 encoder (width 32) and its tokenizer,
    the tiny VAE to 16x16 grey; DPM-Solver scheduler config, as PixArt ships."""
    from diffusers import DPMSolverMultistepScheduler, PixArtSigmaPipeline, PixArtTransformer2DModel

    folder = Path(folder)
    tokenizer = write_tiny_t5_tokenizer(folder / "_tokenizer")
    from transformers import T5TokenizerFast

    torch.manual_seed(0)
    transformer = PixArtTransformer2DModel(sample_size=8, num_layers=2, patch_size=2, attention_head_dim=8,
                                           num_attention_heads=2, in_channels=4, out_channels=8,
                                           caption_channels=32, cross_attention_dim=16, norm_num_groups=4,
                                           use_additional_conditions=False)
    scheduler = DPMSolverMultistepScheduler(**{k: v for k, v in SCHEDULER.items() if k != "clip_sample"})
    PixArtSigmaPipeline(tokenizer=T5TokenizerFast.from_pretrained(tokenizer), text_encoder=tiny_t5(),
                        vae=tiny_vae(), transformer=transformer, scheduler=scheduler).save_pretrained(folder)
    return folder


def _tiny_clip_with_projection(vocab: dict[str, int], seed: int):
    from transformers import CLIPTextConfig, CLIPTextModelWithProjection

    torch.manual_seed(seed)
    return CLIPTextModelWithProjection(CLIPTextConfig(
        hidden_size=32, intermediate_size=37, num_attention_heads=4, num_hidden_layers=2, vocab_size=1000,
        max_position_embeddings=16, projection_dim=32, bos_token_id=vocab["<|startoftext|>"],
        eos_token_id=vocab["<|endoftext|>"], pad_token_id=vocab["<|endoftext|>"]))


def make_sd3_folder(folder: Path, with_t5: bool = True) -> Path:
    """A StableDiffusion3Pipeline folder: a 2-block SD3Transformer2DModel (MM-DiT) on 8x8x4
    latents, two tiny CLIP encoders with projections, a tiny T5 (``with_t5=False``: none, as
    SD3 without T5), the tiny VAE with a shift factor; flow-matching Euler scheduler (shift 3)."""
    from diffusers import FlowMatchEulerDiscreteScheduler, SD3Transformer2DModel, StableDiffusion3Pipeline
    from transformers import CLIPTokenizer, T5TokenizerFast

    folder = Path(folder)
    clip_tok = CLIPTokenizer.from_pretrained(write_tiny_clip_tokenizer(folder / "_clip"))
    vocab = json.loads((folder / "_clip" / "vocab.json").read_text())
    torch.manual_seed(0)
    transformer = SD3Transformer2DModel(sample_size=8, patch_size=2, in_channels=4, num_layers=2,
                                        attention_head_dim=8, num_attention_heads=2, caption_projection_dim=16,
                                        joint_attention_dim=32, pooled_projection_dim=64, out_channels=4,
                                        pos_embed_max_size=8)
    t5 = {"text_encoder_3": tiny_t5(), "tokenizer_3": T5TokenizerFast.from_pretrained(
        write_tiny_t5_tokenizer(folder / "_t5", max_length=16))} if with_t5 else \
        {"text_encoder_3": None, "tokenizer_3": None}
    pipe = StableDiffusion3Pipeline(transformer=transformer, scheduler=FlowMatchEulerDiscreteScheduler(shift=3.0),
                                    vae=tiny_vae(shift_factor=0.1, scaling_factor=1.5),
                                    text_encoder=_tiny_clip_with_projection(vocab, 3), tokenizer=clip_tok,
                                    text_encoder_2=_tiny_clip_with_projection(vocab, 4), tokenizer_2=clip_tok, **t5)
    pipe.save_pretrained(folder)
    return folder
