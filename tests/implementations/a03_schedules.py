"""Implementations of the nine functions of ``schedules_second_order.ipynb`` (``a03_adaptive_lr``).

``CORRECT[name]`` holds correct implementations of exercise ``name`` written differently from the
reference solution (closed forms against simulations of PyTorch's schedulers, other linear
solvers, other ways of writing the BFGS and L-BFGS formulas); the checks must accept them.
``WRONG[name]`` holds implementations with one common student mistake each (named in the
docstring); the hidden checks must reject them. The keys are the names of the exercises in
``autograder.checks.a03_adaptive_lr.schedules.EXERCISES``. Everything is self-contained: nothing
is imported from the reference solution or the checks.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch
from torch.optim import lr_scheduler

from implementations import breaks

#: Live optimizer/scheduler pairs and the rates seen so far, by (scheduler, arguments): the
#: checks call a schedule at step = 0, 1, ..., N, so each simulation is extended, not rerun.
_SIMULATIONS: dict[tuple, tuple] = {}


def _torch_rate(make, key: tuple, lr: float, step: int) -> float:
    """``get_last_lr()[0]`` of the scheduler ``make(optimizer)`` after ``step`` steps."""
    if key not in _SIMULATIONS:
        param = torch.zeros(1, requires_grad=True)
        optimizer = torch.optim.SGD([param], lr=lr, momentum=0.9)
        scheduler = make(optimizer)
        _SIMULATIONS[key] = (optimizer, scheduler, [scheduler.get_last_lr()[0]])
    optimizer, scheduler, rates = _SIMULATIONS[key]
    while len(rates) <= step:
        optimizer.step()
        scheduler.step()
        rates.append(scheduler.get_last_lr()[0])
    return rates[step]


def _cos_anneal(start: float, end: float, pct: float) -> float:
    return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1.0)


# ---------------------------------------------------------------------------------------------
# step_decay_lr
# ---------------------------------------------------------------------------------------------


def step_decay_torch_simulation(step, base_lr, step_size, gamma=0.1):
    """Simulates torch.optim.lr_scheduler.StepLR."""
    return _torch_rate(lambda opt: lr_scheduler.StepLR(opt, step_size, gamma),
                       ("step", base_lr, step_size, gamma), base_lr, step)


def step_decay_loop(step, base_lr, step_size, gamma=0.1):
    """Multiplies by gamma at every positive multiple of step_size, like torch's recursion."""
    lr = base_lr
    for k in range(1, step + 1):
        if k % step_size == 0:
            lr *= gamma
    return lr


def wrong_step_decay_no_floor(step, base_lr, step_size, gamma=0.1):
    """Mistake: gamma ** (step / step_size), a smooth exponential decay instead of steps."""
    return base_lr * gamma ** (step / step_size)


@breaks("drops")
def wrong_step_decay_off_by_one(step, base_lr, step_size, gamma=0.1):
    """Mistake: counts one step too many, so it decays one step early."""
    return base_lr * gamma ** ((step + 1) // step_size)


def wrong_step_decay_one_late(step, base_lr, step_size, gamma=0.1):
    """Mistake: counts from 1 (step - 1), so it decays one step late."""
    return base_lr * gamma ** (max(step - 1, 0) // step_size)


@breaks("formula")
def wrong_step_decay_fixed_gamma(step, base_lr, step_size, gamma=0.1):
    """Mistake: always decays by 0.1, whatever gamma is passed."""
    return base_lr * 0.1 ** (step // step_size)


# ---------------------------------------------------------------------------------------------
# cosine_lr
# ---------------------------------------------------------------------------------------------


def cosine_torch_simulation(step, base_lr, T_max, eta_min=0.0):
    """Simulates torch.optim.lr_scheduler.CosineAnnealingLR (its recursive formula)."""
    return _torch_rate(lambda opt: lr_scheduler.CosineAnnealingLR(opt, T_max, eta_min),
                       ("cosine", base_lr, T_max, eta_min), base_lr, step)


def cosine_squared(step, base_lr, T_max, eta_min=0.0):
    """(1 + cos x) / 2 = cos^2(x / 2): eta_min + (base - eta_min) cos^2(pi step / (2 T_max))."""
    return eta_min + (base_lr - eta_min) * math.cos(math.pi * step / (2 * T_max)) ** 2


@breaks("ends")
def wrong_cosine_t_max_minus_one(step, base_lr, T_max, eta_min=0.0):
    """Mistake: divides by T_max - 1, so eta_min is reached one step early."""
    return eta_min + (base_lr - eta_min) * (1 + math.cos(math.pi * step / (T_max - 1))) / 2


def wrong_cosine_off_by_one(step, base_lr, T_max, eta_min=0.0):
    """Mistake: evaluates the formula at step + 1."""
    return eta_min + (base_lr - eta_min) * (1 + math.cos(math.pi * (step + 1) / T_max)) / 2


@breaks("formula")
def wrong_cosine_eta_min_added(step, base_lr, T_max, eta_min=0.0):
    """Mistake: eta_min + base_lr (1 + cos) / 2, starting at base_lr + eta_min."""
    return eta_min + base_lr * (1 + math.cos(math.pi * step / T_max)) / 2


# ---------------------------------------------------------------------------------------------
# warmup_lr
# ---------------------------------------------------------------------------------------------


def warmup_torch_simulation(step, base_lr, warmup_steps, start_factor=0.1):
    """Simulates torch.optim.lr_scheduler.LinearLR with end_factor=1."""
    return _torch_rate(lambda opt: lr_scheduler.LinearLR(
        opt, start_factor=start_factor, end_factor=1.0, total_iters=warmup_steps),
        ("warmup", base_lr, warmup_steps, start_factor), base_lr, step)


def warmup_interpolation(step, base_lr, warmup_steps, start_factor=0.1):
    """Interpolates from start_factor * base_lr to base_lr with np.interp."""
    return float(np.interp(step, [0, warmup_steps], [start_factor * base_lr, base_lr]))


@breaks("formula")
def wrong_warmup_one_step_late(step, base_lr, warmup_steps, start_factor=0.1):
    """Mistake: divides by warmup_steps + 1, reaching base_lr one step late."""
    total = warmup_steps + 1
    return base_lr * (start_factor + (1 - start_factor) * min(step, total) / total)


@breaks("start")
def wrong_warmup_from_zero(step, base_lr, warmup_steps, start_factor=0.1):
    """Mistake: ramps from 0 (ignores start_factor): base_lr * min(step, warmup) / warmup."""
    return base_lr * min(step, warmup_steps) / warmup_steps


def wrong_warmup_off_by_one(step, base_lr, warmup_steps, start_factor=0.1):
    """Mistake: starts the ramp at step 1 (step + 1 in the formula)."""
    return base_lr * (start_factor + (1 - start_factor) * min(step + 1, warmup_steps)
                      / warmup_steps)


# ---------------------------------------------------------------------------------------------
# cyclic_lr
# ---------------------------------------------------------------------------------------------


def cyclic_torch_simulation(step, base_lr, max_lr, step_size_up):
    """Simulates torch.optim.lr_scheduler.CyclicLR (triangular, momentum cycled, SGD)."""
    return _torch_rate(lambda opt: lr_scheduler.CyclicLR(
        opt, base_lr=base_lr, max_lr=max_lr, step_size_up=step_size_up),
        ("cyclic", base_lr, max_lr, step_size_up), base_lr, step)


def cyclic_zero_based_cycle(step, base_lr, max_lr, step_size_up):
    """Zero-based cycle c = step // (2 n) and x = |step / n - 2 c - 1| (the same triangle)."""
    cycle = step // (2 * step_size_up)
    x = abs(step / step_size_up - 2 * cycle - 1)
    return base_lr + (max_lr - base_lr) * max(0.0, 1.0 - x)


def cyclic_modulo(step, base_lr, max_lr, step_size_up):
    """Position in the cycle by modulo: up for n steps, then down for n steps."""
    position = step % (2 * step_size_up)
    if position <= step_size_up:
        fraction = position / step_size_up
    else:
        fraction = 2.0 - position / step_size_up
    return base_lr + (max_lr - base_lr) * fraction


@breaks("triangle")
def wrong_cyclic_sawtooth(step, base_lr, max_lr, step_size_up):
    """Mistake: rises for step_size_up steps, then drops back to base_lr at once."""
    return base_lr + (max_lr - base_lr) * (step % step_size_up) / step_size_up


@breaks("cycle")
def wrong_cyclic_cycle_length(step, base_lr, max_lr, step_size_up):
    """Mistake: cycle = floor(1 + step / step_size_up), forgetting that a cycle has two halves."""
    cycle = math.floor(1 + step / step_size_up)
    x = abs(step / step_size_up - 2 * cycle + 1)
    return base_lr + (max_lr - base_lr) * max(0.0, 1.0 - x)


def wrong_cyclic_mixed_conventions(step, base_lr, max_lr, step_size_up):
    """Mistake: zero-based cycle = floor(step / (2 n)) with torch's x = |step/n - 2 cycle + 1|."""
    cycle = math.floor(step / (2 * step_size_up))
    x = abs(step / step_size_up - 2 * cycle + 1)
    return base_lr + (max_lr - base_lr) * max(0.0, 1.0 - x)


@breaks("extremes")
def wrong_cyclic_off_by_one(step, base_lr, max_lr, step_size_up):
    """Mistake: evaluates the triangle at step + 1."""
    step = step + 1
    cycle = math.floor(1 + step / (2 * step_size_up))
    x = abs(step / step_size_up - 2 * cycle + 1)
    return base_lr + (max_lr - base_lr) * max(0.0, 1.0 - x)


# ---------------------------------------------------------------------------------------------
# sgdr_lr
# ---------------------------------------------------------------------------------------------


def sgdr_torch_simulation(step, base_lr, T_0, T_mult=1, eta_min=0.0):
    """Simulates torch.optim.lr_scheduler.CosineAnnealingWarmRestarts."""
    return _torch_rate(lambda opt: lr_scheduler.CosineAnnealingWarmRestarts(
        opt, T_0=T_0, T_mult=T_mult, eta_min=eta_min), ("sgdr", base_lr, T_0, T_mult, eta_min),
        base_lr, step)


def sgdr_closed_form(step, base_lr, T_0, T_mult=1, eta_min=0.0):
    """Finds the period in closed form: restart i starts at T_0 (T_mult^i - 1) / (T_mult - 1)."""
    if T_mult == 1:
        t_cur, t_i = step % T_0, T_0
    else:
        i = int(math.log(step / T_0 * (T_mult - 1) + 1, T_mult))
        # Guard the floating-point logarithm at the exact restart steps.
        while T_0 * (T_mult ** (i + 1) - 1) // (T_mult - 1) <= step:
            i += 1
        while T_0 * (T_mult**i - 1) // (T_mult - 1) > step:
            i -= 1
        t_i = T_0 * T_mult**i
        t_cur = step - T_0 * (T_mult**i - 1) // (T_mult - 1)
    return eta_min + (base_lr - eta_min) * (1 + math.cos(math.pi * t_cur / t_i)) / 2


@breaks("periods")
def wrong_sgdr_ignores_t_mult(step, base_lr, T_0, T_mult=1, eta_min=0.0):
    """Mistake: every period has length T_0 (T_mult ignored)."""
    return eta_min + (base_lr - eta_min) * (1 + math.cos(math.pi * (step % T_0) / T_0)) / 2


@breaks("never_eta_min")
def wrong_sgdr_restart_one_late(step, base_lr, T_0, T_mult=1, eta_min=0.0):
    """Mistake: restarts when T_cur > T_i instead of T_cur >= T_i, so eta_min is reached."""
    t_cur, t_i = step, T_0
    while t_cur > t_i:
        t_cur -= t_i + 1
        t_i *= T_mult
    return eta_min + (base_lr - eta_min) * (1 + math.cos(math.pi * t_cur / t_i)) / 2


@breaks("restarts")
def wrong_sgdr_off_by_one(step, base_lr, T_0, T_mult=1, eta_min=0.0):
    """Mistake: evaluates the schedule at step + 1."""
    t_cur, t_i = step + 1, T_0
    while t_cur >= t_i:
        t_cur -= t_i
        t_i *= T_mult
    return eta_min + (base_lr - eta_min) * (1 + math.cos(math.pi * t_cur / t_i)) / 2


# ---------------------------------------------------------------------------------------------
# one_cycle_lr
# ---------------------------------------------------------------------------------------------


def one_cycle_torch_simulation(step, max_lr, total_steps, pct_start=0.3, div_factor=25.0,
                               final_div_factor=1e4):
    """Simulates torch.optim.lr_scheduler.OneCycleLR (cosine, two phases, momentum cycled)."""
    return _torch_rate(lambda opt: lr_scheduler.OneCycleLR(
        opt, max_lr=max_lr, total_steps=total_steps, pct_start=float(pct_start),
        div_factor=div_factor, final_div_factor=final_div_factor),
        ("one_cycle", max_lr, total_steps, pct_start, div_factor, final_div_factor), max_lr, step)


def one_cycle_closed_form(step, max_lr, total_steps, pct_start=0.3, div_factor=25.0,
                          final_div_factor=1e4):
    """Both phases written with sin^2 / cos^2 of half angles instead of (1 + cos) / 2."""
    initial = max_lr / div_factor
    minimum = initial / final_div_factor
    end_up = float(pct_start * total_steps) - 1
    if step <= end_up:
        pct = step / end_up
        return initial + (max_lr - initial) * math.sin(math.pi * pct / 2) ** 2
    pct = (step - end_up) / (total_steps - 1 - end_up)
    return minimum + (max_lr - minimum) * math.cos(math.pi * pct / 2) ** 2


def _one_cycle(step, max_lr, total_steps, pct_start, div_factor, final_div_factor,
               end_up=None, anneal=_cos_anneal, minimum=None):
    initial = max_lr / div_factor
    minimum = initial / final_div_factor if minimum is None else minimum
    end_up = float(pct_start * total_steps) - 1 if end_up is None else end_up
    if step <= end_up:
        return anneal(initial, max_lr, step / end_up)
    return anneal(max_lr, minimum, (step - end_up) / (total_steps - 1 - end_up))


@breaks("anneal")
def wrong_one_cycle_linear(step, max_lr, total_steps, pct_start=0.3, div_factor=25.0,
                           final_div_factor=1e4):
    """Mistake: linear annealing (anneal_strategy='linear') instead of cosine."""
    return _one_cycle(step, max_lr, total_steps, pct_start, div_factor, final_div_factor,
                      anneal=lambda start, end, pct: start + (end - start) * pct)


def wrong_one_cycle_boundary(step, max_lr, total_steps, pct_start=0.3, div_factor=25.0,
                             final_div_factor=1e4):
    """Mistake: phase 1 ends at pct_start * total_steps (without the - 1)."""
    return _one_cycle(step, max_lr, total_steps, pct_start, div_factor, final_div_factor,
                      end_up=pct_start * total_steps)


@breaks("end_1")
def wrong_one_cycle_rounded_boundary(step, max_lr, total_steps, pct_start=0.3, div_factor=25.0,
                                     final_div_factor=1e4):
    """Mistake: rounds the end of phase 1 to a whole step, round(pct_start * total_steps) - 1."""
    return _one_cycle(step, max_lr, total_steps, pct_start, div_factor, final_div_factor,
                      end_up=round(pct_start * total_steps) - 1)


@breaks("min_lr")
def wrong_one_cycle_min_lr(step, max_lr, total_steps, pct_start=0.3, div_factor=25.0,
                           final_div_factor=1e4):
    """Mistake: min_lr = max_lr / final_div_factor instead of initial_lr / final_div_factor."""
    return _one_cycle(step, max_lr, total_steps, pct_start, div_factor, final_div_factor,
                      minimum=max_lr / final_div_factor)


def wrong_one_cycle_off_by_one(step, max_lr, total_steps, pct_start=0.3, div_factor=25.0,
                               final_div_factor=1e4):
    """Mistake: evaluates the schedule at step + 1."""
    return _one_cycle(step + 1, max_lr, total_steps, pct_start, div_factor, final_div_factor)


# ---------------------------------------------------------------------------------------------
# newton_step
# ---------------------------------------------------------------------------------------------


def newton_lstsq(theta, grad, hess):
    """Solves H d = g by least squares (np.linalg.lstsq)."""
    return theta - np.linalg.lstsq(hess, grad, rcond=None)[0]


def newton_eigh(theta, grad, hess):
    """Solves H d = g through the eigendecomposition H = Q diag(lambda) Q^T."""
    eigenvalues, Q = np.linalg.eigh(hess)
    return theta - Q @ ((Q.T @ grad) / eigenvalues)


def newton_torch_solve(theta, grad, hess):
    """Solves with torch.linalg.solve in float64 and converts back."""
    d = torch.linalg.solve(torch.from_numpy(hess), torch.from_numpy(grad).unsqueeze(1))
    return theta - d.squeeze(1).numpy()


@breaks("step")
def wrong_newton_plus(theta, grad, hess):
    """Mistake: theta + H^-1 g (moves uphill in the quadratic model)."""
    return theta + np.linalg.solve(hess, grad)


def wrong_newton_times_hessian(theta, grad, hess):
    """Mistake: theta - H g (multiplies by H instead of solving with it)."""
    return theta - hess @ grad


def wrong_newton_diagonal(theta, grad, hess):
    """Mistake: uses only the diagonal of H, theta - g / diag(H)."""
    return theta - grad / np.diag(hess)


@breaks("residual")
def wrong_newton_inverse(theta, grad, hess):
    """Mistake: forms the inverse, theta - np.linalg.inv(H) @ g (inaccurate when H is
    ill-conditioned)."""
    return theta - np.linalg.inv(hess) @ grad


def wrong_newton_pinv(theta, grad, hess):
    """Mistake: forms the pseudo-inverse, theta - np.linalg.pinv(H) @ g."""
    return theta - np.linalg.pinv(hess) @ grad


@breaks("unchanged")
def wrong_newton_in_place(theta, grad, hess):
    """Mistake: theta -= solve(H, g) updates the caller's array in place."""
    theta -= np.linalg.solve(hess, grad)
    return theta


# ---------------------------------------------------------------------------------------------
# bfgs_update
# ---------------------------------------------------------------------------------------------


def bfgs_expanded(H_inv, s, y):
    """The expanded formula H - rho (s (Hy)^T + (Hy) s^T) + (rho^2 y^T H y + rho) s s^T."""
    rho = 1.0 / (y @ s)
    Hy = H_inv @ y
    return (H_inv - rho * (np.outer(s, Hy) + np.outer(Hy, s))
            + (rho * rho * (y @ Hy) + rho) * np.outer(s, s))


def bfgs_torch_columns(H_inv, s, y):
    """The product formula in torch, with s and y as column vectors."""
    H, s, y = (torch.from_numpy(a) for a in (H_inv, s, y))
    s, y = s.reshape(-1, 1), y.reshape(-1, 1)
    rho = 1.0 / (y.T @ s)
    eye = torch.eye(s.shape[0], dtype=torch.float64)
    return ((eye - rho * s @ y.T) @ H @ (eye - rho * y @ s.T) + rho * s @ s.T).numpy()


@breaks("formula")
def wrong_bfgs_rho_from_s(H_inv, s, y):
    """Mistake: rho = 1 / (s^T s) instead of 1 / (y^T s)."""
    rho = 1.0 / (s @ s)
    left = np.eye(s.size) - rho * np.outer(s, y)
    return left @ H_inv @ left.T + rho * np.outer(s, s)


@breaks("secant")
def wrong_bfgs_missing_ss_term(H_inv, s, y):
    """Mistake: forgets the + rho s s^T term."""
    rho = 1.0 / (y @ s)
    left = np.eye(s.size) - rho * np.outer(s, y)
    return left @ H_inv @ left.T


def wrong_bfgs_transposes_swapped(H_inv, s, y):
    """Mistake: (I - rho y s^T) H (I - rho s y^T) + rho s s^T (outer products swapped)."""
    rho = 1.0 / (y @ s)
    left = np.eye(s.size) - rho * np.outer(y, s)
    return left @ H_inv @ left.T + rho * np.outer(s, s)


@breaks("symmetric")
def wrong_bfgs_same_factor_twice(H_inv, s, y):
    """Mistake: (I - rho s y^T) H (I - rho s y^T): the right factor is not transposed."""
    rho = 1.0 / (y @ s)
    left = np.eye(s.size) - rho * np.outer(s, y)
    return left @ H_inv @ left + rho * np.outer(s, s)


@breaks("outer")
def wrong_bfgs_dot_not_outer(H_inv, s, y):
    """Mistake: s @ y.T on 1-D arrays is the scalar s^T y, not the outer product s y^T."""
    rho = 1.0 / (y @ s)
    n = s.size
    return ((np.eye(n) - rho * s @ y.T) @ H_inv @ (np.eye(n) - rho * y @ s.T)
            + rho * s @ s.T * np.ones((n, n)))


@breaks("unchanged")
def wrong_bfgs_in_place(H_inv, s, y):
    """Mistake: writes the update into the caller's H_inv (H_inv[...] = ...)."""
    rho = 1.0 / (y @ s)
    left = np.eye(s.size) - rho * np.outer(s, y)
    H_inv[...] = left @ H_inv @ left.T + rho * np.outer(s, s)
    return H_inv


def wrong_bfgs_hessian_update(H_inv, s, y):
    """Mistake: applies the BFGS update of the Hessian B (B + yy^T/y^Ts - Bss^TB/s^TBs)."""
    Hs = H_inv @ s
    return H_inv + np.outer(y, y) / (y @ s) - np.outer(Hs, Hs) / (s @ Hs)


# ---------------------------------------------------------------------------------------------
# lbfgs_direction
# ---------------------------------------------------------------------------------------------


def _dense_bfgs(H, s, y):
    rho = 1.0 / (y @ s)
    left = np.eye(s.size) - rho * np.outer(s, y)
    return left @ H @ left.T + rho * np.outer(s, s)


def lbfgs_dense(grad, s_history, y_history):
    """Builds the dense matrix: gamma I, then the BFGS update of every pair, then -H grad."""
    gamma = (s_history[-1] @ y_history[-1]) / (y_history[-1] @ y_history[-1]) if s_history \
        else 1.0
    H = gamma * np.eye(grad.size)
    for s, y in zip(s_history, y_history, strict=True):
        H = _dense_bfgs(H, s, y)
    return -(H @ grad)


def lbfgs_stacked_two_loop(grad, s_history, y_history):
    """The two-loop recursion on stacked (m, n) arrays, with explicit indices."""
    m = len(s_history)
    q = np.array(grad, dtype=np.float64)
    if m == 0:
        return -q
    S, Y = np.stack(s_history), np.stack(y_history)
    rho = 1.0 / np.einsum("ij,ij->i", S, Y)
    alpha = np.zeros(m)
    for i in range(m - 1, -1, -1):
        alpha[i] = rho[i] * (S[i] @ q)
        q = q - alpha[i] * Y[i]
    r = (S[-1] @ Y[-1]) / (Y[-1] @ Y[-1]) * q
    for i in range(m):
        beta = rho[i] * (Y[i] @ r)
        r = r + S[i] * (alpha[i] - beta)
    return -r


def _two_loop(grad, pairs, gamma, second_order=None):
    """Two-loop recursion over ``pairs`` (oldest first); ``second_order`` overrides the order of
    the second loop."""
    q = grad.copy()
    alphas = {}
    for k in reversed(range(len(pairs))):
        s, y = pairs[k]
        alphas[k] = (s @ q) / (y @ s)
        q = q - alphas[k] * y
    r = gamma * q
    order = range(len(pairs)) if second_order is None else second_order
    for k in order:
        s, y = pairs[k]
        beta = (y @ r) / (y @ s)
        r = r + s * (alphas[k] - beta)
    return -r


def _pairs(s_history, y_history):
    return list(zip(s_history, y_history, strict=True))


@breaks("gamma")
def wrong_lbfgs_gamma_oldest(grad, s_history, y_history):
    """Mistake: gamma from the oldest pair instead of the newest."""
    pairs = _pairs(s_history, y_history)
    gamma = (pairs[0][0] @ pairs[0][1]) / (pairs[0][1] @ pairs[0][1]) if pairs else 1.0
    return _two_loop(grad, pairs, gamma)


def wrong_lbfgs_gamma_one(grad, s_history, y_history):
    """Mistake: H_0 = I always (no scaling gamma)."""
    return _two_loop(grad, _pairs(s_history, y_history), 1.0)


def wrong_lbfgs_gamma_inverted(grad, s_history, y_history):
    """Mistake: gamma = y^T y / s^T y (the curvature, not its inverse)."""
    pairs = _pairs(s_history, y_history)
    gamma = (pairs[-1][1] @ pairs[-1][1]) / (pairs[-1][0] @ pairs[-1][1]) if pairs else 1.0
    return _two_loop(grad, pairs, gamma)


@breaks("loops")
def wrong_lbfgs_second_loop_newest_first(grad, s_history, y_history):
    """Mistake: both loops run newest first."""
    pairs = _pairs(s_history, y_history)
    gamma = (pairs[-1][0] @ pairs[-1][1]) / (pairs[-1][1] @ pairs[-1][1]) if pairs else 1.0
    return _two_loop(grad, pairs, gamma, second_order=reversed(range(len(pairs))))


@breaks("direction")
def wrong_lbfgs_no_minus(grad, s_history, y_history):
    """Mistake: returns H grad (an ascent direction) instead of -H grad."""
    return -lbfgs_stacked_two_loop(grad, s_history, y_history)


def wrong_lbfgs_last_pair_only(grad, s_history, y_history):
    """Mistake: uses only the newest pair."""
    return lbfgs_stacked_two_loop(grad, s_history[-1:], y_history[-1:])


@breaks("history_unchanged")
def wrong_lbfgs_reverses_history(grad, s_history, y_history):
    """Mistake: reverses the caller's lists in place to loop newest first (and never undoes it)."""
    s_history.reverse()
    y_history.reverse()
    q = grad.copy()
    alphas = []
    for s, y in zip(s_history, y_history, strict=True):
        alphas.append((s @ q) / (y @ s))
        q = q - alphas[-1] * y
    gamma = (s_history[0] @ y_history[0]) / (y_history[0] @ y_history[0]) if s_history else 1.0
    r = gamma * q
    for s, y, alpha in reversed(list(zip(s_history, y_history, alphas, strict=True))):
        r = r + s * (alpha - (y @ r) / (y @ s))
    return -r


# ---------------------------------------------------------------------------------------------
# Wrong implementations that break exactly one clause of the docstring each
# ---------------------------------------------------------------------------------------------


@breaks("returns_float")
def wrong_step_decay_returns_array(step, base_lr, step_size, gamma=0.1):
    """Mistake: returns a 1-element numpy array (from np.array([base_lr])), not a float."""
    return np.array([base_lr]) * gamma ** (step // step_size)


@breaks("returns_float")
def wrong_cosine_returns_tensor(step, base_lr, T_max, eta_min=0.0):
    """Mistake: computes with torch and returns a 0-d tensor instead of a float."""
    return eta_min + (base_lr - eta_min) * (1 + torch.cos(torch.tensor(math.pi * step / T_max,
                                                                       dtype=torch.float64))) / 2


@breaks("plateau")
def wrong_warmup_no_min(step, base_lr, warmup_steps, start_factor=0.1):
    """Mistake: forgets min(step, warmup_steps): the rate keeps growing after the warm-up."""
    return base_lr * (start_factor + (1 - start_factor) * step / warmup_steps)


@breaks("returns_float")
def wrong_warmup_returns_list(step, base_lr, warmup_steps, start_factor=0.1):
    """Mistake: returns [lr], the format of scheduler.get_last_lr(), instead of a float."""
    return [base_lr * (start_factor + (1 - start_factor) * min(step, warmup_steps)
                       / warmup_steps)]


@breaks("returns_float")
def wrong_cyclic_returns_array(step, base_lr, max_lr, step_size_up):
    """Mistake: np.maximum(0, ...) on an array leaves a 1-element array, not a float."""
    cycle = math.floor(1 + step / (2 * step_size_up))
    x = abs(step / step_size_up - 2 * cycle + 1)
    return base_lr + (max_lr - base_lr) * np.maximum(0.0, 1 - np.array([x]))


@breaks("periods")
def wrong_sgdr_float_log(step, base_lr, T_0, T_mult=1, eta_min=0.0):
    """Mistake: finds the period by a floating-point logarithm without guarding it, so at a
    restart step where log(T_mult^i) / log(T_mult) rounds below i it picks period i - 1."""
    if T_mult == 1:
        t_cur, t_i = step % T_0, T_0
    else:
        i = int(math.log(step / T_0 * (T_mult - 1) + 1) / math.log(T_mult))
        t_i = T_0 * T_mult**i
        t_cur = step - T_0 * (T_mult**i - 1) // (T_mult - 1)
    return eta_min + (base_lr - eta_min) * (1 + math.cos(math.pi * t_cur / t_i)) / 2


@breaks("formula")
def wrong_sgdr_drops_eta_min(step, base_lr, T_0, T_mult=1, eta_min=0.0):
    """Mistake: base_lr (1 + cos) / 2, forgetting eta_min (right only when eta_min = 0)."""
    t_cur, t_i = step, T_0
    while t_cur >= t_i:
        t_cur -= t_i
        t_i *= T_mult
    return base_lr * (1 + math.cos(math.pi * t_cur / t_i)) / 2


@breaks("returns_float")
def wrong_sgdr_returns_tuple(step, base_lr, T_0, T_mult=1, eta_min=0.0):
    """Mistake: returns (lr, T_cur), the rate and the position in the period."""
    t_cur, t_i = step, T_0
    while t_cur >= t_i:
        t_cur -= t_i
        t_i *= T_mult
    return eta_min + (base_lr - eta_min) * (1 + math.cos(math.pi * t_cur / t_i)) / 2, t_cur


@breaks("phases")
def wrong_one_cycle_phase_two_too_long(step, max_lr, total_steps, pct_start=0.3,
                                       div_factor=25.0, final_div_factor=1e4):
    """Mistake: anneals phase 2 over (step - end_1) / (total_steps - end_1), so min_lr is never
    reached at the last step."""
    initial = max_lr / div_factor
    end_1 = float(pct_start * total_steps) - 1
    if step <= end_1:
        return _cos_anneal(initial, max_lr, step / end_1)
    return _cos_anneal(max_lr, initial / final_div_factor,
                       (step - end_1) / (total_steps - end_1))


@breaks("returns_float")
def wrong_one_cycle_returns_tensor(step, max_lr, total_steps, pct_start=0.3, div_factor=25.0,
                                   final_div_factor=1e4):
    """Mistake: returns the rate as a 0-d torch tensor."""
    return torch.tensor(one_cycle_closed_form(step, max_lr, total_steps, pct_start, div_factor,
                                              final_div_factor), dtype=torch.float64)


@breaks("indefinite")
def wrong_newton_abs_eigenvalues(theta, grad, hess):
    """Mistake: divides by |lambda| (saddle-free Newton) to keep descending: right only when H
    is positive definite."""
    eigenvalues, Q = np.linalg.eigh(hess)
    return theta - Q @ ((Q.T @ grad) / np.abs(eigenvalues))


@breaks("returns")
def wrong_newton_float32(theta, grad, hess):
    """Mistake: solves in float32 (torch's default dtype) and returns float32."""
    d = torch.linalg.solve(torch.from_numpy(hess).float(), torch.from_numpy(grad).float())
    return theta.astype(np.float32) - d.numpy()


@breaks("positive_curvature")
def wrong_bfgs_skips_small_curvature(H_inv, s, y):
    """Mistake: skips the update (returns a copy of H_inv) when y^T s <= 1e-10, a safeguard of
    line-search codes that the docstring does not ask for: y^T s > 0 is all it assumes."""
    if y @ s <= 1e-10:
        return H_inv.copy()
    return _dense_bfgs(H_inv, s, y)


@breaks("returns")
def wrong_bfgs_float32(H_inv, s, y):
    """Mistake: returns the update as float32 (to save memory), not float64."""
    return _dense_bfgs(H_inv, s, y).astype(np.float32)


@breaks("grad_unchanged")
def wrong_lbfgs_grad_in_place(grad, s_history, y_history):
    """Mistake: q = grad without a copy, then q -= alpha * y changes the caller's gradient."""
    pairs = _pairs(s_history, y_history)
    if not pairs:
        return -grad
    q = grad
    alphas = {}
    for k in reversed(range(len(pairs))):
        s, y = pairs[k]
        alphas[k] = (s @ q) / (y @ s)
        q -= alphas[k] * y
    r = (pairs[-1][0] @ pairs[-1][1]) / (pairs[-1][1] @ pairs[-1][1]) * q
    for k in range(len(pairs)):
        s, y = pairs[k]
        r = r + s * (alphas[k] - (y @ r) / (y @ s))
    return -r


@breaks("no_pairs")
def wrong_lbfgs_no_pairs_returns_grad(grad, s_history, y_history):
    """Mistake: with no pairs yet returns grad (forgets the minus of the early return)."""
    if not s_history:
        return grad.copy()
    return lbfgs_stacked_two_loop(grad, s_history, y_history)


@breaks("pairs_oldest_first")
def wrong_lbfgs_pairs_newest_first(grad, s_history, y_history):
    """Mistake: takes the lists as newest first: the two-loop recursion over the reversed pairs
    (the BFGS updates applied newest first), with gamma still from s_history[-1]."""
    pairs = _pairs(s_history, y_history)
    gamma = (pairs[-1][0] @ pairs[-1][1]) / (pairs[-1][1] @ pairs[-1][1]) if pairs else 1.0
    return _two_loop(grad, pairs[::-1], gamma)


@breaks("returns")
def wrong_lbfgs_float32(grad, s_history, y_history):
    """Mistake: returns the direction as float32 (to save memory), not float64."""
    return lbfgs_stacked_two_loop(grad, s_history, y_history).astype(np.float32)


#: Correct implementations written differently from the reference solution, by exercise name.
CORRECT: dict[str, list[Callable]] = {
    "step_decay_lr": [step_decay_torch_simulation, step_decay_loop],
    "cosine_lr": [cosine_torch_simulation, cosine_squared],
    "warmup_lr": [warmup_torch_simulation, warmup_interpolation],
    "cyclic_lr": [cyclic_torch_simulation, cyclic_zero_based_cycle, cyclic_modulo],
    "sgdr_lr": [sgdr_torch_simulation, sgdr_closed_form],
    "one_cycle_lr": [one_cycle_torch_simulation, one_cycle_closed_form],
    "newton_step": [newton_lstsq, newton_eigh, newton_torch_solve],
    "bfgs_update": [bfgs_expanded, bfgs_torch_columns],
    "lbfgs_direction": [lbfgs_dense, lbfgs_stacked_two_loop],
}

#: Implementations with one common mistake each, by exercise name: the hidden checks must
#: reject them.
WRONG: dict[str, list[Callable]] = {
    "step_decay_lr": [wrong_step_decay_no_floor, wrong_step_decay_off_by_one,
                      wrong_step_decay_one_late, wrong_step_decay_fixed_gamma,
                      wrong_step_decay_returns_array],
    "cosine_lr": [wrong_cosine_t_max_minus_one, wrong_cosine_off_by_one,
                  wrong_cosine_eta_min_added, wrong_cosine_returns_tensor],
    "warmup_lr": [wrong_warmup_one_step_late, wrong_warmup_from_zero, wrong_warmup_off_by_one,
                  wrong_warmup_no_min, wrong_warmup_returns_list],
    "cyclic_lr": [wrong_cyclic_sawtooth, wrong_cyclic_cycle_length,
                  wrong_cyclic_mixed_conventions, wrong_cyclic_off_by_one,
                  wrong_cyclic_returns_array],
    "sgdr_lr": [wrong_sgdr_ignores_t_mult, wrong_sgdr_restart_one_late, wrong_sgdr_off_by_one,
                wrong_sgdr_float_log, wrong_sgdr_drops_eta_min, wrong_sgdr_returns_tuple],
    "one_cycle_lr": [wrong_one_cycle_linear, wrong_one_cycle_boundary,
                     wrong_one_cycle_rounded_boundary, wrong_one_cycle_min_lr,
                     wrong_one_cycle_off_by_one, wrong_one_cycle_phase_two_too_long,
                     wrong_one_cycle_returns_tensor],
    "newton_step": [wrong_newton_plus, wrong_newton_times_hessian, wrong_newton_diagonal,
                    wrong_newton_inverse, wrong_newton_pinv, wrong_newton_in_place,
                    wrong_newton_abs_eigenvalues, wrong_newton_float32],
    "bfgs_update": [wrong_bfgs_rho_from_s, wrong_bfgs_missing_ss_term,
                    wrong_bfgs_transposes_swapped, wrong_bfgs_same_factor_twice,
                    wrong_bfgs_dot_not_outer, wrong_bfgs_in_place, wrong_bfgs_hessian_update,
                    wrong_bfgs_skips_small_curvature, wrong_bfgs_float32],
    "lbfgs_direction": [wrong_lbfgs_gamma_oldest, wrong_lbfgs_gamma_one,
                        wrong_lbfgs_gamma_inverted, wrong_lbfgs_second_loop_newest_first,
                        wrong_lbfgs_no_minus, wrong_lbfgs_last_pair_only,
                        wrong_lbfgs_reverses_history, wrong_lbfgs_grad_in_place,
                        wrong_lbfgs_no_pairs_returns_grad, wrong_lbfgs_pairs_newest_first,
                        wrong_lbfgs_float32],
}
