"""The standard metric networks on their real code paths, offline.

Weight files are made locally: the real architectures (torch-fidelity's Inception-v3,
torchvision's AlexNet and SqueezeNet) with random values, saved under a temporary TORCH_HOME
exactly where torch-fidelity and torchvision look for them. So loading, uint8 conversion,
the 299x299 resize, LPIPS upsampling and feature shapes are all exercised without internet;
only the numbers' meaning needs the real weights.
"""

from __future__ import annotations

import unittest.mock as mock

import pytest
import torch

from conftest import compose
from genq.errors import GenqError
from genq.metrics.weights import INCEPTION_FILE, INCEPTION_URL, LPIPS_BACKBONES, check_metric_weights


def random_inception_state_dict(seed: int = 0) -> dict[str, torch.Tensor]:
    from torch_fidelity import feature_extractor_inceptionv3 as fe

    torch.manual_seed(seed)
    with mock.patch.object(fe.FeatureExtractorInceptionV3, "load_state_dict", lambda self, *a, **k: None), \
            mock.patch.object(fe, "load_state_dict_from_url", lambda *a, **k: {}):
        net = fe.FeatureExtractorInceptionV3("inception-v3-compat", ["2048"])
    for module in net.modules():   # He init keeps activations O(1) through the random convs
        if isinstance(module, torch.nn.Conv2d):
            torch.nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
    return net.state_dict()


@pytest.fixture(scope="module")
def fake_torch_home(tmp_path_factory):
    """A TORCH_HOME with random-valued Inception-v3, AlexNet and SqueezeNet weight files."""
    import torchvision

    home = tmp_path_factory.mktemp("torch-home")
    checkpoints = home / "hub" / "checkpoints"
    checkpoints.mkdir(parents=True)
    torch.save(random_inception_state_dict(), checkpoints / INCEPTION_FILE)
    for net in ("alex", "squeeze"):
        arch, file_name = LPIPS_BACKBONES[net]
        torch.manual_seed(0)
        torch.save(getattr(torchvision.models, arch)(weights=None).state_dict(), checkpoints / file_name)
    return home


@pytest.fixture
def torch_home(fake_torch_home, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(fake_torch_home))
    return fake_torch_home


@pytest.fixture(autouse=True)
def _two_threads():
    threads = torch.get_num_threads()
    torch.set_num_threads(min(threads, 2))
    yield
    torch.set_num_threads(threads)


def _images(n, channels=1, side=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, channels, side, side, generator=g) * 2 - 1


def _standard(*overrides):
    return compose("metrics=standard", *overrides).metrics


# --- missing weights: one sentence, before any work --------------------------------------

def test_missing_inception_weights_names_file_source_and_offline_choice(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty"))
    with pytest.raises(GenqError) as err:
        check_metric_weights(_standard())
    msg = str(err.value)
    expected = tmp_path / "empty" / "hub" / "checkpoints" / INCEPTION_FILE
    assert str(expected) in msg and INCEPTION_URL in msg and "metrics=digits" in msg
    assert msg.count(". ") == 0 and msg.endswith(".")          # one sentence


def test_missing_configured_and_lpips_weights(tmp_path, monkeypatch, fake_torch_home):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty"))
    with pytest.raises(GenqError, match="metrics.inception_weights.*metrics=digits"):
        check_metric_weights(_standard(f"metrics.inception_weights={tmp_path}/nope.pth"))
    ok = fake_torch_home / "hub" / "checkpoints" / INCEPTION_FILE
    with pytest.raises(GenqError) as err:
        check_metric_weights(_standard(f"metrics.inception_weights={ok}"))
    msg = str(err.value)
    assert "alexnet-owt-7be5be79.pth" in msg and "https://download.pytorch.org/models/" in msg
    assert "metrics=digits" in msg
    # the digits metrics need nothing from the internet
    assert check_metric_weights(compose().metrics) == {}


def test_weights_file_that_is_not_a_state_dict_is_refused(tmp_path):
    from genq.metrics.inception import InceptionFeatures

    bad = tmp_path / INCEPTION_FILE
    torch.save([1, 2, 3], bad)
    with pytest.raises(GenqError, match="not a state dict"):
        InceptionFeatures(bad)
    torch.save({"fc.weight": torch.zeros(1008, 2048)}, bad)
    with pytest.raises(GenqError, match="is not torch-fidelity's"):
        InceptionFeatures(bad)


# --- Inception: the torch-fidelity path ---------------------------------------------------

def test_uint8_conversion():
    from genq.metrics.inception import to_uint8_rgb

    x = torch.tensor([-1.0, -0.999, 0.0, 0.5, 1.0, 1.5]).reshape(1, 1, 1, 6)
    out = to_uint8_rgb(x)
    assert out.dtype == torch.uint8 and out.shape == (1, 3, 1, 6)
    assert out[0, 0, 0].tolist() == [0, 0, 128, 191, 255, 255]
    assert torch.equal(out[:, 0], out[:, 2])


def test_inception_features_match_torch_fidelity_and_torchmetrics(torch_home):
    from torch_fidelity.utils import create_feature_extractor
    from torchmetrics.image.fid import NoTrainInceptionV3

    from genq.metrics import extract_all, load_feature_extractor
    from genq.metrics.inception import to_uint8_rgb

    path = str(torch_home / "hub" / "checkpoints" / INCEPTION_FILE)
    ours = load_feature_extractor("inception")
    images = _images(2, channels=1, side=16)
    emb = extract_all(ours, images, batch_size=2, logits=True)
    assert emb["features"].shape == (2, 2048) and emb["logits"].shape == (2, 1008)
    assert (emb["features"][0] - emb["features"][1]).abs().max() > 0      # images are told apart
    # the batch size does not matter (image 0 alone = image 0 in a batch of 2)
    alone = extract_all(ours, images[:1], batch_size=1, logits=True)
    for key in ("features", "logits"):
        torch.testing.assert_close(alone[key], emb[key][:1], rtol=1e-4, atol=1e-5)
    # torch-fidelity's own extractor, as its `fidelity` command creates it, on the uint8 images
    theirs = create_feature_extractor("inception-v3-compat", ["2048", "logits_unbiased"], cuda=False,
                                      feature_extractor_weights_path=path, verbose=False)
    with torch.no_grad():
        f, logits = theirs(to_uint8_rgb(images))
    torch.testing.assert_close(emb["features"], f, rtol=0, atol=0)
    torch.testing.assert_close(emb["logits"], logits, rtol=0, atol=0)
    # torchmetrics' FID network with torch-fidelity's resize (antialias=False) agrees too
    tm = NoTrainInceptionV3("inception-v3-compat", ["2048"], path, antialias=False)
    with torch.no_grad():
        torch.testing.assert_close(tm(to_uint8_rgb(images[:1])), f[:1], rtol=1e-5, atol=1e-6)
    assert "TF1-compatible" in ours.resize(16, 16) and "299x299" in ours.resize(16, 16)
    assert ours.weights["standard"] is False   # random test weights are not the standard file


def test_grey_images_enter_inception_as_repeated_rgb():
    from genq.metrics.inception import to_uint8_rgb

    grey = _images(2, channels=1, side=16, seed=1)
    assert torch.equal(to_uint8_rgb(grey), to_uint8_rgb(grey.repeat(1, 3, 1, 1)))
    with pytest.raises(ValueError, match="1 or 3"):
        to_uint8_rgb(torch.zeros(1, 2, 4, 4))


# --- LPIPS through torchmetrics -----------------------------------------------------------

def test_lpips_alex_equals_torchmetrics_own_metric(torch_home):
    from torchmetrics.image.lpip import LearnedPerceptualImagePatchSimilarity

    from genq.metrics.lpips import LPIPS, lpips_distance

    path = torch_home / "hub" / "checkpoints" / LPIPS_BACKBONES["alex"][1]
    ours = LPIPS("alex", path)
    a, b = _images(4, channels=3, side=32, seed=2), _images(4, channels=3, side=32, seed=3)
    theirs = LearnedPerceptualImagePatchSimilarity(net_type="alex", reduction="none", normalize=False)
    theirs.update(a, b)
    ref = theirs.compute()
    torch.testing.assert_close(lpips_distance(ours, a, b, batch_size=3), ref, rtol=1e-5, atol=1e-6)
    assert ours.describe(32, 32)[1] == "native 32x32"
    assert float(lpips_distance(ours, a, a).abs().max()) == 0.0


def test_lpips_small_grey_images_are_upsampled_to_64(torch_home):
    from genq.metrics.lpips import LPIPS, lpips_distance

    ckpt = torch_home / "hub" / "checkpoints"
    a = _images(3, channels=1, side=16, seed=4)
    b = (a + 0.3 * _images(3, channels=1, side=16, seed=5)).clamp(-1, 1)
    for net in ("alex", "squeeze"):
        model = LPIPS(net, ckpt / LPIPS_BACKBONES[net][1])
        d = lpips_distance(model, a, b)
        assert d.shape == (3,) and (d > 0).all()
        torch.testing.assert_close(d, lpips_distance(model, a.repeat(1, 3, 1, 1), b.repeat(1, 3, 1, 1)))
        assert model.describe(16, 16)[1] == "bilinear 16x16 -> 64x64 (torchmetrics LPIPS resize)"


# --- the whole standard suite --------------------------------------------------------------

def test_score_run_standard_end_to_end_and_reference_cache(torch_home, tmp_path, monkeypatch):
    from genq.metrics import score_run
    from genq.metrics.reference import reference_stats
    from genq.metrics.suite import load_metric_networks

    monkeypatch.setenv("GENQ_CACHE", str(tmp_path / "cache"))
    mc = _standard("metrics.n_samples=4", "metrics.is_splits=2", "metrics.batch_size=4", "metrics.pr_k=2")
    real, fp = _images(4, seed=6), _images(4, seed=7)
    q = (fp + 0.1 * _images(4, seed=8)).clamp(-1, 1)
    out = score_run(mc, real, fp, q, seed=0, data_key={"dataset": "test"})
    for key in ("fid", "kid", "kid_std", "fid_fp", "kid_fp", "qfid", "is", "is_fp", "precision", "recall",
                "precision_fp", "recall_fp", "lpips_vs_fp", "psnr_vs_fp", "ssim_vs_fp"):
        assert isinstance(out[key], float), key
    from metric_checks import assert_finite_metrics
    assert_finite_metrics(out)
    assert out["qfid"] < out["fid"] and out["lpips_vs_fp"] > 0
    assert out["feature_extractor"] == "inception-v3-compat"
    assert out["lpips_net"].startswith("alex")
    assert out["fid_kid_implementation"].startswith("torch-fidelity")
    assert "299x299" in out["resize"] and out["lpips_resize"].endswith("(torchmetrics LPIPS resize)")
    assert out["feature_extractor_weights_standard"] is False and out["lpips_weights_standard"] is False
    assert out["reference_stats"] == "computed" and out["n_samples"] == 4 and out["kid_subset_size"] == 4
    assert len(list((tmp_path / "cache" / "stats").glob("inception-v3-compat-*.safetensors"))) == 1
    # a second run loads the real statistics from the cache (no Inception pass over them)
    extractor, _ = load_metric_networks(mc)
    with mock.patch.object(extractor, "embed", side_effect=AssertionError("recomputed")):
        again = reference_stats(extractor, real, {"dataset": "test"}, batch_size=4)
    assert again.source == "cache" and again.key == out["reference_key"]


# --- the network cache ------------------------------------------------------------------------

def test_metric_networks_are_cached_by_what_they_depend_on_and_never_changed(torch_home):
    from genq.metrics.suite import load_metric_networks

    plain = _standard()
    resized = _standard("metrics.lpips_resize=64")
    extractor, lpips = load_metric_networks(plain)
    assert load_metric_networks(plain) == (extractor, lpips)             # built once
    extractor2, lpips64 = load_metric_networks(resized)
    assert extractor2 is extractor and lpips64 is not lpips             # another setting: another LPIPS
    assert (lpips.resize_to, lpips64.resize_to) == (None, 64)           # the first one is not changed
    assert load_metric_networks(plain)[1].resize_to is None
    # another device is another key (the cached CPU networks stay where they are)
    meta_extractor, meta_lpips = load_metric_networks(plain, device="meta")
    assert meta_extractor is not extractor and meta_lpips is not lpips
    assert next(extractor.parameters()).device.type == "cpu" and next(lpips.parameters()).device.type == "cpu"
    assert next(meta_lpips.parameters()).device.type == "meta"
