"""Tests every generator adapter gets for free: subclass and provide ``make_adapter``."""

from __future__ import annotations

import torch

from genq.models.base import GeneratorAdapter
from genq.models.registry import load_generator
from genq.quant import QuantRecipe, quantize_


class AdapterTests:
    family: str
    model_name: str

    def make_adapter(self) -> GeneratorAdapter:
        raise NotImplementedError

    def model_cfg(self, weights):
        from conftest import compose

        cfg = compose(f"model={self.model_name}", "experiment=smoke").model
        cfg.weights = weights
        return cfg

    def test_samples_in_range_and_shape(self):
        adapter = self.make_adapter()
        images = adapter.sample(adapter.make_noise(6, 0), batch_size=4)
        assert images.shape == (6, *adapter.image_shape)
        assert images.min() >= -1 and images.max() <= 1
        assert adapter.family == self.family

    def test_determinism_same_noise_same_samples(self):
        adapter = self.make_adapter()
        assert torch.equal(adapter.make_noise(5, 3), adapter.make_noise(5, 3))
        assert not torch.equal(adapter.make_noise(5, 3), adapter.make_noise(5, 4))
        noise = adapter.make_noise(5, 3)
        assert torch.equal(adapter.sample(noise, 5), adapter.sample(noise, 5))

    def test_batch_size_does_not_change_samples(self):
        adapter = self.make_adapter()
        noise = adapter.make_noise(6, 1)
        torch.testing.assert_close(adapter.sample(noise, 6), adapter.sample(noise, 2), atol=1e-5, rtol=0)

    def test_save_load_round_trip(self, tmp_path):
        adapter = self.make_adapter()
        adapter.save(tmp_path / "ckpt")
        loaded = load_generator(self.model_cfg(str(tmp_path / "ckpt")))
        noise = adapter.make_noise(4, 0)
        assert torch.equal(adapter.sample(noise), loaded.sample(noise))
        for part, module in adapter.checkpoint_parts().items():
            other = loaded.checkpoint_parts()[part].state_dict()
            assert all(torch.equal(v, other[k]) for k, v in module.state_dict().items())

    def test_quantize_then_sample(self):
        fp = self.make_adapter()
        q = fp.clone()
        calib = fp.calibration_inputs(fp.make_noise(4, 1), batch_size=4)
        report = quantize_(q.network, QuantRecipe(w_bits=8, a_bits=8), calib=calib)
        assert report.counts()["quantized"] > 0
        noise = fp.make_noise(4, 0)
        a, b = fp.sample(noise), q.sample(noise)
        assert a.shape == b.shape and not torch.equal(a, b)
        assert (a - b).abs().mean() < 0.2
        # the FP adapter is untouched by quantizing its clone
        assert not any("Quant" in type(m).__name__ for m in fp.network.modules())


# --- conformance: what every adapter family must support (issue 16) -----------------------
# Module types that may stay in floating point without a quantized implementation.
FP_TYPES = {"GroupNorm", "LayerNorm", "BatchNorm2d", "BatchNorm1d", "Embedding", "RMSNorm",
            "InstanceNorm2d"}


class ConformanceTests:
    """Quantize -> sample -> score, layer coverage, a tight W8A8 error bound, the int8
    lowering naming every layer it cannot run, one QAT step. Subclass with AdapterTests."""

    w8a8_bound: float = 5e-3          # relative MSE of one network call at W8A8
    extra_fp_types: set[str] = set()  # the adapter's own module types holding FP-only parameters

    def _calib(self, fp):
        return fp.calibration_inputs(fp.make_noise(4, 1), batch_size=4)

    def test_conformance_every_parameterised_module_is_quantized_or_a_known_fp_type(self):
        fp = self.make_adapter()
        q = fp.clone()
        report = quantize_(q.network, QuantRecipe(w_bits=8, a_bits=8), calib=self._calib(fp))
        from genq.quant.targets import target_for

        registered = [n for n, m in fp.network.named_modules() if n and target_for(m) is not None]
        quantized = {r.name for r in report.layers if r.status == "quantized"}
        assert quantized == set(registered)             # default recipe: every registered layer
        for r in report.layers:
            if r.status == "skipped":
                assert r.type in FP_TYPES | self.extra_fp_types, (r.name, r.type, r.reason)

    def test_conformance_w8a8_error_is_small_on_one_network_call(self):
        fp = self.make_adapter()
        q = fp.clone()
        calib = self._calib(fp)
        quantize_(q.network, QuantRecipe(w_bits=8, a_bits=8), calib=calib)
        from genq.qat.distill import output_tensor

        with torch.no_grad():
            ref = output_tensor(fp.network(*calib[0])).float()
            out = output_tensor(q.network(*calib[0])).float()
        rel = float((out - ref).pow(2).mean() / ref.pow(2).mean().clamp(min=1e-12))
        assert 0 < rel < self.w8a8_bound, rel

    def test_conformance_quantize_sample_score(self):
        from genq.metrics.frechet import frechet_distance

        fp = self.make_adapter()
        q = fp.clone()
        quantize_(q.network, QuantRecipe(w_bits=8, a_bits=8), calib=self._calib(fp))
        noise = fp.make_noise(8, 0)
        a, b = fp.sample(noise).flatten(1), q.sample(noise).flatten(1)
        assert torch.isfinite(b).all()
        a, b = a.double()[:, :4], b.double()[:, :4]
        fd = float(frechet_distance(a.mean(0), torch.cov(a.T), b.mean(0), torch.cov(b.T)))
        assert fd == fd and fd >= 0                      # a finite, non-NaN score

    def test_conformance_int8_lowering_runs_or_names_each_layer(self):
        from genq.bench.backends.lowering import lower

        fp = self.make_adapter()
        q = fp.clone()
        calib = self._calib(fp)
        quantize_(q.network, QuantRecipe(w_bits=8, a_bits=8), calib=calib)
        lowered = lower(q.network, tuple(calib[0]))
        quantized = {n for n, m in q.network.named_modules() if getattr(m, "weight_quantizer", None) is not None}
        assert {p.name for p in lowered.plans} >= quantized
        for p in lowered.unsupported:
            assert p.name and p.reason                   # refused, with the layer named
        with torch.no_grad():
            out = lowered.network(*calib[0])
        assert out is not None

    def test_conformance_one_qat_step(self):
        from genq.qat.distill import output_tensor
        from genq.qat.pipeline import param_groups, prepare, set_training

        fp = self.make_adapter()
        student = fp.clone()
        calib = self._calib(fp)
        recipe = QuantRecipe(method="qat", w_bits=4, a_bits=8)
        prepare(student, recipe, calib)
        opt = torch.optim.Adam([g for g in param_groups(student.network, recipe.qat)], lr=1e-3)
        scales = [p.detach().clone() for g in opt.param_groups for p in g["params"]]
        set_training(student.network, True)
        with torch.no_grad():
            target = output_tensor(fp.network(*calib[0]))
        loss = (output_tensor(student.network(*calib[0])) - target).pow(2).mean()
        loss.backward()
        opt.step()
        assert torch.isfinite(loss)
        after = [p.detach() for g in opt.param_groups for p in g["params"]]
        assert any(not torch.equal(a, b) for a, b in zip(scales, after))
