"""Implementations of the exercises of ``a03_adaptive_lr/adaptive_methods.ipynb``, to test the
checks in ``autograder.checks.a03_adaptive_lr.adaptive``.

``CORRECT[name]`` holds correct implementations of exercise ``name`` written differently from the
reference solution; the checks must accept them. ``WRONG[name]`` holds implementations with one
common student mistake each (named in the docstring); the hidden checks must reject them. The keys
are the names of the exercises in ``autograder.checks.a03_adaptive_lr.adaptive.EXERCISES``.
Everything is self-contained: nothing is imported from the reference solution.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from scipy.special import expit

from implementations import breaks

# ---------------------------------------------------------------------------------------------
# adagrad_step
# ---------------------------------------------------------------------------------------------


def adagrad_in_place_on_copies(w, dw, G, lr, eps=1e-10):
    """Copies first, then numpy's in-place ufuncs with ``out=``."""
    w, G = w.copy(), G.copy()
    np.add(G, np.square(dw), out=G)
    denom = np.sqrt(G)
    denom += eps
    w -= lr * np.divide(dw, denom)
    return w, G


def adagrad_torch_tensors(w, dw, G, lr, eps=1e-10):
    """The update with torch tensors (addcmul_/addcdiv_ on clones), converted back to numpy."""
    w_t, dw_t, G_t = (torch.tensor(a, dtype=torch.float64) for a in (w, dw, G))
    G_t.addcmul_(dw_t, dw_t)
    w_t.addcdiv_(dw_t, G_t.sqrt().add(eps), value=-lr)
    return w_t.numpy(), G_t.numpy()


@breaks("before")
def wrong_adagrad_accumulate_after_step(w, dw, G, lr, eps=1e-10):
    """Mistake: steps with the old accumulator, then adds dw^2 (the first step divides by eps)."""
    w_new = w - lr * dw / (np.sqrt(G) + eps)
    return w_new, G + dw**2


@breaks("eps")
def wrong_adagrad_eps_inside_sqrt(w, dw, G, lr, eps=1e-10):
    """Mistake: sqrt(G + eps) instead of sqrt(G) + eps (shows with tiny gradients)."""
    G = G + dw**2
    return w - lr * dw / np.sqrt(G + eps), G


@breaks("unchanged")
def wrong_adagrad_mutates_G(w, dw, G, lr, eps=1e-10):
    """Mistake: ``G += dw**2`` changes the caller's accumulator in place."""
    G += dw**2
    return w - lr * dw / (np.sqrt(G) + eps), G


@breaks("formula")
def wrong_adagrad_no_square(w, dw, G, lr, eps=1e-10):
    """Mistake: accumulates |dw| instead of dw^2 and divides by G, not sqrt(G)."""
    G = G + np.abs(dw)
    return w - lr * dw / (G + eps), G


# ---------------------------------------------------------------------------------------------
# rmsprop_step
# ---------------------------------------------------------------------------------------------


def rmsprop_in_place_on_copies(w, dw, s, lr, alpha=0.99, eps=1e-8):
    """Copies first, then ``s *= alpha; s += (1 - alpha) dw^2`` and ``w -= ...``."""
    w, s = np.array(w, copy=True), np.array(s, copy=True)
    s *= alpha
    s += (1 - alpha) * dw * dw
    w -= lr * dw / (s**0.5 + eps)
    return w, s


def rmsprop_torch_lerp(w, dw, s, lr, alpha=0.99, eps=1e-8):
    """The running average as ``s.lerp(dw^2, 1 - alpha)`` with torch tensors, back to numpy."""
    w_t, dw_t, s_t = (torch.from_numpy(np.array(a, dtype=np.float64)) for a in (w, dw, s))
    s_t = s_t.lerp(dw_t.square(), 1 - alpha)
    w_t = w_t - lr * dw_t / (s_t.sqrt() + eps)
    return w_t.numpy(), s_t.numpy()


@breaks("formula")
def wrong_rmsprop_swapped_alpha(w, dw, s, lr, alpha=0.99, eps=1e-8):
    """Mistake: s <- (1 - alpha) s + alpha dw^2 (the weights of the average swapped)."""
    s = (1 - alpha) * s + alpha * dw**2
    return w - lr * dw / (np.sqrt(s) + eps), s


@breaks("eps")
def wrong_rmsprop_eps_inside_sqrt(w, dw, s, lr, alpha=0.99, eps=1e-8):
    """Mistake: sqrt(s + eps) instead of sqrt(s) + eps (shows with tiny gradients)."""
    s = alpha * s + (1 - alpha) * dw**2
    return w - lr * dw / np.sqrt(s + eps), s


@breaks("unchanged")
def wrong_rmsprop_mutates_s(w, dw, s, lr, alpha=0.99, eps=1e-8):
    """Mistake: updates the caller's running average in place (``s *= alpha`` ...)."""
    s *= alpha
    s += (1 - alpha) * dw**2
    return w - lr * dw / (np.sqrt(s) + eps), s


@breaks("before")
def wrong_rmsprop_old_average(w, dw, s, lr, alpha=0.99, eps=1e-8):
    """Mistake: divides by the previous running average, updating it after the step."""
    w_new = w - lr * dw / (np.sqrt(s) + eps)
    return w_new, alpha * s + (1 - alpha) * dw**2


# ---------------------------------------------------------------------------------------------
# adam_step
# ---------------------------------------------------------------------------------------------


def adam_closed_form_bias_correction(w, dw, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    """Kingma & Ba's "efficient version": lr_t = lr sqrt(1 - beta2^t) / (1 - beta1^t) applied to
    m / (sqrt(v) + eps_t), with eps_t = eps sqrt(1 - beta2^t), which is the same update as eps
    added to sqrt(v_hat)."""
    m = beta1 * m + (1 - beta1) * dw
    v = beta2 * v + (1 - beta2) * dw * dw
    root = math.sqrt(1 - beta2**t)
    lr_t = lr * root / (1 - beta1**t)
    return w - lr_t * m / (np.sqrt(v) + eps * root), m, v


def adam_torch_tensors(w, dw, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    """torch tensors as in torch.optim.Adam (lerp_, addcmul_, addcdiv_), converted to numpy."""
    w_t, dw_t, m_t, v_t = (torch.tensor(a, dtype=torch.float64) for a in (w, dw, m, v))
    m_t.lerp_(dw_t, 1 - beta1)
    v_t.mul_(beta2).addcmul_(dw_t, dw_t, value=1 - beta2)
    denom = (v_t.sqrt() / math.sqrt(1 - beta2**t)).add_(eps)
    w_t.addcdiv_(m_t, denom, value=-lr / (1 - beta1**t))
    return w_t.numpy(), m_t.numpy(), v_t.numpy()


def adam_in_place_on_copies(w, dw, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    """Copies first, then in-place updates of the copies."""
    w, m, v = w.copy(), m.copy(), v.copy()
    m *= beta1
    m += (1 - beta1) * dw
    v *= beta2
    v += (1 - beta2) * np.square(dw)
    w -= lr * (m / (1 - beta1**t)) / (np.sqrt(v / (1 - beta2**t)) + eps)
    return w, m, v


@breaks("bias_correction")
def wrong_adam_no_bias_correction(w, dw, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    """Mistake: uses m and v directly, without dividing by 1 - beta^t."""
    m = beta1 * m + (1 - beta1) * dw
    v = beta2 * v + (1 - beta2) * dw**2
    return w - lr * m / (np.sqrt(v) + eps), m, v


@breaks("t")
def wrong_adam_t_minus_one(w, dw, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    """Mistake: bias correction with t - 1 (treats t as the number of previous steps)."""
    m = beta1 * m + (1 - beta1) * dw
    v = beta2 * v + (1 - beta2) * dw**2
    with np.errstate(divide="ignore", invalid="ignore"):
        m_hat = m / (1 - beta1 ** (t - 1))
        v_hat = v / (1 - beta2 ** (t - 1))
        return w - lr * m_hat / (np.sqrt(v_hat) + eps), m, v


def wrong_adam_t_plus_one(w, dw, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    """Mistake: bias correction with t + 1 (counts the step twice)."""
    m = beta1 * m + (1 - beta1) * dw
    v = beta2 * v + (1 - beta2) * dw**2
    m_hat = m / (1 - beta1 ** (t + 1))
    v_hat = v / (1 - beta2 ** (t + 1))
    return w - lr * m_hat / (np.sqrt(v_hat) + eps), m, v


@breaks("eps")
def wrong_adam_eps_inside_sqrt(w, dw, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    """Mistake: sqrt(v_hat + eps) instead of sqrt(v_hat) + eps (shows with tiny gradients)."""
    m = beta1 * m + (1 - beta1) * dw
    v = beta2 * v + (1 - beta2) * dw**2
    m_hat = m / (1 - beta1**t)
    v_hat = v / (1 - beta2**t)
    return w - lr * m_hat / np.sqrt(v_hat + eps), m, v


def wrong_adam_eps_on_uncorrected_v(w, dw, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999,
                                    eps=1e-8):
    """Off specification: the paper's "efficient version" with eps itself added to sqrt(v)
    (not eps sqrt(1 - beta2^t)): torch.optim.Adam adds eps to sqrt(v_hat). The same except with
    tiny gradients, where eps is large next to sqrt(v)."""
    m = beta1 * m + (1 - beta1) * dw
    v = beta2 * v + (1 - beta2) * dw**2
    lr_t = lr * math.sqrt(1 - beta2**t) / (1 - beta1**t)
    return w - lr_t * m / (np.sqrt(v) + eps), m, v


@breaks("state")
def wrong_adam_returns_corrected_state(w, dw, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999,
                                       eps=1e-8):
    """Mistake: returns the bias-corrected m_hat and v_hat as the new state."""
    m = (beta1 * m + (1 - beta1) * dw) / (1 - beta1**t)
    v = (beta2 * v + (1 - beta2) * dw**2) / (1 - beta2**t)
    return w - lr * m / (np.sqrt(v) + eps), m, v


@breaks("unchanged")
def wrong_adam_mutates_moments(w, dw, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    """Mistake: updates the caller's m and v in place."""
    m *= beta1
    m += (1 - beta1) * dw
    v *= beta2
    v += (1 - beta2) * dw**2
    return w - lr * (m / (1 - beta1**t)) / (np.sqrt(v / (1 - beta2**t)) + eps), m, v


# ---------------------------------------------------------------------------------------------
# radam_step
# ---------------------------------------------------------------------------------------------


def _rho(t, beta2):
    rho_inf = 2 / (1 - beta2) - 1
    return rho_inf, rho_inf - 2 * t * beta2**t / (1 - beta2**t)


def _rect(rho_t, rho_inf):
    return math.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t))


def radam_torch_tensors(w, dw, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    """torch tensors: lerp_/addcmul_ moments, the rectified step with addcdiv_, back to numpy."""
    w_t, dw_t, m_t, v_t = (torch.tensor(a, dtype=torch.float64) for a in (w, dw, m, v))
    m_t.lerp_(dw_t, 1 - beta1)
    v_t.mul_(beta2).addcmul_(dw_t, dw_t, value=1 - beta2)
    rho_inf, rho_t = _rho(t, beta2)
    step_size = lr / (1 - beta1**t)
    if rho_t > 5:
        step_size *= _rect(rho_t, rho_inf) * math.sqrt(1 - beta2**t)
        w_t.addcdiv_(m_t, v_t.sqrt().add_(eps), value=-step_size)
    else:
        w_t.add_(m_t, alpha=-step_size)
    return w_t.numpy(), m_t.numpy(), v_t.numpy()


def radam_corrected_v_with_scaled_eps(w, dw, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999,
                                      eps=1e-8):
    """Written with v_hat = v / (1 - beta2^t): eps / sqrt(1 - beta2^t) added to sqrt(v_hat),
    which is the same as eps added to sqrt(v) then multiplied by sqrt(1 - beta2^t)."""
    m = beta1 * m + (1 - beta1) * dw
    v = beta2 * v + (1 - beta2) * dw**2
    bc2 = 1 - beta2**t
    m_hat = m / (1 - beta1**t)
    rho_inf = 2 / (1 - beta2) - 1
    rho_t = rho_inf - 2 * t * beta2**t / bc2
    if rho_t <= 5:
        return w - lr * m_hat, m, v
    r = np.sqrt((rho_t - 4) / (rho_inf - 4) * (rho_t - 2) / (rho_inf - 2) * rho_inf / rho_t)
    return w - lr * r * m_hat / (np.sqrt(v / bc2) + eps / np.sqrt(bc2)), m, v


def _radam_moments(dw, m, v, beta1, beta2):
    return beta1 * m + (1 - beta1) * dw, beta2 * v + (1 - beta2) * dw**2


@breaks("threshold")
def wrong_radam_threshold_4(w, dw, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    """Mistake: rectified step as soon as rho_t > 4 (the paper's text), not rho_t > 5 (torch)."""
    m, v = _radam_moments(dw, m, v, beta1, beta2)
    rho_inf, rho_t = _rho(t, beta2)
    m_hat = m / (1 - beta1**t)
    if rho_t > 4:
        adaptive = math.sqrt(1 - beta2**t) / (np.sqrt(v) + eps)
        return w - lr * _rect(rho_t, rho_inf) * m_hat * adaptive, m, v
    return w - lr * m_hat, m, v


@breaks("rectification")
def wrong_radam_no_rectification(w, dw, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    """Mistake: the adaptive step without the rectification factor r_t once rho_t > 5."""
    m, v = _radam_moments(dw, m, v, beta1, beta2)
    _, rho_t = _rho(t, beta2)
    m_hat = m / (1 - beta1**t)
    if rho_t > 5:
        return w - lr * m_hat * math.sqrt(1 - beta2**t) / (np.sqrt(v) + eps), m, v
    return w - lr * m_hat, m, v


def wrong_radam_threshold_on_t(w, dw, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    """Mistake: tests the step number (t > 5) instead of rho_t > 5 (equal only for beta2 near
    1)."""
    m, v = _radam_moments(dw, m, v, beta1, beta2)
    rho_inf, rho_t = _rho(t, beta2)
    m_hat = m / (1 - beta1**t)
    if t > 5:
        r = _rect(rho_t, rho_inf) if rho_t > 4 else 1.0
        return w - lr * r * m_hat * math.sqrt(1 - beta2**t) / (np.sqrt(v) + eps), m, v
    return w - lr * m_hat, m, v


@breaks("eps")
def wrong_radam_eps_on_corrected_v(w, dw, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    """Off specification: eps added to sqrt(v_hat) as in Adam; torch.optim.RAdam adds it to
    sqrt(v) (shows with tiny gradients)."""
    m, v = _radam_moments(dw, m, v, beta1, beta2)
    rho_inf, rho_t = _rho(t, beta2)
    m_hat = m / (1 - beta1**t)
    if rho_t > 5:
        v_hat = v / (1 - beta2**t)
        return w - lr * _rect(rho_t, rho_inf) * m_hat / (np.sqrt(v_hat) + eps), m, v
    return w - lr * m_hat, m, v


@breaks("early")
def wrong_radam_momentum_step_uncorrected(w, dw, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999,
                                          eps=1e-8):
    """Mistake: the un-adapted early steps use m instead of the bias-corrected m_hat."""
    m, v = _radam_moments(dw, m, v, beta1, beta2)
    rho_inf, rho_t = _rho(t, beta2)
    if rho_t > 5:
        m_hat = m / (1 - beta1**t)
        adaptive = math.sqrt(1 - beta2**t) / (np.sqrt(v) + eps)
        return w - lr * _rect(rho_t, rho_inf) * m_hat * adaptive, m, v
    return w - lr * m, m, v


# ---------------------------------------------------------------------------------------------
# diffgrad_step
# ---------------------------------------------------------------------------------------------


def diffgrad_expit_closed_form(w, dw, prev_dw, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999,
                               eps=1e-8):
    """xi with scipy's expit; lr_t = lr sqrt(1 - beta2^t) / (1 - beta1^t) and
    eps sqrt(1 - beta2^t) added to sqrt(v) (the same update)."""
    m = beta1 * m + (1 - beta1) * dw
    v = beta2 * v + (1 - beta2) * dw**2
    xi = expit(np.abs(prev_dw - dw))
    root = math.sqrt(1 - beta2**t)
    lr_t = lr * root / (1 - beta1**t)
    return w - lr_t * xi * m / (np.sqrt(v) + eps * root), m, v


def diffgrad_torch_sigmoid(w, dw, prev_dw, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    """torch tensors, xi = torch.sigmoid(|prev_dw - dw|), in-place ops on clones."""
    w_t, dw_t, prev_t, m_t, v_t = (torch.tensor(a, dtype=torch.float64)
                                   for a in (w, dw, prev_dw, m, v))
    m_t.mul_(beta1).add_(dw_t, alpha=1 - beta1)
    v_t.mul_(beta2).addcmul_(dw_t, dw_t, value=1 - beta2)
    xi = torch.sigmoid((prev_t - dw_t).abs())
    denom = (v_t / (1 - beta2**t)).sqrt_().add_(eps)
    w_t.addcdiv_(xi * m_t / (1 - beta1**t), denom, value=-lr)
    return w_t.numpy(), m_t.numpy(), v_t.numpy()


def _diffgrad_moments(dw, m, v, t, beta1, beta2):
    m = beta1 * m + (1 - beta1) * dw
    v = beta2 * v + (1 - beta2) * dw**2
    return m, v, m / (1 - beta1**t), v / (1 - beta2**t)


def wrong_diffgrad_xi_on_v(w, dw, prev_dw, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    """Mistake: multiplies v_hat (inside the square root) by xi instead of m_hat."""
    m, v, m_hat, v_hat = _diffgrad_moments(dw, m, v, t, beta1, beta2)
    xi = 1 / (1 + np.exp(-np.abs(prev_dw - dw)))
    return w - lr * m_hat / (np.sqrt(xi * v_hat) + eps), m, v


def wrong_diffgrad_prev_is_dw(w, dw, prev_dw, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999,
                              eps=1e-8):
    """Mistake: compares dw with itself (prev_dw = dw), so xi is always 1/2."""
    m, v, m_hat, v_hat = _diffgrad_moments(dw, m, v, t, beta1, beta2)
    xi = 1 / (1 + np.exp(-np.abs(dw - dw)))
    return w - lr * xi * m_hat / (np.sqrt(v_hat) + eps), m, v


@breaks("state")
def wrong_diffgrad_xi_stored_in_m(w, dw, prev_dw, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999,
                                  eps=1e-8):
    """Mistake: multiplies the stored first moment by xi (m <- xi m), not just m_hat."""
    xi = 1 / (1 + np.exp(-np.abs(prev_dw - dw)))
    m = xi * (beta1 * m + (1 - beta1) * dw)
    v = beta2 * v + (1 - beta2) * dw**2
    m_hat, v_hat = m / (1 - beta1**t), v / (1 - beta2**t)
    return w - lr * m_hat / (np.sqrt(v_hat) + eps), m, v


@breaks("xi")
def wrong_diffgrad_signed_difference(w, dw, prev_dw, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999,
                                     eps=1e-8):
    """Mistake: xi = sigmoid(prev_dw - dw) without the absolute value."""
    m, v, m_hat, v_hat = _diffgrad_moments(dw, m, v, t, beta1, beta2)
    xi = 1 / (1 + np.exp(-(prev_dw - dw)))
    return w - lr * xi * m_hat / (np.sqrt(v_hat) + eps), m, v


@breaks("unchanged")
def wrong_diffgrad_updates_w_in_place(w, dw, prev_dw, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999,
                                      eps=1e-8):
    """Mistake: ``w -= ...`` changes the caller's parameters in place."""
    m, v, m_hat, v_hat = _diffgrad_moments(dw, m, v, t, beta1, beta2)
    w -= lr * m_hat / (1 + np.exp(-np.abs(prev_dw - dw))) / (np.sqrt(v_hat) + eps)
    return w, m, v


# ---------------------------------------------------------------------------------------------
# Adam (the optimizer class)
# ---------------------------------------------------------------------------------------------


class _AdamBase(torch.optim.Optimizer):
    """Shared constructor and closure handling; subclasses define ``_update(p, group)``."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        super().__init__(params, {"lr": lr, "betas": betas, "eps": eps,
                                  "weight_decay": weight_decay})

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    self._update(p, group)
        return loss

    def _moments(self, p, g, group):
        beta1, beta2 = group["betas"]
        state = self.state[p]
        if not state:
            state["step"] = 0
            state["m"] = torch.zeros_like(p)
            state["v"] = torch.zeros_like(p)
        state["step"] += 1
        state["m"].mul_(beta1).add_(g, alpha=1 - beta1)
        state["v"].mul_(beta2).addcmul_(g, g, value=1 - beta2)
        return state["m"], state["v"], state["step"]


class AdamClosedForm(_AdamBase):
    """Correct: step size lr sqrt(1 - beta2^t) / (1 - beta1^t), denominator sqrt(v) +
    eps sqrt(1 - beta2^t), one addcdiv_."""

    def _update(self, p, group):
        beta1, beta2 = group["betas"]
        g = p.grad.add(p, alpha=group["weight_decay"])
        m, v, t = self._moments(p, g, group)
        root = math.sqrt(1 - beta2**t)
        p.addcdiv_(m, v.sqrt().add_(group["eps"] * root), value=-group["lr"] * root
                   / (1 - beta1**t))


class AdamFunctional(torch.optim.Optimizer):
    """Correct: state as tensors m, v and a tensor step count; new tensors, copied into p."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        super().__init__(params, {"lr": lr, "betas": betas, "eps": eps,
                                  "weight_decay": weight_decay})

    def step(self, closure=None):
        loss = None
        if closure is not None:
            loss = closure()
        with torch.no_grad():
            for group in self.param_groups:
                beta1, beta2 = group["betas"]
                for p in filter(lambda q: q.grad is not None, group["params"]):
                    state = self.state[p]
                    g = p.grad + group["weight_decay"] * p
                    t = state.get("t", torch.tensor(0.0, dtype=torch.float64)) + 1
                    m = beta1 * state.get("m", torch.zeros_like(p)) + (1 - beta1) * g
                    v = beta2 * state.get("v", torch.zeros_like(p)) + (1 - beta2) * g * g
                    state.update(t=t, m=m, v=v)
                    m_hat = m / (1 - beta1**t)
                    v_hat = v / (1 - beta2**t)
                    p.copy_(p - group["lr"] * m_hat / (v_hat.sqrt() + group["eps"]))
        return loss


def _plain_update(p, g, m, v, t, group):
    beta1, beta2 = group["betas"]
    m_hat = m / (1 - beta1**t)
    v_hat = v / (1 - beta2**t)
    p.sub_(group["lr"] * m_hat / (v_hat.sqrt() + group["eps"]))


@breaks("l2")
class WrongAdamDecoupledWeightDecay(_AdamBase):
    """Mistake: AdamW's decoupled weight decay p <- p (1 - lr wd) instead of L2 in the
    gradient."""

    def _update(self, p, group):
        p.mul_(1 - group["lr"] * group["weight_decay"])
        m, v, t = self._moments(p, p.grad, group)
        _plain_update(p, p.grad, m, v, t, group)


class WrongAdamStepCountPerParameter(_AdamBase):
    """Mistake: one step counter on the optimizer, incremented for every parameter (so t grows
    by the number of parameters per step): state shared across parameters."""

    def _update(self, p, group):
        g = p.grad + group["weight_decay"] * p
        m, v, _ = self._moments(p, g, group)
        self.t = getattr(self, "t", 0) + 1
        _plain_update(p, g, m, v, self.t, group)


@breaks("t")
class WrongAdamOneStepCounter(_AdamBase):
    """Mistake: one step counter for the whole optimizer, incremented once per step(): a
    parameter skipped on some steps (grad None) gets the wrong t."""

    @torch.no_grad()
    def step(self, closure=None):
        self.t = getattr(self, "t", 0) + 1
        return super().step(closure)

    def _update(self, p, group):
        g = p.grad + group["weight_decay"] * p
        m, v, _ = self._moments(p, g, group)
        _plain_update(p, g, m, v, self.t, group)


@breaks("own_moments")
class WrongAdamSharedMoments(_AdamBase):
    """Mistake: one m and one v per parameter group, shared by its parameters (the first tensor's
    shape; the next tensor of another shape makes PyTorch raise)."""

    def _update(self, p, group):
        beta1, beta2 = group["betas"]
        g = p.grad + group["weight_decay"] * p
        state = self.state.setdefault(f"group {self.param_groups.index(group)}", {})
        if not state:
            state.update(t=0, m=torch.zeros_like(p), v=torch.zeros_like(p))
        state["t"] += 1
        state["m"].mul_(beta1).add_(g, alpha=1 - beta1)
        state["v"].mul_(beta2).addcmul_(g, g, value=1 - beta2)
        _plain_update(p, g, state["m"], state["v"], state["t"], group)


@breaks("per_group")
class WrongAdamIgnoresGroups(_AdamBase):
    """Mistake: reads lr, betas, eps and weight decay from ``self.defaults``, not from each
    parameter group (and so ignores a learning rate changed in ``param_groups``)."""

    def _update(self, p, group):
        g = p.grad + self.defaults["weight_decay"] * p
        m, v, t = self._moments(p, g, self.defaults)
        _plain_update(p, g, m, v, t, self.defaults)


@breaks("skip_none")
class WrongAdamNoneGradAsZero(_AdamBase):
    """Mistake: a parameter whose grad is None is updated with a zero gradient (its moments decay
    and its step count advances) instead of being skipped."""

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                g = p.grad if p.grad is not None else torch.zeros_like(p)
                g = g + group["weight_decay"] * p
                m, v, t = self._moments(p, g, group)
                _plain_update(p, g, m, v, t, group)
        return loss


@breaks("eps")
class WrongAdamEpsInsideSqrt(_AdamBase):
    """Mistake: sqrt(v_hat + eps) instead of sqrt(v_hat) + eps (shows with tiny gradients)."""

    def _update(self, p, group):
        beta1, beta2 = group["betas"]
        g = p.grad + group["weight_decay"] * p
        m, v, t = self._moments(p, g, group)
        p.sub_(group["lr"] * (m / (1 - beta1**t)) / (v / (1 - beta2**t) + group["eps"]).sqrt())


# ---------------------------------------------------------------------------------------------
# Wrong implementations that break exactly one clause of the docstring each
# ---------------------------------------------------------------------------------------------


@breaks("returns")
def wrong_adagrad_float32(w, dw, G, lr, eps=1e-10):
    """Mistake: returns float32 arrays (astype to save memory), not float64."""
    return tuple(a.astype(np.float32) for a in adagrad_in_place_on_copies(w, dw, G, lr, eps))


@breaks("returns")
def wrong_rmsprop_float32(w, dw, s, lr, alpha=0.99, eps=1e-8):
    """Mistake: returns float32 arrays, not float64."""
    return tuple(a.astype(np.float32) for a in rmsprop_in_place_on_copies(w, dw, s, lr, alpha,
                                                                         eps))


@breaks("returns")
def wrong_adam_float32(w, dw, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    """Mistake: returns float32 arrays, not float64."""
    return tuple(a.astype(np.float32) for a in adam_in_place_on_copies(w, dw, m, v, t, lr, beta1,
                                                                      beta2, eps))


@breaks("state")
def wrong_radam_returns_corrected_state(w, dw, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999,
                                        eps=1e-8):
    """Mistake: returns the bias-corrected m_hat and v_hat as the new state."""
    w_new, m_new, v_new = radam_torch_tensors(w, dw, m, v, t, lr, beta1, beta2, eps)
    return w_new, m_new / (1 - beta1**t), v_new / (1 - beta2**t)


@breaks("unchanged")
def wrong_radam_mutates_moments(w, dw, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    """Mistake: writes the new moments into the caller's m and v (m[...] = ...)."""
    w_new, m_new, v_new = radam_torch_tensors(w, dw, m, v, t, lr, beta1, beta2, eps)
    m[...] = m_new
    v[...] = v_new
    return w_new, m, v


@breaks("returns")
def wrong_radam_float32(w, dw, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    """Mistake: returns float32 arrays, not float64."""
    return tuple(a.astype(np.float32) for a in radam_torch_tensors(w, dw, m, v, t, lr, beta1,
                                                                   beta2, eps))


@breaks("overflow")
def wrong_diffgrad_xi_overflows(w, dw, prev_dw, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999,
                                eps=1e-8):
    """Mistake: xi = e^d / (1 + e^d) with d = |prev_dw - dw|: the same number, but e^d overflows
    to inf for huge gradients and xi becomes inf / inf = NaN."""
    m, v, m_hat, v_hat = _diffgrad_moments(dw, m, v, t, beta1, beta2)
    with np.errstate(over="ignore", invalid="ignore"):
        e = np.exp(np.abs(prev_dw - dw))
        xi = e / (1 + e)
    return w - lr * xi * m_hat / (np.sqrt(v_hat) + eps), m, v


@breaks("eps")
def wrong_diffgrad_eps_inside_sqrt(w, dw, prev_dw, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999,
                                   eps=1e-8):
    """Mistake: sqrt(v_hat + eps) instead of sqrt(v_hat) + eps."""
    m, v, m_hat, v_hat = _diffgrad_moments(dw, m, v, t, beta1, beta2)
    xi = 1 / (1 + np.exp(-np.abs(prev_dw - dw)))
    return w - lr * xi * m_hat / np.sqrt(v_hat + eps), m, v


@breaks("prev_not_returned")
def wrong_diffgrad_returns_prev(w, dw, prev_dw, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999,
                                eps=1e-8):
    """Mistake: also returns dw, the next step's prev_dw: (w_new, m_new, v_new, dw)."""
    return (*diffgrad_expit_closed_form(w, dw, prev_dw, m, v, t, lr, beta1, beta2, eps),
            dw.copy())


@breaks("returns")
def wrong_diffgrad_float32(w, dw, prev_dw, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    """Mistake: returns float32 arrays, not float64."""
    return tuple(a.astype(np.float32) for a in diffgrad_expit_closed_form(
        w, dw, prev_dw, m, v, t, lr, beta1, beta2, eps))


@breaks("closure")
class WrongAdamDropsClosureLoss(_AdamBase):
    """Mistake: calls the closure but returns None instead of its loss."""

    def step(self, closure=None):
        super().step(closure)

    def _update(self, p, group):
        g = p.grad + group["weight_decay"] * p
        m, v, t = self._moments(p, g, group)
        _plain_update(p, g, m, v, t, group)


@breaks("grad_unchanged")
class WrongAdamDecayIntoGrad(_AdamBase):
    """Mistake: adds the weight decay to p.grad in place (p.grad.add_(p, alpha=wd)), changing the
    gradient the caller sees."""

    def _update(self, p, group):
        g = p.grad.add_(p, alpha=group["weight_decay"])
        m, v, t = self._moments(p, g, group)
        _plain_update(p, g, m, v, t, group)


@breaks("own_moments")
class WrongAdamMomentIsGrad(_AdamBase):
    """Mistake: on p's first step m = (1 - beta1) g is computed in place on g, which is p.grad
    itself without weight decay: m is p.grad, and zero_grad(set_to_none=False) zeroes it."""

    def _update(self, p, group):
        beta1, beta2 = group["betas"]
        wd = group["weight_decay"]
        g = p.grad if wd == 0 else p.grad + wd * p
        state = self.state[p]
        if not state:
            state["step"] = 1
            state["v"] = (1 - beta2) * g * g
            state["m"] = g.mul_(1 - beta1)
        else:
            state["step"] += 1
            state["v"].mul_(beta2).addcmul_(g, g, value=1 - beta2)
            state["m"].mul_(beta1).add_(g, alpha=1 - beta1)
        _plain_update(p, g, state["m"], state["v"], state["step"], group)


CORRECT = {
    "adagrad_step": [adagrad_in_place_on_copies, adagrad_torch_tensors],
    "rmsprop_step": [rmsprop_in_place_on_copies, rmsprop_torch_lerp],
    "adam_step": [adam_closed_form_bias_correction, adam_torch_tensors, adam_in_place_on_copies],
    "radam_step": [radam_torch_tensors, radam_corrected_v_with_scaled_eps],
    "diffgrad_step": [diffgrad_expit_closed_form, diffgrad_torch_sigmoid],
    "Adam": [AdamClosedForm, AdamFunctional],
}

WRONG = {
    "adagrad_step": [wrong_adagrad_accumulate_after_step, wrong_adagrad_eps_inside_sqrt,
                     wrong_adagrad_mutates_G, wrong_adagrad_no_square, wrong_adagrad_float32],
    "rmsprop_step": [wrong_rmsprop_swapped_alpha, wrong_rmsprop_eps_inside_sqrt,
                     wrong_rmsprop_mutates_s, wrong_rmsprop_old_average, wrong_rmsprop_float32],
    "adam_step": [wrong_adam_no_bias_correction, wrong_adam_t_minus_one, wrong_adam_t_plus_one,
                  wrong_adam_eps_inside_sqrt, wrong_adam_eps_on_uncorrected_v,
                  wrong_adam_returns_corrected_state, wrong_adam_mutates_moments,
                  wrong_adam_float32],
    "radam_step": [wrong_radam_threshold_4, wrong_radam_no_rectification,
                   wrong_radam_threshold_on_t, wrong_radam_eps_on_corrected_v,
                   wrong_radam_momentum_step_uncorrected, wrong_radam_returns_corrected_state,
                   wrong_radam_mutates_moments, wrong_radam_float32],
    "diffgrad_step": [wrong_diffgrad_xi_on_v, wrong_diffgrad_prev_is_dw,
                      wrong_diffgrad_xi_stored_in_m, wrong_diffgrad_signed_difference,
                      wrong_diffgrad_updates_w_in_place, wrong_diffgrad_xi_overflows,
                      wrong_diffgrad_eps_inside_sqrt, wrong_diffgrad_returns_prev,
                      wrong_diffgrad_float32],
    "Adam": [WrongAdamDecoupledWeightDecay, WrongAdamStepCountPerParameter,
             WrongAdamOneStepCounter, WrongAdamSharedMoments, WrongAdamIgnoresGroups,
             WrongAdamNoneGradAsZero, WrongAdamEpsInsideSqrt, WrongAdamDropsClosureLoss,
             WrongAdamDecayIntoGrad, WrongAdamMomentIsGrad],
}
