"""Implementations of the eight functions of assignment ``a01_critical_points``, to test the checks.

``CORRECT[name]`` holds correct implementations of exercise ``name`` written differently from the
reference solution; the checks must accept them. ``WRONG[name]`` holds implementations with one
common student mistake each (named in the docstring); the hidden checks must reject them. The keys
are the names of the exercises in ``autograder.checks.a01_critical_points.EXERCISES``.

Implementations that build on other exercises (``find_critical_points``, ``escape_saddle``) call
the correct implementations defined here, so that only their own mistake is tested. Everything is
self-contained: nothing is imported from the reference solution. A mistake marked
``@breaks("<clause>")`` violates exactly one clause of its exercise's docstring (the keys of
``Exercise.clauses`` in ``autograder/checks/a01_critical_points.py``) and must fail a hidden case
covering that clause.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from implementations import breaks

# ---------------------------------------------------------------------------------------------
# numerical_gradient
# ---------------------------------------------------------------------------------------------


def gradient_eye_offsets(f, theta, h=1e-5):
    """Central differences, looping over the rows of ``h * np.eye(n)`` as offsets."""
    theta = np.asarray(theta, dtype=np.float64)
    offsets = h * np.eye(theta.size)
    return np.array([f(theta + e) - f(theta - e) for e in offsets]) / (2 * h)


def gradient_in_place_restored(f, theta, h=1e-5):
    """Central differences perturbing ``theta`` in place, restoring each saved entry exactly."""
    grad = np.empty(theta.shape, dtype=np.float64)
    for i in range(theta.size):
        old = theta[i]
        theta[i] = old + h
        f_plus = f(theta)
        theta[i] = old - h
        f_minus = f(theta)
        theta[i] = old
        grad[i] = (f_plus - f_minus) / (2 * h)
    return grad


def wrong_gradient_forward_difference(f, theta, h=1e-5):
    """Mistake: forward differences (f(theta + h e_i) - f(theta)) / h, error O(h) not O(h^2)."""
    theta = np.asarray(theta, dtype=np.float64)
    f0 = f(theta)
    return np.array([(f(theta + e) - f0) / h for e in h * np.eye(theta.size)])


@breaks("formula")
def wrong_gradient_divides_by_h(f, theta, h=1e-5):
    """Mistake: central differences divided by h instead of 2h (twice the gradient)."""
    theta = np.asarray(theta, dtype=np.float64)
    return np.array([(f(theta + e) - f(theta - e)) / h for e in h * np.eye(theta.size)])


@breaks("h")
def wrong_gradient_ignores_h(f, theta, h=1e-5):
    """Mistake: always uses the step 1e-5, whatever ``h`` the caller passes."""
    step = 1e-5
    theta = np.asarray(theta, dtype=np.float64)
    return np.array([f(theta + e) - f(theta - e) for e in step * np.eye(theta.size)]) / (2 * step)


def wrong_gradient_mutates_theta(f, theta, h=1e-5):
    """Mistake: shifts ``theta[i]`` in place by +h then -2h and never adds h back."""
    grad = np.empty(theta.shape, dtype=np.float64)
    for i in range(theta.size):
        theta[i] += h
        f_plus = f(theta)
        theta[i] -= 2 * h
        f_minus = f(theta)
        grad[i] = (f_plus - f_minus) / (2 * h)
    return grad


def wrong_gradient_all_coordinates(f, theta, h=1e-5):
    """Mistake: ``f(theta + h)`` shifts every coordinate at once, so each entry is the same
    directional derivative along (1, ..., 1)."""
    theta = np.asarray(theta, dtype=np.float64)
    return np.array([(f(theta + h) - f(theta - h)) / (2 * h) for _ in range(theta.size)])


@breaks("unchanged")
def wrong_gradient_restores_by_arithmetic(f, theta, h=1e-5):
    """Mistake: shifts ``theta[i]`` in place by +h, -2h, +h instead of restoring the saved value;
    rounding leaves ``theta`` slightly changed."""
    grad = np.empty(theta.shape, dtype=np.float64)
    for i in range(theta.size):
        theta[i] += h
        f_plus = f(theta)
        theta[i] -= 2 * h
        f_minus = f(theta)
        theta[i] += h
        grad[i] = (f_plus - f_minus) / (2 * h)
    return grad


@breaks("returns")
def wrong_gradient_float32(f, theta, h=1e-5):
    """Mistake: collects the gradient in a float32 array."""
    return gradient_eye_offsets(f, theta, h).astype(np.float32)


# ---------------------------------------------------------------------------------------------
# numerical_hessian
# ---------------------------------------------------------------------------------------------


def _four_point(f, theta, ei, ej, h):
    """The four-point central difference of d^2 f / (d theta_i d theta_j)."""
    return (f(theta + ei + ej) - f(theta + ei - ej) - f(theta - ei + ej)
            + f(theta - ei - ej)) / (4 * h * h)


def hessian_four_point_mirrored(f, theta, h=1e-4):
    """Four-point formula for the entries i <= j, mirrored below the diagonal (so symmetric)."""
    theta = np.asarray(theta, dtype=np.float64)
    n = theta.size
    E = h * np.eye(n)
    H = np.empty((n, n))
    for i in range(n):
        for j in range(i, n):
            H[i, j] = H[j, i] = _four_point(f, theta, E[i], E[j], h)
    return H


def hessian_three_point_diagonal(f, theta, h=1e-4):
    """Three-point formula (f(+h e_i) - 2 f + f(-h e_i)) / h^2 on the diagonal, four-point off it,
    then (H + H.T) / 2."""
    theta = np.asarray(theta, dtype=np.float64)
    n = theta.size
    E = h * np.eye(n)
    f0 = f(theta)
    H = np.empty((n, n))
    for i in range(n):
        for j in range(n):
            if i == j:
                H[i, i] = (f(theta + E[i]) - 2 * f0 + f(theta - E[i])) / (h * h)
            else:
                H[i, j] = _four_point(f, theta, E[i], E[j], h)
    return (H + H.T) / 2


def hessian_gradient_differences(f, theta, h=1e-4):
    """Central differences of the (eye-offset) numerical gradient, stacked as columns, then
    (H + H.T) / 2."""
    theta = np.asarray(theta, dtype=np.float64)
    E = h * np.eye(theta.size)
    columns = [gradient_eye_offsets(f, theta + e, h) - gradient_eye_offsets(f, theta - e, h)
               for e in E]
    H = np.stack(columns, axis=1) / (2 * h)
    return (H + H.T) / 2


@breaks("formula")
def wrong_hessian_seven_point_mixed(f, theta, h=1e-4):
    """Off specification: three-point diagonal, mixed partials by the seven-point formula
    (f(+i+j) - f(+i) - f(+j) + 2 f - f(-i) - f(-j) + f(-i-j)) / (2 h^2) (Abramowitz & Stegun
    25.3.27). Also O(h^2), but the docstring names the four-point formula off the diagonal,
    and with a large h the two differ (rejected by the h=0.1 case)."""
    theta = np.asarray(theta, dtype=np.float64)
    n = theta.size
    E = h * np.eye(n)
    f0 = f(theta)
    f_plus = [f(theta + e) for e in E]
    f_minus = [f(theta - e) for e in E]
    H = np.empty((n, n))
    for i in range(n):
        for j in range(n):
            if i == j:
                H[i, i] = (f_plus[i] - 2 * f0 + f_minus[i]) / (h * h)
            else:
                H[i, j] = (f(theta + E[i] + E[j]) - f_plus[i] - f_plus[j] + 2 * f0 - f_minus[i]
                           - f_minus[j] + f(theta - E[i] - E[j])) / (2 * h * h)
    return (H + H.T) / 2


@breaks("symmetric")
def wrong_hessian_not_symmetrized(f, theta, h=1e-4):
    """Mistake: central differences of the numerical gradient without (H + H.T) / 2; rounding
    leaves H[i, j] != H[j, i]."""
    theta = np.asarray(theta, dtype=np.float64)
    E = h * np.eye(theta.size)
    return np.array([gradient_eye_offsets(f, theta + e, h) - gradient_eye_offsets(f, theta - e, h)
                     for e in E]) / (2 * h)


def wrong_hessian_diagonal_only(f, theta, h=1e-4):
    """Mistake: only the pure second derivatives d^2 f / d theta_i^2; mixed partials left at 0."""
    theta = np.asarray(theta, dtype=np.float64)
    f0 = f(theta)
    return np.diag([(f(theta + e) - 2 * f0 + f(theta - e)) / (h * h)
                    for e in h * np.eye(theta.size)])


@breaks("formula")
def wrong_hessian_denominator(f, theta, h=1e-4):
    """Mistake: the four-point formula divided by 2 h^2 instead of 4 h^2 (twice too large)."""
    theta = np.asarray(theta, dtype=np.float64)
    n = theta.size
    E = h * np.eye(n)
    H = np.array([[_four_point(f, theta, E[i], E[j], h) for j in range(n)] for i in range(n)])
    H = 2 * H  # the numerator over 2 h^2
    return (H + H.T) / 2


def wrong_hessian_forward_difference(f, theta, h=1e-4):
    """Mistake: forward differences (f(+h e_i + h e_j) - f(+h e_i) - f(+h e_j) + f) / h^2,
    error O(h) instead of O(h^2)."""
    theta = np.asarray(theta, dtype=np.float64)
    n = theta.size
    E = h * np.eye(n)
    f0 = f(theta)
    f1 = [f(theta + e) for e in E]
    H = np.array([[(f(theta + E[i] + E[j]) - f1[i] - f1[j] + f0) / (h * h) for j in range(n)]
                  for i in range(n)])
    return (H + H.T) / 2


def wrong_hessian_inner_default_h(f, theta, h=1e-4):
    """Mistake: differences the numerical gradient with step h but forgets to pass h on, so the
    inner gradients use their default 1e-5."""
    theta = np.asarray(theta, dtype=np.float64)
    n = theta.size
    H = np.zeros((n, n))
    for i in range(n):
        step = np.zeros(n)
        step[i] = h
        H[i] = gradient_eye_offsets(f, theta + step) - gradient_eye_offsets(f, theta - step)
    H /= 2 * h
    return (H + H.T) / 2


@breaks("h")
def wrong_hessian_ignores_h(f, theta, h=1e-4):
    """Mistake: always uses the step 1e-4, whatever ``h`` the caller passes."""
    return hessian_four_point_mirrored(f, theta, 1e-4)


@breaks("unchanged")
def wrong_hessian_restores_by_arithmetic(f, theta, h=1e-4):
    """Mistake: the four-point formula perturbing ``theta`` in place and undoing each shift by
    arithmetic (+h, -2h, +h), which rounding does not undo exactly."""
    n = theta.size
    H = np.empty((n, n))
    for i in range(n):
        for j in range(n):
            values = []
            for si, sj in ((1, 1), (1, -1), (-1, 1), (-1, -1)):
                theta[i] += si * h
                theta[j] += sj * h
                values.append(f(theta))
                theta[j] -= sj * h
                theta[i] -= si * h
            H[i, j] = (values[0] - values[1] - values[2] + values[3]) / (4 * h * h)
    return (H + H.T) / 2


@breaks("returns")
def wrong_hessian_float32(f, theta, h=1e-4):
    """Mistake: returns the Hessian as float32."""
    return hessian_four_point_mirrored(f, theta, h).astype(np.float32)


# ---------------------------------------------------------------------------------------------
# classify_critical_point, escape_direction, minimum_ratio
# ---------------------------------------------------------------------------------------------


def classify_sorted_eigvals(H, tol=1e-6):
    """Sorted real parts of ``np.linalg.eigvals``; decides from the extreme eigenvalues."""
    lam = np.sort(np.linalg.eigvals(H).real)
    lo, hi = lam[0], lam[-1]
    if lo < -tol and hi > tol:
        return "saddle point"
    if np.min(np.abs(lam)) <= tol:
        return "degenerate"
    return "local minimum" if lo > tol else "local maximum"


def classify_by_counts(H, tol=1e-6):
    """Counts the positive, negative and near-zero eigenvalues from ``np.linalg.eigh``."""
    lam, _ = np.linalg.eigh(H)
    positive = int(np.sum(lam > tol))
    negative = int(np.sum(lam < -tol))
    if positive and negative:
        return "saddle point"
    if positive + negative < lam.size:
        return "degenerate"
    return "local minimum" if positive else "local maximum"


@breaks("degenerate")
def wrong_classify_degenerate_first(H, tol=1e-6):
    """Mistake: tests for a near-zero eigenvalue before testing for a saddle."""
    lam = np.linalg.eigvalsh(H)
    if np.any(np.abs(lam) <= tol):
        return "degenerate"
    if np.any(lam > tol) and np.any(lam < -tol):
        return "saddle point"
    return "local minimum" if lam[0] > tol else "local maximum"


@breaks("tol")
def wrong_classify_ignores_tol(H, tol=1e-6):
    """Mistake: strict signs (> 0, < 0, == 0) instead of comparisons with tol."""
    lam = np.linalg.eigvalsh(H)
    if np.any(lam > 0) and np.any(lam < 0):
        return "saddle point"
    if np.any(lam == 0):
        return "degenerate"
    return "local minimum" if lam[0] > 0 else "local maximum"


@breaks("eigenvalues")
def wrong_classify_diagonal(H, tol=1e-6):
    """Mistake: uses the diagonal of H in place of its eigenvalues."""
    lam = np.diag(H)
    if np.any(lam > tol) and np.any(lam < -tol):
        return "saddle point"
    if np.any(np.abs(lam) <= tol):
        return "degenerate"
    return "local minimum" if np.all(lam > tol) else "local maximum"


def wrong_classify_determinant_test(H, tol=1e-6):
    """Mistake: the 2-D second-derivative test (sign of det H, then of H[0, 0]) used in n-D."""
    det = np.linalg.det(H)
    if abs(det) <= tol:
        return "degenerate"
    if det < 0:
        return "saddle point"
    return "local minimum" if H[0, 0] > 0 else "local maximum"


@breaks("saddle")
def wrong_classify_saddle_any_negative(H, tol=1e-6):
    """Mistake: any eigenvalue < -tol makes a saddle point (so a maximum is a saddle too)."""
    lam = np.linalg.eigvalsh(H)
    if np.any(lam < -tol):
        return "saddle point"
    if np.any(np.abs(lam) <= tol):
        return "degenerate"
    return "local minimum"


@breaks("min_max")
def wrong_classify_min_max_swapped(H, tol=1e-6):
    """Mistake: "local maximum" for all positive eigenvalues, "local minimum" for all negative."""
    kind = classify_by_counts(H, tol)
    swap = {"local minimum": "local maximum", "local maximum": "local minimum"}
    return swap.get(kind, kind)


@breaks("returns")
def wrong_classify_short_names(H, tol=1e-6):
    """Mistake: returns "minimum", "maximum", "saddle" instead of the specified strings."""
    kind = classify_by_counts(H, tol)
    return {"local minimum": "minimum", "local maximum": "maximum",
            "saddle point": "saddle"}.get(kind, kind)


def escape_eig_argmin(H, tol=1e-6):
    """``np.linalg.eig`` (general solver); column of the smallest real eigenvalue, normalised."""
    lam, vectors = np.linalg.eig(H)
    lam = lam.real
    k = int(np.argmin(lam))
    if lam[k] >= -tol:
        return None
    u = np.real(vectors[:, k]).astype(np.float64)
    return u / np.linalg.norm(u)


def escape_eigh_flipped(H, tol=1e-6):
    """``np.linalg.eigh``; returns the opposite sign, -v (either sign is allowed)."""
    lam, vectors = np.linalg.eigh(H)
    return None if lam[0] >= -tol else -vectors[:, 0]


@breaks("eigenvector")
def wrong_escape_row(H, tol=1e-6):
    """Mistake: returns the row ``vectors[0]`` instead of the column ``vectors[:, 0]``."""
    lam, vectors = np.linalg.eigh(H)
    return None if lam[0] >= -tol else vectors[0]


@breaks("smallest")
def wrong_escape_largest_eigenvalue(H, tol=1e-6):
    """Mistake: the eigenvector of the largest eigenvalue (the steepest upward curvature)."""
    lam, vectors = np.linalg.eigh(H)
    return None if lam[0] >= -tol else vectors[:, -1]


def wrong_escape_largest_magnitude(H, tol=1e-6):
    """Mistake: the eigenvector of the eigenvalue largest in absolute value."""
    lam, vectors = np.linalg.eigh(H)
    return None if lam[0] >= -tol else vectors[:, int(np.argmax(np.abs(lam)))]


@breaks("tol")
def wrong_escape_ignores_tol(H, tol=1e-6):
    """Mistake: escapes whenever the smallest eigenvalue is < 0, ignoring tol."""
    lam, vectors = np.linalg.eigh(H)
    return None if lam[0] >= 0 else vectors[:, 0]


@breaks("unit")
def wrong_escape_scaled_by_eigenvalue(H, tol=1e-6):
    """Mistake: returns lambda * u (not a unit vector)."""
    lam, vectors = np.linalg.eigh(H)
    return None if lam[0] >= -tol else lam[0] * vectors[:, 0]


@breaks("none")
def wrong_escape_zeros_instead_of_none(H, tol=1e-6):
    """Mistake: returns a zero vector instead of None when there is no negative eigenvalue."""
    u = escape_eigh_flipped(H, tol)
    return np.zeros(H.shape[0]) if u is None else u


def ratio_mean_of_mask(H, tol=1e-6):
    """``np.mean`` of the boolean mask ``eigvalsh(H) > tol``."""
    return float(np.mean(np.linalg.eigvalsh(H) > tol))


def ratio_python_count(H, tol=1e-6):
    """Real parts of ``np.linalg.eigvals`` counted with a generator expression."""
    lam = np.linalg.eigvals(H).real
    return sum(1 for value in lam if value > tol) / len(lam)


def wrong_ratio_nonnegative(H, tol=1e-6):
    """Mistake: counts the eigenvalues >= 0 (zeros count as positive, tol ignored)."""
    lam = np.linalg.eigvalsh(H)
    return np.count_nonzero(lam >= 0) / lam.size


@breaks("tol")
def wrong_ratio_ignores_tol(H, tol=1e-6):
    """Mistake: counts the eigenvalues > 0 instead of > tol."""
    lam = np.linalg.eigvalsh(H)
    return np.count_nonzero(lam > 0) / lam.size


@breaks("fraction")
def wrong_ratio_returns_count(H, tol=1e-6):
    """Mistake: returns the number of eigenvalues > tol, not the fraction."""
    return int(np.count_nonzero(np.linalg.eigvalsh(H) > tol))


@breaks("eigenvalues")
def wrong_ratio_diagonal(H, tol=1e-6):
    """Mistake: uses the diagonal of H in place of its eigenvalues."""
    return np.count_nonzero(np.diag(H) > tol) / H.shape[0]


# ---------------------------------------------------------------------------------------------
# loss_hessian
# ---------------------------------------------------------------------------------------------


def _flat_loss(model, loss_fn, X, y):
    """The loss as a function of a flat parameter vector, via ``torch.func.functional_call``."""
    names = [name for name, _ in model.named_parameters()]
    shapes = [p.shape for p in model.parameters()]
    sizes = [p.numel() for p in model.parameters()]

    def loss(flat):
        chunks = torch.split(flat, sizes)
        params = {n: c.reshape(s) for n, c, s in zip(names, chunks, shapes, strict=True)}
        return loss_fn(torch.func.functional_call(model, params, (X,)), y)

    return loss


def loss_hessian_torch_func(model, loss_fn, X, y):
    """``torch.func.hessian`` of the loss of the flat parameter vector (``functional_call``)."""
    flat = torch.cat([p.detach().reshape(-1) for p in model.parameters()])
    return torch.func.hessian(_flat_loss(model, loss_fn, X, y))(flat).detach()


def loss_hessian_autograd_blocks(model, loss_fn, X, y):
    """``torch.autograd.functional.hessian`` over the tuple of parameter tensors; the (i, j)
    blocks are reshaped and concatenated."""
    names = [name for name, _ in model.named_parameters()]
    params = tuple(p.detach() for p in model.parameters())

    def loss(*tensors):
        return loss_fn(torch.func.functional_call(model, dict(zip(names, tensors, strict=True)),
                                                  (X,)), y)

    blocks = torch.autograd.functional.hessian(loss, params)
    sizes = [p.numel() for p in params]
    return torch.cat([torch.cat([blocks[i][j].reshape(sizes[i], sizes[j])
                                 for j in range(len(params))], dim=1)
                      for i in range(len(params))], dim=0)


def loss_hessian_batched_hvp(model, loss_fn, X, y):
    """Double backward: all Hessian-vector products with the unit vectors in one batched call."""
    params = list(model.parameters())
    grads = torch.autograd.grad(loss_fn(model(X), y), params, create_graph=True)
    g = torch.cat([grad.reshape(-1) for grad in grads])
    eye = torch.eye(g.numel(), dtype=g.dtype)
    rows = torch.autograd.grad(g, params, grad_outputs=eye, is_grads_batched=True,
                               allow_unused=True, materialize_grads=True)
    return torch.cat([r.reshape(g.numel(), -1) for r in rows], dim=1).detach()


@breaks("cross")
def wrong_loss_hessian_block_diagonal(model, loss_fn, X, y):
    """Mistake: the Hessian of each parameter tensor separately, placed on the diagonal
    (the blocks between different tensors are left at 0)."""
    params = list(model.parameters())
    grads = torch.autograd.grad(loss_fn(model(X), y), params, create_graph=True)
    blocks = []
    for p, grad in zip(params, grads, strict=True):
        g = grad.reshape(-1)
        rows = [torch.autograd.grad(g[k], p, retain_graph=True, allow_unused=True,
                                    materialize_grads=True)[0].reshape(-1)
                for k in range(g.numel())]
        blocks.append(torch.stack(rows))
    return torch.block_diag(*blocks).detach()


@breaks("order")
def wrong_loss_hessian_sorted_names(model, loss_fn, X, y):
    """Mistake: flattens the parameters in the order of their sorted names, not of
    ``model.parameters()``."""
    named = sorted(model.named_parameters())
    names = [name for name, _ in named]
    shapes = [p.shape for _, p in named]
    sizes = [p.numel() for _, p in named]

    def loss(flat):
        chunks = torch.split(flat, sizes)
        params = {n: c.reshape(s) for n, c, s in zip(names, chunks, shapes, strict=True)}
        return loss_fn(torch.func.functional_call(model, params, (X,)), y)

    flat = torch.cat([p.detach().reshape(-1) for _, p in named])
    return torch.func.hessian(loss)(flat).detach()


@breaks("returns")
def wrong_loss_hessian_numpy(model, loss_fn, X, y):
    """Mistake: returns a numpy array instead of a torch.Tensor."""
    return loss_hessian_torch_func(model, loss_fn, X, y).numpy()


@breaks("returns")
def wrong_loss_hessian_first_parameter(model, loss_fn, X, y):
    """Mistake: the Hessian with respect to the first parameter tensor only."""
    names = [name for name, _ in model.named_parameters()]
    params = {name: p.detach() for name, p in model.named_parameters()}
    first = params[names[0]]

    def loss(w):
        return loss_fn(torch.func.functional_call(model, {**params, names[0]: w.reshape(
            first.shape)}, (X,)), y)

    return torch.func.hessian(loss)(first.reshape(-1)).detach()


def wrong_loss_hessian_vector_to_parameters(model, loss_fn, X, y):
    """Mistake: loads the flat vector with ``vector_to_parameters`` inside the function handed to
    ``torch.autograd.functional.hessian``; that assigns ``.data`` and cuts the graph (H = 0)."""
    params = list(model.parameters())
    theta = torch.nn.utils.parameters_to_vector(params).detach()

    def loss(flat):
        torch.nn.utils.vector_to_parameters(flat, params)
        return loss_fn(model(X), y)

    return torch.autograd.functional.hessian(loss, theta).detach()


@breaks("unchanged")
def wrong_loss_hessian_perturbs_in_place(model, loss_fn, X, y, h=1e-4):
    """Mistake: central differences of autograd gradients, nudging each parameter entry in place
    by +h, -2h, +h; the round trip does not restore the values bit for bit."""
    params = list(model.parameters())

    def flat_grad():
        grads = torch.autograd.grad(loss_fn(model(X), y), params)
        return torch.cat([g.reshape(-1) for g in grads])

    rows = []
    with torch.no_grad():
        for p in params:
            flat = p.view(-1)
            for k in range(flat.numel()):
                flat[k] += h
                with torch.enable_grad():
                    g_plus = flat_grad()
                flat[k] -= 2 * h
                with torch.enable_grad():
                    g_minus = flat_grad()
                flat[k] += h
                rows.append((g_plus - g_minus) / (2 * h))
    H = torch.stack(rows)
    return (H + H.T) / 2


@breaks("dtype")
def wrong_loss_hessian_float32(model, loss_fn, X, y):
    """Mistake: casts the Hessian to float32 whatever the parameters' dtype."""
    return loss_hessian_torch_func(model, loss_fn, X, y).float()


@breaks("detached")
def wrong_loss_hessian_requires_grad(model, loss_fn, X, y):
    """Mistake: hands back a Hessian that is still part of an autograd graph."""
    H = loss_hessian_torch_func(model, loss_fn, X, y)
    return H.clone().requires_grad_(True) * 1.0


# ---------------------------------------------------------------------------------------------
# find_critical_points (helpers: the correct gradient, Hessian and classification above)
# ---------------------------------------------------------------------------------------------

_gradient = gradient_eye_offsets
_hessian = hessian_four_point_mirrored
_classify = classify_by_counts


def _newton(f, start, max_iter):
    """Newton on the gradient from ``start``: the converged point, or None (singular, too slow)."""
    theta = np.array(start, dtype=np.float64)
    for _ in range(max_iter):
        try:
            step = np.linalg.solve(_hessian(f, theta), _gradient(f, theta))
        except np.linalg.LinAlgError:
            return None
        theta = theta - step
        if np.linalg.norm(step) < 1e-8:
            return theta
    return None


def find_cp_gradient_norm_stop(f, starts, tol=1e-6, max_iter=50):
    """Newton that also stops as soon as the numerical gradient norm is below 1e-10 (no step
    needed), with a vectorised distance test for duplicates."""
    points, kinds = [], []
    for start in starts:
        theta = np.array(start, dtype=np.float64)
        converged = False
        for _ in range(max_iter):
            g = _gradient(f, theta)
            if np.linalg.norm(g) < 1e-10:
                converged = True
                break
            try:
                step = np.linalg.solve(_hessian(f, theta), g)
            except np.linalg.LinAlgError:
                break
            theta = theta - step
            if np.linalg.norm(step) < 1e-8:
                converged = True
                break
        if not converged:
            continue
        if points and np.min(np.linalg.norm(np.array(points) - theta, axis=1)) < 1e-4:
            continue
        points.append(theta)
        kinds.append(_classify(_hessian(f, theta), tol))
    return list(zip(points, kinds, strict=True))


def find_cp_collect_then_dedupe(f, starts, tol=1e-6, max_iter=50):
    """Runs Newton from every start first, then keeps the first of each cluster and classifies
    with the eigenvalues of the Hessian (``np.linalg.eigvals``)."""
    converged = [p for p in (_newton(f, s, max_iter) for s in starts) if p is not None]
    kept = []
    for p in converged:
        if all(np.linalg.norm(p - q) >= 1e-4 for q in kept):
            kept.append(p)
    return [(p, classify_sorted_eigvals(_hessian(f, p), tol)) for p in kept]


def wrong_find_cp_gradient_descent(f, starts, tol=1e-6, max_iter=50):
    """Mistake: gradient descent (learning rate 0.05) instead of Newton, stopping once the
    gradient norm is below 1e-3: it never reaches saddles or maxima, nor lands within 1e-5."""
    found = []
    for start in starts:
        theta = np.array(start, dtype=np.float64)
        for _ in range(max_iter):
            g = _gradient(f, theta)
            if np.linalg.norm(g) < 1e-3:
                break
            theta = theta - 0.05 * g
        if any(np.linalg.norm(theta - p) < 1e-4 for p, _ in found):
            continue
        found.append((theta, _classify(_hessian(f, theta), tol)))
    return found


@breaks("dedup")
def wrong_find_cp_no_dedup(f, starts, tol=1e-6, max_iter=50):
    """Mistake: one entry per converged start; the same critical point is listed several times."""
    found = []
    for start in starts:
        point = _newton(f, start, max_iter)
        if point is not None:
            found.append((point, _classify(_hessian(f, point), tol)))
    return found


@breaks("dedup")
def wrong_find_cp_exact_dedup(f, starts, tol=1e-6, max_iter=50):
    """Mistake: duplicates detected by exact equality (``np.array_equal``), but Newton from
    different starts lands on slightly different floats."""
    found = []
    for start in starts:
        point = _newton(f, start, max_iter)
        if point is None or any(np.array_equal(point, p) for p, _ in found):
            continue
        found.append((point, _classify(_hessian(f, point), tol)))
    return found


@breaks("newton")
def wrong_find_cp_plus_step(f, starts, tol=1e-6, max_iter=50):
    """Mistake: theta <- theta + H^-1 g (sign error), which walks away from the critical point."""
    found = []
    for start in starts:
        theta = np.array(start, dtype=np.float64)
        converged = False
        for _ in range(max_iter):
            try:
                step = np.linalg.solve(_hessian(f, theta), _gradient(f, theta))
            except np.linalg.LinAlgError:
                break
            theta = theta + step
            if not np.all(np.isfinite(theta)):
                break
            if np.linalg.norm(step) < 1e-8:
                converged = True
                break
        if converged and all(np.linalg.norm(theta - p) >= 1e-4 for p, _ in found):
            found.append((theta, _classify(_hessian(f, theta), tol)))
    return found


@breaks("classify")
def wrong_find_cp_diagonal_classification(f, starts, tol=1e-6, max_iter=50):
    """Mistake: classifies each point from the signs of the Hessian's diagonal, not its
    eigenvalues."""
    found = []
    for start in starts:
        point = _newton(f, start, max_iter)
        if point is None or any(np.linalg.norm(point - p) < 1e-4 for p, _ in found):
            continue
        diagonal = np.diag(_hessian(f, point))
        if np.any(diagonal > tol) and np.any(diagonal < -tol):
            kind = "saddle point"
        elif np.any(np.abs(diagonal) <= tol):
            kind = "degenerate"
        else:
            kind = "local minimum" if np.all(diagonal > tol) else "local maximum"
        found.append((point, kind))
    return found


@breaks("skip")
def wrong_find_cp_keeps_unconverged(f, starts, tol=1e-6, max_iter=50):
    """Mistake: keeps the last iterate of a start that has not converged after max_iter steps."""
    found = []
    for start in starts:
        theta = np.array(start, dtype=np.float64)
        for _ in range(max_iter):
            try:
                step = np.linalg.solve(_hessian(f, theta), _gradient(f, theta))
            except np.linalg.LinAlgError:
                break
            theta = theta - step
            if np.linalg.norm(step) < 1e-8:
                break
        if all(np.linalg.norm(theta - p) >= 1e-4 for p, _ in found):
            found.append((theta, _classify(_hessian(f, theta), tol)))
    return found


@breaks("tol")
def wrong_find_cp_ignores_tol(f, starts, tol=1e-6, max_iter=50):
    """Mistake: classifies with the default tol=1e-6 instead of passing ``tol`` on."""
    return find_cp_collect_then_dedupe(f, starts, 1e-6, max_iter)


@breaks("max_iter")
def wrong_find_cp_ignores_max_iter(f, starts, tol=1e-6, max_iter=50):
    """Mistake: always allows 50 Newton steps per start, whatever ``max_iter`` is."""
    return find_cp_collect_then_dedupe(f, starts, tol, 50)


# ---------------------------------------------------------------------------------------------
# escape_saddle (helpers: the correct loss_hessian and escape_direction above)
# ---------------------------------------------------------------------------------------------

_loss_hessian = loss_hessian_torch_func
_escape_direction = escape_eigh_flipped


def _direction_chunks(model, u):
    """Split the flat direction ``u`` into tensors shaped like the model's parameters."""
    params = list(model.parameters())
    u = torch.as_tensor(u, dtype=params[0].dtype)
    chunks = torch.split(u, [p.numel() for p in params])
    return params, [c.reshape(p.shape) for c, p in zip(chunks, params, strict=True)]


def escape_per_parameter_copy(model, loss_fn, X, y, step_size=0.1, tol=1e-6):
    """Moves each parameter with ``p.copy_`` under ``no_grad``, comparing the two losses with the
    model itself."""
    u = _escape_direction(_loss_hessian(model, loss_fn, X, y).numpy(), tol)
    if u is None:
        return False
    params, chunks = _direction_chunks(model, u)
    originals = [p.detach().clone() for p in params]

    def move(sign):
        with torch.no_grad():
            for p, p0, c in zip(params, originals, chunks, strict=True):
                p.copy_(p0 + sign * step_size * c)
            return float(loss_fn(model(X), y))

    loss_plus, loss_minus = move(1.0), move(-1.0)
    move(1.0 if loss_plus <= loss_minus else -1.0)
    return True


def escape_functional_losses(model, loss_fn, X, y, step_size=0.1, tol=1e-6):
    """``torch.linalg.eigh`` on the Hessian, losses of both candidates by ``functional_call``
    (model untouched), the winner written with ``vector_to_parameters``."""
    H = _loss_hessian(model, loss_fn, X, y)
    lam, vectors = torch.linalg.eigh(H)
    if lam[0] >= -tol:
        return False
    theta = torch.nn.utils.parameters_to_vector(model.parameters()).detach()
    loss = _flat_loss(model, loss_fn, X, y)
    plus, minus = theta + step_size * vectors[:, 0], theta - step_size * vectors[:, 0]
    with torch.no_grad():
        best = plus if float(loss(plus)) <= float(loss(minus)) else minus
        torch.nn.utils.vector_to_parameters(best, model.parameters())
    return True


def _write(model, theta):
    with torch.no_grad():
        torch.nn.utils.vector_to_parameters(theta, model.parameters())


def _flat(model):
    return torch.nn.utils.parameters_to_vector(model.parameters()).detach().clone()


def wrong_escape_saddle_always_plus(model, loss_fn, X, y, step_size=0.1, tol=1e-6):
    """Mistake: always moves to theta + step_size * u (u as ``np.linalg.eigh`` signs it), without
    comparing with theta - step_size * u."""
    lam, vectors = np.linalg.eigh(_loss_hessian(model, loss_fn, X, y).numpy())
    if lam[0] >= -tol:
        return False
    _write(model, _flat(model) + step_size * torch.as_tensor(vectors[:, 0]))
    return True


@breaks("lower")
def wrong_escape_saddle_keeps_higher_loss(model, loss_fn, X, y, step_size=0.1, tol=1e-6):
    """Mistake: comparison the wrong way round, keeps the candidate with the higher loss."""
    u = _escape_direction(_loss_hessian(model, loss_fn, X, y).numpy(), tol)
    if u is None:
        return False
    theta, u = _flat(model), torch.as_tensor(u)
    loss = _flat_loss(model, loss_fn, X, y)
    plus, minus = theta + step_size * u, theta - step_size * u
    with torch.no_grad():
        _write(model, plus if float(loss(plus)) >= float(loss(minus)) else minus)
    return True


def wrong_escape_saddle_scaled_by_eigenvalue(model, loss_fn, X, y, step_size=0.1, tol=1e-6):
    """Mistake: moves by step_size * lambda_min * u instead of step_size * u."""
    lam, vectors = torch.linalg.eigh(_loss_hessian(model, loss_fn, X, y))
    if lam[0] >= -tol:
        return False
    theta, d = _flat(model), step_size * lam[0] * vectors[:, 0]
    loss = _flat_loss(model, loss_fn, X, y)
    with torch.no_grad():
        _write(model, theta + d if float(loss(theta + d)) <= float(loss(theta - d)) else theta - d)
    return True


@breaks("direction")
def wrong_escape_saddle_most_positive_curvature(model, loss_fn, X, y, step_size=0.1, tol=1e-6):
    """Mistake: moves along the eigenvector of the largest eigenvalue."""
    lam, vectors = torch.linalg.eigh(_loss_hessian(model, loss_fn, X, y))
    if lam[0] >= -tol:
        return False
    theta, d = _flat(model), step_size * vectors[:, -1]
    loss = _flat_loss(model, loss_fn, X, y)
    with torch.no_grad():
        _write(model, theta + d if float(loss(theta + d)) <= float(loss(theta - d)) else theta - d)
    return True


@breaks("in_place")
def wrong_escape_saddle_not_in_place(model, loss_fn, X, y, step_size=0.1, tol=1e-6):
    """Mistake: ``p = p + step`` rebinds a local name; the model's parameters never change."""
    u = _escape_direction(_loss_hessian(model, loss_fn, X, y).numpy(), tol)
    if u is None:
        return False
    params, chunks = _direction_chunks(model, u)
    for p, c in zip(params, chunks, strict=True):
        p = p + step_size * c  # the mistake under test: rebinds the loop variable
    return True


@breaks("tol")
def wrong_escape_saddle_ignores_tol(model, loss_fn, X, y, step_size=0.1, tol=1e-6):
    """Mistake: escapes whenever the smallest eigenvalue is < 0, ignoring tol."""
    return escape_per_parameter_copy(model, loss_fn, X, y, step_size, tol=0.0)


@breaks("step")
def wrong_escape_saddle_ignores_step_size(model, loss_fn, X, y, step_size=0.1, tol=1e-6):
    """Mistake: always moves by the default 0.1, whatever ``step_size`` the caller passes."""
    return escape_per_parameter_copy(model, loss_fn, X, y, 0.1, tol)


@breaks("none")
def wrong_escape_saddle_returns_none(model, loss_fn, X, y, step_size=0.1, tol=1e-6):
    """Mistake: a bare ``return`` (None) when there is no escape direction, not False."""
    if not escape_per_parameter_copy(model, loss_fn, X, y, step_size, tol):
        return None
    return True


@breaks("returns")
def wrong_escape_saddle_returns_false_after_moving(model, loss_fn, X, y, step_size=0.1,
                                                   tol=1e-6):
    """Mistake: moves the parameters but returns False (whether the point was a minimum)."""
    escape_per_parameter_copy(model, loss_fn, X, y, step_size, tol)
    return False


# ---------------------------------------------------------------------------------------------
# The catalogue
# ---------------------------------------------------------------------------------------------

#: Correct implementations, by exercise name: the checks (visible and hidden) must accept them.
CORRECT: dict[str, list[Callable]] = {
    "numerical_gradient": [gradient_eye_offsets, gradient_in_place_restored],
    "numerical_hessian": [hessian_four_point_mirrored, hessian_three_point_diagonal,
                          hessian_gradient_differences],
    "classify_critical_point": [classify_sorted_eigvals, classify_by_counts],
    "escape_direction": [escape_eig_argmin, escape_eigh_flipped],
    "minimum_ratio": [ratio_mean_of_mask, ratio_python_count],
    "loss_hessian": [loss_hessian_torch_func, loss_hessian_autograd_blocks,
                     loss_hessian_batched_hvp],
    "find_critical_points": [find_cp_gradient_norm_stop, find_cp_collect_then_dedupe],
    "escape_saddle": [escape_per_parameter_copy, escape_functional_losses],
}

#: Implementations with one common mistake each, by exercise name: the hidden checks must
#: reject them.
WRONG: dict[str, list[Callable]] = {
    "numerical_gradient": [wrong_gradient_forward_difference, wrong_gradient_divides_by_h,
                           wrong_gradient_ignores_h, wrong_gradient_mutates_theta,
                           wrong_gradient_all_coordinates,
                           wrong_gradient_restores_by_arithmetic, wrong_gradient_float32],
    "numerical_hessian": [wrong_hessian_not_symmetrized, wrong_hessian_diagonal_only,
                          wrong_hessian_denominator, wrong_hessian_forward_difference,
                          wrong_hessian_inner_default_h, wrong_hessian_ignores_h,
                          wrong_hessian_seven_point_mixed,
                          wrong_hessian_restores_by_arithmetic, wrong_hessian_float32],
    "classify_critical_point": [wrong_classify_degenerate_first, wrong_classify_ignores_tol,
                                wrong_classify_diagonal, wrong_classify_determinant_test,
                                wrong_classify_saddle_any_negative,
                                wrong_classify_min_max_swapped, wrong_classify_short_names],
    "escape_direction": [wrong_escape_row, wrong_escape_largest_eigenvalue,
                         wrong_escape_largest_magnitude, wrong_escape_ignores_tol,
                         wrong_escape_scaled_by_eigenvalue,
                         wrong_escape_zeros_instead_of_none],
    "minimum_ratio": [wrong_ratio_nonnegative, wrong_ratio_ignores_tol, wrong_ratio_returns_count,
                      wrong_ratio_diagonal],
    "loss_hessian": [wrong_loss_hessian_block_diagonal, wrong_loss_hessian_sorted_names,
                     wrong_loss_hessian_numpy, wrong_loss_hessian_first_parameter,
                     wrong_loss_hessian_vector_to_parameters,
                     wrong_loss_hessian_perturbs_in_place,
                     wrong_loss_hessian_float32, wrong_loss_hessian_requires_grad],
    "find_critical_points": [wrong_find_cp_gradient_descent, wrong_find_cp_no_dedup,
                             wrong_find_cp_exact_dedup, wrong_find_cp_plus_step,
                             wrong_find_cp_diagonal_classification,
                             wrong_find_cp_keeps_unconverged,
                             wrong_find_cp_ignores_tol, wrong_find_cp_ignores_max_iter],
    "escape_saddle": [wrong_escape_saddle_always_plus, wrong_escape_saddle_keeps_higher_loss,
                      wrong_escape_saddle_scaled_by_eigenvalue,
                      wrong_escape_saddle_most_positive_curvature,
                      wrong_escape_saddle_not_in_place, wrong_escape_saddle_ignores_tol,
                      wrong_escape_saddle_ignores_step_size,
                      wrong_escape_saddle_returns_none,
                      wrong_escape_saddle_returns_false_after_moving],
}
