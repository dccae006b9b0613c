"""GAN generators through model=hub_gan: huggingface_hub's PyTorchModelHubMixin layout and
genq's own checkpoint layout, from local folders (HF_HUB_OFFLINE=1)."""

from __future__ import annotations

import json

import pytest
import torch

import hub_tiny
from hub_tiny import one_thread  # noqa: F401  (autouse: one intra-op thread)
from adapter_mixin import AdapterTests, ConformanceTests
from conftest import compose
from genq.errors import GenqError
from genq.models.hub_gan import DCGANHubGenerator, HubGANAdapter
from genq.models.registry import embedded_weights_dir, load_generator


def gan_cfg(repo_id, *overrides: str):
    cfg = compose("model=hub_gan", "experiment=smoke", *overrides).model
    cfg.repo_id = str(repo_id)
    return cfg


@pytest.fixture(scope="module")
def gan_folder(tmp_path_factory):
    return hub_tiny.make_gan_folder(tmp_path_factory.mktemp("hub") / "gan")


class TestHubGAN(ConformanceTests, AdapterTests):
    """The mixin's save/load round trip goes through GANAdapter.save (genq's layout)."""

    family, model_name = "gan", "hub_gan"

    @pytest.fixture(autouse=True)
    def _folder(self, gan_folder):
        self.folder = gan_folder

    def model_cfg(self, weights):
        return gan_cfg(weights)

    def make_adapter(self):
        return load_generator(self.model_cfg(self.folder))


def test_mixin_layout_round_trip(gan_folder, tmp_path):
    adapter = load_generator(gan_cfg(gan_folder))
    assert isinstance(adapter, HubGANAdapter) and isinstance(adapter.network, DCGANHubGenerator)
    assert adapter.source["layout"] == "PyTorchModelHubMixin"
    assert json.loads((gan_folder / "config.json").read_text()) == {
        "latent_dim": 16, "base_channels": 16, "channels": 1, "resolution": 16}
    adapter.save_pretrained(tmp_path / "again")
    again = DCGANHubGenerator.from_pretrained(tmp_path / "again")
    z = adapter.make_noise(3, 0)
    with torch.no_grad():
        assert torch.equal(again.eval()(z), adapter.network(z))


def test_genq_checkpoint_with_discriminator_loads_the_generator(tmp_path):
    trained = load_generator(compose("model=dcgan_digits", "experiment=smoke").model)
    trained.save(tmp_path / "ckpt")                      # generator + discriminator
    loaded = load_generator(gan_cfg(tmp_path / "ckpt"))
    assert loaded.source["layout"] == "genq" and loaded.discriminator is None
    noise = trained.make_noise(4, 0)
    assert torch.equal(trained.sample(noise), loaded.sample(noise))


def test_shipped_dcgan_digits_weights_load_as_a_hub_folder():
    shipped = load_generator(compose("model=dcgan_digits").model)
    hub = load_generator(gan_cfg(embedded_weights_dir("dcgan_digits")))
    noise = shipped.make_noise(8, 0)
    assert torch.equal(shipped.sample(noise), hub.sample(noise))


def test_bfloat16_generator_gives_float32_images(gan_folder):
    adapter = load_generator(gan_cfg(gan_folder, "model.dtype=bfloat16"))
    assert next(adapter.network.parameters()).dtype == torch.bfloat16
    images = adapter.sample(adapter.make_noise(4, 0))
    assert images.dtype == torch.float32 and images.shape == (4, 1, 16, 16)


def test_config_that_is_not_a_dcgan_is_one_sentence(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"hidden_size": 8, "num_layers": 2}))
    with pytest.raises(GenqError, match="accepted keys: latent_dim") as err:
        load_generator(gan_cfg(tmp_path))
    assert "\n" not in str(err.value)


def test_weights_that_do_not_match_the_config_are_refused(gan_folder, tmp_path):
    DCGANHubGenerator(latent_dim=16, base_channels=8, channels=1, resolution=16).save_pretrained(tmp_path)
    config = json.loads((gan_folder / "config.json").read_text())
    (tmp_path / "config.json").write_text(json.dumps(config))          # says base_channels=16
    with pytest.raises(GenqError, match="could not be loaded"):
        load_generator(gan_cfg(tmp_path))


def test_missing_repo_id_and_bad_dtype():
    with pytest.raises(GenqError, match="needs model.repo_id"):
        load_generator(compose("model=hub_gan").model)
    with pytest.raises(GenqError, match="model.dtype='float8'.*accepted: bfloat16, float16, float32"):
        load_generator(gan_cfg("someone/gan", "model.dtype=float8"))


def test_smoke_run_end_to_end(gan_folder, tmp_path, smoke_cfg):
    from genq.run import run_experiment

    cfg = smoke_cfg("model=hub_gan")
    cfg.model.repo_id = str(gan_folder)
    record = run_experiment(cfg, tmp_path)
    assert record["model"] == "hub_gan" and record["quant"]["coverage"]["quantized"] > 0
    assert isinstance(record["metrics"]["fid"], float)
    from metric_checks import assert_finite_metrics
    assert_finite_metrics(record, required=("fid", "fid_fp", "qfid"))
