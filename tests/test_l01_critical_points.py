"""Fast unit tests of the symmetry helpers of lecture 1 (``wwit.tiny_mlp.TinyMLP``)."""

from __future__ import annotations

import functools

import pytest
import torch
from torch.func import grad, hessian

from wwit.tiny_mlp import TinyMLP, make_teacher_data, minimize_gradient_norm, train_adam


@pytest.fixture(scope="module")
def data():
    return make_teacher_data(num_samples=32, d_in=2, seed=0)


def _random_symmetry(hidden, seed):
    gen = torch.Generator().manual_seed(seed)
    perm = torch.randperm(hidden, generator=gen)
    signs = torch.where(torch.rand(hidden, generator=gen) < 0.5, -1.0, 1.0).double()
    return perm, signs


def test_hidden_units_layout():
    model = TinyMLP(d_in=2, hidden=3)
    w = torch.arange(model.num_params, dtype=torch.float64)
    units = model.hidden_units(w)
    assert units.shape == (3, 4)
    # unit j = (W1[j, 0], W1[j, 1], b1[j], w2[j]); W1 is stored row by row
    assert units[1].tolist() == [2.0, 3.0, 7.0, 10.0]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_permute_hidden_units_keeps_function_and_loss(data, seed):
    X, y = data
    model = TinyMLP(d_in=2, hidden=4, weight_decay=1e-2)
    w = model.init(seeds=[seed])[0] + 0.1  # nonzero biases too
    perm, signs = _random_symmetry(model.hidden, seed)
    w_sym = model.permute_hidden_units(w, perm, signs)
    assert not torch.allclose(w_sym, w)
    torch.testing.assert_close(model.forward(w_sym, X), model.forward(w, X))
    torch.testing.assert_close(model.loss(w_sym, X, y), model.loss(w, X, y))
    assert w_sym[-1] == w[-1]  # the output bias is not a unit


def test_permute_hidden_units_identity_and_does_not_mutate():
    model = TinyMLP(d_in=2, hidden=3)
    w = model.init(seeds=[0])[0]
    w_copy = w.clone()
    out = model.permute_hidden_units(w, torch.arange(3), torch.ones(3, dtype=torch.float64))
    assert torch.equal(out, w)
    assert torch.equal(w, w_copy)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_canonical_form_is_invariant_and_symmetry_between_maps(seed):
    model = TinyMLP(d_in=2, hidden=5)
    w = model.init(seeds=[seed + 10])[0]
    perm, signs = _random_symmetry(model.hidden, seed)
    w_other = model.permute_hidden_units(w, perm, signs)
    c, c_perm, c_signs = model.canonical_form(w)
    torch.testing.assert_close(model.canonical_form(w_other)[0], c)
    torch.testing.assert_close(model.permute_hidden_units(w, c_perm, c_signs), c)
    a = model.hidden_units(c)[:, -1]
    assert (a >= 0).all() and (a[:-1] >= a[1:]).all()
    found_perm, found_signs = model.symmetry_between(w, w_other)
    torch.testing.assert_close(model.permute_hidden_units(w, found_perm, found_signs), w_other)


def test_add_zero_units_keeps_function_and_critical_point(data):
    X, y = data
    small = TinyMLP(d_in=2, hidden=1, weight_decay=1e-2)
    big = TinyMLP(d_in=2, hidden=3, weight_decay=1e-2)
    w = small.init(seeds=[0])[0]
    w_big = small.add_zero_units(w, extra=2)
    assert w_big.shape == (big.num_params,)
    torch.testing.assert_close(big.forward(w_big, X), small.forward(w, X))
    torch.testing.assert_close(big.loss(w_big, X, y), small.loss(w, X, y))
    # the gradient of the new units' weights is zero at any w (not only at critical points)
    g_big = grad(functools.partial(big.loss, X=X, y=y))(w_big)
    assert big.hidden_units(g_big)[1:].abs().max() < 1e-12


def test_add_zero_units_turns_minimum_into_saddle():
    """The new unit's Hessian block is wd*I + [[0, c], [c^T, 0]]: eigenvalue wd - ||c|| < 0."""
    X, y = make_teacher_data(num_samples=64, d_in=2, seed=0)
    small = TinyMLP(d_in=2, hidden=1, weight_decay=1e-2)
    big = TinyMLP(d_in=2, hidden=2, weight_decay=1e-2)
    loss_small = functools.partial(small.loss, X=X, y=y)
    trained = train_adam(loss_small, small.init(seeds=range(4)), lr=0.01, snapshot_epochs=(300,))
    w_crit, g_norm = minimize_gradient_norm(loss_small, trained[300], max_iter=100)
    minima = [
        w
        for w, gn in zip(w_crit, g_norm, strict=True)
        if gn < 1e-8 and (torch.linalg.eigvalsh(hessian(loss_small)(w)) > 0).all()
    ]
    assert minima, "no local minimum of the one-unit network found"
    w = minima[0]
    w_big = small.add_zero_units(w)
    H = hessian(functools.partial(big.loss, X=X, y=y))(w_big)
    residual = small.forward(w, X) - y
    c = 2 / len(y) * torch.cat([residual @ X, residual.sum()[None]])
    expected = big.weight_decay - torch.linalg.vector_norm(c)
    assert expected < 0
    torch.testing.assert_close(torch.linalg.eigvalsh(H).min(), expected)
