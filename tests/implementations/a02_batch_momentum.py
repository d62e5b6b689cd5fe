"""Implementations of the a02_batch_momentum exercises: alternative correct ones and common
mistakes. ``tests/test_a02_implementations.py`` checks that the hidden cases accept the first
and reject the second. A mistake marked ``@breaks("<clause>")`` violates exactly one clause of
its exercise's docstring (the keys of ``Exercise.clauses`` in
``autograder/checks/a02_batch_momentum.py``) and must fail a hidden case covering that clause."""

from __future__ import annotations

import numpy as np
import torch

from implementations import breaks

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


@breaks("last_smaller")
def wrong_minibatches_drop_last(X, y, batch_size, rng):
    """Mistake: drops the last, smaller batch."""
    perm = rng.permutation(len(X))
    return [(X[perm][i:i + batch_size], y[perm][i:i + batch_size])
            for i in range(0, len(X) - batch_size + 1, batch_size)]


@breaks("perm")
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


@breaks("nothing_else")
def wrong_minibatches_extra_draw(X, y, batch_size, rng):
    """Mistake: right batches, but draws a spare number from rng (a seed for later)."""
    perm = rng.permutation(len(X))
    rng.integers(1 << 30)
    return [(X[perm[i:i + batch_size]], y[perm[i:i + batch_size]])
            for i in range(0, len(X), batch_size)]


@breaks("slices")
def wrong_minibatches_sorted_within_batch(X, y, batch_size, rng):
    """Mistake: the right rows in each batch, but in their original order (sorted indices)."""
    perm = rng.permutation(len(X))
    return [(X[np.sort(perm[i:i + batch_size])], y[np.sort(perm[i:i + batch_size])])
            for i in range(0, len(X), batch_size)]


@breaks("unchanged")
def wrong_minibatches_permutes_inputs(X, y, batch_size, rng):
    """Mistake: right batches (copies), but writes the permuted rows back into X and y."""
    perm = rng.permutation(len(X))
    X_perm, y_perm = X[perm], y[perm]
    X[...], y[...] = X_perm, y_perm
    return [(X_perm[i:i + batch_size].copy(), y_perm[i:i + batch_size].copy())
            for i in range(0, len(X), batch_size)]


@breaks("batch_size")
def wrong_minibatches_single_examples(X, y, batch_size, rng):
    """Mistake: with batch_size 1 yields single examples X[i], y[i] (one dimension fewer), not
    batches of one row."""
    perm = rng.permutation(len(X))
    for start in range(0, len(X), batch_size):
        if batch_size == 1:
            yield X[perm[start]], y[perm[start]]
        else:
            yield X[perm[start:start + batch_size]], y[perm[start:start + batch_size]]


@breaks("order")
def wrong_minibatches_reversed(X, y, batch_size, rng):
    """Mistake: the right batches, last one first."""
    perm = rng.permutation(len(X))
    return [(X[perm[i:i + batch_size]], y[perm[i:i + batch_size]])
            for i in range(0, len(X), batch_size)][::-1]


@breaks("dtypes")
def wrong_minibatches_float64(X, y, batch_size, rng):
    """Mistake: casts the input batches to float64."""
    perm = rng.permutation(len(X))
    return [(X[perm[i:i + batch_size]].astype(np.float64), y[perm[i:i + batch_size]])
            for i in range(0, len(X), batch_size)]


@breaks("shape")
def wrong_minibatches_flattens_inputs(X, y, batch_size, rng):
    """Mistake: assumes 2-D inputs and flattens each example (X.reshape(n, -1))."""
    perm = rng.permutation(len(X))
    X2 = X.reshape(len(X), -1)
    return [(X2[perm[i:i + batch_size]], y[perm[i:i + batch_size]])
            for i in range(0, len(X), batch_size)]


# ---------------------------------------------------------------------------------------------
# sgd_step
# ---------------------------------------------------------------------------------------------


def sgd_step_subtract(w, dw, lr):
    """Correct: np.subtract with a scaled gradient."""
    return np.subtract(w, np.multiply(lr, dw))


@breaks("formula")
def wrong_sgd_step_ascent(w, dw, lr):
    """Mistake: moves along the gradient."""
    return w + lr * dw


def wrong_sgd_step_in_place(w, dw, lr):
    """Mistake: updates w in place."""
    w -= lr * dw
    return w


@breaks("formula")
def wrong_sgd_step_returns_update(w, dw, lr):
    """Mistake: returns the update instead of the new parameters."""
    return lr * dw


@breaks("unchanged")
def wrong_sgd_step_updates_w_too(w, dw, lr):
    """Mistake: returns a new array, but also updates w in place."""
    w -= lr * dw
    return w.copy()


@breaks("returns")
def wrong_sgd_step_flat(w, dw, lr):
    """Mistake: returns the new parameters flattened to a vector."""
    return (w - lr * dw).ravel()


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


@breaks("nesterov")
def wrong_momentum_nesterov_old_velocity(w, dw, v, lr, momentum, nesterov=False):
    """Mistake: Nesterov uses the old buffer in g + momentum * v."""
    v_new = momentum * v + dw
    if nesterov:
        return w - lr * (dw + momentum * v), v_new
    return w - lr * v_new, v_new


@breaks("velocity")
def wrong_momentum_dampening(w, dw, v, lr, momentum, nesterov=False):
    """Mistake: an exponential moving average, v = rho v + (1 - rho) g."""
    v_new = momentum * v + (1 - momentum) * dw
    step = dw + momentum * v_new if nesterov else v_new
    return w - lr * step, v_new


def wrong_momentum_update_before_velocity(w, dw, v, lr, momentum, nesterov=False):
    """Mistake: moves with the old velocity, then updates it."""
    w_new = w - lr * v
    return w_new, momentum * v + dw


@breaks("plain")
def wrong_momentum_plain_old_velocity(w, dw, v, lr, momentum, nesterov=False):
    """Mistake: without Nesterov, moves with the old buffer (w - lr * v); Nesterov is right."""
    v_new = momentum * v + dw
    if nesterov:
        return w - lr * (dw + momentum * v_new), v_new
    return w - lr * v, v_new


@breaks("zeros")
def wrong_momentum_buffer_starts_at_gradient(w, dw, v, lr, momentum, nesterov=False):
    """Mistake: an all-zero buffer means 'no buffer yet': it starts it at dw and then applies
    the update, so the first gradient counts 1 + momentum times."""
    if not np.any(v):
        v = dw
    v_new = momentum * v + dw
    step = dw + momentum * v_new if nesterov else v_new
    return w - lr * step, v_new


@breaks("unchanged")
def wrong_momentum_buffer_in_place(w, dw, v, lr, momentum, nesterov=False):
    """Mistake: updates the buffer v in place (and returns a copy of it)."""
    v *= momentum
    v += dw
    step = dw + momentum * v if nesterov else v
    return w - lr * step, v.copy()


@breaks("lr")
def wrong_momentum_first_lr(w, dw, v, lr, momentum, nesterov=False):
    """Mistake: keeps the learning rate of the first step (an all-zero buffer), as an optimizer
    reading lr once would."""
    if not np.any(v):
        wrong_momentum_first_lr.lr = lr
    lr = wrong_momentum_first_lr.lr
    v_new = momentum * v + dw
    step = dw + momentum * v_new if nesterov else v_new
    return w - lr * step, v_new


@breaks("mu")
def wrong_momentum_no_buffer_at_zero(w, dw, v, lr, momentum, nesterov=False):
    """Mistake: with momentum 0 keeps no buffer and returns v unchanged (v_new = v, not dw)."""
    if momentum == 0:
        return w - lr * dw, v.copy()
    v_new = momentum * v + dw
    step = dw + momentum * v_new if nesterov else v_new
    return w - lr * step, v_new


@breaks("returns")
def wrong_momentum_swapped(w, dw, v, lr, momentum, nesterov=False):
    """Mistake: returns (v_new, w_new)."""
    v_new = momentum * v + dw
    step = dw + momentum * v_new if nesterov else v_new
    return v_new, w - lr * step


@breaks("new_arrays")
def wrong_momentum_returns_dw(w, dw, v, lr, momentum, nesterov=False):
    """Mistake: with momentum 0, v_new = dw is returned as dw itself (the caller's array)."""
    v_new = dw if momentum == 0 else momentum * v + dw
    step = dw + momentum * v_new if nesterov else v_new
    return w - lr * step, v_new


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


class _ReferenceSGD(torch.optim.Optimizer):
    """Correct: the docstring's loop; the breakers below change one thing of it."""

    def __init__(self, params, lr, momentum=0.0, nesterov=False, weight_decay=0.0):
        super().__init__(params, {"lr": lr, "momentum": momentum, "nesterov": nesterov,
                                  "weight_decay": weight_decay})

    def _hyper(self, group):
        return group["lr"], group["momentum"], group["nesterov"], group["weight_decay"]

    def _buffer(self, p, g, momentum):
        state = self.state[p]
        if "buf" not in state:
            state["buf"] = torch.zeros_like(p)
        state["buf"].mul_(momentum).add_(g)
        return state["buf"]

    def _direction(self, p, group):
        _, momentum, nesterov, weight_decay = self._hyper(group)
        g = p.grad + weight_decay * p
        if momentum != 0:
            buf = self._buffer(p, g, momentum)
            g = g + momentum * buf if nesterov else buf
        return g

    def _update(self, p, lr, g):
        p.add_(g, alpha=-lr)

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    self._update(p, self._hyper(group)[0], self._direction(p, group))
        return loss


def _breaker(clause: str, doc: str):
    def mark(cls):
        cls.__doc__ = doc
        return breaks(clause)(cls)
    return mark


@_breaker("buffer", "Mistake: an exponential moving average, "
                    "buf = momentum buf + (1 - momentum) g.")
class wrong_sgd_dampening(_ReferenceSGD):  # noqa: N801 - test id
    def _buffer(self, p, g, momentum):
        return super()._buffer(p, (1 - momentum) * g, momentum)


@_breaker("buf_zeros", "Mistake: starts the buffer at the first g and then applies the update "
                       "(the first gradient counts 1 + momentum times).")
class wrong_sgd_buffer_starts_at_gradient(_ReferenceSGD):  # noqa: N801 - test id
    def _buffer(self, p, g, momentum):
        state = self.state[p]
        if "buf" not in state:
            state["buf"] = g.clone()
        state["buf"].mul_(momentum).add_(g)
        return state["buf"]


@_breaker("buf_zeros", "Mistake: without weight decay g is p.grad itself, and the buffer "
                       "starts as g (not at zeros, nor a clone): it is p.grad's memory, so "
                       "zero_grad(set_to_none=False) and backward() overwrite it.")
class wrong_sgd_buffer_aliases_grad(_ReferenceSGD):  # noqa: N801 - test id
    def _direction(self, p, group):
        _, momentum, nesterov, weight_decay = self._hyper(group)
        g = p.grad + weight_decay * p if weight_decay else p.grad
        if momentum == 0:
            return g
        state = self.state[p]
        if "buf" not in state:
            state["buf"] = g
        else:
            state["buf"].mul_(momentum).add_(g)
        buf = state["buf"]
        return g + momentum * buf if nesterov else buf


@_breaker("group_values", "Mistake: reads lr once in __init__; later changes of "
                          "param_groups[i]['lr'] (schedules, groups with their own lr) are "
                          "ignored.")
class wrong_sgd_first_lr(_ReferenceSGD):  # noqa: N801 - test id
    def __init__(self, params, lr, momentum=0.0, nesterov=False, weight_decay=0.0):
        super().__init__(params, lr, momentum, nesterov, weight_decay)
        self.initial_lr = lr

    def _hyper(self, group):
        return (self.initial_lr, *super()._hyper(group)[1:])


@_breaker("per_param", "Mistake: self.state[p] holds a buffer shared by every parameter of "
                       "the same shape.")
class wrong_sgd_buffer_per_shape(_ReferenceSGD):  # noqa: N801 - test id
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.by_shape = {}

    def _buffer(self, p, g, momentum):
        state = self.state[p]
        if "buf" not in state:
            state["buf"] = self.by_shape.setdefault(p.shape, torch.zeros_like(p))
        state["buf"].mul_(momentum).add_(g)
        return state["buf"]


@_breaker("nesterov", "Mistake: Nesterov adds momentum times the old buffer.")
class wrong_sgd_nesterov_old_buffer(_ReferenceSGD):  # noqa: N801 - test id
    def _direction(self, p, group):
        _, momentum, nesterov, weight_decay = self._hyper(group)
        g = p.grad + weight_decay * p
        if momentum == 0:
            return g
        old = self.state[p]["buf"].clone() if "buf" in self.state[p] else torch.zeros_like(p)
        buf = self._buffer(p, g, momentum)
        return g + momentum * old if nesterov else buf


@_breaker("decay", "Mistake: the weight decay sits inside the momentum branch, so without "
                   "momentum there is no decay.")
class wrong_sgd_decay_only_with_momentum(_ReferenceSGD):  # noqa: N801 - test id
    def _direction(self, p, group):
        if group["momentum"] == 0:
            return p.grad
        return super()._direction(p, group)


@_breaker("grad_untouched", "Mistake: adds the decay to p.grad in place (g = p.grad; "
                            "g += wd * p), so step() changes p.grad.")
class wrong_sgd_decay_into_grad(_ReferenceSGD):  # noqa: N801 - test id
    def _direction(self, p, group):
        p.grad.add_(p, alpha=group["weight_decay"])
        weight_decay = group["weight_decay"]
        group = {**group, "weight_decay": 0.0}
        g = super()._direction(p, group)
        group["weight_decay"] = weight_decay
        return g


@_breaker("update", "Mistake: replaces the parameter's data (p.data = p - lr * g) instead of "
                    "updating it in place.")
class wrong_sgd_replaces_data(_ReferenceSGD):  # noqa: N801 - test id
    def _update(self, p, lr, g):
        p.data = p - lr * g


@_breaker("skip_none", "Mistake: treats a missing gradient as zeros, so weight decay (and "
                       "momentum) still move parameters that got no gradient.")
class wrong_sgd_none_grad_as_zero(_ReferenceSGD):  # noqa: N801 - test id
    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    p.grad = torch.zeros_like(p)
                    self._update(p, group["lr"], self._direction(p, group))
                    p.grad = None
        return super().step(closure)


@_breaker("closure", "Mistake: calls the closure but returns None.")
class wrong_sgd_drops_loss(_ReferenceSGD):  # noqa: N801 - test id
    def step(self, closure=None):
        super().step(closure)


@_breaker("groups", "Mistake: keeps momentum, nesterov and weight_decay as attributes; only lr "
                    "goes into the param groups.")
class wrong_sgd_hyper_as_attributes(_ReferenceSGD):  # noqa: N801 - test id
    def __init__(self, params, lr, momentum=0.0, nesterov=False, weight_decay=0.0):
        torch.optim.Optimizer.__init__(self, params, {"lr": lr})
        self.momentum, self.nesterov, self.weight_decay = momentum, nesterov, weight_decay

    def _hyper(self, group):
        return group["lr"], self.momentum, self.nesterov, self.weight_decay


@_breaker("state", "Mistake: keeps the buffers in its own dict keyed by the parameter, not in "
                   "self.state[p].")
class wrong_sgd_own_buffer_dict(_ReferenceSGD):  # noqa: N801 - test id
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.buffers = {}

    def _buffer(self, p, g, momentum):
        buf = self.buffers.get(p)
        self.buffers[p] = g.clone() if buf is None else momentum * buf + g
        return self.buffers[p]


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


@breaks("skip_none")
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
    "SGD": [SGDForeach, _ReferenceSGD],
}

WRONG = {
    "minibatches": [wrong_minibatches_shuffle_in_place, wrong_minibatches_drop_last,
                    wrong_minibatches_no_shuffle, wrong_minibatches_sampling_with_replacement,
                    wrong_minibatches_permutation_per_batch, wrong_minibatches_extra_draw,
                    wrong_minibatches_sorted_within_batch, wrong_minibatches_permutes_inputs,
                    wrong_minibatches_single_examples, wrong_minibatches_reversed,
                    wrong_minibatches_float64, wrong_minibatches_flattens_inputs],
    "sgd_step": [wrong_sgd_step_ascent, wrong_sgd_step_in_place, wrong_sgd_step_returns_update,
                 wrong_sgd_step_updates_w_too, wrong_sgd_step_flat],
    "momentum_step": [wrong_momentum_lr_inside_velocity, wrong_momentum_nesterov_old_velocity,
                      wrong_momentum_dampening, wrong_momentum_update_before_velocity,
                      wrong_momentum_plain_old_velocity, wrong_momentum_buffer_starts_at_gradient,
                      wrong_momentum_buffer_in_place, wrong_momentum_first_lr,
                      wrong_momentum_no_buffer_at_zero, wrong_momentum_swapped,
                      wrong_momentum_returns_dw],
    "SGD": [_make_wrong_sgd("cached_lr"), _make_wrong_sgd("decay_after_momentum"),
            _make_wrong_sgd("shared_state"), wrong_sgd_crashes_on_missing_grad,
            wrong_sgd_dampening, wrong_sgd_first_lr, wrong_sgd_buffer_per_shape,
            wrong_sgd_buffer_starts_at_gradient,
            wrong_sgd_buffer_aliases_grad, wrong_sgd_nesterov_old_buffer,
            wrong_sgd_decay_only_with_momentum, wrong_sgd_decay_into_grad,
            wrong_sgd_replaces_data, wrong_sgd_none_grad_as_zero, wrong_sgd_drops_loss,
            wrong_sgd_hyper_as_attributes, wrong_sgd_own_buffer_dict],
}
