"""Checks of assignment ``a01_critical_points``: gradients, Hessians and saddle points.

Each module-level :class:`~autograder.checks.core.Exercise` is named after the student
function it checks. A notebook test cell calls ``run_visible``; its hidden block calls
``run_hidden``. Oracles use PyTorch autograd (exact derivatives) or the formula the
docstring specifies, in float64.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from autograder.checks.core import (
    Case,
    CheckFailure,
    Exercise,
    assert_close,
    require_ndarray,
)

EPS = np.finfo(np.float64).eps
KINDS = ("local minimum", "local maximum", "saddle point", "degenerate")


# ---------------------------------------------------------------------------------------------
# Test objectives: written once against an array namespace, evaluated with numpy for the
# student and with torch for exact derivatives.
# ---------------------------------------------------------------------------------------------


class Objective:
    """A smooth scalar function of a 1-D float64 vector.

    ``f(theta)`` evaluates with numpy and returns a Python float; :meth:`gradient` and
    :meth:`hessian` are exact (PyTorch autograd in float64).

    Args:
        name: Shown in failure messages.
        expr: ``expr(theta, xp, **params)`` using only operators and ``xp.sum/exp/sin/cos/tanh``.
        **params: numpy arrays or numbers passed to ``expr``.
    """

    def __init__(self, name: str, expr: Callable[..., Any], **params: Any) -> None:
        self.name = name
        self.expr = expr
        self.params = params

    def __repr__(self) -> str:
        return self.name

    def __call__(self, theta: np.ndarray) -> float:
        return float(self.expr(np.asarray(theta, dtype=np.float64), np, **self.params))

    def _torch_fn(self) -> Callable[[torch.Tensor], torch.Tensor]:
        tparams = {
            k: torch.as_tensor(v, dtype=torch.float64) if isinstance(v, np.ndarray) else v
            for k, v in self.params.items()
        }
        return lambda t: self.expr(t, torch, **tparams)

    def gradient(self, theta: np.ndarray) -> np.ndarray:
        t = torch.as_tensor(theta, dtype=torch.float64)
        return torch.func.grad(self._torch_fn())(t).numpy()

    def hessian(self, theta: np.ndarray) -> np.ndarray:
        t = torch.as_tensor(theta, dtype=torch.float64)
        return torch.func.hessian(self._torch_fn())(t).numpy()


def _quadratic(theta, xp, A, b, c=0.0):
    return 0.5 * (theta @ (A @ theta)) + b @ theta + c


def _rosenbrock(theta, xp, scale=1.0):
    return scale * xp.sum(100.0 * (theta[1:] - theta[:-1] ** 2) ** 2 + (1.0 - theta[:-1]) ** 2)


def _wavy(theta, xp, c, scale=1.0):
    return scale * (xp.exp(theta @ c) + xp.sum(xp.sin(theta) ** 2 * xp.cos(0.5 * theta))
                    + theta[0] * theta[-1] ** 2)


def _valley(theta, xp):
    """The lecture's L(w1, w2) = (1 - w1 w2)^2."""
    return (1.0 - theta[0] * theta[1]) ** 2


def _cubic_saddle(theta, xp):
    """f(x, y) = x^3 - 3x + y^2: a minimum at (1, 0), a saddle at (-1, 0)."""
    return theta[0] ** 3 - 3.0 * theta[0] + theta[1] ** 2


def _double_well(theta, xp):
    """f(x, y) = (x^2 - 1)^2 + (y^2 - 1)^2: four minima, four saddles, a maximum at 0."""
    return (theta[0] ** 2 - 1.0) ** 2 + (theta[1] ** 2 - 1.0) ** 2


def _three_d(theta, xp):
    """f = (x^2 - 1)^2 + y^2 - z^2 + 0.5 z^4: minima at x=+-1, z=+-1; saddles elsewhere."""
    return (theta[0] ** 2 - 1.0) ** 2 + theta[1] ** 2 - theta[2] ** 2 + 0.5 * theta[2] ** 4


def _rotated_wells(theta, xp, c=0.8660254037844386, s=0.5):
    """The double well rotated by 30 degrees: its Hessians are not diagonal."""
    u = c * theta[0] - s * theta[1]
    v = s * theta[0] + c * theta[1]
    return (u**2 - 1.0) ** 2 + 0.5 * (v**2 - 1.0) ** 2


def _shallow_valley(theta, xp):
    """f = (x^2 - 1)^2 + 1e-3 y^2: the curvature along y is below tol=0.01."""
    return (theta[0] ** 2 - 1.0) ** 2 + 1e-3 * theta[1] ** 2


def _soft_abs(theta, xp):
    """f = sum sqrt(1 + theta_i^2): one minimum at 0; Newton diverges from |theta_i| > 1."""
    return xp.sum(xp.sqrt(1.0 + theta**2))


def _spd(rng: np.random.Generator, eigenvalues: Sequence[float]) -> np.ndarray:
    """A symmetric matrix with the given eigenvalues and a random orthogonal basis."""
    n = len(eigenvalues)
    q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    m = (q * np.asarray(eigenvalues, dtype=np.float64)) @ q.T
    return (m + m.T) / 2


# ---------------------------------------------------------------------------------------------
# numerical_gradient
# ---------------------------------------------------------------------------------------------


_GRADIENT_EVERY = ("formula", "unchanged", "returns")


def _gradient_case(label: str, f: Objective, theta, covers: tuple[str, ...] = _GRADIENT_EVERY,
                   **kwargs) -> Case:
    return Case(label, (f, np.asarray(theta, dtype=np.float64)), kwargs, covers=covers)


def _numerical_gradient_visible() -> list[Case]:
    A = np.array([[3.0, 1.0], [1.0, 2.0]])
    return [
        _gradient_case("quadratic at (1, -2)", Objective("quadratic", _quadratic, A=A,
                       b=np.array([1.0, -1.0])), [1.0, -2.0]),
        _gradient_case("lecture loss (1 - w1 w2)^2", Objective("valley", _valley),
                       [0.5, 1.5]),
        _gradient_case("Rosenbrock in 3-D", Objective("rosenbrock", _rosenbrock),
                       [-0.5, 0.8, 1.2]),
        # x^3 has a third derivative, so the central difference at h=0.1 differs from the
        # one at the default h (the lecture loss is quadratic in each coordinate: it would not).
        _gradient_case("large step h=0.1 used as given",
                       Objective("cubic", _cubic_saddle), [0.5, 1.0], h=0.1),
    ]


def _numerical_gradient_hidden(rng: np.random.Generator) -> list[Case]:
    cases = []
    for n, scale in [(4, 1.0), (6, 1e6), (5, 1e-6)]:
        c = rng.normal(0.0, 0.3, n)
        theta = rng.normal(0.0, 1.0, n)
        f = Objective(f"wavy (scale {scale:g})", _wavy, c=c, scale=scale)
        cases.append(_gradient_case(f"wavy, n={n}, scale {scale:g}", f, theta))
    f = Objective("wavy", _wavy, c=rng.normal(0.0, 0.3, 3))
    cases.append(_gradient_case("wavy with h=1e-3", f, rng.normal(0.0, 1.0, 3),
                                covers=(*_GRADIENT_EVERY, "h"), h=1e-3))
    cases.append(_gradient_case("Rosenbrock, huge theta", Objective("rosenbrock", _rosenbrock),
                                rng.normal(0.0, 1.0, 3) * 1e3, covers=(*_GRADIENT_EVERY, "h"),
                                h=1e-2))
    cases.append(_gradient_case("one variable", Objective("valley-1d", lambda t, xp: xp.sum(
        xp.tanh(t) * t ** 3)), [0.7]))
    return cases


def _gradient_step(case: Case) -> float:
    return float(case.kwargs.get("h", 1e-5))


def _numerical_gradient_oracle(case: Case) -> np.ndarray:
    f, theta = case.args
    h = _gradient_step(case)
    grad = np.empty_like(theta)
    for i in range(theta.size):
        step = np.zeros_like(theta)
        step[i] = h
        grad[i] = (f(theta + step) - f(theta - step)) / (2 * h)
    return grad


def _numerical_gradient_compare(got: Any, expected: np.ndarray, case: Case) -> None:
    f, theta = case.args
    h = _gradient_step(case)
    got = require_ndarray(got, theta.shape, "gradient")
    if got.dtype != np.float64:
        raise CheckFailure(f"the gradient must be float64, got {got.dtype}")
    fmax = max(abs(f(theta + s * h * e)) for e in np.eye(theta.size) for s in (1, -1))
    assert_close(got, expected, atol=64 * EPS * fmax / h, rtol=1e-8)


numerical_gradient = Exercise(
    name="numerical_gradient",
    visible=_numerical_gradient_visible,
    hidden=_numerical_gradient_hidden,
    oracle=_numerical_gradient_oracle,
    compare=_numerical_gradient_compare,
    forbidden=("torch.func", "torch._functorch", "torch.autograd", "jax", "scipy.differentiate",
               "numdifftools"),
    clauses={
        "formula": "g[i] = (f(theta + h e_i) - f(theta - h e_i)) / (2 h)",
        "unchanged": "Must be left unchanged.",
        "h": "h (float): step size.",
        "returns": "the gradient, shape (n,), float64",
    },
)


# ---------------------------------------------------------------------------------------------
# numerical_hessian
# ---------------------------------------------------------------------------------------------


def _numerical_hessian_visible() -> list[Case]:
    A = np.array([[4.0, 1.0, 0.0], [1.0, 3.0, -1.0], [0.0, -1.0, 2.0]])
    return [
        Case("quadratic in 3-D", (Objective("quadratic", _quadratic, A=A, b=np.ones(3)),
                                  np.array([0.5, -1.0, 2.0]))),
        Case("lecture loss at the origin (a saddle)", (Objective("valley", _valley),
                                                        np.zeros(2))),
        Case("Rosenbrock at (-1, 1)", (Objective("rosenbrock", _rosenbrock),
                                       np.array([-1.0, 1.0]))),
        Case("large step h=0.2 used as given",
             (Objective("valley", _valley), np.array([1.5, -0.5])), {"h": 0.2},
             data={"formula": True}),
    ]


_HESSIAN_EVERY = ("formula", "symmetric", "unchanged", "returns")


def _numerical_hessian_hidden(rng: np.random.Generator) -> list[Case]:
    cases = []
    for n, scale in [(3, 1.0), (4, 1e6), (3, 1e-6)]:
        f = Objective(f"wavy (scale {scale:g})", _wavy, c=rng.normal(0.0, 0.3, n), scale=scale)
        cases.append(Case(f"wavy, n={n}, scale {scale:g}", (f, rng.normal(0.0, 1.0, n)),
                          covers=_HESSIAN_EVERY))
    f = Objective("wavy", _wavy, c=rng.normal(0.0, 0.3, 4))
    cases.append(Case("wavy with h=1e-3", (f, rng.normal(0.0, 1.0, 4)), {"h": 1e-3},
                      covers=(*_HESSIAN_EVERY, "h")))
    cases.append(Case("three-variable saddle", (Objective("three_d", _three_d),
                                                rng.normal(0.0, 1.0, 3)),
                      covers=_HESSIAN_EVERY))
    # A point where differences of the gradient come out asymmetric by rounding, so a missing
    # (H + H.T) / 2 shows whatever the seed.
    cases.append(Case("lecture loss where rounding is asymmetric",
                      (Objective("valley", _valley), np.array([-0.80193143, -1.324359])),
                      covers=_HESSIAN_EVERY))
    f = Objective("wavy", _wavy, c=rng.normal(0.0, 0.5, 3))
    cases.append(Case("wavy with a large step h=0.1", (f, rng.normal(0.0, 1.0, 3)), {"h": 0.1},
                      data={"formula": True}, covers=(*_HESSIAN_EVERY, "h")))
    cases.append(Case("Rosenbrock with h=0.05", (Objective("rosenbrock", _rosenbrock),
                                                 rng.normal(0.0, 1.0, 3)), {"h": 0.05},
                      data={"formula": True}, covers=(*_HESSIAN_EVERY, "h")))
    return cases


def _hessian_step(case: Case) -> float:
    return float(case.kwargs.get("h", 1e-4))


def _reference_hessian(f: Objective, theta: np.ndarray, h: float) -> np.ndarray:
    """Four-point central differences, symmetrized."""
    n = theta.size
    eye = np.eye(n) * h
    H = np.empty((n, n))
    for i in range(n):
        for j in range(n):
            H[i, j] = (f(theta + eye[i] + eye[j]) - f(theta + eye[i] - eye[j])
                       - f(theta - eye[i] + eye[j]) + f(theta - eye[i] - eye[j])) / (4 * h * h)
    return (H + H.T) / 2


def _three_point_diagonal(f: Objective, theta: np.ndarray, h: float) -> np.ndarray:
    """(f(theta + h e_i) - 2 f(theta) + f(theta - h e_i)) / h^2 for every i."""
    eye = np.eye(theta.size) * h
    return np.array([(f(theta + e) - 2 * f(theta) + f(theta - e)) / h**2 for e in eye])


def _numerical_hessian_oracle(case: Case) -> dict[str, np.ndarray]:
    f, theta = case.args
    h = _hessian_step(case)
    return {"exact": f.hessian(theta), "reference": _reference_hessian(f, theta, h),
            "diagonal_3pt": _three_point_diagonal(f, theta, h)}


def _numerical_hessian_compare(got: Any, expected: dict[str, np.ndarray], case: Case) -> None:
    f, theta = case.args
    h = _hessian_step(case)
    n = theta.size
    got = require_ndarray(got, (n, n), "Hessian")
    if got.dtype != np.float64:
        raise CheckFailure(f"the Hessian must be float64, got {got.dtype}")
    if not np.array_equal(got, got.T):
        raise CheckFailure("the Hessian must be exactly symmetric: return (H + H.T) / 2")
    exact, reference = expected["exact"], expected["reference"]
    fmax = max(abs(f(theta + s * h * e)) for e in np.eye(n) for s in (1, -1)) + abs(f(theta))
    if case.data.get("formula"):
        # A step this large makes the schemes differ from the exact Hessian, so the result
        # must be the central-difference formula itself at this h: the four-point formula
        # off the diagonal, and either the four-point or the three-point one on it.
        atol = 1e4 * EPS * fmax / h**2
        allowed = reference.copy()
        diag = np.diag(got)
        use_3pt = np.abs(diag - expected["diagonal_3pt"]) < np.abs(diag - np.diag(reference))
        allowed[np.diag_indices(n)] = np.where(use_3pt, expected["diagonal_3pt"],
                                               np.diag(reference))
        assert_close(got, allowed, atol=atol, rtol=1e-9)
        return
    truncation = float(np.max(np.abs(reference - exact)))
    atol = 10 * truncation + 1e3 * EPS * fmax / h**2 + 1e-10 * float(np.max(np.abs(exact)))
    assert_close(got, exact, atol=atol)


numerical_hessian = Exercise(
    name="numerical_hessian",
    visible=_numerical_hessian_visible,
    hidden=_numerical_hessian_hidden,
    oracle=_numerical_hessian_oracle,
    compare=_numerical_hessian_compare,
    forbidden=("torch.func", "torch._functorch", "torch.autograd", "jax", "scipy.differentiate",
               "numdifftools"),
    clauses={
        "formula": "H[i, j] = (f(theta + h e_i + h e_j) - f(theta + h e_i - h e_j) "
                   "- f(theta - h e_i + h e_j) + f(theta - h e_i - h e_j)) / (4 h^2)",
        "symmetric": "Return (H + H.T) / 2, which is exactly symmetric.",
        "unchanged": "Must be left unchanged.",
        "h": "h (float): step size.",
        "returns": "the Hessian, shape (n, n), float64, symmetric",
    },
)


# ---------------------------------------------------------------------------------------------
# classify_critical_point, escape_direction, minimum_ratio: functions of a symmetric matrix
# ---------------------------------------------------------------------------------------------


def _eigvalsh(H: np.ndarray) -> np.ndarray:
    return torch.linalg.eigvalsh(torch.as_tensor(H, dtype=torch.float64)).numpy()


def _matrix_case(label: str, H: np.ndarray, tol: float | None = None,
                 covers: tuple[str, ...] = ()) -> Case:
    kwargs = {} if tol is None else {"tol": tol}
    return Case(label, (np.asarray(H, dtype=np.float64),), kwargs, covers=covers)


def _tol(case: Case) -> float:
    return float(case.kwargs.get("tol", 1e-6))


def _spectrum_visible() -> list[Case]:
    return [
        _matrix_case("diag(2, 3)", np.diag([2.0, 3.0])),
        _matrix_case("diag(-1, -4)", np.diag([-1.0, -4.0])),
        _matrix_case("[[0, -2], [-2, 0]]", np.array([[0.0, -2.0], [-2.0, 0.0]])),
        _matrix_case("[[2, 2], [2, 2]] (eigenvalue 0)",
                     np.array([[2.0, 2.0], [2.0, 2.0]])),
        # |-1e-3| <= tol: that eigenvalue counts as zero.
        _matrix_case("diag(-1e-3, 2), tol=0.01", np.diag([-1e-3, 2.0]), tol=0.01),
        # Both signs decide before a zero eigenvalue does.
        _matrix_case("diag(-1, 0, 2): a zero eigenvalue, yet a saddle",
                     np.diag([-1.0, 0.0, 2.0])),
    ]


def _spectrum_hidden(rng: np.random.Generator) -> list[Case]:
    designs = [
        ("3-D minimum", [0.5, 2.0, 7.0], None),
        ("4-D maximum", [-0.3, -1.0, -2.0, -9.0], None),
        ("saddle with one negative direction", [-0.7, 1.0, 3.0, 4.0, 5.0], None),
        ("saddle with a zero eigenvalue too", [-2.0, 0.0, 1.5], None),
        ("positive diagonal but indefinite", None, None),
        ("eigenvalues below tol count as zero", [1e-8, 2.0, 3.0], None),
        ("negative but within tol", [-1e-7, 1.0, 2.0], None),
        ("huge magnitudes", [-3e6, 1e5, 2e7], None),
        ("tiny magnitudes, tiny tol", [-4e-9, 2e-9, 5e-9], 1e-12),
        ("tiny magnitudes, default tol", [-4e-9, 2e-9, 5e-9], None),
        ("minimum with larger tol", [0.05, 0.2, 3.0], 0.1),
        ("all zero", [0.0, 0.0, 0.0], None),
        ("1x1 negative", [-5.0], None),
    ]
    cases = []
    for label, eigenvalues, tol in designs:
        if eigenvalues is None:
            H = np.array([[1.0, 2.0, 0.0], [2.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
        else:
            H = _spd(rng, eigenvalues)
        cases.append(_matrix_case(label, H, tol))
    # Eigenvalues exactly at -tol and +tol (a diagonal matrix's eigenvalues are exact): both
    # count as zero.
    cases.append(_matrix_case("eigenvalues exactly at -tol and +tol", np.diag([-0.5, 0.5, 2.0]),
                              0.5))
    return cases


_CLASSIFY_EVERY = ("eigenvalues", "saddle", "degenerate", "min_max", "tol", "returns")
_RATIO_EVERY = ("eigenvalues", "tol", "fraction")


def _classify_hidden(rng: np.random.Generator) -> list[Case]:
    return [dataclasses.replace(case, covers=_CLASSIFY_EVERY) for case in _spectrum_hidden(rng)]


def _ratio_hidden(rng: np.random.Generator) -> list[Case]:
    return [dataclasses.replace(case, covers=_RATIO_EVERY) for case in _spectrum_hidden(rng)]


def _classify_oracle(case: Case) -> str:
    (H,) = case.args
    tol = _tol(case)
    eigenvalues = _eigvalsh(H)
    if np.any(eigenvalues > tol) and np.any(eigenvalues < -tol):
        return "saddle point"
    if np.any(np.abs(eigenvalues) <= tol):
        return "degenerate"
    return "local minimum" if np.all(eigenvalues > tol) else "local maximum"


def _classify_compare(got: Any, expected: str, case: Case) -> None:
    if not isinstance(got, str):
        raise CheckFailure(f"expected a string such as {expected!r}, got {type(got).__name__}")
    if got != expected:
        hint = "" if got in KINDS else f" (valid answers: {', '.join(map(repr, KINDS))})"
        eig = np.array2string(_eigvalsh(case.args[0]), precision=4)
        raise CheckFailure(f"eigenvalues {eig}, tol={_tol(case):g}: expected {expected!r}, "
                           f"got {got!r}{hint}")


classify_critical_point = Exercise(
    name="classify_critical_point",
    visible=_spectrum_visible,
    hidden=_classify_hidden,
    oracle=_classify_oracle,
    compare=_classify_compare,
    clauses={
        "eigenvalues": "Classify a critical point from its Hessian's eigenvalues.",
        "saddle": '"saddle point" if some lambda > tol and some lambda < -tol',
        "degenerate": 'otherwise "degenerate" if some |lambda| <= tol',
        "min_max": 'otherwise "local minimum" (all lambda > tol) or "local maximum" '
                   '(all lambda < -tol)',
        "tol": "eigenvalues with |lambda| <= tol count as zero",
        "returns": 'one of "local minimum", "local maximum", "saddle point", "degenerate"',
    },
)


def _escape_visible() -> list[Case]:
    return [
        _matrix_case("lecture saddle [[0, -2], [-2, 0]]", np.array([[0.0, -2.0], [-2.0, 0.0]])),
        _matrix_case("diag(3, -1, 2)", np.diag([3.0, -1.0, 2.0])),
        _matrix_case("minimum diag(2, 3): no escape", np.diag([2.0, 3.0])),
    ]


def _escape_hidden(rng: np.random.Generator) -> list[Case]:
    designs = [
        ("two negative directions", [-3.0, -1.0, 2.0, 5.0], None),
        ("most negative is not the largest in magnitude", [-1.0, 0.5, 8.0], None),
        ("maximum", [-2.0, -1.0, -0.5], None),
        ("degenerate valley", [0.0, 2.0, 4.0], None),
        ("negative but within tol", [-1e-8, 1.0, 2.0], None),
        ("huge magnitudes", [-2e6, 1e6, 3e7], None),
        ("tiny magnitudes, tiny tol", [-3e-9, 1e-9, 4e-9], 1e-12),
        ("larger tol", [-0.05, 1.0, 2.0], 0.1),
        ("6-D saddle", [-0.4, 0.3, 1.0, 2.0, 3.0, 4.0], None),
    ]
    cases = [_matrix_case(label, _spd(rng, eig), tol, _escape_covers(eig, tol))
             for label, eig, tol in designs]
    # The smallest eigenvalue exactly -tol (a diagonal matrix's eigenvalues are exact): None.
    cases.append(_matrix_case("smallest eigenvalue exactly -tol", np.diag([-0.5, 1.0, 2.0]), 0.5,
                              ("tol", "none")))
    return cases


def _escape_covers(eigenvalues: Sequence[float], tol: float | None) -> tuple[str, ...]:
    if min(eigenvalues) >= -(1e-6 if tol is None else tol):
        return ("tol", "none")
    return ("smallest", "eigenvector", "unit", "tol")


def _escape_oracle(case: Case) -> tuple[float, np.ndarray] | None:
    (H,) = case.args
    eigenvalues, vectors = torch.linalg.eigh(torch.as_tensor(H, dtype=torch.float64))
    if eigenvalues[0] >= -_tol(case):
        return None
    return float(eigenvalues[0]), vectors[:, 0].numpy()


def _escape_compare(got: Any, expected: tuple[float, np.ndarray] | None, case: Case) -> None:
    (H,) = case.args
    if expected is None:
        if got is not None:
            raise CheckFailure("no eigenvalue is below -tol, so expected None, got "
                               f"{type(got).__name__}")
        return
    lam, _ = expected
    u = require_ndarray(got, (H.shape[0],), "escape direction")
    norm = float(np.linalg.norm(u))
    if not np.isfinite(norm) or abs(norm - 1.0) > 1e-8:
        raise CheckFailure(f"the direction must have unit norm, got norm {norm:.6g}")
    scale = float(np.max(np.abs(_eigvalsh(H))))
    residual = float(np.linalg.norm(H @ u - lam * u))
    if residual > 1e-8 * scale:
        rayleigh = float(u @ H @ u)
        raise CheckFailure(f"expected an eigenvector of the smallest eigenvalue {lam:.6g}, but "
                           f"u^T H u = {rayleigh:.6g} and |H u - lambda u| = {residual:.3g}")


escape_direction = Exercise(
    name="escape_direction",
    visible=_escape_visible,
    hidden=_escape_hidden,
    oracle=_escape_oracle,
    compare=_escape_compare,
    clauses={
        "smallest": "Unit eigenvector of the smallest eigenvalue of H",
        "tol": "the smallest eigenvalue counts as negative only if it is < -tol",
        "unit": "shape (n,), norm 1",
        "eigenvector": "an eigenvector of the smallest eigenvalue",
        "none": "None if the smallest eigenvalue is >= -tol",
    },
)


def _ratio_oracle(case: Case) -> float:
    (H,) = case.args
    eigenvalues = _eigvalsh(H)
    return float(np.count_nonzero(eigenvalues > _tol(case)) / eigenvalues.size)


def _ratio_compare(got: Any, expected: float, case: Case) -> None:
    if isinstance(got, bool) or not isinstance(got, (float, int, np.floating, np.integer)):
        raise CheckFailure(f"expected a number, got {type(got).__name__}")
    if abs(float(got) - expected) > 1e-12:
        eig = np.array2string(_eigvalsh(case.args[0]), precision=4)
        raise CheckFailure(f"eigenvalues {eig}, tol={_tol(case):g}: expected {expected:.6g}, "
                           f"got {float(got):.6g}")


minimum_ratio = Exercise(
    name="minimum_ratio",
    visible=_spectrum_visible,
    hidden=_ratio_hidden,
    oracle=_ratio_oracle,
    compare=_ratio_compare,
    clauses={
        "eigenvalues": "Fraction of the eigenvalues of the symmetric matrix H that are > tol.",
        "tol": "eigenvalues <= tol (including zeros) do not count as positive",
        "fraction": "(number of eigenvalues > tol) / n",
    },
)


# ---------------------------------------------------------------------------------------------
# find_critical_points
# ---------------------------------------------------------------------------------------------


def _cp_case(label: str, f: Objective, points: list[tuple[list[float], str]],
             rng: np.random.Generator, spread: float, extra_starts: int = 0,
             covers: tuple[str, ...] = ("newton", "dedup", "classify"), **kwargs) -> Case:
    starts = [np.asarray(p, dtype=np.float64) + rng.uniform(-spread, spread, len(p))
              for p, _ in points for _ in range(2)]
    starts += [np.asarray(p, dtype=np.float64) for p, _ in points[:1]]
    order = rng.permutation(len(starts))
    starts = [starts[i] for i in order]
    return Case(label, (f, starts), kwargs, data={"points": points}, covers=covers)


def _find_cp_visible() -> list[Case]:
    rng = np.random.default_rng(0)
    cubic = Objective("cubic", _cubic_saddle)
    return [
        _cp_case("5 starts, 2 points: each listed once", cubic,
                 [([1.0, 0.0], "local minimum"), ([-1.0, 0.0], "saddle point")], rng, 0.3),
        # At the origin numerical_hessian is [[0, 0], [0, 2]] exactly: np.linalg.solve fails.
        Case("singular Hessian at (0, 0): skipped",
             (cubic, [np.array([0.0, 0.0]), np.array([-1.3, 0.4])]),
             data={"points": [([-1.0, 0.0], "saddle point")]}),
        # Newton needs about 6 steps from (-5, 1) to reach the saddle: with max_iter=3 that
        # start is skipped (without the limit it would add the saddle).
        Case("max_iter=3: far start skipped",
             (cubic, [np.array([1.0, 0.0]), np.array([-5.0, 1.0])]), {"max_iter": 3},
             data={"points": [([1.0, 0.0], "local minimum")]}),
    ]


def _find_cp_hidden(rng: np.random.Generator) -> list[Case]:
    wells = [([sx, sy], "local minimum") for sx in (-1.0, 1.0) for sy in (-1.0, 1.0)]
    wells += [([0.0, s], "saddle point") for s in (-1.0, 1.0)]
    wells += [([s, 0.0], "saddle point") for s in (-1.0, 1.0)]
    wells += [([0.0, 0.0], "local maximum")]
    three = [([x, 0.0, z], "local minimum") for x in (-1.0, 1.0) for z in (-1.0, 1.0)]
    three += [([0.0, 0.0, z], "saddle point") for z in (-1.0, 1.0)]
    three += [([x, 0.0, 0.0], "saddle point") for x in (-1.0, 1.0)]
    three += [([0.0, 0.0, 0.0], "saddle point")]
    c, s = np.cos(np.pi / 6), np.sin(np.pi / 6)
    rotated = [([c * p[0] + s * p[1], -s * p[0] + c * p[1]], kind) for p, kind in wells]
    diverging = [np.array([1.5, 0.2]), np.array([0.1, -2.0]), np.array([0.3, 0.25]),
                 np.array([-0.2, 0.1])]
    return [
        _cp_case("double well (x^2-1)^2 + (y^2-1)^2", Objective("wells", _double_well),
                 wells, rng, 0.12),
        _cp_case("rotated double well (Hessians not diagonal)",
                 Objective("rotated_wells", _rotated_wells), rotated, rng, 0.1),
        Case("sum sqrt(1 + theta^2): Newton diverges from two of the starts",
             (Objective("soft_abs", _soft_abs), diverging), {"max_iter": 30},
             data={"points": [([0.0, 0.0], "local minimum")]},
             covers=("newton", "skip", "dedup", "classify")),
        _cp_case("3-D (x^2-1)^2 + y^2 - z^2 + z^4/2", Objective("three_d", _three_d),
                 three, rng, 0.1),
        # Eigenvalues -4 and 8 along x, 2e-3 along y: with tol=0.01 every point is degenerate.
        _cp_case("(x^2-1)^2 + 1e-3 y^2 with tol=0.01", Objective("shallow", _shallow_valley),
                 [([x, 0.0], "degenerate") for x in (-1.0, 0.0, 1.0)], rng, 0.1,
                 covers=("newton", "dedup", "classify", "tol"), tol=0.01),
        # One start on a minimum (converges at once), one far from the other minimum: Newton
        # needs more than max_iter=3 steps from there, so that start is skipped.
        Case("double well, max_iter=3: the far start is skipped",
             (Objective("wells", _double_well), [np.array([1.0, 1.0]), np.array([-0.6, -1.7])]),
             {"max_iter": 3}, data={"points": [([1.0, 1.0], "local minimum")]},
             covers=("newton", "skip", "max_iter")),
    ]


def _find_cp_oracle(case: Case) -> list[tuple[np.ndarray, str]]:
    return [(np.asarray(p, dtype=np.float64), kind) for p, kind in case.data["points"]]


def _find_cp_compare(got: Any, expected: list[tuple[np.ndarray, str]], case: Case) -> None:
    f = case.args[0]
    if not isinstance(got, (list, tuple)):
        raise CheckFailure(f"expected a list of (point, kind) pairs, got {type(got).__name__}")
    found = []
    for item in got:
        if not isinstance(item, (list, tuple)) or len(item) != 2:
            raise CheckFailure(f"each entry must be a (point, kind) pair, got {item!r}")
        point, kind = item
        found.append((np.asarray(point, dtype=np.float64).ravel(), kind))
    for point, kind in found:
        matches = [k for p, k in expected if np.linalg.norm(p - point) < 1e-5]
        if not matches:
            if point.shape != expected[0][0].shape:
                raise CheckFailure(f"{np.round(point, 6)} has shape {point.shape}, expected "
                                   f"points of shape {expected[0][0].shape}")
            grad = float(np.linalg.norm(f.gradient(point)))
            if grad <= 1e-6:
                raise CheckFailure(
                    f"{np.round(point, 6)} is a critical point, but no start should give it: "
                    "a start that has not converged after max_iter steps, or that meets a "
                    "singular Hessian (np.linalg.solve raises LinAlgError), is skipped")
            raise CheckFailure(f"{np.round(point, 6)} is not a critical point (gradient norm "
                               f"{grad:.3g})")
        if kind != matches[0]:
            raise CheckFailure(f"{np.round(point, 6)} is a {matches[0]}, got {kind!r}")
    for point, kind in expected:
        hits = sum(np.linalg.norm(p - point) < 1e-5 for p, _ in found)
        if hits == 0:
            raise CheckFailure(f"missed the {kind} at {point}")
        if hits > 1:
            raise CheckFailure(f"the {kind} at {point} appears {hits} times; list each once")


find_critical_points = Exercise(
    name="find_critical_points",
    visible=_find_cp_visible,
    hidden=_find_cp_hidden,
    oracle=_find_cp_oracle,
    compare=_find_cp_compare,
    clauses={
        "newton": "repeat theta <- theta - step with step the solution of "
                  "numerical_hessian(f, theta) step = numerical_gradient(f, theta)",
        "skip": "A start that has not converged after max_iter steps, or meets a singular "
                "Hessian, is skipped.",
        "dedup": "A point closer than 1e-4 to one already found is the same point",
        "classify": "Each point is classified by classify_critical_point(numerical_hessian(f, "
                    "point), tol).",
        "tol": "tol (float): passed to classify_critical_point.",
        "max_iter": "max_iter (int): Newton steps allowed per start.",
    },
)


# ---------------------------------------------------------------------------------------------
# loss_hessian and escape_saddle: PyTorch models
# ---------------------------------------------------------------------------------------------


class ReversedLayers(nn.Module):
    """A two-layer tanh network whose parameters are registered output layer first.

    ``parameters()`` yields ``out_weight, out_bias, hidden_weight, hidden_bias``: an
    implementation that sorts or guesses the order gets the blocks of the Hessian wrong.
    """

    def __init__(self, n_in: int, n_hidden: int, n_out: int) -> None:
        super().__init__()
        self.out_weight = nn.Parameter(torch.randn(n_out, n_hidden, dtype=torch.float64))
        self.out_bias = nn.Parameter(torch.randn(n_out, dtype=torch.float64))
        self.hidden_weight = nn.Parameter(torch.randn(n_hidden, n_in, dtype=torch.float64))
        self.hidden_bias = nn.Parameter(torch.randn(n_hidden, dtype=torch.float64))

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        hidden = torch.tanh(X @ self.hidden_weight.T + self.hidden_bias)
        return hidden @ self.out_weight.T + self.out_bias


def _mlp(n_in: int, n_hidden: int, n_out: int, bias: bool = True) -> nn.Module:
    return nn.Sequential(nn.Linear(n_in, n_hidden, bias=bias), nn.Tanh(),
                         nn.Linear(n_hidden, n_out, bias=bias)).double()


def _model_case(label: str, seed: int, build: Callable[[], nn.Module], loss_fn: nn.Module,
                X: np.ndarray, y: np.ndarray, **kwargs) -> Case:
    torch.manual_seed(seed)
    model = build()
    Xt = torch.as_tensor(X, dtype=torch.float64)
    yt = torch.as_tensor(y) if y.dtype.kind == "i" else torch.as_tensor(y, dtype=torch.float64)
    return Case(label, (model, loss_fn, Xt, yt), kwargs)


def _loss_hessian_visible() -> list[Case]:
    rng = np.random.default_rng(1)
    X = rng.normal(size=(8, 2))
    return [
        _model_case("linear regression Linear(2, 1), MSE", 0,
                    lambda: nn.Linear(2, 1).double(), nn.MSELoss(), X, rng.normal(size=(8, 1))),
        _model_case("MLP 2-3-1 with tanh, MSE", 1, lambda: _mlp(2, 3, 1), nn.MSELoss(),
                    X, rng.normal(size=(8, 1))),
        _float32_case(),
    ]


def _float32_case() -> Case:
    """A float32 linear regression whose Hessian (2/N) [X 1]^T [X 1] is exact in float32.

    Small integer inputs and N = 4 make every entry exactly representable, so any correct way
    of computing it agrees bit for bit with the oracle, in the parameters' dtype.
    """
    torch.manual_seed(0)
    model = nn.Linear(2, 1)
    X = torch.tensor([[1.0, 2.0], [0.0, 1.0], [-1.0, 0.0], [2.0, -1.0]])
    y = torch.tensor([[1.0], [0.0], [2.0], [-1.0]])
    return Case("float32 model: H in float32",
                (model, nn.MSELoss(), X, y))


_LOSS_HESSIAN_EVERY = ("order", "cross", "unchanged", "returns", "dtype", "detached")


def _loss_hessian_hidden(rng: np.random.Generator) -> list[Case]:
    return [dataclasses.replace(case, covers=_LOSS_HESSIAN_EVERY)
            for case in _loss_hessian_cases(rng)]


def _loss_hessian_cases(rng: np.random.Generator) -> list[Case]:
    X = rng.normal(size=(12, 3))
    return [
        _model_case("MLP 3-4-3, cross-entropy", 2, lambda: _mlp(3, 4, 3),
                    nn.CrossEntropyLoss(), X, rng.integers(0, 3, 12)),
        _model_case("parameters registered output layer first", 3,
                    lambda: ReversedLayers(3, 3, 2), nn.MSELoss(), X, rng.normal(size=(12, 2))),
        _model_case("no biases", 4, lambda: _mlp(3, 3, 2, bias=False), nn.MSELoss(), X,
                    rng.normal(size=(12, 2))),
        _model_case("huge inputs", 5, lambda: _mlp(3, 2, 1), nn.MSELoss(), X * 1e3,
                    rng.normal(size=(12, 1)) * 1e3),
        _model_case("tiny inputs", 6, lambda: _mlp(3, 2, 1), nn.MSELoss(), X * 1e-4,
                    rng.normal(size=(12, 1)) * 1e-4),
    ]


def _flat_params(model: nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().reshape(-1) for p in model.parameters()]).clone()


def _loss_at(model: nn.Module, loss_fn: nn.Module, X: torch.Tensor, y: torch.Tensor,
             flat: torch.Tensor) -> torch.Tensor:
    """The loss with the model's parameters replaced by ``flat`` (functionally)."""
    names = [name for name, _ in model.named_parameters()]
    shapes = [p.shape for p in model.parameters()]
    chunks = torch.split(flat, [int(np.prod(s)) for s in shapes])
    params = {n: c.reshape(s) for n, c, s in zip(names, chunks, shapes, strict=True)}
    return loss_fn(torch.func.functional_call(model, params, (X,)), y)


def _exact_loss_hessian(model, loss_fn, X, y) -> torch.Tensor:
    flat = _flat_params(model)
    return torch.func.hessian(lambda p: _loss_at(model, loss_fn, X, y, p))(flat).detach()


def _call_with_model(impl: Callable, case: Case) -> dict[str, Any]:
    model, loss_fn, X, y = copy.deepcopy(case.args)
    before = _flat_params(model)
    returned = impl(model, loss_fn, X, y, **case.kwargs)
    after = _flat_params(model)
    return {"returned": returned, "before": before, "after": after}


def _loss_hessian_call(impl: Callable, case: Case) -> dict[str, Any]:
    result = _call_with_model(impl, case)
    if not torch.equal(result["before"], result["after"]):
        raise CheckFailure(f"loss_hessian changed the model's parameters (case: {case.label})")
    return result


def _loss_hessian_oracle(case: Case) -> torch.Tensor:
    return _exact_loss_hessian(*case.args)


def _loss_hessian_compare(got: dict[str, Any], expected: torch.Tensor, case: Case) -> None:
    H = got["returned"]
    P = expected.shape[0]
    if not isinstance(H, torch.Tensor):
        raise CheckFailure(f"expected a torch.Tensor, got {type(H).__name__}")
    if tuple(H.shape) != (P, P):
        raise CheckFailure(f"expected shape ({P}, {P}) (P = number of parameters), "
                           f"got {tuple(H.shape)}")
    if H.dtype != expected.dtype:
        raise CheckFailure(f"expected the parameters' dtype {expected.dtype}, got {H.dtype}")
    if H.requires_grad or H.grad_fn is not None:
        raise CheckFailure("the Hessian must be detached (no autograd graph): return H.detach()")
    scale = float(expected.abs().max())
    assert_close(H.detach().to(torch.float64).cpu().numpy(), expected.numpy(),
                 atol=1e-9 * scale + 1e-300, rtol=1e-7)


loss_hessian = Exercise(
    name="loss_hessian",
    visible=_loss_hessian_visible,
    hidden=_loss_hessian_hidden,
    oracle=_loss_hessian_oracle,
    compare=_loss_hessian_compare,
    call=_loss_hessian_call,
    clauses={
        "order": "theta is the concatenation of every tensor of model.parameters(), each "
                 "flattened with .reshape(-1), in that order",
        "cross": "including the entries between different parameter tensors",
        "unchanged": "its parameters must be unchanged afterwards",
        "returns": "torch.Tensor: shape (P, P)",
        "dtype": "the parameters' dtype",
        "detached": "detached (no autograd graph)",
    },
)


def _two_weight_net(w1: float, w2: float) -> nn.Module:
    model = nn.Sequential(nn.Linear(1, 1, bias=False), nn.Linear(1, 1, bias=False)).double()
    with torch.no_grad():
        model[0].weight.fill_(w1)
        model[1].weight.fill_(w2)
    return model


def _zeroed(build: Callable[[], nn.Module]) -> Callable[[], nn.Module]:
    def make() -> nn.Module:
        model = build()
        with torch.no_grad():
            for p in model.parameters():
                p.zero_()
        return model
    return make


def _least_squares_model(X: np.ndarray, y: np.ndarray) -> Callable[[], nn.Module]:
    def make() -> nn.Module:
        model = nn.Linear(X.shape[1], 1).double()
        A = np.hstack([X, np.ones((len(X), 1))])
        coef, *_ = np.linalg.lstsq(A, y, rcond=None)
        with torch.no_grad():
            model.weight.copy_(torch.as_tensor(coef[:-1].T))
            model.bias.copy_(torch.as_tensor(coef[-1]))
        return model
    return make


def _sigmoid_saddle(n_in: int, hidden_biases: list[float], y: np.ndarray
                    ) -> Callable[[], nn.Module]:
    """A sigmoid network at a saddle: zero weights, output bias at the mean target.

    The hidden biases differ from each other and from zero, so the loss is not symmetric
    along the escape direction: only comparing both signs finds the better one.
    """
    def make() -> nn.Module:
        model = nn.Sequential(nn.Linear(n_in, len(hidden_biases)), nn.Sigmoid(),
                              nn.Linear(len(hidden_biases), y.shape[1])).double()
        with torch.no_grad():
            model[0].weight.zero_()
            model[0].bias.copy_(torch.tensor(hidden_biases, dtype=torch.float64))
            model[2].weight.zero_()
            model[2].bias.copy_(torch.as_tensor(y.mean(axis=0)))
        return model
    return make


def _escape_saddle_visible() -> list[Case]:
    one = np.ones((1, 1))
    return [
        _model_case("lecture network at the origin (a saddle)", 0,
                    lambda: _two_weight_net(0.0, 0.0), nn.MSELoss(), one, one),
        _model_case("on the valley w1 w2 = 1: no escape", 0,
                    lambda: _two_weight_net(1.0, 1.0), nn.MSELoss(), one, one),
        _model_case("sigmoid 2-1-1 at a saddle, step_size 0.5", 0,
                    _sigmoid_saddle(2, [1.0], _SIGMOID_Y), nn.MSELoss(), _SIGMOID_X, _SIGMOID_Y,
                    step_size=0.5),
    ]


_SIGMOID_X = np.random.default_rng(3).normal(size=(10, 2))
_SIGMOID_Y = _SIGMOID_X @ np.array([[1.5], [-1.0]]) + 0.5


def _escape_saddle_hidden(rng: np.random.Generator) -> list[Case]:
    moves = ("in_place", "direction", "lower", "step", "tol", "returns")
    stays = ("none", "tol", "returns")
    return [dataclasses.replace(case, covers=stays if "minimum" in case.label
                                or "larger tol" in case.label else moves)
            for case in _escape_saddle_cases(rng)]


def _escape_saddle_cases(rng: np.random.Generator) -> list[Case]:
    X = rng.normal(size=(10, 3))
    Y = X @ rng.normal(size=(3, 2)) + 0.1 * rng.normal(size=(10, 2))
    y1 = X @ rng.normal(size=(3, 1)) + 0.1 * rng.normal(size=(10, 1))
    return [
        _model_case("deep linear network 3-2-2 at zero", 7, _zeroed(lambda: _mlp(3, 2, 2, False)),
                    nn.MSELoss(), X, Y, step_size=0.05),
        _model_case("tanh network 3-3-2 at zero", 8, _zeroed(lambda: _mlp(3, 3, 2, False)),
                    nn.MSELoss(), X, Y),
        *[
            _model_case(f"sigmoid network 3-{len(b)}-{t.shape[1]} at a saddle, step {step:g}",
                        10 + k, _sigmoid_saddle(3, b, t), nn.MSELoss(), X, t, step_size=step)
            for k, (b, t, step) in enumerate([
                ([1.0, -0.5], y1, 0.1), ([0.8, -1.2, 0.3], Y, 0.3), ([-0.7], y1, 0.4),
                ([1.5, 0.2], Y, 0.2), ([-1.1, 0.6, 2.0], y1, 0.25), ([0.4], Y, 0.5),
                ([2.0, -2.0], -y1, 0.3), ([-0.3, 0.9], -Y, 0.15),
            ])
        ],
        _model_case("linear regression at its minimum", 9, _least_squares_model(X, y1),
                    nn.MSELoss(), X, y1),
        _model_case("lecture network, step 0.5", 0, lambda: _two_weight_net(0.0, 0.0),
                    nn.MSELoss(), np.full((1, 1), 2.0), np.full((1, 1), 3.0), step_size=0.5),
        _model_case("lecture network, larger tol", 0, lambda: _two_weight_net(0.0, 0.0),
                    nn.MSELoss(), np.full((1, 1), 0.1), np.full((1, 1), 0.1), tol=0.1),
    ]


def _escape_saddle_oracle(case: Case) -> dict[str, Any]:
    H = _exact_loss_hessian(*case.args)
    eigenvalues = torch.linalg.eigvalsh(H)
    tol = float(case.kwargs.get("tol", 1e-6))
    return {"H": H, "lambda_min": float(eigenvalues[0]), "moves": bool(eigenvalues[0] < -tol)}


def _escape_saddle_compare(got: dict[str, Any], expected: dict[str, Any], case: Case) -> None:
    returned, before, after = got["returned"], got["before"], got["after"]
    if not isinstance(returned, (bool, np.bool_)):
        raise CheckFailure(f"expected True or False, got {type(returned).__name__}")
    if not expected["moves"]:
        if returned:
            raise CheckFailure("the Hessian has no eigenvalue below -tol: expected False")
        if not torch.equal(before, after):
            raise CheckFailure("not a saddle, so the parameters must stay unchanged")
        return
    if not returned:
        raise CheckFailure(f"the Hessian has eigenvalue {expected['lambda_min']:.4g} < -tol: "
                           "expected True")
    step = float(case.kwargs.get("step_size", 0.1))
    d = after - before
    norm = float(d.norm())
    if abs(norm - step) > 1e-9 * max(1.0, step):
        raise CheckFailure(f"the parameters moved by {norm:.6g}, expected step_size = {step:g}")
    H, lam = expected["H"], expected["lambda_min"]
    u = d / norm
    residual = float((H @ u - lam * u).norm())
    if residual > 1e-7 * float(H.abs().max()):
        raise CheckFailure("the move is not along an eigenvector of the smallest eigenvalue "
                           f"({lam:.4g}); u^T H u = {float(u @ H @ u):.4g}")
    model, loss_fn, X, y = case.args
    loss_here = float(_loss_at(model, loss_fn, X, y, after))
    loss_other = float(_loss_at(model, loss_fn, X, y, before - d))
    if loss_here > loss_other + 1e-12 * max(1.0, abs(loss_other)):
        raise CheckFailure(f"the opposite direction gives a lower loss ({loss_other:.6g} < "
                           f"{loss_here:.6g}): keep the better of the two")


escape_saddle = Exercise(
    name="escape_saddle",
    visible=_escape_saddle_visible,
    hidden=_escape_saddle_hidden,
    oracle=_escape_saddle_oracle,
    compare=_escape_saddle_compare,
    call=_call_with_model,
    clauses={
        "in_place": "Move the parameters off a saddle point along the escape direction, "
                    "in place.",
        "direction": "u = escape_direction(H, tol)",
        "none": "If u is None, leave the model unchanged and return False.",
        "lower": "write the one with the lower loss into the model's parameters",
        "step": "step_size (float): length of the move.",
        "tol": "tol (float): passed to escape_direction.",
        "returns": "True if the parameters moved.",
    },
)

#: Every exercise of the assignment, in notebook order.
EXERCISES: dict[str, Exercise] = {
    ex.name: ex
    for ex in (numerical_gradient, numerical_hessian, classify_critical_point, escape_direction,
               minimum_ratio, loss_hessian, find_critical_points, escape_saddle)
}
