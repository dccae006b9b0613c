"""Typed config schemas, registered in Hydra's ConfigStore.

Every group's YAML is merged onto one of these dataclasses, so a misspelt key or a value
of the wrong type in a YAML file or a command-line override fails with Hydra's own clear
message. Range checks that types cannot express (bit widths, sample counts) live in
:func:`validate`, which runs before any model is loaded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING

from genq.config.bench import BenchConfig
from genq.config.outlier import OutlierConfig, validate_outlier
from genq.config.ptq import CalibrationConfig, ReconstructionConfig
from genq.config.qat import QATConfig
from genq.errors import GenqError, check_choice

BITS_RANGE = (2, 16)
GRANULARITIES = ("per_tensor", "per_channel", "per_group", "per_block")
A_GRANULARITIES = ("per_tensor", "per_token")
OBSERVERS = ("minmax", "ema", "percentile", "mse")
FIRST_LAST = ("quantize", "fp", "int8")
METHODS = ("fp", "ptq", "qat")


@dataclass
class TrainConfig:
    """How ``genq-train`` trains this model from scratch."""

    steps: int = 1000
    batch_size: int = 128
    lr: float = 2e-4
    ema_decay: float = 0.0
    seed: int = 0
    log_every: int = 100
    # StyleGAN2 (genq.train.stylegan): R1 weight and lazy interval, DiffAugment policy,
    # EMA half-life (thousands of images), EMA snapshots every N steps (0: none)
    r1_gamma: float = 0.1
    r1_interval: int = 16
    augment: str = "translation,cutout"
    ema_kimg: float = 10.0
    snapshot_every: int = 0


@dataclass
class ModelConfig:
    name: str = MISSING
    family: str = MISSING                       # gan | diffusion | classifier
    # "embedded" = the weights shipped in the package; a folder written by genq-train;
    # null = randomly initialised from ``arch`` (tiny smoke models, training from scratch).
    weights: Optional[str] = "embedded"
    arch: dict[str, Any] = field(default_factory=dict)   # constructor arguments
    tiny: bool = False                          # merge ``tiny_arch`` into ``arch`` (smoke tests)
    tiny_arch: dict[str, Any] = field(default_factory=dict)
    # diffusion training schedule; hub models: entries that override the pipeline's scheduler
    # config (e.g. timestep_spacing: trailing)
    scheduler: dict[str, Any] = field(default_factory=dict)
    num_inference_steps: int = 50               # diffusion sampling (DDIM) steps
    # an embedded diffusion model's network: UNet2DModel | DiTTransformer2DModel (class-conditional)
    network_class: str = "UNet2DModel"
    sample_batch_size: int = 256                # samples per sampling batch
    train: TrainConfig = field(default_factory=TrainConfig)
    # --- pretrained models (model=hub_ddpm | hub_ldm | hub_sd | hub_gan); ``weights`` and
    # ``tiny`` do not apply to them.
    hub: Optional[str] = None                   # what repo_id holds: ddpm | ldm | sd | dit | t2i | gan; null: a genq model
    repo_id: Optional[str] = None               # Hugging Face Hub id (owner/name) or a local folder
    revision: Optional[str] = None              # hub branch, tag or commit; null: main
    variant: Optional[str] = None               # weight files variant, e.g. fp16 (*.fp16.safetensors)
    dtype: str = "float32"                      # float32 | float16 | bfloat16: weights and compute
    # component -> subfolder (unet, scheduler, vae, text_encoder, tokenizer); unset ones come
    # from model_index.json or the standard names (vae or vqvae)
    subfolders: dict[str, str] = field(default_factory=dict)
    # VAE latents are decoded as vae.decode(z / latent_scale); null: the VAE config's
    # scaling_factor (1.0 for a VQ VAE whose config sets none)
    latent_scale: Optional[float] = None
    guidance_scale: float = 7.5                 # classifier-free guidance (text-to-image, hub_dit); <= 1: off
    negative_prompt: str = ""                   # text-to-image: the unconditional prompt of guidance
    # text-to-image prompts; noise sample i gets prompts[i % len]; data.prompts win when set
    prompts: list[str] = field(default_factory=list)
    # transformer text-to-image (model=hub_transformer_t2i): tokens per prompt of the T5/CLIP
    # encoders; null: the pipeline's default (PixArt-Sigma 300, PixArt-alpha 120, SD3 256)
    max_sequence_length: Optional[int] = None
    # StyleGAN2 (model=stylegan_digits): truncation psi, w = w_avg + psi (w - w_avg); 1: none
    truncation: float = 1.0


@dataclass
class DataConfig:
    name: str = "digits"
    resolution: int = 16
    test_fraction: float = 0.2
    split_seed: int = 0
    reference_split: str = "train"              # real images that FID/KID compare against: train | test | all
    # cifar10 | mnist | image_folder: the folder holding the images (cifar10/mnist null:
    # $GENQ_CACHE/datasets/<name>); image_folder reads every image below it, recursively
    root: Optional[str] = None
    download: bool = False                      # cifar10 | mnist: let torchvision download into root
    max_images: Optional[int] = None            # a seeded random subset of the reference; null: all
    # text-to-image: the prompts that condition the samples (win over model.prompts), plus
    # one prompt per line of prompts_file
    prompts: list[str] = field(default_factory=list)
    prompts_file: Optional[str] = None


@dataclass
class LayerOverride:
    """Mixed precision: layers whose name matches ``pattern`` (fnmatch glob) get these bits,
    or stay in floating point with ``keep_fp``. Later overrides win over earlier ones."""

    pattern: str = MISSING
    w_bits: Optional[int] = None
    a_bits: Optional[int] = None
    w_format: Optional[str] = None              # a named format (wins over w_bits), e.g. fp8_e4m3
    a_format: Optional[str] = None
    keep_fp: bool = False


@dataclass
class BudgetConfig:
    """What ``quant=auto`` (the mixed-precision allocator, docs/attribution.md) may spend."""

    kind: str = "effective_w_bits"              # effective_w_bits | model_bytes | latency_ms
    value: Optional[float] = None               # bits per weight element, or bytes
    attribution: Optional[str] = None           # the attribution.json of genq-analyze --attribution
    metric: str = "qfid"                        # the fitted loss minimised: qfid | lpips_vs_fp | fid
    out: Optional[str] = None                   # where the chosen recipe is written (default: run dir)


@dataclass
class QuantConfig:
    # the record's label: unset, derived from the settings below (genq/config/label.py,
    # docs/recipes.md); a value set here or on the command line is kept as a user label
    recipe: str = "${recipe_label:}"
    method: str = "fp"                          # fp | ptq | qat
    # everything the quantizer draws (calibration noise, timestep draws, reconstruction
    # batches and rounding init, QAT data and init, observer subsampling); the top-level
    # ``seed`` draws only the evaluation noise bank. Sub-seeds (calibration.seed,
    # reconstruction.seed) are offsets added to it. Vary both: seed=0,1,2 quant.seed='${seed}'
    seed: int = 0
    w_bits: Optional[int] = None                # null = weights stay FP
    a_bits: Optional[int] = None                # null = activations stay FP
    # number formats by name, winning over the bits above (genq.quant.formats): int4, uint8,
    # fp8_e4m3, fp8_e5m2, fp6_e3m2, fp6_e2m3, fp4_e2m1, mxfp8, mxfp6, mxfp4, mxint8, nvfp4
    w_format: Optional[str] = None
    a_format: Optional[str] = None
    # a plan file (genq.quant.QuantPlan.save, then edited) applied instead of the layer rules
    # below; the recipe's other settings (calibration, reconstruction, QAT) still apply
    plan: Optional[str] = None
    # a precision schedule file (genq.quant.schedule.PrecisionSchedule.save): windows of
    # sampler steps, each with its plan, applied instead of the plan (PTQ of a denoiser)
    schedule: Optional[str] = None
    # quant=auto: choose a schedule (or plan) per cell from an attribution under quant.budget,
    # write it out and run it (genq.quant.allocator, docs/attribution.md)
    auto: bool = False
    budget: BudgetConfig = field(default_factory=BudgetConfig)
    granularity: str = "per_channel"            # of weights: per_tensor | per_channel | per_group | per_block
    group_size: Optional[int] = None            # per_group: elements per group along input channels
    w_symmetric: bool = True
    a_symmetric: bool = False
    a_dynamic: bool = False                     # true: activation scales computed per batch at run time
    a_granularity: str = "per_tensor"           # dynamic activations: per_tensor | per_token
    observer: str = "minmax"                    # static activations: minmax | ema | percentile | mse
    w_observer: str = "minmax"                  # weights: minmax | mse | percentile
    percentile: float = 99.99                   # percentile observer
    ema_averaging: float = 0.01                 # ema observer: weight of each new batch
    mse_grid: int = 100                         # mse observer: clipping candidates searched
    calib_samples: int = 64                     # noise samples whose FP forward passes calibrate
    calib_batch_size: int = 64                  # samples per calibration batch
    attn_bits: Optional[int] = None             # Q, K, V inputs of the attention matmuls (null: FP)
    softmax_bits: Optional[int] = None          # softmax output feeding softmax.V (null: FP)
    layers: list[str] = field(default_factory=lambda: ["Linear", "Conv2d", "ConvTranspose2d"])
    include: list[str] = field(default_factory=list)   # name globs; empty = every selected layer
    exclude: list[str] = field(default_factory=list)   # name globs kept in FP
    first_last: str = "quantize"                # first and last layer: quantize | fp | int8
    overrides: list[LayerOverride] = field(default_factory=list)
    calibration: CalibrationConfig = field(default_factory=CalibrationConfig)
    reconstruction: ReconstructionConfig = field(default_factory=ReconstructionConfig)
    qat: QATConfig = field(default_factory=QATConfig)   # method=qat only
    # smoothing, rotation or SVDQuant's low-rank branch before quantizing (docs/outliers.md)
    outlier: OutlierConfig = field(default_factory=OutlierConfig)
    # pipeline components quantized (genq.quant.components): null = the denoiser alone, or a
    # list of denoiser | unet | transformer | generator | vae_decoder | text_encoder
    components: Optional[list[str]] = None


@dataclass
class MetricsConfig:
    """Defaults are the offline digits metrics; ``metrics=standard`` is the papers' setup."""

    name: str = "digits"
    n_samples: int = 1000
    feature_extractor: str = "digits_classifier"  # digits_classifier | inception (torch-fidelity)
    implementation: str = "torchmetrics"         # FID/KID code: torchmetrics | torch_fidelity
    kid_subset_size: int = 1000
    kid_subsets: int = 50
    batch_size: int = 500
    # null: $TORCH_HOME/hub/checkpoints/weights-inception-2015-12-05-6726825d.pth
    inception_weights: Optional[str] = None
    lpips_net: str = "digits_classifier"         # digits_classifier (uniform weights) | alex | vgg | squeeze
    lpips_weights: Optional[str] = None          # backbone file; null: the torch hub cache
    lpips_resize: Optional[int] = None           # null: native, or 64 when too small for the net
    compute_ssim: bool = True
    compute_is: bool = False                     # Inception Score from the extractor's logits
    is_splits: int = 10
    # precision/recall (Kynkaanniemi et al. 2019) and density/coverage (Naeem et al. 2020)
    compute_pr: bool = True
    pr_k: int = 5                                # nearest neighbours of the balls (prdc's default)
    # bootstrap resamples of the generated set behind each metric's "_ci95" interval; 0: off
    bootstrap: int = 200
    cache_reference: bool = True                 # real-image statistics under $GENQ_CACHE/stats


@dataclass
class LoggerConfig:
    name: str = "wandb"                         # wandb | none
    project: str = "genq"
    mode: str = "offline"                       # offline | online | disabled
    entity: Optional[str] = None


@dataclass
class Config:
    model: ModelConfig = MISSING
    data: DataConfig = MISSING
    quant: QuantConfig = MISSING
    metrics: MetricsConfig = MISSING
    bench: BenchConfig = MISSING
    logger: LoggerConfig = MISSING
    experiment: str = "default"
    seed: int = 0
    device: str = "cpu"
    sample_grid: int = 64                       # FP | quantized images saved side by side


@dataclass
class TrainAppConfig:
    model: ModelConfig = MISSING
    data: DataConfig = MISSING
    out_dir: Optional[str] = None               # default: $GENQ_CACHE/models/<model.name>
    device: str = "cpu"


def register_configs() -> None:
    """Register the schemas; the YAML files name them in their defaults lists."""
    from genq.config.label import register_label_resolver

    register_label_resolver()              # quant.recipe's default ${recipe_label:}
    cs = ConfigStore.instance()
    cs.store(name="config_schema", node=Config)
    cs.store(name="train_schema", node=TrainAppConfig)
    for group, node in (("model", ModelConfig), ("data", DataConfig), ("quant", QuantConfig),
                        ("metrics", MetricsConfig), ("bench", BenchConfig), ("logger", LoggerConfig)):
        cs.store(group=group, name=f"{group}_schema", node=node)


def compose_config(*overrides: str, config_name: str = "config", return_hydra_config: bool = False) -> Any:
    """The config genq would run with these command-line overrides, composed outside a Hydra
    app (scripts, tests, notebooks); with the ``hydra`` node when ``return_hydra_config``."""
    from hydra import compose, initialize_config_module

    register_configs()
    with initialize_config_module("genq.configs", version_base="1.3"):
        return compose(config_name, overrides=list(overrides), return_hydra_config=return_hydra_config)


def _check_bits(key: str, bits: Optional[int]) -> None:
    lo, hi = BITS_RANGE
    if bits is not None and not lo <= bits <= hi:
        raise GenqError(f"{key}={bits} is out of range; accepted: integers {lo} to {hi}, "
                        "or null to keep that tensor in floating point.")


def _check_format(key: str, name: Optional[str]) -> None:
    if name is None:
        return
    from genq.quant.formats import parse_format

    try:
        parse_format(name)
    except GenqError as e:
        raise GenqError(f"{key}={name!r}: {e}") from None


def validate_quant(q: Any) -> None:
    """Check a quant config before any calibration starts (one sentence per problem)."""
    check_choice("quant.method", q.method, METHODS)
    from genq.config.components import check_component_names

    check_component_names(getattr(q, "components", None))
    for key in ("w_bits", "a_bits", "attn_bits", "softmax_bits"):
        _check_bits(f"quant.{key}", getattr(q, key, None))
    check_choice("quant.granularity", q.granularity, GRANULARITIES)
    if q.granularity in ("per_group", "per_block") and (q.group_size is None or q.group_size < 1):
        raise GenqError(f"quant.granularity={q.granularity} needs quant.group_size, a positive number of "
                        f"input channels per group (per_block: the side of each square tile); got "
                        f"quant.group_size={q.group_size}.")
    check_choice("quant.a_granularity", q.a_granularity, A_GRANULARITIES)
    if q.a_granularity == "per_token" and not q.a_dynamic:
        raise GenqError("quant.a_granularity=per_token needs quant.a_dynamic=true; static "
                        "activation scales are per_tensor.")
    check_choice("quant.observer", q.observer, OBSERVERS)
    check_choice("quant.w_observer", q.w_observer, ("minmax", "mse", "percentile"))
    if not 50.0 < q.percentile <= 100.0:
        raise GenqError(f"quant.percentile={q.percentile} is out of range; accepted: (50, 100].")
    if not 0.0 < q.ema_averaging <= 1.0:
        raise GenqError(f"quant.ema_averaging={q.ema_averaging} is out of range; accepted: (0, 1].")
    check_choice("quant.first_last", q.first_last, FIRST_LAST)
    for key in ("w_format", "a_format"):
        _check_format(f"quant.{key}", getattr(q, key, None))
    for i, o in enumerate(q.overrides):
        _check_bits(f"quant.overrides[{i}].w_bits", o.w_bits)
        _check_bits(f"quant.overrides[{i}].a_bits", o.a_bits)
        for key in ("w_format", "a_format"):
            _check_format(f"quant.overrides[{i}].{key}", getattr(o, key, None))
    quantizes = (q.w_bits, q.a_bits, q.attn_bits, q.softmax_bits,
                 getattr(q, "w_format", None), getattr(q, "a_format", None))
    if getattr(q, "auto", False):
        _validate_auto(q)
    elif q.method in ("ptq", "qat") and all(b is None for b in quantizes):
        raise GenqError(f"quant.method={q.method!r} needs quant.w_bits or quant.a_bits; "
                        "use quant=fp32 for the full-precision model.")
    if q.method == "fp" and any(b is not None for b in quantizes):
        raise GenqError("quant.method='fp' quantizes nothing, but bits are set; accepted: a PTQ "
                        "recipe (e.g. quant=w8a8), quant.method=ptq, or null bits.")
    if getattr(q, "schedule", None) and q.method != "ptq":
        raise GenqError(f"quant.schedule is applied by PTQ; quant.method={q.method!r} does not "
                        "take one: accepted: quant.method=ptq, or quant.schedule=null.")
    outlier = getattr(q, "outlier", None)
    if outlier is not None:
        validate_outlier(outlier)
        if outlier.method != "none" and q.method != "ptq":
            raise GenqError(f"quant.outlier.method={outlier.method!r} is applied by PTQ; "
                            f"quant.method={q.method!r} does not take it: accepted: "
                            "quant.method=ptq, or quant.outlier.method=none.")
        if outlier.method != "none" and getattr(q, "schedule", None):
            raise GenqError(f"quant.outlier.method={outlier.method!r} does not combine with "
                            "quant.schedule (one plan per window); accepted: quant.outlier.method=none.")
    if q.calib_samples < 1 or q.calib_batch_size < 1:
        raise GenqError(f"quant.calib_samples={q.calib_samples} and quant.calib_batch_size="
                        f"{q.calib_batch_size} must be at least 1.")


def _validate_auto(q: Any) -> None:
    """quant=auto: PTQ, no plan or schedule of its own, a known budget kind and metric (the
    attribution file and the budget value are checked when the allocator reads them)."""
    from genq.quant.allocator.budget import check_kind

    if q.method != "ptq":
        raise GenqError(f"quant.auto=true chooses a PTQ schedule; quant.method={q.method!r}: "
                        "accepted: quant.method=ptq.")
    if getattr(q, "schedule", None) or getattr(q, "plan", None):
        raise GenqError("quant.auto=true writes its own schedule or plan; accepted: quant.schedule=null "
                        "and quant.plan=null.")
    check_kind(q.budget.kind)
    check_choice("quant.budget.metric", q.budget.metric, ("qfid", "lpips_vs_fp", "fid"))
    if q.budget.value is not None and not q.budget.value > 0:
        raise GenqError(f"quant.budget.value={q.budget.value}; accepted: a positive number.")


def _check_qat_uses_plain_calibration(q: Any) -> None:
    """QAT starts from min-max/MSE PTQ on the whole FP trajectory (genq.qat.pipeline); the
    PTQ-method settings would otherwise be ignored without a word."""
    default_c, default_r = CalibrationConfig(), ReconstructionConfig()
    changed = [f"quant.calibration.{k}" for k in ("sampler", "shortcut_split", "timestep_buckets")
               if getattr(q.calibration, k) != getattr(default_c, k)]
    changed += [f"quant.reconstruction.{k}" for k in ("method", "bias_correction", "bn_reestimate")
                if getattr(q.reconstruction, k) != getattr(default_r, k)]
    if changed:
        raise GenqError(f"quant.method=qat does not use {', '.join(changed)} (QAT is initialised by "
                        "plain PTQ on the whole FP trajectory); accepted: their defaults, or "
                        "quant.method=ptq.")


def validate(cfg: Any) -> None:
    """Range and choice checks that the schema types cannot express."""
    check_choice("model.family", cfg.model.family, ("gan", "diffusion"))
    validate_quant(cfg.quant)
    if cfg.quant.method in ("ptq", "qat"):     # method settings fail here, before any model loads
        from genq.config.ptq import validate_ptq
        from genq.config.qat import validate_qat

        validate_ptq(cfg.quant)
        if cfg.quant.method == "qat":
            validate_qat(cfg.quant.qat, cfg.model.family)
            _check_qat_uses_plain_calibration(cfg.quant)
    from genq.metrics.checks import validate_metrics

    validate_metrics(cfg.metrics)
    if cfg.model.num_inference_steps < 1:
        raise GenqError(f"model.num_inference_steps={cfg.model.num_inference_steps} must be at least 1.")
    if not 0 <= cfg.model.truncation <= 1:
        raise GenqError(f"model.truncation={cfg.model.truncation} is out of range; accepted: 0 to 1 "
                        "(1: no truncation, 0: every sample from the average w).")
    check_choice("logger.name", cfg.logger.name, ("wandb", "none"))
    check_choice("logger.mode", cfg.logger.mode, ("offline", "online", "disabled"))
    check_choice("device", cfg.device, ("cpu", "cuda"))
    from genq.config.bench import check_bench  # noqa: E402 - bench backends (issue 5)
    check_bench(cfg.bench)
    method = cfg.quant.outlier.method
    if method != "none" and cfg.bench.backend != "fake-quant":
        raise GenqError(f"quant.outlier.method={method!r} is simulated only: bench.backend="
                        f"{cfg.bench.backend!r} lowers the stored weights, without the smoothing, "
                        "rotation or low-rank branch; accepted: bench=simulated.")
