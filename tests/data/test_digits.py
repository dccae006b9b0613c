import torch

from genq.data import load_digits


def test_digits_shapes_range_and_fixed_split():
    train, test = load_digits("train"), load_digits("test")
    assert train.images.shape[1:] == (1, 16, 16)
    assert len(train.images) + len(test.images) == 1797
    assert len(test.images) == 360
    for split in (train, test):
        assert split.images.min() >= -1 and split.images.max() <= 1
        assert split.images.min() == -1 and split.images.max() > 0.9
    # the held-out split is fixed: a second load gives the same images
    assert torch.equal(load_digits("test").images, test.images)
    # every class appears in both splits (stratified)
    assert set(test.labels.tolist()) == set(range(10)) == set(train.labels.tolist())


def test_resolution_is_configurable():
    assert load_digits("all", resolution=8).images.shape == (1797, 1, 8, 8)
    assert load_digits("all", resolution=32).images.shape == (1797, 1, 32, 32)
