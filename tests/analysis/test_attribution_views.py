"""Per-class and per-latent-quartile views of an attribution (issue 19): the groups come
from the noise bank the way the sampler sees it, and each group's additive LPIPS model
recovers the cells that matter for that group only."""

from __future__ import annotations

import json

import numpy as np
import torch

from genq.analysis.attribution.views import fit_views, sample_groups, view_matrix
from genq.analysis.cli import main as analyze
from genq.models.guided_dit import labels_of_noise


class _Conditional:
    family = "diffusion"
    num_classes = 3

    def labels(self, noise):
        return labels_of_noise(noise, self.num_classes)


class _Gan:
    family = "gan"


def test_class_groups_are_the_classes_the_sampler_conditions_on():
    noise = torch.randn(30, 4, 2, 2, generator=torch.Generator().manual_seed(0))
    grouping = sample_groups(_Conditional(), noise)
    labels = labels_of_noise(noise, 3)
    assert grouping["kind"] == "class"
    for c in range(3):
        assert grouping["groups"][f"class {c}"] == torch.nonzero(labels == c).flatten().tolist()


def test_latent_quartiles_put_the_largest_norms_in_the_atypical_group():
    noise = torch.randn(40, 8, generator=torch.Generator().manual_seed(1))
    grouping = sample_groups(_Gan(), noise)
    norms = noise.norm(dim=1)
    atypical = grouping["groups"]["|z| Q4 (atypical)"]
    assert len(atypical) == 10 and set(atypical) == set(torch.topk(norms, 10).indices.tolist())
    assert sum(len(v) for v in grouping["groups"].values()) == 40


def test_a_stylegan_row_is_grouped_by_its_latent_not_its_pixel_noise():
    class _StyleGan(_Gan):
        class network:
            z_dim = 4
    noise = torch.randn(40, 4 + 50, generator=torch.Generator().manual_seed(2))
    atypical = sample_groups(_StyleGan(), noise)["groups"]["|z| Q4 (atypical)"]
    assert set(atypical) == set(torch.topk(noise[:, :4].norm(dim=1), 10).indices.tolist())


def test_unconditional_diffusion_has_no_view():
    class _Ddpm:
        family = "diffusion"
    assert sample_groups(_Ddpm(), torch.randn(4, 3)) is None


def test_each_group_recovers_the_cells_that_hurt_its_own_samples():
    """Four cells, one option: cell 1 hurts the samples of group A only, cell 3 those of B."""
    rng = np.random.default_rng(0)
    configs = rng.integers(0, 2, size=(60, 4))
    configs[0], configs[1] = 0, 1
    effect = {"A": np.array([0.0, 0.5, 0.0, 0.05]), "B": np.array([0.02, 0.0, 0.0, 0.7])}
    groups = {"A": [0, 1, 2, 3], "B": [4, 5, 6, 7], "tiny": [0, 1]}
    per_sample = np.zeros((60, 8))
    for name, idx in list(groups.items())[:2]:
        loss = configs @ effect[name]
        per_sample[:, idx] = loss[:, None] + rng.normal(0, 0.003, size=(60, len(idx)))
    rows = [{"config": c.tolist(), "kind": "heldout" if i >= 45 else "random",
             "lpips_per_sample": p.tolist()} for i, (c, p) in enumerate(zip(configs, per_sample))]
    views = fit_views(rows, {"kind": "class", "groups": groups}, 2, 1e-6, True, ["c0", "c1", "c2", "c3"])
    assert views["groups"]["A"]["top_cells"][0]["cell"] == "c1"
    assert views["groups"]["B"]["top_cells"][0]["cell"] == "c3"
    assert views["groups"]["B"]["heldout_spearman"] > 0.9
    assert views["groups"]["tiny"] == {"n_samples": 2, "skipped": "2 samples (< 4)"}
    names, matrix = view_matrix(views, 1)
    assert names == ["A", "B"] and np.allclose(matrix, [effect["A"], effect["B"]], atol=0.02)
    assert np.isclose(views["groups"]["A"]["uniform_lpips"]["1"], 0.55, atol=0.01)


def test_a_gan_attribution_writes_its_latent_quartile_view(tmp_path):
    out = tmp_path / "attr"
    assert analyze(["--attribution", "--models", "dcgan_digits", "--recipes", "w4a4", "--n-samples", "16",
                    "--n-random", "4", "--n-heldout", "3", "--override", "experiment=smoke", "logger=none",
                    "--out", str(out)]) == 0
    result = json.loads((out / "dcgan_digits" / "attribution.json").read_text())
    assert all(len(r["lpips_per_sample"]) == 16 for r in result["rows"])
    row = result["rows"][3]
    assert np.isclose(np.mean(row["lpips_per_sample"]), row["lpips_vs_fp"], atol=1e-5)
    views = result["views"]
    assert views["kind"] == "latent_norm" and set(v["n_samples"] for v in views["groups"].values()) == {4}
    assert len(views["groups"]["|z| Q4 (atypical)"]["effects"]) == len(result["cells"])
    assert (out / "dcgan_digits" / "attribution_views_w4a4.png").exists()
