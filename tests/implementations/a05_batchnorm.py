"""Implementations of the a05_batchnorm exercises: alternative correct ones and common mistakes.

``tests/test_a05_implementations.py`` checks that the hidden cases accept the first and reject
the second. A mistake marked ``@breaks("<clause>")`` violates exactly one clause of its
exercise's docstring (the keys of ``Exercise.clauses`` in ``autograder/checks/a05_batchnorm.py``)
and must fail a hidden case covering that clause.

The backward exercises are checked on the cache of the forward function defined next to them:
the check looks ``batchnorm_forward`` (``batchnorm2d_forward``, ``layernorm_forward``) up in the
backward function's ``__globals__``, here this module. So this module's correct forward functions
carry those names, and their caches (dicts) hold everything any backward below reads.

Many mistakes are one switch of a shared core (``_batchnorm``, ``_bn_backward``, ``_layernorm``,
``_ln_backward``, ``_StepwiseBatchNorm1d``), so that each differs from a correct implementation
by exactly the mistake it names.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from implementations import breaks

# ---------------------------------------------------------------------------------------------
# standardize
# ---------------------------------------------------------------------------------------------


def standardize_loops(X_train, X_other, eps=1e-8):
    """Correct: one column at a time, the mean and the biased deviation written out."""
    X_train_std = np.empty_like(X_train)
    X_other_std = np.empty_like(X_other)
    n = X_train.shape[0]
    for j in range(X_train.shape[1]):
        mean = X_train[:, j].sum() / n
        std = np.sqrt(((X_train[:, j] - mean) ** 2).sum() / n)
        X_train_std[:, j] = (X_train[:, j] - mean) / (std + eps)
        X_other_std[:, j] = (X_other[:, j] - mean) / (std + eps)
    return X_train_std, X_other_std


def standardize_stacked(X_train, X_other, eps=1e-8):
    """Correct: standardizes the stacked sets at once with the training statistics."""
    mean = np.mean(X_train, axis=0, keepdims=True)
    std = np.std(X_train, axis=0, keepdims=True)
    both = (np.vstack([X_train, X_other]) - mean) / (std + eps)
    return both[:len(X_train)], both[len(X_train):]


@breaks("train_stats")
def wrong_standardize_own_statistics(X_train, X_other, eps=1e-8):
    """Mistake: standardizes the other set with its own mean and deviation (a leak of the
    test set's statistics, and a different transformation than the model was trained on)."""
    def one(X):
        return (X - X.mean(axis=0)) / (X.std(axis=0) + eps)
    return one(X_train), one(X_other)


@breaks("biased")
def wrong_standardize_unbiased_std(X_train, X_other, eps=1e-8):
    """Mistake: the unbiased standard deviation (ddof=1, pandas' default)."""
    mean, std = X_train.mean(axis=0), X_train.std(axis=0, ddof=1)
    return (X_train - mean) / (std + eps), (X_other - mean) / (std + eps)


@breaks("eps_denominator")
def wrong_standardize_eps_in_variance(X_train, X_other, eps=1e-8):
    """Mistake: eps added to the variance, under the square root."""
    mean = X_train.mean(axis=0)
    scale = np.sqrt(X_train.var(axis=0) + eps)
    return (X_train - mean) / scale, (X_other - mean) / scale


@breaks("per_feature")
def wrong_standardize_global_statistics(X_train, X_other, eps=1e-8):
    """Mistake: one mean and one deviation over all the entries (axis=None)."""
    mean, std = X_train.mean(), X_train.std()
    return (X_train - mean) / (std + eps), (X_other - mean) / (std + eps)


@breaks("no_mutation")
def wrong_standardize_in_place(X_train, X_other, eps=1e-8):
    """Mistake: standardizes X_train in place (the caller's data changes)."""
    mean, std = X_train.mean(axis=0), X_train.std(axis=0)
    X_other_std = (X_other - mean) / (std + eps)
    X_train -= mean
    X_train /= std + eps
    return X_train, X_other_std


@breaks("shapes")
def wrong_standardize_float32(X_train, X_other, eps=1e-8):
    """Mistake: converts to float32 ("enough for a network") instead of returning float64."""
    mean, std = X_train.mean(axis=0), X_train.std(axis=0)
    return (((X_train - mean) / (std + eps)).astype(np.float32),
            ((X_other - mean) / (std + eps)).astype(np.float32))


# ---------------------------------------------------------------------------------------------
# batchnorm_forward and batchnorm2d_forward
# ---------------------------------------------------------------------------------------------


def batchnorm_forward(x, gamma, beta, running_mean, running_var, training, momentum=0.1,
                      eps=1e-5):
    """Correct: the textbook steps; the cache is a dict (read by the backward passes below)."""
    if not training:
        x_hat = (x - running_mean) / np.sqrt(running_var + eps)
        return gamma * x_hat + beta, running_mean.copy(), running_var.copy(), None
    n = x.shape[0]
    mean = x.mean(axis=0)
    var = ((x - mean) ** 2).mean(axis=0)
    inv_std = 1.0 / np.sqrt(var + eps)
    x_hat = (x - mean) * inv_std
    new_mean = (1 - momentum) * running_mean + momentum * mean
    new_var = (1 - momentum) * running_var + momentum * var * n / (n - 1)
    cache = {"x": x, "x_hat": x_hat, "mean": mean, "var": var, "inv_std": inv_std,
             "gamma": gamma, "eps": eps, "axes": (0,), "view": (1, x.shape[1])}
    return gamma * x_hat + beta, new_mean, new_var, cache


def batchnorm_forward_einsum(x, gamma, beta, running_mean, running_var, training, momentum=0.1,
                             eps=1e-5):
    """Correct: sums with einsum, the unbiased variance from the sum of squares, a tuple cache."""
    if training:
        n = x.shape[0]
        mean = np.einsum("nd->d", x) / n
        centered = x - mean
        sum_sq = np.einsum("nd,nd->d", centered, centered)
        scale = gamma / np.sqrt(sum_sq / n + eps)
        out = centered * scale + beta
        running_mean = momentum * mean + (1.0 - momentum) * running_mean
        running_var = momentum * (sum_sq / (n - 1)) + (1.0 - momentum) * running_var
        return out, running_mean, running_var, (centered, scale, gamma)
    out = (x - running_mean) * (gamma / np.sqrt(running_var + eps)) + beta
    return out, running_mean, running_var, None


def _batchnorm(x, gamma, beta, running_mean, running_var, training, momentum=0.1, eps=1e-5,
               mistake=""):
    """Batch norm of (N, D) or (N, C, H, W) inputs, correct unless ``mistake`` names one."""
    channels = x.shape[1]
    view = (1, channels) + (1,) * (x.ndim - 2)
    if x.ndim == 2:
        rows = x
    elif mistake == "naive_reshape":
        rows = x.reshape(-1, channels)  # channels not moved last: rows mix channels
    else:
        rows = x.transpose(0, 2, 3, 1).reshape(-1, channels)
    m = rows.shape[0]
    mean, var = rows.mean(axis=0), rows.var(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        if mistake == "biased_running_var":
            var_for_running = var
        elif mistake == "unbiased_with_batch_size":
            var_for_running = var * x.shape[0] / (x.shape[0] - 1)
        else:
            var_for_running = var * m / (m - 1)
    norm_var = var * m / (m - 1) if mistake == "unbiased_normalization" else var
    if training or mistake == "batch_stats_in_eval":
        use_mean, use_var = mean, norm_var
    else:
        use_mean, use_var = running_mean, running_var
    if mistake == "eps_outside_sqrt":
        inv_std = 1.0 / (np.sqrt(use_var) + eps)
    else:
        inv_std = 1.0 / np.sqrt(use_var + eps)
    x_hat = (x - use_mean.reshape(view)) * inv_std.reshape(view)
    if mistake == "affine_inside":
        out = gamma.reshape(view) * (x_hat + beta.reshape(view))
    else:
        out = gamma.reshape(view) * x_hat + beta.reshape(view)
    if training or mistake == "updates_in_eval":
        keep, new = ((momentum, 1 - momentum) if mistake == "cs231n_momentum"
                     else (1 - momentum, momentum))
        if mistake == "running_in_place":
            running_mean *= keep
            running_mean += new * mean
            running_var *= keep
            running_var += new * var_for_running
        else:
            running_mean = keep * running_mean + new * mean
            running_var = keep * running_var + new * var_for_running
    else:
        running_mean, running_var = running_mean.copy(), running_var.copy()
    if mistake == "keepdims":
        running_mean, running_var = running_mean.reshape(view), running_var.reshape(view)
    cache = None
    if training or mistake == "cache_in_eval":
        cache = {"x_hat": x_hat, "inv_std": inv_std, "gamma": gamma}
    return out, running_mean, running_var, cache


def _named(impl, name, doc, clause):
    """Name and document a mistake made from a shared core (the test ids), with its clause."""
    impl.__name__ = impl.__qualname__ = name
    impl.__doc__ = doc
    return breaks(clause)(impl) if clause else impl


def _bn_mistake(mistake, name, doc, clause=None):
    """A forward with one mistake, named and documented for the test ids."""
    def impl(x, gamma, beta, running_mean, running_var, training, momentum=0.1, eps=1e-5):
        return _batchnorm(x, gamma, beta, running_mean, running_var, training, momentum, eps,
                          mistake=mistake)
    return _named(impl, name, doc, clause)


def batchnorm_forward_shared_core(x, gamma, beta, running_mean, running_var, training,
                                  momentum=0.1, eps=1e-5):
    """Correct: the core the mistakes below switch one thing of (a statistics-then-broadcast
    form with a 1 / sqrt factor)."""
    return _batchnorm(x, gamma, beta, running_mean, running_var, training, momentum, eps)


def batchnorm2d_forward_moved_axis(x, gamma, beta, running_mean, running_var, training,
                                   momentum=0.1, eps=1e-5):
    """Correct: channels moved last and flattened to (N*H*W, C) rows, as in the (N, D) case."""
    return _batchnorm(x, gamma, beta, running_mean, running_var, training, momentum, eps)


_BN_MISTAKES = {
    # mistake: (clause it breaks, what it does)
    "unbiased_normalization": ("train_batch_stats", "normalizes with the unbiased variance"),
    "eps_outside_sqrt": ("eps_inside_sqrt", "divides by sqrt(var) + eps"),
    "affine_inside": ("affine", "computes gamma * (x_hat + beta)"),
    "cs231n_momentum": ("momentum", "CS231n's convention, running = momentum * running + "
                                    "(1 - momentum) * batch (momentum reversed)"),
    "biased_running_var": ("running_unbiased", "updates running_var with the biased variance"),
    "batch_stats_in_eval": ("eval_running", "normalizes with the batch statistics in evaluation "
                                            "too"),
    "updates_in_eval": ("eval_unchanged", "updates the running statistics in evaluation too"),
    "cache_in_eval": ("eval_cache_none", "returns a cache in evaluation"),
    "running_in_place": ("no_mutation", "updates running_mean and running_var in place "
                                        "(*= and +=) and returns them"),
    "keepdims": ("shapes", "returns running statistics of shape (1, D) (mean with keepdims)"),
}

WRONG_BN = [_bn_mistake(m, f"wrong_bn_{m}", f"Mistake: {what}.", clause)
            for m, (clause, what) in _BN_MISTAKES.items()]

_BN2D_MISTAKES = {
    **_BN_MISTAKES,
    "keepdims": ("shapes", "returns running statistics of shape (1, C, 1, 1) (keepdims)"),
    "naive_reshape": ("per_channel", "x.reshape(-1, C) without moving the channel axis last: "
                                     "each 'row' mixes channels"),
    "unbiased_with_batch_size": ("running_unbiased", "corrects the running variance with "
                                                     "N / (N - 1) instead of N*H*W / (N*H*W - 1)"),
}

WRONG_BN2D = [_bn_mistake(m, f"wrong_bn2d_{m}", f"Mistake: {what}.", clause)
              for m, (clause, what) in _BN2D_MISTAKES.items()]


def batchnorm2d_forward(x, gamma, beta, running_mean, running_var, training, momentum=0.1,
                        eps=1e-5):
    """Correct: statistics over the axes (0, 2, 3) directly; a dict cache for the backward."""
    axes, view = (0, 2, 3), (1, x.shape[1], 1, 1)
    if not training:
        x_hat = (x - running_mean.reshape(view)) / np.sqrt(running_var.reshape(view) + eps)
        out = gamma.reshape(view) * x_hat + beta.reshape(view)
        return out, running_mean.copy(), running_var.copy(), None
    m = x.size // x.shape[1]
    mean = x.mean(axis=axes)
    var = x.var(axis=axes)
    inv_std = 1.0 / np.sqrt(var + eps)
    x_hat = (x - mean.reshape(view)) * inv_std.reshape(view)
    out = gamma.reshape(view) * x_hat + beta.reshape(view)
    new_mean = (1 - momentum) * running_mean + momentum * mean
    new_var = (1 - momentum) * running_var + momentum * var * m / (m - 1)
    cache = {"x": x, "x_hat": x_hat, "mean": mean, "var": var, "inv_std": inv_std,
             "gamma": gamma, "eps": eps, "axes": axes, "view": view}
    return out, new_mean, new_var, cache


# ---------------------------------------------------------------------------------------------
# batchnorm_backward and batchnorm2d_backward (caches of this module's forward functions)
# ---------------------------------------------------------------------------------------------


def _bn_backward(dout, cache, mistake=""):
    """Backward of batch norm from a dict cache, correct unless ``mistake`` names one."""
    axes, view = cache["axes"], cache["view"]
    x_hat = cache["x_hat"]
    inv_std, gamma = cache["inv_std"].reshape(view), cache["gamma"].reshape(view)
    m = x_hat.size // x_hat.shape[1]
    if mistake == "count_is_batch_size":
        m = x_hat.shape[0]
    keep = mistake == "keepdims"
    dbeta = dout.sum(axis=axes, keepdims=keep)
    dgamma = (dout * (cache["x"] if mistake == "dgamma_from_x" else x_hat)).sum(axis=axes,
                                                                               keepdims=keep)
    if mistake == "in_place":
        dx_hat = dout
        dx_hat *= gamma
    else:
        dx_hat = dout * gamma
    if mistake == "ignores_statistics":
        return dx_hat * inv_std, dgamma, dbeta
    mean_dx_hat = dx_hat.sum(axis=axes, keepdims=True) / m
    var_term = (dx_hat * x_hat).sum(axis=axes, keepdims=True)
    var_term = var_term / (m - 1) if mistake == "unbiased_variance_path" else var_term / m
    return inv_std * (dx_hat - mean_dx_hat - x_hat * var_term), dgamma, dbeta


def batchnorm_backward(dout, cache):
    """Correct: the compact formula dx = inv_std * (dx_hat - mean(dx_hat) - x_hat *
    mean(dx_hat * x_hat))."""
    return _bn_backward(dout, cache)


def batchnorm_backward_staged(dout, cache):
    """Correct: backpropagates through the graph step by step (variance, mean, then x), from
    x, mean, var and eps."""
    x, mean, var, eps, gamma = (cache[k] for k in ("x", "mean", "var", "eps", "gamma"))
    n = x.shape[0]
    centered = x - mean
    std = np.sqrt(var + eps)
    x_hat = centered / std
    dgamma = np.sum(dout * x_hat, axis=0)
    dbeta = np.sum(dout, axis=0)
    dx_hat = dout * gamma
    dvar = np.sum(dx_hat * centered, axis=0) * -0.5 * std**-3
    dmean = np.sum(-dx_hat / std, axis=0) + dvar * np.mean(-2.0 * centered, axis=0)
    dx = dx_hat / std + dvar * 2.0 * centered / n + dmean / n
    return dx, dgamma, dbeta


def batchnorm2d_backward_via_rows(dout, cache):
    """Correct: moves the channels last, runs the (N, D) staged backward, moves them back."""
    channels = dout.shape[1]
    x = cache["x"]

    def rows(a):
        return a.transpose(0, 2, 3, 1).reshape(-1, channels)

    flat = {**cache, "x": rows(x)}
    dx, dgamma, dbeta = batchnorm_backward_staged(rows(dout), flat)
    n, _, h, w = x.shape
    return dx.reshape(n, h, w, channels).transpose(0, 3, 1, 2), dgamma, dbeta


def batchnorm2d_backward(dout, cache):
    """Correct: the compact formula over the axes (0, 2, 3)."""
    return _bn_backward(dout, cache)


def _bn_backward_mistake(mistake, name, doc, clause):
    def impl(dout, cache):
        return _bn_backward(dout, cache, mistake)
    return _named(impl, name, doc, clause)


_BN_BACKWARD_MISTAKES = {
    "ignores_statistics": ("dx_through_stats", "dx = dout * gamma / sqrt(var + eps), as if the "
                                               "batch mean and variance did not depend on x"),
    "unbiased_variance_path": ("autograd", "the variance path divided by N - 1, as if the "
                                           "forward normalized with the unbiased variance"),
    "dgamma_from_x": ("param_grads", "dgamma = sum of dout * x instead of dout * x_hat"),
    "keepdims": ("shapes", "dgamma and dbeta summed with keepdims=True"),
    "in_place": ("no_mutation", "multiplies dout by gamma in place (dout *= gamma)"),
}

WRONG_BN_BACKWARD = [_bn_backward_mistake(m, f"wrong_bn_backward_{m}", f"Mistake: {what}.", c)
                     for m, (c, what) in _BN_BACKWARD_MISTAKES.items()]

WRONG_BN2D_BACKWARD = [
    _bn_backward_mistake(m, f"wrong_bn2d_backward_{m}", f"Mistake: {what}.", c)
    for m, (c, what) in {
        **_BN_BACKWARD_MISTAKES,
        "count_is_batch_size": ("autograd", "averages over N instead of N*H*W values per "
                                            "channel in dx"),
    }.items()
]


# ---------------------------------------------------------------------------------------------
# layernorm_forward and layernorm_backward
# ---------------------------------------------------------------------------------------------


def _layernorm(x, gamma, beta, eps=1e-5, mistake=""):
    """Layer norm over the last axis, correct unless ``mistake`` names one."""
    axis = {"batch_axis": 0, "axis_one": 1}.get(mistake, -1)
    if mistake == "centers_in_place":
        x -= x.mean(axis=axis, keepdims=True)
        mean = np.zeros_like(x[..., :1])
    else:
        mean = x.mean(axis=axis, keepdims=True)
    var = x.var(axis=axis, keepdims=True, ddof=1 if mistake == "unbiased" else 0)
    if mistake == "eps_outside_sqrt":
        inv_std = 1.0 / (np.sqrt(var) + eps)
    else:
        inv_std = 1.0 / np.sqrt(var + eps)
    x_hat = (x - mean) * inv_std
    out = gamma * (x_hat + beta) if mistake == "affine_inside" else gamma * x_hat + beta
    if mistake == "flattens":
        out = out.reshape(-1, x.shape[-1])
    return out, {"x": x, "x_hat": x_hat, "inv_std": inv_std, "gamma": gamma}


def layernorm_forward(x, gamma, beta, eps=1e-5):
    """Correct: statistics with keepdims over axis -1; a dict cache."""
    return _layernorm(x, gamma, beta, eps)


def layernorm_forward_rows(x, gamma, beta, eps=1e-5):
    """Correct: flattens the leading axes to rows, normalizes the transposed matrix's columns,
    and restores the shape."""
    rows = x.reshape(-1, x.shape[-1]).T  # (D, rows): one column per row of x
    mean = rows.sum(axis=0) / rows.shape[0]
    var = ((rows - mean) ** 2).sum(axis=0) / rows.shape[0]
    x_hat = ((rows - mean) / np.sqrt(var + eps)).T.reshape(x.shape)
    return x_hat * gamma + beta, (x_hat, var + eps, gamma)


def _ln_mistake(mistake, doc, clause):
    def impl(x, gamma, beta, eps=1e-5):
        return _layernorm(x, gamma, beta, eps, mistake)
    return _named(impl, f"wrong_ln_{mistake}", doc, clause)


WRONG_LN = [
    _ln_mistake("batch_axis", "Mistake: statistics over the batch axis 0 (batch norm, not "
                              "layer norm).", "last_axis"),
    _ln_mistake("unbiased", "Mistake: the unbiased variance (ddof=1).", "biased"),
    _ln_mistake("eps_outside_sqrt", "Mistake: divides by sqrt(var) + eps.", "eps_inside_sqrt"),
    _ln_mistake("affine_inside", "Mistake: computes gamma * (x_hat + beta).", "affine"),
    _ln_mistake("axis_one", "Mistake: statistics over axis 1, right only for 2-D inputs.",
                "leading_axes"),
    _ln_mistake("centers_in_place", "Mistake: centers x in place (x -= mean).", "no_mutation"),
    _ln_mistake("flattens", "Mistake: returns the output flattened to (rows, D).", "shapes"),
]


def _ln_backward(dout, cache, mistake=""):
    """Backward of layer norm from this module's cache, correct unless ``mistake`` names one."""
    x_hat, inv_std, gamma = cache["x_hat"], cache["inv_std"], cache["gamma"]
    d = x_hat.shape[-1]
    leading = tuple(range(dout.ndim - 1))
    reduce = np.mean if mistake == "averages_params" else np.sum
    keep = mistake == "keepdims"
    dbeta = reduce(dout, axis=leading, keepdims=keep)
    dgamma = reduce(dout * x_hat, axis=leading, keepdims=keep)
    if mistake == "in_place":
        dx_hat = dout
        dx_hat *= gamma
    else:
        dx_hat = dout * gamma
    if mistake == "ignores_statistics":
        return dx_hat * inv_std, dgamma, dbeta
    var_count = d - 1 if mistake == "unbiased_variance_path" else d
    dx = inv_std * (dx_hat - dx_hat.sum(axis=-1, keepdims=True) / d
                    - x_hat * (dx_hat * x_hat).sum(axis=-1, keepdims=True) / var_count)
    return dx, dgamma, dbeta


def layernorm_backward(dout, cache):
    """Correct: the batch-norm formula with the roles of the axes swapped."""
    return _ln_backward(dout, cache)


def layernorm_backward_einsum(dout, cache):
    """Correct: through 2-D rows, parameter gradients with einsum."""
    d = dout.shape[-1]
    x_hat = cache["x_hat"].reshape(-1, d)
    inv_std = cache["inv_std"].reshape(-1, 1)
    g = dout.reshape(-1, d)
    dgamma = np.einsum("rd,rd->d", g, x_hat)
    dbeta = np.einsum("rd->d", g)
    dx_hat = g * cache["gamma"]
    dx = (d * dx_hat - dx_hat.sum(1, keepdims=True)
          - x_hat * np.einsum("rd,rd->r", dx_hat, x_hat)[:, None]) * inv_std / d
    return dx.reshape(dout.shape), dgamma, dbeta


def _ln_backward_mistake(mistake, doc, clause):
    def impl(dout, cache):
        return _ln_backward(dout, cache, mistake)
    return _named(impl, f"wrong_ln_backward_{mistake}", doc, clause)


WRONG_LN_BACKWARD = [
    _ln_backward_mistake("ignores_statistics", "Mistake: dx = dout * gamma / sqrt(var + eps), "
                         "as if the row statistics did not depend on x.", "dx_through_stats"),
    _ln_backward_mistake("unbiased_variance_path", "Mistake: the variance path divided by "
                         "D - 1.", "autograd"),
    _ln_backward_mistake("averages_params", "Mistake: dgamma and dbeta averaged over the rows "
                         "instead of summed.", "param_sums"),
    _ln_backward_mistake("keepdims", "Mistake: dgamma and dbeta summed with keepdims=True.",
                         "shapes"),
    _ln_backward_mistake("in_place", "Mistake: multiplies dout by gamma in place.",
                         "no_mutation"),
]


# ---------------------------------------------------------------------------------------------
# BatchNorm1d (a torch.nn.Module)
# ---------------------------------------------------------------------------------------------


class BatchNorm1dStepwise(nn.Module):
    """Correct: buffers updated in place under no_grad; each step a method (the mistakes below
    override one of them)."""

    def __init__(self, num_features, eps=1e-5, momentum=0.1):
        super().__init__()
        self.eps, self.momentum = eps, momentum
        self.make_parameters(num_features)
        self.make_buffers(num_features)

    def make_parameters(self, num_features):
        self.weight = nn.Parameter(torch.ones(num_features))
        self.bias = nn.Parameter(torch.zeros(num_features))

    def make_buffers(self, num_features):
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("running_var", torch.ones(num_features))
        self.register_buffer("num_batches_tracked", torch.tensor(0, dtype=torch.long))

    def batch_statistics(self, x):
        return x.mean(dim=0), x.var(dim=0, correction=0)

    def eval_statistics(self, x):
        return self.running_mean, self.running_var

    def update(self, mean, var, n):
        with torch.no_grad():
            self.running_mean.mul_(1 - self.momentum).add_(self.momentum * mean)
            self.running_var.mul_(1 - self.momentum).add_(self.momentum * var * n / (n - 1))
            self.num_batches_tracked += 1

    def normalize(self, x, mean, var):
        return (x - mean) / torch.sqrt(var + self.eps)

    def affine(self, x_hat):
        return self.weight * x_hat + self.bias

    def forward(self, x):
        if self.training:
            mean, var = self.batch_statistics(x)
            self.update(mean, var, x.shape[0])
        else:
            mean, var = self.eval_statistics(x)
        return self.affine(self.normalize(x, mean, var))


class BatchNorm1dReassigning(nn.Module):
    """Correct: buffers replaced by new detached tensors, rsqrt, unbiased variance by torch."""

    def __init__(self, num_features, eps=1e-5, momentum=0.1):
        super().__init__()
        self.eps = eps
        self.momentum = momentum
        self.weight = nn.Parameter(torch.full((num_features,), 1.0))
        self.bias = nn.Parameter(torch.full((num_features,), 0.0))
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("running_var", torch.ones(num_features))
        self.register_buffer("num_batches_tracked", torch.zeros((), dtype=torch.int64))

    def forward(self, x):
        if not self.training:
            return (x - self.running_mean) * torch.rsqrt(self.running_var + self.eps) \
                * self.weight + self.bias
        mean = x.mean(0)
        centered = x - mean
        var = (centered**2).mean(0)
        m = self.momentum
        self.running_mean = (1 - m) * self.running_mean + m * mean.detach()
        self.running_var = (1 - m) * self.running_var + m * x.detach().var(0, correction=1)
        self.num_batches_tracked = self.num_batches_tracked + 1
        return centered * torch.rsqrt(var + self.eps) * self.weight + self.bias


@breaks("params")
class WrongBatchNorm1dGammaBeta(BatchNorm1dStepwise):
    """Mistake: names the parameters gamma and beta (the lecture's letters, not PyTorch's)."""

    def make_parameters(self, num_features):
        self.gamma = nn.Parameter(torch.ones(num_features))
        self.beta = nn.Parameter(torch.zeros(num_features))

    def affine(self, x_hat):
        return self.gamma * x_hat + self.beta


@breaks("buffers")
class WrongBatchNorm1dRunningVarZeros(BatchNorm1dStepwise):
    """Mistake: running_var starts at zeros, like running_mean."""

    def make_buffers(self, num_features):
        super().make_buffers(num_features)
        self.running_var.zero_()


@breaks("state_dict")
class WrongBatchNorm1dPlainAttributes(BatchNorm1dStepwise):
    """Mistake: running statistics kept as plain tensor attributes, not registered buffers (not
    in the state_dict, not moved by .double() or .to(device))."""

    def make_buffers(self, num_features):
        self.running_mean = torch.zeros(num_features)
        self.running_var = torch.ones(num_features)
        self.num_batches_tracked = torch.tensor(0, dtype=torch.long)

    def update(self, mean, var, n):
        with torch.no_grad():
            m = self.momentum
            self.running_mean = (1 - m) * self.running_mean + m * mean
            self.running_var = (1 - m) * self.running_var + m * var * n / (n - 1)
            self.num_batches_tracked = self.num_batches_tracked + 1


@breaks("train_stats")
class WrongBatchNorm1dUnbiasedNormalization(BatchNorm1dStepwise):
    """Mistake: normalizes with the unbiased batch variance (torch.var's default)."""

    def batch_statistics(self, x):
        return x.mean(dim=0), x.var(dim=0)

    def update(self, mean, var, n):
        super().update(mean, var * (n - 1) / n, n)


@breaks("eps_inside_sqrt")
class WrongBatchNorm1dEpsOutsideSqrt(BatchNorm1dStepwise):
    """Mistake: divides by sqrt(var) + eps."""

    def normalize(self, x, mean, var):
        return (x - mean) / (torch.sqrt(var) + self.eps)


@breaks("affine")
class WrongBatchNorm1dAffineInside(BatchNorm1dStepwise):
    """Mistake: returns weight * (x_hat + bias)."""

    def affine(self, x_hat):
        return self.weight * (x_hat + self.bias)


@breaks("updates_running")
class WrongBatchNorm1dFrozenRunningStats(BatchNorm1dStepwise):
    """Mistake: never updates the running statistics (only counts the batches)."""

    def update(self, mean, var, n):
        self.num_batches_tracked += 1


@breaks("no_grad")
class WrongBatchNorm1dTrackedBuffers(BatchNorm1dStepwise):
    """Mistake: reassigns the buffers from the batch statistics outside torch.no_grad(), so
    they join the autograd graph (the values are right; every step keeps the old graphs)."""

    def update(self, mean, var, n):
        m = self.momentum
        self.running_mean = (1 - m) * self.running_mean + m * mean
        self.running_var = (1 - m) * self.running_var + m * var * n / (n - 1)
        with torch.no_grad():
            self.num_batches_tracked += 1


@breaks("momentum")
class WrongBatchNorm1dCS231nMomentum(BatchNorm1dStepwise):
    """Mistake: CS231n's convention, running = momentum * running + (1 - momentum) * batch."""

    def update(self, mean, var, n):
        with torch.no_grad():
            self.running_mean.mul_(self.momentum).add_((1 - self.momentum) * mean)
            self.running_var.mul_(self.momentum).add_((1 - self.momentum) * var * n / (n - 1))
            self.num_batches_tracked += 1


@breaks("running_unbiased")
class WrongBatchNorm1dBiasedRunningVar(BatchNorm1dStepwise):
    """Mistake: running_var averages the biased batch variance."""

    def update(self, mean, var, n):
        super().update(mean, var * (n - 1) / n, n)


@breaks("num_batches")
class WrongBatchNorm1dNoBatchCount(BatchNorm1dStepwise):
    """Mistake: registers num_batches_tracked but never increments it."""

    def update(self, mean, var, n):
        with torch.no_grad():
            self.running_mean.mul_(1 - self.momentum).add_(self.momentum * mean)
            self.running_var.mul_(1 - self.momentum).add_(self.momentum * var * n / (n - 1))


@breaks("eval_running")
class WrongBatchNorm1dBatchStatsInEval(BatchNorm1dStepwise):
    """Mistake: normalizes with the batch statistics in eval() mode too."""

    def eval_statistics(self, x):
        return self.batch_statistics(x)


@breaks("eval_frozen")
class WrongBatchNorm1dUpdatesInEval(BatchNorm1dStepwise):
    """Mistake: updates the buffers at every forward pass, in eval() mode too."""

    def eval_statistics(self, x):
        mean, var = self.running_mean.clone(), self.running_var.clone()
        self.update(*self.batch_statistics(x), x.shape[0])
        return mean, var


@breaks("gradients")
class WrongBatchNorm1dDetachedStatistics(BatchNorm1dStepwise):
    """Mistake: detaches the batch mean and variance (no gradient through the statistics)."""

    def batch_statistics(self, x):
        mean, var = super().batch_statistics(x)
        return mean.detach(), var.detach()


CORRECT = {
    "standardize": [standardize_loops, standardize_stacked],
    "batchnorm_forward": [batchnorm_forward, batchnorm_forward_einsum,
                          batchnorm_forward_shared_core],
    "batchnorm_backward": [batchnorm_backward, batchnorm_backward_staged],
    "batchnorm2d_forward": [batchnorm2d_forward, batchnorm2d_forward_moved_axis],
    "batchnorm2d_backward": [batchnorm2d_backward, batchnorm2d_backward_via_rows],
    "layernorm_forward": [layernorm_forward, layernorm_forward_rows],
    "layernorm_backward": [layernorm_backward, layernorm_backward_einsum],
    "BatchNorm1d": [BatchNorm1dStepwise, BatchNorm1dReassigning],
}

WRONG = {
    "standardize": [wrong_standardize_own_statistics, wrong_standardize_unbiased_std,
                    wrong_standardize_eps_in_variance, wrong_standardize_global_statistics,
                    wrong_standardize_in_place, wrong_standardize_float32],
    "batchnorm_forward": WRONG_BN,
    "batchnorm_backward": WRONG_BN_BACKWARD,
    "batchnorm2d_forward": WRONG_BN2D,
    "batchnorm2d_backward": WRONG_BN2D_BACKWARD,
    "layernorm_forward": WRONG_LN,
    "layernorm_backward": WRONG_LN_BACKWARD,
    "BatchNorm1d": [WrongBatchNorm1dGammaBeta, WrongBatchNorm1dRunningVarZeros,
                    WrongBatchNorm1dPlainAttributes, WrongBatchNorm1dUnbiasedNormalization,
                    WrongBatchNorm1dEpsOutsideSqrt, WrongBatchNorm1dAffineInside,
                    WrongBatchNorm1dFrozenRunningStats, WrongBatchNorm1dTrackedBuffers,
                    WrongBatchNorm1dCS231nMomentum,
                    WrongBatchNorm1dBiasedRunningVar, WrongBatchNorm1dNoBatchCount,
                    WrongBatchNorm1dBatchStatsInEval, WrongBatchNorm1dUpdatesInEval,
                    WrongBatchNorm1dDetachedStatistics],
}
