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
