"""The additive model of an attribution recovers a known additive loss: a synthetic model
whose cells contribute known amounts per option (and, separately, known pairwise
interactions), measured on the configurations the study design draws."""

from __future__ import annotations

import numpy as np
import pytest

from genq.analysis.attribution.additive import fit, validate
from genq.analysis.attribution.cells import CellGrid, Option, split_steps
from genq.analysis.attribution.design import one_at_a_time, random_configs, training_design
from genq.errors import GenqError
from genq.quant.plan import QuantPlan


def grid(groups: int = 4, windows: int = 3, options: int = 3) -> CellGrid:
    return CellGrid({f"g{i}": [f"g{i}.conv"] for i in range(groups)}, split_steps(12, windows),
                    [Option("fp")] + [Option(f"q{o}", QuantPlan()) for o in range(1, options)])


def synthetic_loss(g: CellGrid, seed: int = 0):
    """loss = b + sum_c beta[c, option(c)]: known contributions, FP contributing 0."""
    rng = np.random.default_rng(seed)
    beta = np.zeros((g.n_cells, g.n_options))
    beta[:, 1:] = rng.exponential(1.0, size=(g.n_cells, g.n_options - 1))
    return 0.3, beta, lambda X: 0.3 + beta[np.arange(g.n_cells)[None, :], np.atleast_2d(X)].sum(axis=1)


def test_the_fit_recovers_known_cell_contributions_and_ranks_held_out_configs_exactly():
    g = grid()
    b, beta, loss = synthetic_loss(g)
    design = training_design(g, n_random=20, seed=1)
    X = np.array(design.configs)
    model = fit(X, loss(X), g.n_options, alpha=1e-9)
    assert model.intercept == pytest.approx(b, abs=1e-5)
    np.testing.assert_allclose(model.effects, beta, atol=1e-5)
    held = np.array(random_configs(g, 60, seed=99).configs)
    v = validate(model, held, loss(held))
    assert v["n_configs"] == 60 and v["spearman"] == pytest.approx(1.0) and v["r2"] == pytest.approx(1.0)


def test_leave_one_out_rows_alone_give_the_ablation_effects():
    """Uniform + restore rows only: beta[c, o] = loss(all o) - loss(all o but c in FP)."""
    g = grid(groups=3, windows=2, options=2)
    _, beta, loss = synthetic_loss(g, seed=3)
    X = np.array([g.uniform(0), g.uniform(1)] + one_at_a_time(g, "restore").configs)
    model = fit(X, loss(X), g.n_options, alpha=0.0)
    np.testing.assert_allclose(model.effects, beta, atol=1e-8)


def test_pairwise_terms_capture_a_known_interaction_the_additive_model_misses():
    g = grid(groups=3, windows=2, options=2)
    _, beta, additive = synthetic_loss(g, seed=4)
    gamma = np.zeros((g.n_cells, g.n_cells))
    gamma[0, 1], gamma[2, 5] = 2.0, -1.0

    def loss(X):
        q = (np.atleast_2d(X) > 0).astype(float)
        return additive(X) + np.einsum("nc,cd,nd->n", q, gamma, q)

    X = np.array(training_design(g, n_random=80, seed=5).configs)
    held = np.array(random_configs(g, 50, seed=6).configs)
    plain = fit(X, loss(X), 2, alpha=1e-9)
    paired = fit(X, loss(X), 2, alpha=1e-9, pairwise=True)
    np.testing.assert_allclose(np.triu(paired.pairs, 1), gamma, atol=1e-5)
    assert validate(paired, held, loss(held))["r2"] == pytest.approx(1.0)
    assert validate(plain, held, loss(held))["r2"] < 0.99


def test_bounded_effects_are_never_negative_where_a_signed_fit_chases_noise():
    g = grid(groups=4, windows=2, options=2)
    _, beta, loss = synthetic_loss(g, seed=7)
    beta[:3, 1] = 0.0                                   # three cells that cost nothing
    X = np.array(training_design(g, n_random=30, seed=8).configs)
    noisy = loss(X) + np.random.default_rng(9).normal(0, 0.05, len(X))
    bounded = fit(X, noisy, 2, alpha=1e-6)
    signed = fit(X, noisy, 2, alpha=1e-6, nonnegative=False)
    assert bounded.effects.min() >= 0 and signed.effects[:3, 1].min() < 0
    np.testing.assert_allclose(bounded.effects, beta, atol=0.1)


def test_design_size_grows_with_cells_not_configurations():
    g = grid(groups=5, windows=4, options=3)               # 3 ** 20 configurations
    d = training_design(g, n_random=10, seed=0, mode="both")
    assert len(d) == g.n_options + 2 * g.n_cells * (g.n_options - 1) + 10
    assert all(x.shape == (g.n_cells,) and 0 <= x.min() and x.max() < 3 for x in d.configs)


def test_windows_and_bad_configurations_are_refused_by_name():
    assert split_steps(25, 3) == [(0, 8), (8, 17), (17, 25)]
    assert split_steps(25, [0, 2, 23, 25]) == [(0, 2), (2, 23), (23, 25)]
    with pytest.raises(GenqError, match="not increasing"):
        split_steps(25, [0, 30, 25])
    with pytest.raises(GenqError, match="does not split"):
        split_steps(4, 5)
    with pytest.raises(GenqError, match="one option index"):
        grid().check(np.full(3, 1))
