"""``quant.seed`` draws everything the quantizer draws; ``seed`` only the evaluation noise
(issue 15): the two can be varied apart, and each is reproducible."""

from __future__ import annotations

import torch

from conftest import compose
from genq.models import load_generator
from genq.models.sample_cache import cached_fp_samples, clear, sample_key
from genq.quant.pipeline import quantize_adapter
from metric_checks import assert_finite_metrics


def _quantized_state(recipe: str, quant_seed: int, *overrides: str, model: str = "ddpm_digits"):
    cfg = compose("experiment=smoke", "logger=none", f"model={model}", f"quant={recipe}", *overrides)
    fp = load_generator(cfg.model)
    out = quantize_adapter(fp, cfg.quant, quant_seed)
    return {k: v.clone() for k, v in out.model.network.state_dict().items()}


def _same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_calibration_is_a_function_of_quant_seed_only():
    a = _quantized_state("w4a8", 0)
    assert _same(a, _quantized_state("w4a8", 0))              # reproducible
    assert not _same(a, _quantized_state("w4a8", 1))          # other calibration noise, other scales


def test_quant_seed_shifts_the_reconstruction_draws():
    fast = ("quant.reconstruction.iters=2", "quant.reconstruction.act_iters=0",
            "quant.reconstruction.samples=8", "quant.reconstruction.batch_size=4",
            "quant.reconstruction.progress=false", "quant.calib_samples=4", "model.num_inference_steps=2")
    a = _quantized_state("w4a8_brecq", 0, *fast, model="dcgan_digits")
    assert not _same(a, _quantized_state("w4a8_brecq", 2, *fast, model="dcgan_digits"))


def test_lora_init_follows_quant_seed():
    from genq.qat.pipeline import prepare

    cfg = compose("experiment=smoke", "logger=none", "model=dcgan_digits", "quant=qat_lsq_w4a8",
                  "quant.qat.lora_rank=2", "quant.a_bits=null")
    fp = load_generator(cfg.model)

    def lora_a(seed: int) -> list[torch.Tensor]:
        student = fp.clone()
        prepare(student, cfg.quant, None, seed)
        return [p.clone() for n, p in student.network.named_parameters() if n.endswith(".A")]

    torch.manual_seed(123)               # the global RNG plays no part
    first = lora_a(0)
    torch.manual_seed(456)
    assert first and all(torch.equal(x, y) for x, y in zip(first, lora_a(0)))
    assert not torch.equal(first[0], lora_a(1)[0])


def test_records_carry_both_seeds_and_seed_leaves_the_quantizer_alone(tmp_path, smoke_cfg):
    from genq.run import run_experiment

    base = run_experiment(smoke_cfg("model=ddpm_digits", "quant=w4a8"), tmp_path / "a")
    other_q = run_experiment(smoke_cfg("model=ddpm_digits", "quant=w4a8", "quant.seed=1"), tmp_path / "b")
    assert (base["seed"], base["quant"]["seed"]) == (0, 0) and (other_q["seed"], other_q["quant"]["seed"]) == (0, 1)
    assert other_q["metrics"]["fid_fp"] == base["metrics"]["fid_fp"]          # same noise bank
    assert other_q["metrics"]["qfid"] != base["metrics"]["qfid"]              # another quantizer
    assert_finite_metrics(base, required=("qfid",))
    assert_finite_metrics(other_q, required=("qfid",))                        # NaN != NaN
    interp = compose("experiment=smoke", "logger=none", "seed=2", "quant.seed=${seed}")
    assert interp.quant.seed == 2                                            # both varied in one override


def test_fp_sample_cache_is_keyed_by_what_the_samples_depend_on():
    clear()
    cfg = compose("experiment=smoke", "logger=none")
    calls = []

    def sample():
        calls.append(1)
        return torch.full((2, 1, 4, 4), float(len(calls)))

    key = sample_key(cfg.model, cfg.data, 0, 32, "cpu", 1)
    first, reused = cached_fp_samples(key, sample)
    again, reused_again = cached_fp_samples(key, sample)
    assert (reused, reused_again) == (False, True) and torch.equal(first, again) and len(calls) == 1
    again.add_(1)                                                            # callers cannot corrupt it
    assert torch.equal(cached_fp_samples(key, sample)[0], first)
    cfg.model.num_inference_steps = 3
    for other in (sample_key(cfg.model, cfg.data, 0, 32, "cpu", 1), sample_key(cfg.model, cfg.data, 1, 32, "cpu", 1),
                  sample_key(cfg.model, cfg.data, 0, 33, "cpu", 1)):
        assert other != key and not cached_fp_samples(other, sample)[1]
    clear()
