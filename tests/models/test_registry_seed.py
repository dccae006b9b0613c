"""A random initialisation depends on its own seed alone and leaves the run's seed stream
(torch's global RNG) as it was."""

from __future__ import annotations

import torch

from conftest import compose
from genq.models.registry import load_classifier, load_generator


def _weights(adapter) -> list[torch.Tensor]:
    return [p.detach().clone() for p in adapter.network.parameters()]


def test_random_init_leaves_the_global_rng_alone_and_is_deterministic():
    m = compose("experiment=smoke", "model=dcgan_digits", "logger=none").model
    torch.manual_seed(123)
    expected = torch.rand(4)
    torch.manual_seed(123)
    a = load_generator(m)
    load_classifier(None)
    assert torch.equal(torch.rand(4), expected)            # the run's stream goes on untouched
    torch.manual_seed(7)                                     # whatever the run's seed: same model
    b = load_generator(m)
    assert all(torch.equal(x, y) for x, y in zip(_weights(a), _weights(b)))
    c = load_generator(m, init_seed=1)
    assert not all(torch.equal(x, y) for x, y in zip(_weights(a), _weights(c)))
