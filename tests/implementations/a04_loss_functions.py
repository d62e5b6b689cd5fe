"""Implementations of the a04_loss_functions exercises: alternative correct ones and common
mistakes. ``tests/test_a04_implementations.py`` checks that the hidden cases accept the first
and reject the second; a mistake marked ``@breaks("<clause>")`` violates only that clause of the
answer cell's docstring (``Exercise.clauses`` of ``autograder/checks/a04_loss_functions.py``).

Everything here is numpy only, as a student's answer must be.
"""

from __future__ import annotations

import numpy as np

from implementations import breaks


def _log_softmax_rows(z):
    """A stable log-softmax along the last axis (helper of the loss implementations)."""
    shifted = z - np.max(z, axis=-1, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=-1, keepdims=True))


def _log_sigmoid(z):
    """log(sigmoid(z)) without overflow."""
    return -np.logaddexp(0.0, -z)


# ---------------------------------------------------------------------------------------------
# one_hot
# ---------------------------------------------------------------------------------------------


def one_hot_eye_rows(y, num_classes):
    """Correct: rows of the identity matrix (np.eye is float64)."""
    return np.eye(num_classes)[y]


def one_hot_broadcast_compare(y, num_classes):
    """Correct: compares the labels with every class index by broadcasting."""
    return (y[:, None] == np.arange(num_classes)[None, :]).astype(np.float64)


def one_hot_loop(y, num_classes):
    """Correct: a Python loop over the rows."""
    out = np.zeros((len(y), num_classes))
    for i, label in enumerate(y):
        out[i, label] = 1
    return out


@breaks("dtype")
def wrong_one_hot_int_dtype(y, num_classes):
    """Mistake: an integer one-hot matrix (np.eye(..., dtype=int))."""
    return np.eye(num_classes, dtype=int)[y]


@breaks("formula")
def wrong_one_hot_one_based(y, num_classes):
    """Mistake: treats the labels as 1-based (column y - 1; label 0 lands in the last column)."""
    out = np.zeros((len(y), num_classes))
    out[np.arange(len(y)), y - 1] = 1.0
    return out


@breaks("absent_classes")
def wrong_one_hot_width_from_labels(y, num_classes):
    """Mistake: as many columns as the largest label present, y.max() + 1."""
    return np.eye(int(y.max()) + 1)[y]


@breaks("shape")
def wrong_one_hot_transposed(y, num_classes):
    """Mistake: one column per example, shape (num_classes, N)."""
    out = np.zeros((num_classes, len(y)))
    out[y, np.arange(len(y))] = 1.0
    return out


@breaks("unchanged")
def wrong_one_hot_flat_index_in_place(y, num_classes):
    """Mistake: turns y into flat indices in place (y += row * num_classes), then sets them."""
    out = np.zeros(len(y) * num_classes)
    flat = y
    flat += np.arange(len(y), dtype=y.dtype) * num_classes
    out[flat] = 1.0
    return out.reshape(len(y), num_classes)


def wrong_one_hot_rows_indexed(y, num_classes):
    """Mistake: out[y] = 1 sets whole rows (indexed by the labels), not one entry per row."""
    out = np.zeros((len(y), num_classes))
    out[y] = 1.0
    return out


# ---------------------------------------------------------------------------------------------
# softmax
# ---------------------------------------------------------------------------------------------


def softmax_exp_of_log_softmax(z):
    """Correct: exp(z - logsumexp(z)), the log-sum-exp by np.logaddexp.reduce."""
    return np.exp(z - np.logaddexp.reduce(z, axis=-1, keepdims=True))


def softmax_rows_loop(z):
    """Correct: reshapes to rows of C scores and normalizes them one by one."""
    rows = z.reshape(-1, z.shape[-1])
    out = np.empty_like(rows)
    for i, row in enumerate(rows):
        e = np.exp(row - row.max())
        out[i] = e / e.sum()
    return out.reshape(z.shape)


@breaks("stable")
def wrong_softmax_no_max_shift(z):
    """Mistake: no max shift: exp overflows (inf / inf = nan) or underflows (0 / 0)."""
    e = np.exp(z)
    return e / np.sum(e, axis=-1, keepdims=True)


@breaks("last_axis")
def wrong_softmax_axis_0(z):
    """Mistake: normalizes along axis 0 (the examples), not the last axis."""
    e = np.exp(z - np.max(z, axis=0, keepdims=True))
    return e / np.sum(e, axis=0, keepdims=True)


@breaks("leading_axes")
def wrong_softmax_atleast_2d(z):
    """Mistake: np.atleast_2d makes a single vector (C,) into a (1, C) result."""
    z2 = np.atleast_2d(z)
    e = np.exp(z2 - np.max(z2, axis=-1, keepdims=True))
    return e / np.sum(e, axis=-1, keepdims=True)


@breaks("formula")
def wrong_softmax_eps_in_denominator(z):
    """Mistake: a 'safety' 1e-8 added to the denominator (the probabilities sum to < 1)."""
    e = np.exp(z - np.max(z, axis=-1, keepdims=True))
    return e / (np.sum(e, axis=-1, keepdims=True) + 1e-8)


@breaks("unchanged")
def wrong_softmax_shifts_in_place(z):
    """Mistake: subtracts the max in place (z -= ...), modifying the caller's array."""
    z -= np.max(z, axis=-1, keepdims=True)
    e = np.exp(z)
    return e / np.sum(e, axis=-1, keepdims=True)


@breaks("returns")
def wrong_softmax_float32(z):
    """Mistake: computes in float32 'to save memory'."""
    z32 = z.astype(np.float32)
    e = np.exp(z32 - np.max(z32, axis=-1, keepdims=True))
    return e / np.sum(e, axis=-1, keepdims=True)


def wrong_softmax_whole_array(z):
    """Mistake: one max and one sum over the whole array: all rows share one normalization."""
    e = np.exp(z - np.max(z))
    return e / np.sum(e)


def wrong_softmax_axis_1(z):
    """Mistake: axis=1 hard-coded: right for (N, C) only (fails on a vector or a 3-D array)."""
    e = np.exp(z - np.max(z, axis=1, keepdims=True))
    return e / np.sum(e, axis=1, keepdims=True)


# ---------------------------------------------------------------------------------------------
# log_softmax
# ---------------------------------------------------------------------------------------------


def log_softmax_logaddexp_reduce(z):
    """Correct: z - logsumexp(z), the log-sum-exp by np.logaddexp.reduce."""
    return z - np.logaddexp.reduce(z, axis=-1, keepdims=True)


def log_softmax_rows(z):
    """Correct: reshapes to rows, z - m - log(sum(exp(z - m))) per row, then back."""
    rows = z.reshape(-1, z.shape[-1])
    m = rows.max(axis=1)[:, None]
    out = rows - (m + np.log(np.exp(rows - m).sum(axis=1))[:, None])
    return out.reshape(z.shape)


@breaks("stable")
def wrong_log_softmax_log_of_softmax(z):
    """Mistake: np.log of a (stable) softmax: -inf where a probability underflowed."""
    e = np.exp(z - np.max(z, axis=-1, keepdims=True))
    return np.log(e / np.sum(e, axis=-1, keepdims=True))


@breaks("formula")
def wrong_log_softmax_drops_max(z):
    """Mistake: shifts by the max but forgets to add it back to the log-sum-exp."""
    m = np.max(z, axis=-1, keepdims=True)
    return z - np.log(np.sum(np.exp(z - m), axis=-1, keepdims=True))


@breaks("last_axis")
def wrong_log_softmax_axis_0(z):
    """Mistake: normalizes along axis 0."""
    m = np.max(z, axis=0, keepdims=True)
    return z - m - np.log(np.sum(np.exp(z - m), axis=0, keepdims=True))


@breaks("leading_axes")
def wrong_log_softmax_per_example_flatten(z):
    """Mistake: reshapes to (len(z), -1), i.e. normalizes over everything but the first axis
    (a vector's entries each become their own 'row')."""
    rows = z.reshape(len(z), -1)
    return _log_softmax_rows(rows).reshape(z.shape)


@breaks("unchanged")
def wrong_log_softmax_in_place(z):
    """Mistake: shifts z in place."""
    z -= np.max(z, axis=-1, keepdims=True)
    return z - np.log(np.sum(np.exp(z), axis=-1, keepdims=True))


@breaks("returns")
def wrong_log_softmax_float32(z):
    """Mistake: computes in float32."""
    return _log_softmax_rows(z.astype(np.float32))


def wrong_log_softmax_log_eps(z):
    """Mistake: np.log(softmax(z) + 1e-12): finite, but -27.6 instead of about -2e4."""
    e = np.exp(z - np.max(z, axis=-1, keepdims=True))
    return np.log(e / np.sum(e, axis=-1, keepdims=True) + 1e-12)


# ---------------------------------------------------------------------------------------------
# cross_entropy
# ---------------------------------------------------------------------------------------------


def cross_entropy_lse(logits, y):
    """Correct: mean(logsumexp - z_y), the log-sum-exp by np.logaddexp.reduce; one-hot by np.eye.
    Returns the loss as a numpy float64 scalar."""
    n, c = logits.shape
    lse = np.logaddexp.reduce(logits, axis=1)
    loss = np.mean(lse - logits[np.arange(n), y])
    return loss, (np.exp(logits - lse[:, None]) - np.eye(c)[y]) / n


def cross_entropy_masked_sum(logits, y):
    """Correct: a one-hot mask times the log-probabilities, summed, over N; loss as a 0-d array."""
    n, c = logits.shape
    mask = (y[:, None] == np.arange(c)).astype(float)
    log_probs = _log_softmax_rows(logits)
    loss = np.asarray(-np.sum(mask * log_probs) / n)
    return loss, np.exp(log_probs) / n - mask / n


@breaks("loss")
def wrong_ce_nll_on_logits(logits, y):
    """Mistake: -mean(logits[i, y_i]), the negative log-likelihood of raw logits (as if
    F.nll_loss were given logits); the gradient is right."""
    n, _ = logits.shape
    log_probs = _log_softmax_rows(logits)
    dlogits = np.exp(log_probs)
    dlogits[np.arange(n), y] -= 1.0
    return -float(np.mean(logits[np.arange(n), y])), dlogits / n


@breaks("mean")
def wrong_ce_summed_loss(logits, y):
    """Mistake: the loss is summed over the examples (the gradient is divided by N)."""
    n, _ = logits.shape
    log_probs = _log_softmax_rows(logits)
    dlogits = np.exp(log_probs)
    dlogits[np.arange(n), y] -= 1.0
    return -float(np.sum(log_probs[np.arange(n), y])), dlogits / n


@breaks("gradient")
def wrong_ce_gradient_not_divided_by_n(logits, y):
    """Mistake: dlogits = softmax - one_hot, not divided by N."""
    n, _ = logits.shape
    log_probs = _log_softmax_rows(logits)
    dlogits = np.exp(log_probs)
    dlogits[np.arange(n), y] -= 1.0
    return -float(np.mean(log_probs[np.arange(n), y])), dlogits


@breaks("stable")
def wrong_ce_no_max_shift(logits, y):
    """Mistake: log(sum(exp(logits))) and exp(logits) / sum without the max shift."""
    n, c = logits.shape
    e = np.exp(logits)
    s = np.sum(e, axis=1, keepdims=True)
    log_probs = logits - np.log(s)
    return -float(np.mean(log_probs[np.arange(n), y])), (e / s - np.eye(c)[y]) / n


@breaks("unchanged")
def wrong_ce_shifts_logits_in_place(logits, y):
    """Mistake: logits -= logits.max(...) modifies the caller's array."""
    n, c = logits.shape
    logits -= np.max(logits, axis=1, keepdims=True)
    log_probs = logits - np.log(np.sum(np.exp(logits), axis=1, keepdims=True))
    return -float(np.mean(log_probs[np.arange(n), y])), (np.exp(log_probs) - np.eye(c)[y]) / n


@breaks("returns")
def wrong_ce_returns_gradient_first(logits, y):
    """Mistake: returns (dlogits, loss), the pair in the wrong order."""
    loss, dlogits = cross_entropy_lse(logits, y)
    return dlogits, float(loss)


def wrong_ce_mean_over_all_entries(logits, y):
    """Mistake: -np.mean(one_hot * log_probs): divides by N * C, not N."""
    n, c = logits.shape
    onehot = np.eye(c)[y]
    log_probs = _log_softmax_rows(logits)
    return -float(np.mean(onehot * log_probs)), (np.exp(log_probs) - onehot) / n


def wrong_ce_gradient_sign(logits, y):
    """Mistake: dlogits = (one_hot - softmax) / N, the negative gradient."""
    n, c = logits.shape
    log_probs = _log_softmax_rows(logits)
    return (-float(np.mean(log_probs[np.arange(n), y])),
            (np.eye(c)[y] - np.exp(log_probs)) / n)


# ---------------------------------------------------------------------------------------------
# mse_loss
# ---------------------------------------------------------------------------------------------


def mse_loss_dot(pred, target):
    """Correct: the loss as a dot product of the flattened difference with itself."""
    d = (pred - target).ravel()
    return float(d @ d) / d.size, (2.0 / pred.size) * (pred - target)


def mse_loss_numpy_scalar(pred, target):
    """Correct: np.square and np.mean; the loss left as a numpy float64 scalar."""
    diff = np.subtract(pred, target)
    return np.mean(np.square(diff)), np.multiply(diff, 2) / np.prod(pred.shape)


@breaks("loss")
def wrong_mse_square_of_mean(pred, target):
    """Mistake: mean(pred - target) ** 2, the square of the mean error."""
    diff = pred - target
    return float(np.mean(diff) ** 2), 2.0 * diff / diff.size


@breaks("mean")
def wrong_mse_mean_over_rows(pred, target):
    """Mistake: sum of the squares divided by len(pred), the number of rows."""
    diff = pred - target
    return float(np.sum(diff**2) / len(pred)), 2.0 * diff / diff.size


@breaks("gradient")
def wrong_mse_gradient_without_2(pred, target):
    """Mistake: dpred = (pred - target) / pred.size, the factor 2 forgotten."""
    diff = pred - target
    return float(np.mean(diff**2)), diff / diff.size


@breaks("returns")
def wrong_mse_flattened_gradient(pred, target):
    """Mistake: works on the raveled difference and returns the gradient flattened."""
    d = (pred - target).ravel()
    return float(d @ d / d.size), 2.0 * d / d.size


@breaks("unchanged")
def wrong_mse_subtracts_in_place(pred, target):
    """Mistake: diff = pred; diff -= target (an alias, not a copy: pred is modified)."""
    diff = pred
    diff -= target
    return float(np.mean(diff**2)), 2.0 * diff / diff.size


def wrong_mse_summed(pred, target):
    """Mistake: the sum of squared errors, with its gradient 2 (pred - target)."""
    diff = pred - target
    return float(np.sum(diff**2)), 2.0 * diff


def wrong_mse_keepdims(pred, target):
    """Mistake: np.mean(..., keepdims=True) returns the loss as an array, not a number."""
    diff = pred - target
    return np.mean(diff**2, keepdims=True), 2.0 * diff / diff.size


# ---------------------------------------------------------------------------------------------
# binary_cross_entropy_with_logits
# ---------------------------------------------------------------------------------------------


def bce_max_form(z, y):
    """Correct: PyTorch's form max(z, 0) - z y + log1p(exp(-|z|)); sigmoid by np.where."""
    loss = np.mean(np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z))))
    e = np.exp(-np.abs(z))
    sigmoid = np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
    return float(loss), (sigmoid - y) / z.size


def bce_softplus_form(z, y):
    """Correct: softplus(z) - z y with np.logaddexp; sigmoid as 0.5 (1 + tanh(z / 2))."""
    loss = np.mean(np.logaddexp(0.0, z) - z * y)
    return loss, (0.5 * (1.0 + np.tanh(0.5 * z)) - y) / np.size(z)


@breaks("loss")
def wrong_bce_drops_negative_term(z, y):
    """Mistake: only -y log(sigmoid(z)): the (1 - y) log(1 - sigmoid(z)) term is missing."""
    loss = np.mean(-y * _log_sigmoid(z))
    return float(loss), (np.exp(_log_sigmoid(z)) - y) / z.size


@breaks("mean")
def wrong_bce_summed(z, y):
    """Mistake: the loss is summed over the elements (the gradient is divided by z.size)."""
    loss = np.sum(-y * _log_sigmoid(z) - (1 - y) * _log_sigmoid(-z))
    return float(loss), (np.exp(_log_sigmoid(z)) - y) / z.size


@breaks("gradient")
def wrong_bce_gradient_not_divided(z, y):
    """Mistake: dz = sigmoid(z) - y, not divided by z.size."""
    loss = np.mean(-y * _log_sigmoid(z) - (1 - y) * _log_sigmoid(-z))
    return float(loss), np.exp(_log_sigmoid(z)) - y


@breaks("stable")
def wrong_bce_naive_log_sigmoid(z, y):
    """Mistake: log(sigmoid(z)) and log(1 - sigmoid(z)) from sigmoid(z) = 1 / (1 + exp(-z)):
    log(0) = -inf once sigmoid rounds to 0 or 1 (|z| > about 37), nan where y is 0 or 1."""
    sigmoid = 1.0 / (1.0 + np.exp(-z))
    loss = np.mean(-y * np.log(sigmoid) - (1 - y) * np.log(1 - sigmoid))
    return float(loss), (sigmoid - y) / z.size


@breaks("soft")
def wrong_bce_rounds_targets(z, y):
    """Mistake: assumes hard labels: rounds y to 0 or 1 first."""
    hard = (y > 0.5).astype(np.float64)
    loss = np.mean(np.where(hard == 1, -_log_sigmoid(z), -_log_sigmoid(-z)))
    return float(loss), (np.exp(_log_sigmoid(z)) - hard) / z.size


@breaks("returns")
def wrong_bce_per_element_loss(z, y):
    """Mistake: returns the loss of every element (reduction 'none') instead of their mean."""
    losses = -y * _log_sigmoid(z) - (1 - y) * _log_sigmoid(-z)
    return losses, (np.exp(_log_sigmoid(z)) - y) / z.size


@breaks("unchanged")
def wrong_bce_negates_in_place(z, y):
    """Mistake: minus_z = z; minus_z *= -1 (an alias: z is negated in place)."""
    log_p = _log_sigmoid(z)
    minus_z = z
    minus_z *= -1
    loss = np.mean(-y * log_p - (1 - y) * _log_sigmoid(minus_z))
    return float(loss), (np.exp(log_p) - y) / z.size


def wrong_bce_mean_over_rows(z, y):
    """Mistake: divides the sum and the gradient by len(z), the rows, not z.size."""
    loss = np.sum(-y * _log_sigmoid(z) - (1 - y) * _log_sigmoid(-z)) / len(z)
    return float(loss), (np.exp(_log_sigmoid(z)) - y) / len(z)


def wrong_bce_gradient_sign(z, y):
    """Mistake: dz = (y - sigmoid(z)) / z.size."""
    loss = np.mean(-y * _log_sigmoid(z) - (1 - y) * _log_sigmoid(-z))
    return float(loss), (y - np.exp(_log_sigmoid(z))) / z.size


# ---------------------------------------------------------------------------------------------
# label_smoothing_cross_entropy
# ---------------------------------------------------------------------------------------------


def _smoothed(y, c, smoothing):
    q = np.full((len(y), c), smoothing / c)
    q[np.arange(len(y)), y] += 1.0 - smoothing
    return q


def ls_mixture_of_losses(logits, y, smoothing):
    """Correct: (1 - eps) * cross-entropy + eps * mean over classes of -log p."""
    n, c = logits.shape
    log_probs = _log_softmax_rows(logits)
    nll = -np.mean(log_probs[np.arange(n), y])
    uniform = -np.mean(log_probs)
    q = (1 - smoothing) * np.eye(c)[y] + smoothing / c
    return float((1 - smoothing) * nll + smoothing * uniform), (np.exp(log_probs) - q) / n


def ls_einsum(logits, y, smoothing):
    """Correct: q built from np.eye, the loss by np.einsum, the log-sum-exp by
    np.logaddexp.reduce; the loss left as a numpy scalar."""
    n, c = logits.shape
    q = np.eye(c)[y] * (1.0 - smoothing) + np.full((n, c), smoothing / c)
    log_probs = logits - np.logaddexp.reduce(logits, axis=1, keepdims=True)
    return -np.einsum("ic,ic->", q, log_probs) / n, (np.exp(log_probs) - q) / n


@breaks("targets")
def wrong_ls_spreads_over_other_classes(logits, y, smoothing):
    """Mistake: smoothing / (C - 1) on the C - 1 wrong classes, 1 - smoothing on the true one."""
    n, c = logits.shape
    q = np.full((n, c), smoothing / (c - 1))
    q[np.arange(n), y] = 1.0 - smoothing
    log_probs = _log_softmax_rows(logits)
    return -float(np.sum(q * log_probs)) / n, (np.exp(log_probs) - q) / n


@breaks("loss")
def wrong_ls_kl_divergence(logits, y, smoothing):
    """Mistake: the KL divergence sum q log(q / p) (nn.KLDivLoss), which differs from the
    cross-entropy by the entropy of q; the gradient is the same."""
    n, c = logits.shape
    q = _smoothed(y, c, smoothing)
    log_probs = _log_softmax_rows(logits)
    q_log_q = np.where(q > 0, q * np.log(np.where(q > 0, q, 1.0)), 0.0)
    return float(np.sum(q_log_q - q * log_probs)) / n, (np.exp(log_probs) - q) / n


@breaks("mean")
def wrong_ls_summed(logits, y, smoothing):
    """Mistake: the loss is summed over the examples (the gradient is divided by N)."""
    n, c = logits.shape
    q = _smoothed(y, c, smoothing)
    log_probs = _log_softmax_rows(logits)
    return -float(np.sum(q * log_probs)), (np.exp(log_probs) - q) / n


@breaks("gradient")
def wrong_ls_plain_ce_gradient(logits, y, smoothing):
    """Mistake: the gradient of plain cross-entropy, (softmax - one_hot) / N, ignoring smoothing."""
    n, c = logits.shape
    q = _smoothed(y, c, smoothing)
    log_probs = _log_softmax_rows(logits)
    return -float(np.sum(q * log_probs)) / n, (np.exp(log_probs) - np.eye(c)[y]) / n


@breaks("zero")
def wrong_ls_falsy_smoothing_default(logits, y, smoothing):
    """Mistake: smoothing = smoothing or 0.1 (meant as a default for None, it replaces 0)."""
    smoothing = smoothing or 0.1
    n, c = logits.shape
    q = _smoothed(y, c, smoothing)
    log_probs = _log_softmax_rows(logits)
    return -float(np.sum(q * log_probs)) / n, (np.exp(log_probs) - q) / n


@breaks("stable")
def wrong_ls_no_max_shift(logits, y, smoothing):
    """Mistake: log-softmax and softmax without the max shift."""
    n, c = logits.shape
    q = _smoothed(y, c, smoothing)
    e = np.exp(logits)
    s = np.sum(e, axis=1, keepdims=True)
    return -float(np.sum(q * (logits - np.log(s)))) / n, (e / s - q) / n


@breaks("unchanged")
def wrong_ls_in_place(logits, y, smoothing):
    """Mistake: logits -= logits.max(...) in place."""
    n, c = logits.shape
    q = _smoothed(y, c, smoothing)
    logits -= np.max(logits, axis=1, keepdims=True)
    log_probs = logits - np.log(np.sum(np.exp(logits), axis=1, keepdims=True))
    return -float(np.sum(q * log_probs)) / n, (np.exp(log_probs) - q) / n


@breaks("returns")
def wrong_ls_per_example_losses(logits, y, smoothing):
    """Mistake: returns the N per-example losses instead of their mean."""
    n, c = logits.shape
    q = _smoothed(y, c, smoothing)
    log_probs = _log_softmax_rows(logits)
    return -np.sum(q * log_probs, axis=1), (np.exp(log_probs) - q) / n


def wrong_ls_smooths_probabilities(logits, y, smoothing):
    """Mistake: smooths the prediction instead of the target: -log((1 - eps) p_y + eps / C)."""
    n, c = logits.shape
    p = np.exp(_log_softmax_rows(logits))
    mixed = (1 - smoothing) * p + smoothing / c
    loss = -float(np.mean(np.log(mixed[np.arange(n), y])))
    return loss, (p - _smoothed(y, c, smoothing)) / n


CORRECT = {
    "one_hot": [one_hot_eye_rows, one_hot_broadcast_compare, one_hot_loop],
    "softmax": [softmax_exp_of_log_softmax, softmax_rows_loop],
    "log_softmax": [log_softmax_logaddexp_reduce, log_softmax_rows],
    "cross_entropy": [cross_entropy_lse, cross_entropy_masked_sum],
    "mse_loss": [mse_loss_dot, mse_loss_numpy_scalar],
    "binary_cross_entropy_with_logits": [bce_max_form, bce_softplus_form],
    "label_smoothing_cross_entropy": [ls_mixture_of_losses, ls_einsum],
}

WRONG = {
    "one_hot": [wrong_one_hot_int_dtype, wrong_one_hot_one_based,
                wrong_one_hot_width_from_labels, wrong_one_hot_transposed,
                wrong_one_hot_flat_index_in_place, wrong_one_hot_rows_indexed],
    "softmax": [wrong_softmax_no_max_shift, wrong_softmax_axis_0, wrong_softmax_atleast_2d,
                wrong_softmax_eps_in_denominator, wrong_softmax_shifts_in_place,
                wrong_softmax_float32, wrong_softmax_whole_array, wrong_softmax_axis_1],
    "log_softmax": [wrong_log_softmax_log_of_softmax, wrong_log_softmax_drops_max,
                    wrong_log_softmax_axis_0, wrong_log_softmax_per_example_flatten,
                    wrong_log_softmax_in_place, wrong_log_softmax_float32,
                    wrong_log_softmax_log_eps],
    "cross_entropy": [wrong_ce_nll_on_logits, wrong_ce_summed_loss,
                      wrong_ce_gradient_not_divided_by_n, wrong_ce_no_max_shift,
                      wrong_ce_shifts_logits_in_place, wrong_ce_returns_gradient_first,
                      wrong_ce_mean_over_all_entries, wrong_ce_gradient_sign],
    "mse_loss": [wrong_mse_square_of_mean, wrong_mse_mean_over_rows,
                 wrong_mse_gradient_without_2, wrong_mse_flattened_gradient,
                 wrong_mse_subtracts_in_place, wrong_mse_summed, wrong_mse_keepdims],
    "binary_cross_entropy_with_logits": [
        wrong_bce_drops_negative_term, wrong_bce_summed, wrong_bce_gradient_not_divided,
        wrong_bce_naive_log_sigmoid, wrong_bce_rounds_targets, wrong_bce_per_element_loss,
        wrong_bce_negates_in_place, wrong_bce_mean_over_rows, wrong_bce_gradient_sign],
    "label_smoothing_cross_entropy": [
        wrong_ls_spreads_over_other_classes, wrong_ls_kl_divergence, wrong_ls_summed,
        wrong_ls_plain_ce_gradient, wrong_ls_falsy_smoothing_default, wrong_ls_no_max_shift,
        wrong_ls_in_place, wrong_ls_per_example_losses, wrong_ls_smooths_probabilities],
}
