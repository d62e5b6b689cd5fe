"""Implementations of the a02_batch_momentum exercises: alternative correct ones and common
mistakes. ``tests/test_a02_implementations.py`` checks that the hidden cases accept the first
and reject the second."""

from __future__ import annotations

import numpy as np
import torch

# ---------------------------------------------------------------------------------------------
# minibatches
# ---------------------------------------------------------------------------------------------


def minibatches_generator(X, y, batch_size, rng):
    """Correct: a generator indexing with slices of the permutation."""
    perm = rng.permutation(len(X))
    for start in range(0, len(X), batch_size):
        idx = perm[start:start + batch_size]
        yield X[idx], y[idx]


def minibatches_array_split(X, y, batch_size, rng):
    """Correct: np.array_split at multiples of batch_size."""
    perm = rng.permutation(len(X))
    cuts = np.arange(batch_size, len(X), batch_size)
    return list(zip(np.split(X[perm], cuts), np.split(y[perm], cuts), strict=True))


def wrong_minibatches_shuffle_in_place(X, y, batch_size, rng):
    """Mistake: shuffles X and y in place (and with two different draws)."""
    rng.shuffle(X)
    rng.shuffle(y)
    return [(X[i:i + batch_size], y[i:i + batch_size]) for i in range(0, len(X), batch_size)]


def wrong_minibatches_drop_last(X, y, batch_size, rng):
    """Mistake: drops the last, smaller batch."""
    perm = rng.permutation(len(X))
    return [(X[perm][i:i + batch_size], y[perm][i:i + batch_size])
            for i in range(0, len(X) - batch_size + 1, batch_size)]


def wrong_minibatches_no_shuffle(X, y, batch_size, rng):
    """Mistake: never shuffles."""
    return [(X[i:i + batch_size], y[i:i + batch_size]) for i in range(0, len(X), batch_size)]


def wrong_minibatches_sampling_with_replacement(X, y, batch_size, rng):
    """Mistake: draws each batch with rng.choice (examples repeat or go missing)."""
    n_batches = -(-len(X) // batch_size)
    out = []
    for k in range(n_batches):
        size = min(batch_size, len(X) - k * batch_size)
        idx = rng.choice(len(X), size=size)
        out.append((X[idx], y[idx]))
    return out


def wrong_minibatches_permutation_per_batch(X, y, batch_size, rng):
    """Mistake: a new permutation for every batch."""
    out = []
    for start in range(0, len(X), batch_size):
        perm = rng.permutation(len(X))
        out.append((X[perm][start:start + batch_size], y[perm][start:start + batch_size]))
    return out


# ---------------------------------------------------------------------------------------------
# sgd_step
# ---------------------------------------------------------------------------------------------


def sgd_step_subtract(w, dw, lr):
    """Correct: np.subtract with a scaled gradient."""
    return np.subtract(w, np.multiply(lr, dw))


def wrong_sgd_step_ascent(w, dw, lr):
    """Mistake: moves along the gradient."""
    return w + lr * dw


def wrong_sgd_step_in_place(w, dw, lr):
    """Mistake: updates w in place."""
    w -= lr * dw
    return w


def wrong_sgd_step_returns_update(w, dw, lr):
    """Mistake: returns the update instead of the new parameters."""
    return lr * dw


# ---------------------------------------------------------------------------------------------
# momentum_step
# ---------------------------------------------------------------------------------------------


def momentum_step_torch(w, dw, v, lr, momentum, nesterov=False):
    """Correct: runs one step of torch.optim.SGD with the buffer preloaded."""
    p = torch.tensor(w, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.SGD([p], lr=lr, momentum=momentum, nesterov=nesterov)
    if momentum != 0:
        opt.state[p]["momentum_buffer"] = torch.tensor(v, dtype=torch.float64)
    p.grad = torch.tensor(dw, dtype=torch.float64)
    opt.step()
    v_new = momentum * v + dw
    return p.detach().numpy().copy(), v_new


def momentum_step_lookahead(w, dw, v, lr, momentum, nesterov=False):
    """Correct: Nesterov written as the update with g + momentum * v_new expanded."""
    v_new = v * momentum + dw
    step = (1 + momentum) * dw + momentum**2 * v if nesterov else v_new
    return w - lr * step, v_new


def wrong_momentum_lr_inside_velocity(w, dw, v, lr, momentum, nesterov=False):
    """Mistake: the lecture-notes form v = rho v - lr g, w = w + v (v is not PyTorch's buffer,
    and the two forms part ways when lr changes)."""
    v_new = momentum * v - lr * dw
    if nesterov:
        return w + momentum * v_new - lr * dw, v_new
    return w + v_new, v_new


def wrong_momentum_nesterov_old_velocity(w, dw, v, lr, momentum, nesterov=False):
    """Mistake: Nesterov uses the old buffer in g + momentum * v."""
    v_new = momentum * v + dw
    if nesterov:
        return w - lr * (dw + momentum * v), v_new
    return w - lr * v_new, v_new


def wrong_momentum_dampening(w, dw, v, lr, momentum, nesterov=False):
    """Mistake: an exponential moving average, v = rho v + (1 - rho) g."""
    v_new = momentum * v + (1 - momentum) * dw
    step = dw + momentum * v_new if nesterov else v_new
    return w - lr * step, v_new


def wrong_momentum_update_before_velocity(w, dw, v, lr, momentum, nesterov=False):
    """Mistake: moves with the old velocity, then updates it."""
    w_new = w - lr * v
    return w_new, momentum * v + dw


# ---------------------------------------------------------------------------------------------
# SGD optimizer class
# ---------------------------------------------------------------------------------------------


class SGDForeach(torch.optim.Optimizer):
    """Correct: vectorized over each group with torch._foreach ops and lazily created buffers."""

    def __init__(self, params, lr, momentum=0.0, nesterov=False, weight_decay=0.0):
        super().__init__(params, {"lr": lr, "momentum": momentum, "nesterov": nesterov,
                                  "weight_decay": weight_decay})

    @torch.no_grad()
    def step(self, closure=None):
        loss = closure() if closure is not None else None
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            grads = [p.grad.clone() for p in params]
            if group["weight_decay"]:
                torch._foreach_add_(grads, params, alpha=group["weight_decay"])
            if group["momentum"]:
                bufs = []
                for p, g in zip(params, grads, strict=True):
                    state = self.state[p]
                    if "buf" not in state:
                        state["buf"] = g.clone()
                    else:
                        state["buf"].mul_(group["momentum"]).add_(g)
                    bufs.append(state["buf"])
                if group["nesterov"]:
                    torch._foreach_add_(grads, bufs, alpha=group["momentum"])
                else:
                    grads = bufs
            torch._foreach_add_(params, grads, alpha=-group["lr"])
        return loss


def _make_wrong_sgd(variant: str) -> type:
    class WrongSGD(torch.optim.Optimizer):
        def __init__(self, params, lr, momentum=0.0, nesterov=False, weight_decay=0.0):
            super().__init__(params, {"lr": lr, "momentum": momentum, "nesterov": nesterov,
                                      "weight_decay": weight_decay})
            self.initial_lr = lr
            self.shared_buffer = {}

        @torch.no_grad()
        def step(self, closure=None):
            for group in self.param_groups:
                lr = self.initial_lr if variant == "cached_lr" else group["lr"]
                for p in group["params"]:
                    if p.grad is None:
                        continue
                    g = p.grad.clone()
                    if variant != "decay_after_momentum":
                        g += group["weight_decay"] * p
                    if group["momentum"]:
                        key = p.shape if variant == "shared_state" else id(p)
                        buf = self.shared_buffer.get(key)
                        buf = g.clone() if buf is None or buf.shape != g.shape else (
                            group["momentum"] * buf + g)
                        self.shared_buffer[key] = buf
                        g = g + group["momentum"] * buf if group["nesterov"] else buf
                    if variant == "decay_after_momentum":
                        g = g + group["weight_decay"] * p
                    p -= lr * g

    WrongSGD.__name__ = f"wrong_sgd_{variant}"
    WrongSGD.__qualname__ = WrongSGD.__name__
    WrongSGD.__doc__ = {
        "cached_lr": "Mistake: reads lr once in __init__; later changes of param_groups[i]['lr'] "
                     "(schedulers, groups with their own lr) are ignored.",
        "decay_after_momentum": "Mistake: adds weight decay after momentum, not to the gradient.",
        "shared_state": "Mistake: keys the momentum buffer by shape, so same-shaped parameters "
                        "share one buffer.",
    }[variant]
    return WrongSGD


class wrong_sgd_crashes_on_missing_grad(torch.optim.Optimizer):  # noqa: N801 - test id
    """Mistake: assumes every parameter has a gradient (p.grad is None crashes)."""

    def __init__(self, params, lr, momentum=0.0, nesterov=False, weight_decay=0.0):
        super().__init__(params, {"lr": lr, "momentum": momentum, "nesterov": nesterov,
                                  "weight_decay": weight_decay})

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            for p in group["params"]:
                g = p.grad + group["weight_decay"] * p
                if group["momentum"]:
                    state = self.state[p]
                    state["buf"] = group["momentum"] * state.get("buf", torch.zeros_like(p)) + g
                    g = g + group["momentum"] * state["buf"] if group["nesterov"] else state["buf"]
                p -= group["lr"] * g


CORRECT = {
    "minibatches": [minibatches_generator, minibatches_array_split],
    "sgd_step": [sgd_step_subtract],
    "momentum_step": [momentum_step_torch, momentum_step_lookahead],
    "SGD": [SGDForeach],
}

WRONG = {
    "minibatches": [wrong_minibatches_shuffle_in_place, wrong_minibatches_drop_last,
                    wrong_minibatches_no_shuffle, wrong_minibatches_sampling_with_replacement,
                    wrong_minibatches_permutation_per_batch],
    "sgd_step": [wrong_sgd_step_ascent, wrong_sgd_step_in_place, wrong_sgd_step_returns_update],
    "momentum_step": [wrong_momentum_lr_inside_velocity, wrong_momentum_nesterov_old_velocity,
                      wrong_momentum_dampening, wrong_momentum_update_before_velocity],
    "SGD": [_make_wrong_sgd("cached_lr"), _make_wrong_sgd("decay_after_momentum"),
            _make_wrong_sgd("shared_state"), wrong_sgd_crashes_on_missing_grad],
}
