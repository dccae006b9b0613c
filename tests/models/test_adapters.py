from __future__ import annotations

import pytest
import torch

from adapter_mixin import AdapterTests, ConformanceTests
from conftest import compose
from genq.errors import GenqError
from genq.models.registry import load_generator


class TestGANAdapter(ConformanceTests, AdapterTests):
    family, model_name = "gan", "dcgan_digits"

    def make_adapter(self):
        return load_generator(self.model_cfg(None))


class TestDiffusionAdapter(ConformanceTests, AdapterTests):
    family, model_name = "diffusion", "ddpm_digits"

    def make_adapter(self):
        return load_generator(self.model_cfg(None))

    def test_calibration_inputs_follow_the_fp_trajectory(self):
        adapter = self.make_adapter()
        adapter.num_inference_steps = 3
        inputs = adapter.calibration_inputs(adapter.make_noise(4, 0), batch_size=2)
        assert len(inputs) == 2 * 3                      # 2 batches x 3 steps
        x0, t0 = inputs[0]
        torch.testing.assert_close(x0, adapter.make_noise(4, 0)[:2])  # starts at the noise
        steps = [int(t[0]) for _, t in inputs[:3]]
        assert steps == sorted(steps, reverse=True)       # timesteps descend


@pytest.mark.parametrize("name", ["dcgan_digits", "ddpm_digits", "dit_digits", "stylegan_digits"])
def test_embedded_weights_load_and_make_digits(name):
    from genq.metrics import load_feature_extractor

    adapter = load_generator(compose(f"model={name}").model)
    images = adapter.sample(adapter.make_noise(200, 0))
    classifier = load_feature_extractor("digits_classifier").classifier
    with torch.no_grad():
        confidence = classifier(images).softmax(1).max(1).values
    # trained generators make images the classifier reads as digits with confidence
    assert confidence.median() > 0.9
    assert len(set(classifier(images).argmax(1).tolist())) >= 8   # and of many classes


def test_embedded_classifier_accuracy():
    from genq.data import load_digits
    from genq.models.registry import load_classifier

    test = load_digits("test")
    with torch.no_grad():
        acc = (load_classifier()(test.images).argmax(1) == test.labels).float().mean().item()
    assert acc >= 0.97


def test_corrupt_checkpoint_is_a_clear_error(tmp_path):
    cfg = compose("model=dcgan_digits", "experiment=smoke").model
    adapter = load_generator(cfg)
    adapter.save(tmp_path)
    (tmp_path / "model.safetensors").write_bytes(b"not a safetensors file at all")
    cfg.weights = str(tmp_path)
    with pytest.raises(GenqError, match="unreadable"):
        load_generator(cfg)


def test_missing_weights_folder_is_a_clear_error(tmp_path):
    cfg = compose("model=ddpm_digits").model
    cfg.weights = str(tmp_path / "nowhere")
    with pytest.raises(GenqError, match="nowhere.*genq-train"):
        load_generator(cfg)


def test_classifier_is_not_a_generator():
    with pytest.raises(GenqError, match="not a generator"):
        load_generator(compose("model=digits_classifier").model)
