"""Which BatchNorm follows a layer: the one search that both the GAN corrections (a
bias-free conv's mean shift goes into its BatchNorm) and the int8 lowering (BatchNorm folded
into the conv before it) use."""

from __future__ import annotations

from torch import nn

BN_TYPES = (nn.BatchNorm1d, nn.BatchNorm2d)


def following_batchnorm(network: nn.Module, name: str,
                        types: tuple[type, ...] = BN_TYPES) -> tuple[str, nn.Module] | None:
    """(full name, module) of the BatchNorm (one of ``types``) that directly follows layer
    ``name`` in its parent ``nn.Sequential``; None when there is none."""
    parent_name, _, child = name.rpartition(".")
    parent = network.get_submodule(parent_name) if parent_name else network
    if not isinstance(parent, nn.Sequential):
        return None
    names = [n for n, _ in parent.named_children()]
    if child not in names:
        return None
    i = names.index(child)
    if i + 1 == len(names) or not isinstance(parent[i + 1], types):
        return None
    nxt = names[i + 1]
    return (f"{parent_name}.{nxt}" if parent_name else nxt), parent[i + 1]
