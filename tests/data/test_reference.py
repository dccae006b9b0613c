"""load_reference: one entry point for the FID/KID reference images of every dataset."""

from __future__ import annotations

import pickle
import struct

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import compose
from genq.config import validate
from genq.data import describe_reference, load_digits, load_prompts, load_reference
from genq.errors import GenqError


def data_cfg(name: str, *overrides: str):
    return compose(f"data={name}", *overrides).data


@pytest.fixture
def image_folder(tmp_path):
    """Five images: solid colours of several sizes and modes, one in a subfolder."""
    root = tmp_path / "images"
    (root / "sub").mkdir(parents=True)
    Image.new("RGB", (20, 20), (255, 0, 0)).save(root / "a_red.png")
    Image.new("RGB", (40, 24), (0, 0, 255)).save(root / "b_blue_wide.png")
    Image.new("L", (16, 16), 255).save(root / "c_white_grey.png")
    Image.new("RGBA", (8, 8), (0, 255, 0, 255)).save(root / "sub" / "d_green.png")
    Image.new("RGB", (30, 30), (0, 0, 0)).save(root / "sub" / "e_black.jpg", quality=100)
    (root / "notes.txt").write_text("not an image")
    return root


def test_image_folder_rgb_resized_in_range(image_folder):
    images = load_reference(data_cfg("image_folder", f"data.root={image_folder}"), 16, 3)
    assert images.shape == (5, 3, 16, 16) and images.dtype == torch.float32
    assert images.min() >= -1 and images.max() <= 1
    torch.testing.assert_close(images[0].mean((1, 2)), torch.tensor([1.0, -1.0, -1.0]))   # red, sorted first
    torch.testing.assert_close(images[1].mean((1, 2)), torch.tensor([-1.0, -1.0, 1.0]))   # wide blue, cropped
    torch.testing.assert_close(images[2], torch.ones(3, 16, 16))                          # grey -> RGB
    assert images[4].max() < -0.95                                                       # black jpeg


def test_image_folder_greyscale_uses_luma(image_folder):
    images = load_reference(data_cfg("image_folder", f"data.root={image_folder}"), 8, 1)
    assert images.shape == (5, 1, 8, 8)
    red_luma = round(0.299 * 255) / 127.5 - 1          # PIL's ITU-R 601-2 conversion
    assert images[0].mean().item() == pytest.approx(red_luma, abs=0.01)


def test_max_images_is_a_seeded_subset(image_folder):
    cfg = data_cfg("image_folder", f"data.root={image_folder}", "data.max_images=3")
    a, b = load_reference(cfg, 8, 3), load_reference(cfg, 8, 3)
    assert a.shape[0] == 3 and torch.equal(a, b)
    full = load_reference(data_cfg("image_folder", f"data.root={image_folder}"), 8, 3)
    assert all(any(torch.equal(x, y) for y in full) for x in a)


def test_digits_dispatch_is_load_digits():
    cfg = data_cfg("digits")
    ref = load_reference(cfg, 16, 1)
    assert torch.equal(ref, load_digits(cfg.reference_split, 16, cfg.test_fraction, cfg.split_seed).images)
    rgb = load_reference(cfg, 16, 3)
    assert rgb.shape == (ref.shape[0], 3, 16, 16) and torch.equal(rgb[:, 2:], ref)


def _write_idx(path, array: np.ndarray, magic: int) -> None:
    dims = b"".join(struct.pack(">I", d) for d in array.shape[1:])
    header = struct.pack(">II", magic, array.shape[0]) + dims
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def test_mnist_from_a_local_root(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for prefix, n in (("train", 6), ("t10k", 4)):
        pixels = np.zeros((n, 28, 28), np.uint8)
        pixels[:, 10:18, 10:18] = 255
        _write_idx(raw / f"{prefix}-images-idx3-ubyte", pixels, 2051)
        _write_idx(raw / f"{prefix}-labels-idx1-ubyte", np.arange(n), 2049)
    cfg = data_cfg("mnist", f"data.root={tmp_path}")
    images = load_reference(cfg, 16, 1)
    assert images.shape == (6, 1, 16, 16) and images.min() == -1 and images.max() > 0.9
    cfg.reference_split = "all"
    assert load_reference(cfg, 32, 3).shape == (10, 3, 32, 32)


def test_cifar10_from_a_local_root(tmp_path, monkeypatch):
    import torchvision.datasets.cifar as cifar

    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        data = np.full((2, 3072), 255 if name == "test_batch" else 0, np.uint8)
        (folder / name).write_bytes(pickle.dumps({"data": data, "labels": [0, 1]}))
    (folder / "batches.meta").write_bytes(pickle.dumps({"label_names": ["a", "b"]}))
    monkeypatch.setattr(cifar, "check_integrity", lambda *a, **k: True)   # md5s of the real files
    cfg = data_cfg("cifar10", f"data.root={tmp_path}", "data.reference_split=test")
    images = load_reference(cfg, 32, 3)
    assert images.shape == (2, 3, 32, 32) and torch.equal(images, torch.ones_like(images))
    cfg.reference_split = "train"
    assert load_reference(cfg, 32, 3).shape == (10, 3, 32, 32)


@pytest.mark.parametrize("name, inside", [("cifar10", "cifar-10-batches-py/"), ("mnist", "MNIST/raw/")])
def test_missing_dataset_without_download_is_one_sentence(name, inside, tmp_path):
    with pytest.raises(GenqError) as err:
        load_reference(data_cfg(name, f"data.root={tmp_path}"), 32, 3)
    message = str(err.value)
    assert str(tmp_path) in message and inside in message and "data.download=true" in message
    assert "\n" not in message


@pytest.mark.parametrize("override, match", [
    ("data.max_images=0", "data.max_images=0 must be at least 1"),
    ("data.reference_split=val", "data.reference_split='val' is not supported"),
])
def test_bad_settings_fail_before_reading(override, match):
    with pytest.raises(GenqError, match=match):
        load_reference(data_cfg("cifar10", override), 32, 3)


def test_image_folder_errors(tmp_path):
    with pytest.raises(GenqError, match="needs data.root"):
        load_reference(data_cfg("image_folder"), 16, 3)
    with pytest.raises(GenqError, match="not an existing folder"):
        load_reference(data_cfg("image_folder", f"data.root={tmp_path}/nowhere"), 16, 3)
    with pytest.raises(GenqError, match="holds no image files"):
        load_reference(data_cfg("image_folder", f"data.root={tmp_path}"), 16, 3)
    (tmp_path / "broken.png").write_bytes(b"not a png")
    with pytest.raises(GenqError, match="broken.png.*could not be read"):
        load_reference(data_cfg("image_folder", f"data.root={tmp_path}"), 16, 3)


def test_describe_reference(image_folder):
    info = describe_reference(data_cfg("image_folder", f"data.root={image_folder}"), 16, 3)
    assert info == {"name": "image_folder", "resolution": 16, "channels": 3, "max_images": None,
                    "root": str(image_folder.resolve())}
    assert describe_reference(data_cfg("cifar10"), 32, 3)["split"] == "train"


def test_prompts_from_config_and_file(tmp_path):
    file = tmp_path / "captions.txt"
    file.write_text("a cat on a mat\n\n  a dog  \n")
    cfg = data_cfg("image_folder", "data.prompts=[a red car]", f"data.prompts_file={file}")
    assert load_prompts(cfg) == ["a red car", "a cat on a mat", "a dog"]
    assert load_prompts(data_cfg("digits")) == []
    cfg.prompts_file = str(tmp_path / "missing.txt")
    with pytest.raises(GenqError, match="missing.txt"):
        load_prompts(cfg)


@pytest.mark.parametrize("name", ["digits", "cifar10", "mnist", "image_folder"])
def test_data_configs_compose_and_validate(name):
    cfg = compose(f"data={name}", "experiment=smoke")
    validate(cfg)
    assert cfg.data.name == name and cfg.data.download is False


def test_checks_run_before_the_model_is_known(tmp_path, image_folder):
    from genq.data import check_data_config

    check_data_config(data_cfg("image_folder", f"data.root={image_folder}"))
    check_data_config(data_cfg("cifar10", f"data.root={tmp_path}", "data.download=true"))   # may download
    with pytest.raises(GenqError, match="data.download=true"):
        check_data_config(data_cfg("cifar10", f"data.root={tmp_path}"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(GenqError, match="holds no image files"):
        check_data_config(data_cfg("image_folder", f"data.root={tmp_path / 'empty'}"))


def test_incomplete_torchvision_folder_is_one_sentence(tmp_path):
    (tmp_path / "MNIST" / "raw").mkdir(parents=True)        # present, but its files are not
    with pytest.raises(GenqError, match="MNIST is not in data.root") as err:
        load_reference(data_cfg("mnist", f"data.root={tmp_path}"), 16, 1)
    assert "\n" not in str(err.value)
