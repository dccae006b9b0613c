"""``genq``: one experiment, config in, result record out (DESIGN.md section 1).

    genq                                   # embedded default: digits DDPM, W8A8
    genq model=dcgan_digits quant=fp32
    genq -m model=dcgan_digits,ddpm_digits # a sweep
"""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path
from typing import Any

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf, open_dict

from genq.config import register_configs, validate
from genq.config.label import recipe_bits, recipe_label
from genq.errors import GenqError

register_configs()


def _hydra_context() -> tuple[Path, str | None]:
    """(run folder, sweep folder or None) of the current Hydra job."""
    hc = HydraConfig.get()
    sweep = hc.sweep.dir if hc.mode.name == "MULTIRUN" else None
    return Path(hc.runtime.output_dir), sweep


def describe_quant(q: DictConfig) -> dict[str, Any]:
    """The record's ``quant`` section: the recipe's name (``recipe``: the label derived from the
    settings, or the user's own ``quant.recipe``; ``label``: always the derived one,
    genq.config.label) and every setting that shaped it."""
    fields = ("recipe", "label", "method", "seed", "w_bits", "a_bits", "granularity", "group_size", "w_symmetric",
              "a_symmetric", "a_granularity", "observer", "w_observer", "attn_bits", "softmax_bits",
              "first_last")
    info: dict[str, Any] = {k: recipe_label(q) if k == "label" else q[k] for k in fields}
    info["w_bits"], info["a_bits"] = recipe_bits(q)     # a named format wins over the recipe's bits
    quantizes_acts = any(q[k] is not None for k in ("a_bits", "attn_bits", "softmax_bits"))
    info["activations"] = ("dynamic" if q.a_dynamic else "static") if quantizes_acts else "fp"
    if q.w_bits is None:
        info["granularity"] = info["group_size"] = info["w_observer"] = None
    if info["activations"] != "static":
        info["observer"] = None
    if info["activations"] != "dynamic":
        info["a_granularity"] = None
    info["overrides"] = OmegaConf.to_container(q.overrides) or []
    info.update({"include": list(q.include), "exclude": list(q.exclude), "calibration": None,
                 "reconstruction": None})
    return info


def run_experiment(cfg: DictConfig, run_dir: str | Path, group: str | None = None,
                   config_hash: str | None = None) -> dict[str, Any]:
    """Run one experiment and write ``run_dir/result.json``; return the record."""
    from genq.console import quiet_third_party

    quiet_third_party()      # before torch and the model stack: their log lines are not the user's
    import torch   # here, not at module level: a joblib sweep's parent process never needs it

    from genq.bench.backends import CUDA_BACKENDS, check_cuda
    from genq.bench.backends.format_kernels import check_kernel_formats
    from genq.bench.speed import measure_speed
    from genq.compat import check_fits
    from genq.models.integrity import check_finite
    from genq.distributed import DataParallel
    from genq.data import check_data_config, describe_reference, load_prompts, load_reference
    from genq.metrics import check_metric_weights, score_run
    from genq.models import load_generator
    from genq.models.sample_cache import cached_fp_samples, sample_key
    from genq.models.speed import is_speed_model
    from genq.quant.effective_bits import effective_bits
    from genq.progress import stage
    from genq.quant.pipeline import quantize_adapter
    from genq.report.terminal import print_run_table
    from genq.tracking import paired_grid, save_grid, write_json_atomic
    from genq.tracking.record import RESULT_FILE, SCHEMA_VERSION
    from genq.tracking.env import environment
    from genq.tracking.wandb_logger import make_logger

    from genq.tracking.resume import config_hash as hash_config

    validate(cfg)
    if cfg.bench.backend in CUDA_BACKENDS:
        check_cuda(cfg.bench.backend)   # torch's own view of the GPU, before any model loads
    # a speed_* model (random weights, genq.models.speed) is timed, never scored
    scored = not is_speed_model(cfg.model.name)
    if scored:
        check_metric_weights(cfg.metrics)   # missing Inception/LPIPS weights fail here, before sampling
    config_hash = config_hash or hash_config(cfg)
    start = time.perf_counter()
    run_dir = Path(run_dir)
    torch.manual_seed(cfg.seed)
    m, q, mc, b = cfg.model, cfg.quant, cfg.metrics, cfg.bench
    dist = DataParallel(cpu=cfg.device == "cpu")      # >1 process under `accelerate launch`
    device = str(dist.device) if dist.enabled and cfg.device == "cuda" else cfg.device
    main_dir = Path(dist.broadcast_object(str(run_dir)))

    check_data_config(cfg.data)                       # names, ranges, folders: before any model loads
    prompts = load_prompts(cfg.data)                  # text-to-image only ([] otherwise)
    fp = load_generator(m, device=device, prompts=prompts or None)
    check_finite({"network": fp.network, "vae": getattr(fp, "vae", None)}, f"model={m.name}")
    compatibility = reference = None
    if scored:   # the model's images against the metrics' feature network, before any sampling
        compatibility = check_fits(fp.image_shape, cfg, latent=getattr(fp, "vae", None) is not None)
        channels, resolution = fp.image_shape[0], fp.image_shape[1]
        real = load_reference(cfg.data, resolution, channels)
        reference = describe_reference(cfg.data, resolution, channels)
    noise = fp.make_noise(mc.n_samples, cfg.seed)

    quant_info = describe_quant(q)
    with stage(f"{q.method} {q.recipe} on {m.name}"):
        outcome = quantize_adapter(fp, q, q.seed, run_dir, validated=True)   # validate(cfg) ran above
    qmodel = outcome.model if outcome else None
    report = outcome.report if outcome else None
    if outcome:
        quant_info.update(outcome.info)
    else:                      # method=fp: every component of the pipeline stays FP
        from genq.quant.components import summary

        quant_info["components"] = summary(fp, [])
    if qmodel is not None and b.backend in CUDA_BACKENDS:   # before sampling: formats no GPU kernel runs
        check_kernel_formats(b.backend, qmodel.network)
    # bits per weight / input-activation element, scales and low-rank branches included
    quant_info.update(effective_bits((qmodel if qmodel is not None else fp).network))

    fp_images = q_images = None
    if scored:
        # Each process samples its shard of the noise bank; every process gets all the images.
        key = sample_key(m, cfg.data, cfg.seed, mc.n_samples, device, dist.world_size)
        with stage(f"sampling {mc.n_samples} FP images"):
            fp_images, fp_reused = cached_fp_samples(
                key, lambda: dist.map(lambda z: fp.sample(z, m.sample_batch_size), noise))
        if qmodel:
            with stage(f"sampling {mc.n_samples} {q.recipe} images"):
                q_images = dist.map(lambda z: qmodel.sample(z, m.sample_batch_size), noise)
        with stage("scoring"):
            metrics = score_run(mc, real, fp_images, q_images, seed=cfg.seed, data_key=reference,
                                device=device, dist=dist)
        metrics["fp_samples"] = "reused from an earlier job of this process" if fp_reused else "sampled"
    else:
        metrics = {"scoring": f"skipped: model={m.name} has random weights (speed and coverage only)"}
    sampler = fp.describe_sampler()
    if sampler is not None:
        metrics["sampler"] = sampler

    if not dist.is_main:      # the main process times, writes and logs; the others are done
        dist.barrier()
        if run_dir.resolve() != main_dir.resolve() and not (run_dir / RESULT_FILE).exists():
            shutil.rmtree(run_dir, ignore_errors=True)   # Hydra's folder of a second process
        return {"status": "ok", "metrics": metrics, "rank": dist.rank}
    with stage(f"timing ({b.backend})"):
        speed = measure_speed(fp, qmodel, b, noise, q)

    run_id = f"{m.name}-{q.recipe}-{run_dir.name}"
    record = {"schema": SCHEMA_VERSION, "run_id": run_id, "experiment": cfg.experiment,
              "model": m.name, "data": cfg.data.name, "reference": reference,
              "compatibility": compatibility,
              "model_source": getattr(fp, "source", None),
              # classifier-free guidance of the sampling (both passes through the same network);
              # null: the model has none
              "guidance_scale": getattr(fp, "guidance_scale", None),
              # StyleGAN's truncation psi (1: none); null: the model has none
              "truncation": getattr(fp, "truncation", None),
              "quant": quant_info, "metrics": metrics,
              "speed": speed, "config": OmegaConf.to_container(cfg, resolve=True),
              "config_hash": config_hash, "env": environment(), "seed": cfg.seed, "status": "ok",
              "processes": dist.world_size,
              "wall_s": round(time.perf_counter() - start, 2)}
    write_json_atomic(run_dir / RESULT_FILE, record)

    grid_path = None
    if fp_images is not None:
        n_grid = min(cfg.sample_grid, len(fp_images))
        grid_path = save_grid(paired_grid(fp_images[:n_grid], None if q_images is None else q_images[:n_grid]),
                              run_dir / "samples.png")
    logger = make_logger(cfg, run_dir, run_id, record["config"], group,
                         [m.name, q.recipe, q.method, cfg.experiment])
    try:
        logger.log_record(record)
        if grid_path is not None:
            logger.log_image("samples/fp_vs_quantized", grid_path, "left: FP | right: quantized, same noise")
        if report is not None:
            logger.log_table("quant/coverage", report.rows())
    finally:
        logger.finish()
    print_run_table(record)
    dist.barrier()
    return record


def main() -> None:
    """The ``genq`` command: ``--help`` is answered by :mod:`genq.cli_help` (Hydra's own help
    takes seconds), everything else by the Hydra app :func:`hydra_main`."""
    from genq.cli_errors import plain_run
    from genq.cli_help import help_requested, render_help

    if help_requested(sys.argv[1:]):
        try:
            text = render_help(sys.argv[1:])
        except Exception:  # noqa: BLE001 - a bad override: Hydra's own help says what is wrong
            text = None
        if text is not None:
            print(text)
            return
    if plain_run(sys.argv[1:]):
        check_command_line(sys.argv[1:])
    from genq.interrupts import Interrupted, sigterm_as_interrupt

    try:
        with sigterm_as_interrupt():   # also between a sweep's jobs, inside Hydra's own code
            hydra_main()
    except Interrupted as stop:
        print(f"genq: {stop}", file=sys.stderr)
        sys.exit(stop.exit_status)


def check_command_line(argv: list[str]) -> None:
    """Compose and check the config of a plain run before Hydra sets up its run folder: a
    composition error (typo, wrong type, unknown option) or a bad value answers in one
    sentence, exit status 2, and nothing is written."""
    from genq.cli_errors import composition_message
    from genq.config import compose_config
    from genq.data.checks import check_data_config
    from genq.preflight import check_output_parent, check_processes

    try:
        cfg = compose_config(*argv, return_hydra_config=True)
        if str(cfg.hydra.mode) == "RunMode.MULTIRUN" or cfg.hydra.mode == "MULTIRUN":
            return            # a preset sweep (paper=...): each job checks its own config
        run_dir = cfg.hydra.run.dir
        with open_dict(cfg):
            del cfg["hydra"]
    except Exception as err:  # noqa: BLE001 - Hydra/OmegaConf composition errors, said in one line
        print(f"genq: error: {composition_message(err)}", file=sys.stderr)
        sys.exit(2)
    try:
        validate(cfg)
        check_data_config(cfg.data)
        check_processes(cfg.metrics)
        check_output_parent(run_dir)
    except GenqError as err:
        print(f"genq: error: {err}", file=sys.stderr)
        sys.exit(2)


@hydra.main(config_path="configs", config_name="config", version_base="1.3")
def hydra_main(cfg: DictConfig) -> None:
    """One Hydra job. The config is checked first, before torch and the model stack load, so
    bad input answers in about a second. In a sweep (``-m``) a finished run for the same config
    is skipped and a failing run is recorded (``status: failed``) while the sweep goes on; a
    single run that fails prints one sentence (bad input, exit status 2, its empty run folder
    removed) or raises (a bug). SIGINT and SIGTERM stop at once and keep every finished record
    (genq.interrupts)."""
    from genq.interrupts import Interrupted, sigterm_as_interrupt
    from genq.preflight import preflight
    from genq.tracking.resume import completed_record, config_hash, write_failure

    run_dir, sweep = _hydra_context()
    digest = config_hash(cfg)
    if sweep is not None and completed_record(run_dir, digest) is not None:
        print(f"genq: {run_dir} already holds the result of this config ({digest}); skipped.")
        return
    try:
        with sigterm_as_interrupt():
            preflight(cfg, run_dir)
            run_experiment(cfg, run_dir, group=sweep, config_hash=digest)
    except Interrupted as stop:
        print(f"genq: {stop}", file=sys.stderr)
        sys.exit(stop.exit_status)
    except GenqError as err:
        print(f"genq: error: {err}", file=sys.stderr)
        if sweep is None:
            remove_empty_run_dir(run_dir)
            sys.exit(2)
        write_failure(run_dir, cfg, digest, err)
    except Exception as err:  # noqa: BLE001 - a sweep records the failure and goes on
        if sweep is None:
            raise
        write_failure(run_dir, cfg, digest, err)
        print(f"genq: run {run_dir} failed ({type(err).__name__}: {err}); recorded, sweep goes on.",
              file=sys.stderr)


def remove_empty_run_dir(run_dir: Path) -> None:
    """Remove a run folder that holds only what Hydra wrote before the run failed (``.hydra/``
    and the log): a refused run leaves nothing behind. A folder with anything else is kept."""
    hydra_only = {".hydra", "run.log", f"{Path(sys.argv[0]).stem}.log"}
    try:
        if run_dir.is_dir() and all(p.name in hydra_only for p in run_dir.iterdir()):
            shutil.rmtree(run_dir, ignore_errors=True)
    except OSError:
        pass


if __name__ == "__main__":
    main()
