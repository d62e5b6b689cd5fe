"""Implementations of the a06_regularization exercises: alternative correct ones and common
mistakes.

``tests/test_a06_implementations.py`` checks that the hidden cases accept the first and reject
the second. A mistake marked ``@breaks("<clause>")`` violates exactly one clause of its
exercise's docstring (the keys of ``Exercise.clauses`` in
``autograder/checks/a06_regularization.py``) and must fail a hidden case covering that clause.

The correct random layers draw their numbers in other ways than the notebook's solution
(``rng.uniform``, ``rng.binomial``, ``rng.choice``, ``integers(..., endpoint=True)``...): the
checks test properties of the result, never one particular random stream.
"""

from __future__ import annotations

import numpy as np

from implementations import breaks

# ---------------------------------------------------------------------------------------------
# l2_penalty
# ---------------------------------------------------------------------------------------------


def l2_penalty_loops(params, weight_decay):
    """Correct: flattened arrays and dot products, a loop building the gradients."""
    total = 0.0
    grads = []
    for W in params:
        flat = W.ravel()
        total += float(flat @ flat)
        grads.append(W * weight_decay)
    return weight_decay * total / 2, grads


@breaks("formula")
def wrong_l2_no_half(params, weight_decay):
    """Mistake: penalty = weight_decay * sum of squares (the factor 0.5 forgotten)."""
    return (weight_decay * sum(float(np.sum(W**2)) for W in params),
            [weight_decay * W for W in params])


@breaks("every")
def wrong_l2_skips_biases(params, weight_decay):
    """Mistake: penalizes only the weight matrices (ndim >= 2), not the biases."""
    penalty = 0.5 * weight_decay * sum(float(np.sum(W**2)) for W in params if W.ndim >= 2)
    return penalty, [weight_decay * W if W.ndim >= 2 else np.zeros_like(W) for W in params]


@breaks("grads")
def wrong_l2_grad_doubled(params, weight_decay):
    """Mistake: gradient 2 * weight_decay * W (the 0.5 does not cancel the 2 any more)."""
    return (0.5 * weight_decay * sum(float(np.sum(W**2)) for W in params),
            [2 * weight_decay * W for W in params])


@breaks("unchanged")
def wrong_l2_in_place(params, weight_decay):
    """Mistake: computes the gradients by scaling the parameter arrays in place."""
    penalty = 0.5 * weight_decay * sum(float(np.sum(W**2)) for W in params)
    for W in params:
        W *= weight_decay
    return penalty, params


@breaks("returns")
def wrong_l2_float32(params, weight_decay):
    """Mistake: returns float32 gradients."""
    return (0.5 * weight_decay * sum(float(np.sum(W**2)) for W in params),
            [(weight_decay * W).astype(np.float32) for W in params])


def wrong_l2_l1_penalty(params, weight_decay):
    """Mistake: an L1 penalty (sum of absolute values) and its sign gradient."""
    return (weight_decay * sum(float(np.sum(np.abs(W))) for W in params),
            [weight_decay * np.sign(W) for W in params])


# ---------------------------------------------------------------------------------------------
# sgd_weight_decay_step
# ---------------------------------------------------------------------------------------------


def sgd_weight_decay_step_shrink(w, dw, lr, weight_decay):
    """Correct: the shrink-then-step form (1 - lr * weight_decay) * w - lr * dw."""
    return (1.0 - lr * weight_decay) * w - lr * dw


@breaks("formula")
def wrong_sgd_decay_without_lr(w, dw, lr, weight_decay):
    """Mistake: the decay is not multiplied by lr: w - lr * dw - weight_decay * w."""
    return w - lr * dw - weight_decay * w


@breaks("before")
def wrong_sgd_decay_after_step(w, dw, lr, weight_decay):
    """Mistake: takes the gradient step first, then decays the updated w."""
    stepped = w - lr * dw
    return stepped - lr * weight_decay * stepped


@breaks("unchanged")
def wrong_sgd_in_place(w, dw, lr, weight_decay):
    """Mistake: updates w in place and returns it."""
    w -= lr * (dw + weight_decay * w)
    return w


@breaks("returns")
def wrong_sgd_float32(w, dw, lr, weight_decay):
    """Mistake: returns float32."""
    return (w - lr * (dw + weight_decay * w)).astype(np.float32)


def wrong_sgd_decay_sign(w, dw, lr, weight_decay):
    """Mistake: the decay with the wrong sign (pushes w away from 0)."""
    return w - lr * (dw - weight_decay * w)


# ---------------------------------------------------------------------------------------------
# adamw_step
# ---------------------------------------------------------------------------------------------


def adamw_step_torch_form(w, dw, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8,
                          weight_decay=1e-2):
    """Correct: PyTorch's form, step size lr / (1 - beta1**t) and denominator
    sqrt(v) / sqrt(1 - beta2**t) + eps; the decay subtracted as lr * weight_decay * w."""
    m_new = m * beta1 + dw * (1 - beta1)
    v_new = v * beta2 + dw * dw * (1 - beta2)
    step_size = lr / (1 - beta1**t)
    denom = np.sqrt(v_new) / np.sqrt(1 - beta2**t) + eps
    return w - lr * weight_decay * w - step_size * m_new / denom, m_new, v_new


def _adamw(w, dw, m, v, t, lr, beta1, beta2, eps, weight_decay, mistake=""):
    """AdamW, correct unless ``mistake`` names one."""
    if mistake == "l2":
        dw = dw + weight_decay * w
    if mistake == "in_place":
        m *= beta1
        m += (1 - beta1) * dw
        m_new = m
    else:
        m_new = beta1 * m + (1 - beta1) * dw
    v_new = beta2 * v + (1 - beta2) * dw**2
    if mistake == "no_bias_correction":
        m_hat, v_hat = m_new, v_new
    else:
        m_hat, v_hat = m_new / (1 - beta1**t), v_new / (1 - beta2**t)
    if mistake == "eps_inside":
        step = lr * m_hat / np.sqrt(v_hat + eps)
    else:
        step = lr * m_hat / (np.sqrt(v_hat) + eps)
    if mistake == "l2":
        w_new = w - step
    elif mistake == "decay_without_lr":
        w_new = w * (1 - weight_decay) - step
    elif mistake == "decay_after_step":
        w_new = (w - step) * (1 - lr * weight_decay)
    else:
        w_new = w * (1 - lr * weight_decay) - step
    if mistake == "returns_corrected":
        return w_new, m_hat, v_hat
    if mistake == "float32":
        return w_new.astype(np.float32), m_new.astype(np.float32), v_new.astype(np.float32)
    return w_new, m_new, v_new


def _named(impl, name, doc, clause):
    """Name and document a mistake made from a shared core (the test ids), with its clause."""
    impl.__name__ = impl.__qualname__ = name
    impl.__doc__ = doc
    return breaks(clause)(impl) if clause else impl


def _adamw_mistake(mistake, doc, clause=None):
    def impl(w, dw, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=1e-2):
        return _adamw(w, dw, m, v, t, lr, beta1, beta2, eps, weight_decay, mistake)
    return _named(impl, f"wrong_adamw_{mistake}", f"Mistake: {doc}.", clause)


def adamw_step_shared_core(w, dw, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8,
                           weight_decay=1e-2):
    """Correct: the core the mistakes below switch one thing of."""
    return _adamw(w, dw, m, v, t, lr, beta1, beta2, eps, weight_decay)


WRONG_ADAMW = [
    _adamw_mistake("l2", "Adam with an L2 penalty: weight_decay * w added to the gradient (it "
                         "enters m and v), no decoupled decay", "moments"),
    _adamw_mistake("decay_without_lr", "decays w by (1 - weight_decay), without lr",
                   "decoupled"),
    _adamw_mistake("decay_after_step", "decays the w after the Adam step instead of the w "
                                       "passed in", "decay_first"),
    _adamw_mistake("no_bias_correction", "no bias correction (m_hat = m_new, v_hat = v_new)",
                   "bias_correction"),
    _adamw_mistake("eps_inside", "eps inside the square root", "eps"),
    _adamw_mistake("returns_corrected", "returns the bias-corrected m_hat and v_hat as the "
                                        "state", "state"),
    _adamw_mistake("in_place", "updates m in place", "unchanged"),
    _adamw_mistake("float32", "returns float32 arrays", "returns"),
]


# ---------------------------------------------------------------------------------------------
# dropout_forward and dropout_backward
# ---------------------------------------------------------------------------------------------


def dropout_forward_binomial(x, p, training, rng):
    """Correct: a binomial keep mask; out computed as x * keep / (1 - p); a copy in evaluation."""
    if not training or p == 0:
        return x.copy(), None
    keep = rng.binomial(1, 1 - p, size=x.shape)
    return x * keep / (1 - p), keep / (1 - p)


def dropout_forward_choice(x, p, training, rng):
    """Correct: the mask drawn directly from its two values with rng.choice."""
    if training and p > 0:
        mask = rng.choice(np.array([0.0, 1.0 / (1.0 - p)]), size=x.shape, p=[p, 1 - p])
        return x * mask, mask
    return x, None


def _dropout(x, p, training, rng, mistake=""):
    """Inverted dropout, correct unless ``mistake`` names one."""
    if (not training and mistake != "in_eval") or (p == 0 and mistake != "p_zero_mask"):
        return x, None
    if mistake == "p_zero_mask" and p == 0:
        return x.copy(), np.ones_like(x)
    if mistake == "global_rng":
        u = np.random.random(x.shape)
    elif mistake == "per_row":
        u = np.broadcast_to(rng.uniform(size=(x.shape[0],) + (1,) * (x.ndim - 1)), x.shape)
    else:
        u = rng.uniform(size=x.shape)
    if mistake == "keep_probability":
        keep = u < p
        mask = keep / p
    else:
        keep = u >= p
        mask = keep / (1 - p)
    if mistake == "no_scaling":
        mask = keep.astype(np.float64)
    out = x * mask
    if mistake == "unscaled_mask":
        mask = keep.astype(np.float64)
    if mistake == "in_place":
        x *= mask
        out = x
    if mistake == "float32":
        out = out.astype(np.float32)
    return out, mask


def _dropout_mistake(mistake, doc, clause=None):
    def impl(x, p, training, rng):
        return _dropout(x, p, training, rng, mistake)
    return _named(impl, f"wrong_dropout_{mistake}", f"Mistake: {doc}.", clause)


def dropout_forward_shared_core(x, p, training, rng):
    """Correct: the core the mistakes below switch one thing of (rng.uniform >= p)."""
    return _dropout(x, p, training, rng)


WRONG_DROPOUT = [
    _dropout_mistake("keep_probability", "p taken as the probability of keeping an entry "
                                         "(scaled by 1 / p)", "drop_prob"),
    _dropout_mistake("per_row", "one draw per row (example), shared by all its entries",
                     "independent"),
    _dropout_mistake("no_scaling", "the kept entries are not scaled by 1 / (1 - p)", "scale"),
    _dropout_mistake("unscaled_mask", "out is right but the returned mask holds 0 and 1, not "
                                      "0 and 1 / (1 - p)", "mask"),
    _dropout_mistake("global_rng", "draws from np.random (the global generator) instead of "
                                   "rng", "rng"),
    _dropout_mistake("in_eval", "drops entries in evaluation too", "eval"),
    _dropout_mistake("p_zero_mask", "with p = 0 returns a mask of ones instead of None",
                     "p_zero"),
    _dropout_mistake("in_place", "multiplies x by the mask in place", "unchanged"),
    _dropout_mistake("float32", "returns out as float32", "returns"),
]


def wrong_dropout_fixed_seed(x, p, training, rng):
    """Mistake: draws from a new generator of fixed seed, ignoring rng (the same entries are
    dropped at every call)."""
    if not training or p == 0:
        return x, None
    mask = (np.random.default_rng(0).random(x.shape) >= p) / (1 - p)
    return x * mask, mask


def dropout_backward_where(dout, mask):
    """Correct: np.where on the kept entries; a copy of dout without a mask."""
    if mask is None:
        return np.array(dout, copy=True)
    return np.where(mask != 0, dout * mask, 0.0)


@breaks("chain")
def wrong_dropout_backward_unscaled(dout, mask):
    """Mistake: lets the gradient through the kept entries without the 1 / (1 - p) scale."""
    if mask is None:
        return dout.copy()
    return dout * (mask > 0)


@breaks("none")
def wrong_dropout_backward_none(dout, mask):
    """Mistake: returns None when there is no mask."""
    if mask is None:
        return None
    return dout * mask


@breaks("unchanged")
def wrong_dropout_backward_in_place(dout, mask):
    """Mistake: multiplies dout in place."""
    if mask is not None:
        dout *= mask
    return dout


@breaks("returns")
def wrong_dropout_backward_float32(dout, mask):
    """Mistake: returns float32."""
    return (dout if mask is None else dout * mask).astype(np.float32)


# ---------------------------------------------------------------------------------------------
# dropconnect_forward
# ---------------------------------------------------------------------------------------------


def dropconnect_forward_binomial(x, W, b, p, training, rng):
    """Correct: a binomial keep mask; the product scaled after the matrix product."""
    if not training or p == 0:
        return np.dot(x, W) + b, None
    keep = rng.binomial(1, 1.0 - p, size=W.shape)
    return x @ (W * keep) / (1.0 - p) + b, keep / (1.0 - p)


def _dropconnect(x, W, b, p, training, rng, mistake=""):
    """DropConnect, correct unless ``mistake`` names one."""
    if (not training and mistake != "in_eval") or (p == 0 and mistake != "p_zero_mask"):
        return x @ W + b, None
    if mistake == "p_zero_mask" and p == 0:
        return x @ W + b, np.ones_like(W)
    if mistake == "per_unit":
        u = np.broadcast_to(rng.random((1, W.shape[1])), W.shape)
    elif mistake == "global_rng":
        u = np.random.random(W.shape)
    else:
        u = rng.random(W.shape)
    keep = u < p if mistake == "keep_probability" else u >= p
    scale = 1.0 if mistake == "no_scaling" else 1.0 / (p if mistake == "keep_probability"
                                                      else 1.0 - p)
    M = keep * scale
    if mistake == "per_example":
        outs = [x[n] @ (W * M) + b if n == 0 else
                x[n] @ (W * (rng.random(W.shape) >= p) / (1 - p)) + b
                for n in range(x.shape[0])]
        return np.stack(outs), M
    if mistake == "activations":
        keep_out = rng.random((x.shape[0], W.shape[1])) >= p
        return (x @ W) * keep_out / (1 - p) + b, keep_out / (1 - p)
    if mistake == "bias_scaled":
        return (x @ (W * keep) + b) / (1 - p), M
    if mistake == "in_place":
        W *= M
        return x @ W + b, M
    out = x @ (W * M) + b
    if mistake == "float32":
        out = out.astype(np.float32)
    return out, M


def _dropconnect_mistake(mistake, doc, clause=None):
    def impl(x, W, b, p, training, rng):
        return _dropconnect(x, W, b, p, training, rng, mistake)
    return _named(impl, f"wrong_dropconnect_{mistake}", f"Mistake: {doc}.", clause)


def dropconnect_forward_shared_core(x, W, b, p, training, rng):
    """Correct: the core the mistakes below switch one thing of."""
    return _dropconnect(x, W, b, p, training, rng)


WRONG_DROPCONNECT = [
    _dropconnect_mistake("per_example", "a new mask for every example of the batch (returns "
                                        "the first one)", "shared"),
    _dropconnect_mistake("keep_probability", "p taken as the probability of keeping a weight",
                         "drop_prob"),
    _dropconnect_mistake("per_unit", "one draw per output unit (a column of W), shared by its "
                                     "weights: dropout of the outputs", "independent"),
    _dropconnect_mistake("no_scaling", "the kept weights are not scaled by 1 / (1 - p)",
                         "scale"),
    _dropconnect_mistake("bias_scaled", "scales the bias too: (x @ (W * keep) + b) / (1 - p)",
                         "formula"),
    _dropconnect_mistake("global_rng", "draws from np.random instead of rng", "rng"),
    _dropconnect_mistake("in_eval", "drops weights in evaluation too", "eval"),
    _dropconnect_mistake("p_zero_mask", "with p = 0 returns a mask of ones instead of None",
                         "p_zero"),
    _dropconnect_mistake("in_place", "masks W in place", "unchanged"),
    _dropconnect_mistake("float32", "returns out as float32", "returns"),
    _dropconnect_mistake("activations", "the mask on the activations x @ W (dropout of the "
                                        "outputs), one per example, returned as M"),
]


# ---------------------------------------------------------------------------------------------
# random_horizontal_flip
# ---------------------------------------------------------------------------------------------


def random_horizontal_flip_where(images, p, rng):
    """Correct: np.where between the image and its flip, flips drawn with rng.binomial."""
    flip = rng.binomial(1, p, size=images.shape[0]).astype(bool)
    return np.where(flip[:, None, None, None], images[..., ::-1], images)


def random_horizontal_flip_loop(images, p, rng):
    """Correct: one image at a time, np.flip along the last axis."""
    out = np.empty_like(images)
    for n in range(images.shape[0]):
        out[n] = np.flip(images[n], axis=-1) if rng.uniform() < p else images[n]
    return out


def _flip(images, p, rng, mistake=""):
    """Random horizontal flips, correct unless ``mistake`` names one."""
    n, c = images.shape[:2]
    if mistake == "global_rng":
        u = np.random.random(n)
    elif mistake == "whole_batch":
        u = np.full(n, rng.random())
    else:
        u = rng.random(n)
    flip = u < 1 - p if mistake == "reversed_probability" else u < p
    if mistake == "no_copy" and not flip.any():
        return images
    if mistake == "in_place":
        images[flip] = images[flip][..., ::-1]
        return images.copy()
    out = images.copy()
    if mistake == "vertical":
        out[flip] = images[flip][:, :, ::-1, :]
    elif mistake == "per_channel":
        per_channel = rng.random((n, c)) < p
        out[per_channel] = images[per_channel][..., ::-1]
    else:
        out[flip] = images[flip][..., ::-1]
    if mistake == "float32":
        out = out.astype(np.float32)
    return out


def _flip_mistake(mistake, doc, clause=None):
    def impl(images, p, rng):
        return _flip(images, p, rng, mistake)
    return _named(impl, f"wrong_flip_{mistake}", f"Mistake: {doc}.", clause)


def random_horizontal_flip_shared_core(images, p, rng):
    """Correct: the core the mistakes below switch one thing of."""
    return _flip(images, p, rng)


WRONG_FLIP = [
    _flip_mistake("reversed_probability", "flips with probability 1 - p", "probability"),
    _flip_mistake("whole_batch", "one draw for the whole batch: all images flipped or none",
                  "independent"),
    _flip_mistake("vertical", "flips along H (upside down) instead of W", "axis"),
    _flip_mistake("per_channel", "draws a flip for each channel separately", "channels"),
    _flip_mistake("global_rng", "draws from np.random instead of rng", "rng"),
    _flip_mistake("in_place", "flips the selected images in place in the input", "unchanged"),
    _flip_mistake("no_copy", "returns images itself when no image is flipped", "new_array"),
    _flip_mistake("float32", "returns float32", "returns"),
]


def wrong_flip_view(images, p, rng):
    """Mistake: returns images[..., ::-1] (a view of the input) when every image is flipped."""
    flip = rng.random(images.shape[0]) < p
    if flip.all():
        return images[..., ::-1]
    out = images.copy()
    out[flip] = images[flip][..., ::-1]
    return out


# ---------------------------------------------------------------------------------------------
# random_crop
# ---------------------------------------------------------------------------------------------


def random_crop_endpoint(images, size, padding, rng):
    """Correct: offsets from integers(..., endpoint=True), windows gathered by fancy indexing."""
    n, c, h, w = images.shape
    padded = np.zeros((n, c, h + 2 * padding, w + 2 * padding))
    padded[:, :, padding:padding + h, padding:padding + w] = images
    i = rng.integers(0, h + 2 * padding - size, size=n, endpoint=True)
    j = rng.integers(0, w + 2 * padding - size, size=n, endpoint=True)
    rows = i[:, None] + np.arange(size)  # (n, size)
    cols = j[:, None] + np.arange(size)
    return padded[np.arange(n)[:, None, None, None], np.arange(c)[None, :, None, None],
                  rows[:, None, :, None], cols[:, None, None, :]]


def _crop(images, size, padding, rng, mistake=""):
    """Random crops, correct unless ``mistake`` names one."""
    n, c, h, w = images.shape
    if mistake == "in_place":
        rng.shuffle(images)
    if mistake == "no_copy" and padding == 0 and size == h == w:
        return images
    mode = "reflect" if mistake == "reflect" else "constant"
    padded = np.pad(images, ((0, 0), (0, 0), (padding, padding), (padding, padding)), mode=mode)
    hi_i = h + 2 * padding - size + (0 if mistake == "off_by_one" else 1)
    hi_j = (h if mistake == "uses_h_for_w" else w) + 2 * padding - size + (
        0 if mistake == "off_by_one" else 1)
    if mistake == "global_rng":
        i, j = np.random.randint(0, hi_i, size=n), np.random.randint(0, hi_j, size=n)
    elif mistake == "whole_batch":
        i, j = np.full(n, rng.integers(0, hi_i)), np.full(n, rng.integers(0, hi_j))
    else:
        i, j = rng.integers(0, hi_i, size=n), rng.integers(0, hi_j, size=n)
    out = np.empty((n, c, size, size))
    for k in range(n):
        if mistake == "per_channel":
            for ch in range(c):
                a, b = rng.integers(0, hi_i), rng.integers(0, hi_j)
                out[k, ch] = padded[k, ch, a:a + size, b:b + size]
        else:
            out[k] = padded[k, :, i[k]:i[k] + size, j[k]:j[k] + size]
    if mistake == "float32":
        out = out.astype(np.float32)
    return out


def _crop_mistake(mistake, doc, clause=None):
    def impl(images, size, padding, rng):
        return _crop(images, size, padding, rng, mistake)
    return _named(impl, f"wrong_crop_{mistake}", f"Mistake: {doc}.", clause)


def random_crop_shared_core(images, size, padding, rng):
    """Correct: the core the mistakes below switch one thing of (np.pad, integers)."""
    return _crop(images, size, padding, rng)


WRONG_CROP = [
    _crop_mistake("off_by_one", "offsets from rng.integers(0, H + 2 * padding - size): the "
                                "last offset is never drawn", "uniform"),
    _crop_mistake("reflect", "pads by reflection instead of zeros", "padding"),
    _crop_mistake("whole_batch", "one offset for the whole batch", "per_image"),
    _crop_mistake("per_channel", "a different window for each channel", "channels"),
    _crop_mistake("global_rng", "draws from np.random instead of rng", "rng"),
    _crop_mistake("in_place", "shuffles the batch in place first", "unchanged"),
    _crop_mistake("no_copy", "returns images itself when nothing is cropped (padding 0, size = "
                             "H = W)", "new_array"),
    _crop_mistake("float32", "returns float32", "returns"),
    _crop_mistake("uses_h_for_w", "draws the column offset j up to H + 2 * padding - size "
                                  "instead of W + 2 * padding - size"),
]


# ---------------------------------------------------------------------------------------------
# stochastic_depth
# ---------------------------------------------------------------------------------------------


def stochastic_depth_torchvision(x, residual, p, training, rng):
    """Correct: torchvision's form, Bernoulli(1 - p) noise of shape (N, 1, ..., 1) divided by
    the survival rate when it is positive, drawn with rng.binomial."""
    if not training or p == 0.0:
        return x + residual
    survival = 1.0 - p
    noise = rng.binomial(1, survival, size=(x.shape[0],) + (1,) * (x.ndim - 1)).astype(float)
    if survival > 0.0:
        noise = noise / survival
    return x + residual * noise


def _depth(x, residual, p, training, rng, mistake=""):
    """Stochastic depth, correct unless ``mistake`` names one."""
    if not training and mistake != "in_eval":
        return x + residual
    n = x.shape[0]
    view = (n,) + (1,) * (x.ndim - 1)
    if mistake == "global_rng":
        u = np.random.random(view)
    elif mistake == "whole_batch":
        u = np.full(view, rng.random())
    elif mistake == "per_entry":
        u = rng.random(x.shape)
    else:
        u = rng.random(view)
    keep = u < p if mistake == "survival_p" else u >= p
    survival = p if mistake == "survival_p" else 1.0 - p
    if mistake == "no_scaling":
        branch = residual * keep
    elif mistake == "nan_at_one":
        with np.errstate(divide="ignore", invalid="ignore"):
            branch = residual * keep / survival
    else:
        branch = residual * keep / survival if survival > 0 else residual * 0.0
    if mistake == "in_place":
        x += branch
        return x.copy()
    out = x + branch
    if mistake == "float32":
        out = out.astype(np.float32)
    return out


def _depth_mistake(mistake, doc, clause=None):
    def impl(x, residual, p, training, rng):
        return _depth(x, residual, p, training, rng, mistake)
    return _named(impl, f"wrong_depth_{mistake}", f"Mistake: {doc}.", clause)


def stochastic_depth_shared_core(x, residual, p, training, rng):
    """Correct: the core the mistakes below switch one thing of."""
    return _depth(x, residual, p, training, rng)


WRONG_DEPTH = [
    _depth_mistake("whole_batch", "one draw for the whole batch: every sample's branch kept "
                                  "or dropped together", "per_sample"),
    _depth_mistake("survival_p", "p taken as the probability of keeping the branch",
                   "drop_prob"),
    _depth_mistake("no_scaling", "the kept branch is not divided by 1 - p", "scale"),
    _depth_mistake("per_entry", "one draw per entry (dropout) instead of one per sample",
                   "row"),
    _depth_mistake("nan_at_one", "divides by 1 - p also when p = 1 (0 / 0 = NaN)", "p_one"),
    _depth_mistake("global_rng", "draws from np.random instead of rng", "rng"),
    _depth_mistake("in_eval", "drops branches in evaluation too", "eval"),
    _depth_mistake("in_place", "adds the branch to x in place", "unchanged"),
    _depth_mistake("float32", "returns float32", "returns"),
]


# ---------------------------------------------------------------------------------------------
# ema_update
# ---------------------------------------------------------------------------------------------


def ema_update_lerp(ema_params, params, decay):
    """Correct: torch's lerp form, e + (1 - decay) * (p - e)."""
    out = []
    for e, p in zip(ema_params, params, strict=True):
        out.append(e + (1.0 - decay) * (p - e))
    return out


@breaks("formula")
def wrong_ema_reversed(ema_params, params, decay):
    """Mistake: the decay reversed, (1 - decay) * e + decay * p (decay weights the new
    parameters)."""
    return [(1 - decay) * e + decay * p for e, p in zip(ema_params, params, strict=True)]


@breaks("unchanged")
def wrong_ema_in_place(ema_params, params, decay):
    """Mistake: updates the average arrays in place and returns the same list."""
    for e, p in zip(ema_params, params, strict=True):
        e *= decay
        e += (1 - decay) * p
    return ema_params


@breaks("returns")
def wrong_ema_float32(ema_params, params, decay):
    """Mistake: returns float32 arrays."""
    return [(decay * e + (1 - decay) * p).astype(np.float32)
            for e, p in zip(ema_params, params, strict=True)]


def wrong_ema_plain_average(ema_params, params, decay):
    """Mistake: the plain mean of the average and the parameters (decay ignored)."""
    return [(e + p) / 2 for e, p in zip(ema_params, params, strict=True)]


# ---------------------------------------------------------------------------------------------
# ensemble_predict
# ---------------------------------------------------------------------------------------------


def ensemble_predict_sum(prob_list):
    """Correct: a running sum divided by K; labels by a loop that keeps the first maximum."""
    total = np.zeros_like(prob_list[0])
    for probs in prob_list:
        total = total + probs
    mean_probs = total / len(prob_list)
    labels = np.zeros(mean_probs.shape[0], dtype=np.int64)
    for i, row in enumerate(mean_probs):
        for c in range(1, len(row)):
            if row[c] > row[labels[i]]:
                labels[i] = c
    return mean_probs, labels


@breaks("mean")
def wrong_ensemble_majority_vote(prob_list):
    """Mistake: labels by a majority vote of the models' own labels (mean_probs right)."""
    mean_probs = np.mean(prob_list, axis=0)
    votes = np.stack([np.argmax(probs, axis=1) for probs in prob_list])
    counts = np.stack([(votes == c).sum(axis=0) for c in range(mean_probs.shape[1])], axis=1)
    return mean_probs, np.argmax(counts, axis=1)


@breaks("argmax")
def wrong_ensemble_argmax_axis0(prob_list):
    """Mistake: the argmax over the examples (axis 0) instead of the classes."""
    mean_probs = np.mean(prob_list, axis=0)
    return mean_probs, np.argmax(mean_probs, axis=0)


@breaks("ties")
def wrong_ensemble_ties_to_last(prob_list):
    """Mistake: ties go to the highest class index (argmax of the reversed classes)."""
    mean_probs = np.mean(prob_list, axis=0)
    c = mean_probs.shape[1]
    return mean_probs, c - 1 - np.argmax(mean_probs[:, ::-1], axis=1)


@breaks("unchanged")
def wrong_ensemble_in_place(prob_list):
    """Mistake: accumulates the sum into the first model's array."""
    total = prob_list[0]
    for probs in prob_list[1:]:
        total += probs
    total /= len(prob_list)
    return total.copy(), np.argmax(total, axis=1)


@breaks("returns")
def wrong_ensemble_float_labels(prob_list):
    """Mistake: returns the labels as floats."""
    mean_probs = np.mean(prob_list, axis=0)
    return mean_probs, np.argmax(mean_probs, axis=1).astype(np.float64)


def wrong_ensemble_product(prob_list):
    """Mistake: multiplies the probabilities (a product of experts), not their mean."""
    product = np.prod(prob_list, axis=0)
    return product, np.argmax(product, axis=1)


# ---------------------------------------------------------------------------------------------
# early_stopping
# ---------------------------------------------------------------------------------------------


def early_stopping_indices(val_losses, patience, min_delta=0.0):
    """Correct: tracks the best epoch's index and stops when the gap reaches patience."""
    best_epoch = 0
    for epoch in range(1, len(val_losses)):
        if val_losses[epoch] < val_losses[best_epoch] - min_delta:
            best_epoch = epoch
        elif epoch - best_epoch == patience:
            return epoch, best_epoch
    return len(val_losses) - 1, best_epoch


def _stopping(val_losses, patience, min_delta=0.0, mistake=""):
    """Early stopping, correct unless ``mistake`` names one."""
    best, best_epoch, wait, previous = float("inf"), 0, 0, float("inf")
    if mistake == "ignores_min_delta":
        min_delta = 0.0
    limit = patience + 1 if mistake == "waits_one_more" else patience
    for epoch, loss in enumerate(val_losses):
        reference = previous if mistake == "previous_epoch" else best
        better = (loss <= reference - min_delta if mistake == "non_strict"
                  else loss < reference - min_delta)
        previous = loss
        if better:
            best, best_epoch, wait = loss, epoch, 0
        else:
            wait += 1
            if wait >= limit:
                if mistake == "argmin_all":
                    best_epoch = int(np.argmin(val_losses))
                return _stopping_result(epoch, best_epoch, mistake)
    last = len(val_losses) if mistake == "no_stop_len" else len(val_losses) - 1
    return _stopping_result(last, best_epoch, mistake)


def _stopping_result(stop, best, mistake):
    if mistake == "one_indexed":
        return stop + 1, best + 1
    if mistake == "floats":
        return float(stop), float(best)
    return stop, best


def _stopping_mistake(mistake, doc, clause=None):
    def impl(val_losses, patience, min_delta=0.0):
        return _stopping(val_losses, patience, min_delta, mistake)
    return _named(impl, f"wrong_stopping_{mistake}", f"Mistake: {doc}.", clause)


def early_stopping_shared_core(val_losses, patience, min_delta=0.0):
    """Correct: the core the mistakes below switch one thing of."""
    return _stopping(val_losses, patience, min_delta)


WRONG_STOPPING = [
    _stopping_mistake("one_indexed", "epochs counted from 1", "zero_indexed"),
    _stopping_mistake("previous_epoch", "an epoch improves when it beats the previous epoch, "
                                        "not the best one", "improves"),
    _stopping_mistake("non_strict", "a loss equal to best - min_delta counts as an "
                                    "improvement (<=)", "strict"),
    _stopping_mistake("waits_one_more", "stops after patience + 1 epochs without improvement",
                      "stop_rule"),
    _stopping_mistake("no_stop_len", "returns len(val_losses) when it never stops", "no_stop"),
    _stopping_mistake("argmin_all", "best_epoch is the argmin of every loss, also after the "
                                    "stop", "best"),
    _stopping_mistake("floats", "returns the epochs as floats", "returns"),
    _stopping_mistake("ignores_min_delta", "ignores min_delta"),
]


CORRECT = {
    "l2_penalty": [l2_penalty_loops],
    "sgd_weight_decay_step": [sgd_weight_decay_step_shrink],
    "adamw_step": [adamw_step_torch_form, adamw_step_shared_core],
    "dropout_forward": [dropout_forward_binomial, dropout_forward_choice,
                        dropout_forward_shared_core],
    "dropout_backward": [dropout_backward_where],
    "dropconnect_forward": [dropconnect_forward_binomial, dropconnect_forward_shared_core],
    "random_horizontal_flip": [random_horizontal_flip_where, random_horizontal_flip_loop,
                               random_horizontal_flip_shared_core],
    "random_crop": [random_crop_endpoint, random_crop_shared_core],
    "stochastic_depth": [stochastic_depth_torchvision, stochastic_depth_shared_core],
    "ema_update": [ema_update_lerp],
    "ensemble_predict": [ensemble_predict_sum],
    "early_stopping": [early_stopping_indices, early_stopping_shared_core],
}

WRONG = {
    "l2_penalty": [wrong_l2_no_half, wrong_l2_skips_biases, wrong_l2_grad_doubled,
                   wrong_l2_in_place, wrong_l2_float32, wrong_l2_l1_penalty],
    "sgd_weight_decay_step": [wrong_sgd_decay_without_lr, wrong_sgd_decay_after_step,
                              wrong_sgd_in_place, wrong_sgd_float32, wrong_sgd_decay_sign],
    "adamw_step": WRONG_ADAMW,
    "dropout_forward": [*WRONG_DROPOUT, wrong_dropout_fixed_seed],
    "dropout_backward": [wrong_dropout_backward_unscaled, wrong_dropout_backward_none,
                         wrong_dropout_backward_in_place, wrong_dropout_backward_float32],
    "dropconnect_forward": WRONG_DROPCONNECT,
    "random_horizontal_flip": [*WRONG_FLIP, wrong_flip_view],
    "random_crop": WRONG_CROP,
    "stochastic_depth": WRONG_DEPTH,
    "ema_update": [wrong_ema_reversed, wrong_ema_in_place, wrong_ema_float32,
                   wrong_ema_plain_average],
    "ensemble_predict": [wrong_ensemble_majority_vote, wrong_ensemble_argmax_axis0,
                         wrong_ensemble_ties_to_last, wrong_ensemble_in_place,
                         wrong_ensemble_float_labels, wrong_ensemble_product],
    "early_stopping": WRONG_STOPPING,
}
