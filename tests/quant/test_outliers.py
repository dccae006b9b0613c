"""Outlier handling (genq.quant.outliers, quant.outlier.*): smoothing, rotation and the SVD
low-rank branch are exact before quantization, reduce the error of a low-bit layer with an
outlier channel, run end to end with integer and block formats, and are recorded."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from conftest import compose
from genq.config import validate
from genq.config.outlier import OutlierConfig
from genq.errors import GenqError
from genq.quant import QuantPlan, QuantRecipe, make_plan, quantize_
from genq.quant.modules import quantize_layer
from genq.quant.outliers import install_outlier, rotation_matrix
from genq.quant.outliers.install import collect_input_absmax
from genq.quant.outliers.stats import outlier_statistics
from genq.quant.plan import OutlierSpec

LAYERS = {
    "linear": (lambda: nn.Linear(48, 24), (32, 48)),
    "conv2d": (lambda: nn.Conv2d(24, 16, 3, padding=1, stride=2), (4, 24, 8, 8)),
    "conv_transpose2d": (lambda: nn.ConvTranspose2d(24, 16, 2, stride=2), (4, 24, 5, 5)),
}


def _input(shape, outlier_channel: int | None = 3, gain: float = 30.0, seed: int = 0) -> torch.Tensor:
    x = torch.randn(*shape, generator=torch.Generator().manual_seed(seed))
    if outlier_channel is not None:
        axis = -1 if len(shape) == 2 else 1
        x.select(axis, outlier_channel).mul_(gain)
    return x


def _fp_layer_with(kind: str, method: str, rank: int = 4):
    """An FP layer, a copy with ``method`` installed and its quantizers absent, and an input."""
    make, shape = LAYERS[kind]
    torch.manual_seed(0)
    layer = make()
    x = _input(shape)
    copy_ = copy.deepcopy(layer)
    absmax = collect_input_absmax(nn.Sequential(copy_), ["0"], lambda m: m(x))["0"]
    quantize_layer(copy_, None, None)
    install_outlier(copy_, OutlierSpec(method, 0.5, rank, 0), absmax)
    return layer, copy_, x


@pytest.mark.parametrize("method", ["smooth", "rotate", "svd"])
@pytest.mark.parametrize("kind", list(LAYERS))
def test_outlier_methods_leave_the_fp_output_unchanged(kind, method):
    layer, transformed, x = _fp_layer_with(kind, method)
    with torch.no_grad():
        ref, got = layer(x), transformed(x)
    assert torch.allclose(got, ref, rtol=1e-4, atol=1e-4 * float(ref.abs().max()))
    assert not torch.equal(transformed.transformed_weight(), layer.weight)   # something was done


@pytest.mark.parametrize("method", ["smooth", "rotate", "svd"])
@pytest.mark.parametrize("kind", list(LAYERS))
def test_effective_weight_undoes_every_outlier_transform(kind, method):
    """QuantMixin.effective_weight: the (here unquantized) weight back in the input's basis."""
    layer, transformed, _ = _fp_layer_with(kind, method)
    with torch.no_grad():
        back = transformed.effective_weight()
    assert torch.allclose(back, layer.weight, rtol=1e-4, atol=1e-5 * float(layer.weight.abs().max()))


@pytest.mark.parametrize("kind", list(LAYERS))
def test_svd_branch_plus_residual_is_the_layer(kind):
    layer, svd, x = _fp_layer_with(kind, "svd", rank=3)
    smoothed = svd.input_transforms[0](x)
    residual = copy.deepcopy(layer)
    residual.weight.data = svd.transformed_weight().detach()        # W s - L1 L2
    with torch.no_grad():
        branch = svd.lowrank(smoothed)
        total = branch + residual(smoothed)
        ref = layer(x)
    assert torch.allclose(total, ref, rtol=1e-4, atol=1e-4 * float(ref.abs().max()))
    dense = svd.lowrank.dense_weight()
    matrix = dense.flatten(1) if kind != "conv_transpose2d" else dense.reshape(dense.shape[0], -1)
    assert int(torch.linalg.matrix_rank(matrix, rtol=1e-5)) == 3
    assert all(torch.equal(p, p.half().to(p.dtype)) for p in svd.lowrank.parameters())   # 16-bit held


@pytest.mark.parametrize("n", [1, 3, 32, 96, 128])
def test_rotation_is_orthonormal_and_hadamard_for_powers_of_two(n):
    h = rotation_matrix(n, seed=1)      # random signs times Hadamard: entries +-1/sqrt(n)
    assert torch.allclose(h @ h.T, torch.eye(n, dtype=h.dtype), atol=1e-12)
    if n & (n - 1) == 0:
        assert torch.allclose(h.abs(), torch.full_like(h, n ** -0.5))


def _w4a4_error(method: str, channels: int = 64) -> float:
    """Relative output MSE of one W4A4 linear layer whose input has one channel 30x the rest."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(channels, channels))
    x = _input((256, channels))
    with torch.no_grad():
        ref = model(x)
    recipe = QuantRecipe(w_bits=4, a_bits=4)
    recipe.outlier = OutlierConfig(method)
    quantize_(model, recipe, calib=[x])
    with torch.no_grad():
        return float((model(x) - ref).pow(2).mean() / ref.pow(2).mean())


def test_smoothing_and_rotation_reduce_the_error_of_an_outlier_channel():
    none = _w4a4_error("none")
    assert _w4a4_error("smooth") < 0.5 * none
    assert _w4a4_error("rotate") < 0.5 * none
    assert _w4a4_error("svd") < 0.5 * none


def _model() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(16, 32, 3, padding=1), nn.SiLU(), nn.Conv2d(32, 32, 3, padding=1),
                         nn.SiLU(), nn.Flatten(), nn.Linear(32 * 4 * 4, 16))


@pytest.mark.parametrize("method", ["smooth", "rotate", "svd"])
@pytest.mark.parametrize("formats", [(4, 4, None), (None, None, "nvfp4")], ids=["w4a4", "nvfp4"])
def test_each_method_quantizes_end_to_end(method, formats, tmp_path):
    w_bits, a_bits, fmt = formats
    model = _model()
    x = _input((8, 16, 4, 4), outlier_channel=2, gain=20.0)
    with torch.no_grad():
        ref = model(x)
    recipe = QuantRecipe(w_bits=w_bits, a_bits=a_bits, w_format=fmt, a_format=fmt)
    recipe.outlier = OutlierConfig(method, 0.5, 0.25)
    plan = make_plan(model, recipe)
    assert [s.outlier.method for s in plan.layers] == [method] * 3
    if method == "svd":      # a quarter of the width: min(in, out) / 4
        assert [s.outlier.rank for s in plan.layers] == [4, 8, 4]
    assert QuantPlan.load(plan.save(tmp_path / "plan.json")) == plan
    report = quantize_(model, plan=plan, calib=[x])
    assert [r.outlier for r in report.layers] == [method] * 3
    with torch.no_grad():
        err = float((model(x) - ref).pow(2).mean() / ref.pow(2).mean())
    assert err < 0.25                                        # w4a4 none: 0.12; a wrong axis: > 1
    linear = model[5]
    with torch.no_grad():
        assert linear.eval().weight is linear.weight        # the quantized weight stays cached
    assert (getattr(linear, "lowrank", None) is not None) == (method == "svd")


def test_method_none_changes_no_plan_and_no_output():
    x = _input((8, 16, 4, 4))
    outs = []
    for recipe in (QuantRecipe(w_bits=4, a_bits=4), QuantRecipe(w_bits=4, a_bits=4, outlier=OutlierConfig())):
        model = _model()
        plan = make_plan(model, recipe)
        assert all(s.outlier is None for s in plan.layers)
        assert all("outlier" not in d for d in plan.to_dict()["layers"])     # plan files as before
        quantize_(model, plan=plan, calib=[x])
        with torch.no_grad():
            outs.append(model(x))
    assert torch.equal(*outs)


def test_smoothing_without_calibration_data_is_refused():
    recipe = QuantRecipe(w_bits=4, a_bits=None, outlier=OutlierConfig("smooth"))
    with pytest.raises(GenqError, match="needs calibration data"):
        quantize_(_model(), recipe)


def test_diagnostics_show_what_each_method_did():
    x = _input((64, 64), outlier_channel=5, gain=40.0)
    rows = {}
    for method in ("none", "smooth", "rotate"):
        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(64, 64))
        recipe = QuantRecipe(w_bits=8, a_bits=8, outlier=OutlierConfig(method))
        quantize_(model, recipe, calib=[x])
        rows[method] = outlier_statistics(model, [x])[0]
    none, smooth, rotate = rows["none"], rows["smooth"], rows["rotate"]
    assert none["act_ratio_before"] > 20 and none["act_ratio_after"] == none["act_ratio_before"]
    assert smooth["act_ratio_after"] < none["act_ratio_before"] / 4
    assert smooth["w_ratio_after"] > smooth["w_ratio_before"]                # migrated into the weight
    assert rotate["act_kurtosis_after"] < none["act_kurtosis_before"] / 4
    assert smooth["method"] == "smooth" and smooth["type"] == "Linear"


def test_recipe_keys_label_and_validation():
    cfg = compose("quant=w4a4", "quant.outlier.method=svd", "quant.outlier.rank=0.25")
    validate(cfg)
    assert cfg.quant.recipe == "w4a4_svd_r0.25"
    assert compose("quant=w4a4", "quant.outlier.method=smooth").quant.recipe == "w4a4_smooth"
    assert compose("quant=w4a4", "quant.outlier.method=svd").quant.recipe == "w4a4_svd_r8"
    for bad, named in (("quant.outlier.alpha=1.5", "quant.outlier.alpha=1.5"),
                       ("quant.outlier.rank=2.5", "quant.outlier.rank=2.5"),
                       ("quant.outlier.method=flip", "flip")):
        with pytest.raises(GenqError, match="accepted") as err:
            validate(compose("quant=w4a4", "quant.outlier.method=smooth", bad))
        assert named in str(err.value)
    with pytest.raises(GenqError, match="quant.reconstruction.method"):
        validate(compose("quant=w4a8_brecq", "quant.outlier.method=rotate"))
    with pytest.raises(GenqError, match="quant.method='qat'"):
        validate(compose("quant=qat_lsq_w4a8", "quant.outlier.method=rotate"))


class _ModBlock(nn.Module):
    """A StyleGAN modulated convolution fed its modulated input, as SynthesisLayer does."""

    def __init__(self, demodulate: bool = True) -> None:
        super().__init__()
        from genq.models.stylegan import ModulatedConv2d
        self.modconv = ModulatedConv2d(8, 8, 3, demodulate=demodulate)
        self.style = torch.rand(2, 8, generator=torch.Generator().manual_seed(1)) + 0.5

    def forward(self, x):
        return self.modconv(x * self.style[:, :, None, None], self.style)


@pytest.mark.parametrize("method", ["smooth", "rotate", "svd"])
def test_modulated_convolutions_take_the_outlier_methods_without_changing_the_fp_function(method):
    """The demodulation reads the weight: scaling or rotating its input channels alone changes
    the output (shown first), so the quantized layer demodulates with the weight in the
    original basis (QuantMixin.effective_weight), and adds SVDQuant's branch before the
    demodulation; the FP function stays."""
    torch.manual_seed(0)
    block = _ModBlock()
    x = _input((2, 8, 5, 5))
    s = torch.linspace(0.5, 2.0, 8)
    naive = copy.deepcopy(block)
    with torch.no_grad():
        ref = block(x)
        naive.modconv.weight.mul_(s[None, :, None, None])
        moved = naive.modconv((x * block.style[:, :, None, None]) / s[None, :, None, None], block.style)
    assert not torch.allclose(moved, ref, atol=1e-3)
    transformed = copy.deepcopy(block)
    absmax = collect_input_absmax(transformed, ["modconv"], lambda m: m(x))["modconv"]
    quantize_layer(transformed.modconv, None, None)
    install_outlier(transformed.modconv, OutlierSpec(method, 0.5, 4, 0), absmax)
    with torch.no_grad():
        got = transformed(x)
    assert not torch.equal(transformed.modconv.transformed_weight(), block.modconv.weight)
    assert torch.allclose(got, ref, rtol=1e-4, atol=1e-4 * float(ref.abs().max()))


def test_modulated_convolution_svd_branch_plus_residual_is_the_layer():
    """With the residual's path alone, or the branch alone, the two parts add up to the layer
    before the demodulation: what the branch carries is inside the demodulated product."""
    torch.manual_seed(0)
    block = _ModBlock()
    x = _input((2, 8, 5, 5))
    transformed = copy.deepcopy(block)
    absmax = collect_input_absmax(transformed, ["modconv"], lambda m: m(x))["modconv"]
    quantize_layer(transformed.modconv, None, None)
    install_outlier(transformed.modconv, OutlierSpec("svd", 0.5, 3, 0), absmax)
    mod = transformed.modconv
    assert mod.lowrank.down.shape[0] == 3
    with torch.no_grad():
        xm = x * block.style[:, :, None, None]
        d = block.modconv.demodulation(block.style)[:, :, None, None]
        xs = mod.input_transforms[0](xm)
        residual = torch.nn.functional.conv2d(xs, mod.transformed_weight(), padding=1)
        assert torch.allclose((residual + mod.lowrank(xs)) * d, block(x), atol=1e-4)
        assert torch.allclose(mod.effective_weight(), block.modconv.weight, atol=1e-5)


def test_a_layer_type_without_a_branch_builder_refuses_svd_by_name():
    class Scaled(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.weight = nn.Parameter(torch.randn(8, 8))

        def forward(self, input):
            return input @ self.weight.t()

    from genq.quant.targets import register_layer_target, unregister_layer_target
    register_layer_target(Scaled, out_axis=0, in_axis=1, input_channel_axis=-1, selected_by=("Linear",))
    try:
        with pytest.raises(GenqError, match="svd builds its branch for .*0 is a Scaled"):
            make_plan(nn.Sequential(Scaled()), QuantRecipe(w_bits=4, outlier=OutlierConfig("svd")))
    finally:
        unregister_layer_target(Scaled)


def test_a_layer_type_registered_without_channel_transforms_is_refused():
    from genq.quant.targets import register_layer_target, unregister_layer_target

    class Odd(nn.Linear):
        pass

    register_layer_target(Odd, out_axis=0, in_axis=1, input_channel_axis=-1, selected_by=("Linear",),
                          channel_transforms=False)
    try:
        with pytest.raises(GenqError, match="does not fold exactly into 0 \\(Odd"):
            make_plan(nn.Sequential(Odd(8, 8)), QuantRecipe(w_bits=4, outlier=OutlierConfig("smooth")))
    finally:
        unregister_layer_target(Odd)


def test_grouped_convolutions_are_refused_by_name():
    model = nn.Sequential(nn.Conv2d(8, 8, 3, groups=2), nn.Conv2d(8, 8, 1))
    with pytest.raises(GenqError, match="0 is a grouped convolution"):
        make_plan(model, QuantRecipe(outlier=OutlierConfig("rotate")))


def test_a_ddpm_run_records_its_outlier_method(tmp_path):
    from genq.run import run_experiment

    cfg = compose("experiment=smoke", "logger=none", "model=ddpm_digits", "quant=w4a4",
                  "quant.outlier.method=svd", "quant.outlier.rank=0.25", "metrics.n_samples=16",
                  "metrics.kid_subset_size=8", "metrics.kid_subsets=2", "metrics.compute_ssim=false",
                  "bench.batch_size=4", "bench.warmup=0", "bench.repeats=1", "sample_grid=4",
                  "quant.calib_samples=4", "quant.calib_batch_size=16")
    record = run_experiment(cfg, tmp_path)
    q = record["quant"]
    assert record["status"] == "ok" and q["recipe"] == "w4a4_svd_r0.25"
    assert q["outlier"]["method"] == "svd" and q["outlier"]["layers"] == q["coverage"]["quantized"]
    assert all(r >= 1 for r in q["outlier"]["ranks"].values())


def test_genq_analyze_writes_the_outlier_table(tmp_path, monkeypatch):
    """A few seconds: the tiny smoke DDPM is composed, calibrated and quantized twice."""
    import csv

    from genq.analysis import cli

    monkeypatch.setattr(cli, "_cfg", lambda model, recipe: compose(
        "experiment=smoke", f"model={model}", f"quant={recipe}", "quant.calib_samples=2"))
    assert cli.main(["--models", "ddpm_digits", "--recipes", "w4a4", "--outliers", "none", "smooth",
                     "--out", str(tmp_path)]) == 0
    with open(tmp_path / "outliers_ddpm_digits_w4a4.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    methods = [r["method"] for r in rows]
    assert methods.count("none") == methods.count("smooth") > 0
    smooth = [r for r in rows if r["method"] == "smooth"]
    assert all(float(r["act_kurtosis_after"]) > 0 and float(r["w_ratio_after"]) >= 1 for r in smooth)


def test_reapplying_a_plan_keeps_the_outlier_method_or_refuses_before_any_change():
    x = _input((8, 16, 4, 4))
    model = _model()
    smooth = make_plan(model, QuantRecipe(w_bits=4, a_bits=4, outlier=OutlierConfig("smooth")))
    quantize_(model, plan=smooth, calib=[x])
    scales = model[0].input_transforms[0].scale
    quantize_(model, plan=make_plan(_model(), QuantRecipe(w_bits=4, a_bits=4,   # same method: kept
                                                          outlier=OutlierConfig("smooth"))), calib=[x])
    assert model[0].input_transforms[0].scale is scales and len(model[0].weight_transforms) == 1
    before = model[0].weight_quantizer
    with pytest.raises(GenqError, match="already has outlier method 'smooth'"):
        quantize_(model, plan=make_plan(_model(), QuantRecipe(w_bits=4, a_bits=4)), calib=[x])
    assert model[0].weight_quantizer is before
