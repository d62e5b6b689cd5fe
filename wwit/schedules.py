"""Learning-rate schedules from ``torch.optim.lr_scheduler``, their plots, and range tests.

Two range tests: Smith's (2017) linear one, which reads the validation accuracy
(:func:`linear_range_test`), and fastai's exponential ``lr_find`` (:func:`lr_range_test`). Two
helpers for choosing ``lr`` honestly: :func:`carve_validation` and
:func:`update_to_weight_ratios`.

Every schedule here is described by four numbers besides the peak rate ``lr`` and the length
``num_steps`` (``N``) of training, so one widget can drive them all:

=====================  ==========================================================================
schedule               ``lr_t`` (``t = 0 .. N-1``), with ``T = round(period N)``
=====================  ==========================================================================
constant               ``lr``
step decay             ``lr * low^floor(t / T)``  (``StepLR``)
cosine                 ``lr_min + (lr - lr_min) (1 + cos(pi t / N)) / 2``, ``lr_min = low lr``
                       (``CosineAnnealingLR``)
linear warmup          ``lr (low + (1 - low) t / T)`` for ``t < T``, then ``lr`` (``LinearLR``)
cyclic (triangular)    from ``low lr`` linearly up to ``lr`` in ``T`` steps and back down in
                       ``T`` steps, repeated (``CyclicLR``, Smith 2017)
SGDR                   cosine from ``lr`` to ``low lr`` over ``T_i`` steps, then a restart at
                       ``lr``; ``T_0 = T``, ``T_{i+1} = t_mult T_i``
                       (``CosineAnnealingWarmRestarts``, Loshchilov & Hutter 2017)
one-cycle              cosine warm-up from ``low lr`` to ``lr`` in ``T`` steps, cosine annealing
                       to ``low lr / 10^4`` at ``N`` (``OneCycleLR``, Smith & Topin 2019)
=====================  ==========================================================================
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import matplotlib.pyplot as plt
import numpy as np
import torch
from sklearn.model_selection import train_test_split
from torch.optim import lr_scheduler

from wwit.digits import DigitsData

#: Schedules understood by :func:`make_scheduler`, in the order the lecture plots them.
SCHEDULE_NAMES = (
    "step decay",
    "cosine",
    "linear warmup",
    "cyclic (triangular)",
    "SGDR",
    "one-cycle",
    "constant",
)


def make_scheduler(
    name: str,
    optimizer: torch.optim.Optimizer,
    num_steps: int,
    period: float = 0.25,
    low: float = 0.1,
    t_mult: int = 2,
) -> lr_scheduler.LRScheduler:
    """Build the ``torch.optim.lr_scheduler`` object of a named schedule (table in module doc).

    The peak rate is the optimizer's ``lr`` at construction. Step the scheduler once per
    optimizer step, ``num_steps`` times in all.

    Args:
        name: One of :data:`SCHEDULE_NAMES`.
        optimizer: The optimizer whose ``lr`` (and, for one-cycle, ``momentum``) is scheduled.
        num_steps: ``N``, the total number of optimizer steps.
        period: ``T / N``: step length (step decay), warm-up length (linear warmup, one-cycle),
            half cycle (triangular), first restart period ``T_0`` (SGDR); unused otherwise.
        low: Ratio of the small rate to the peak: decay factor ``gamma`` (step decay),
            ``lr_min / lr`` (cosine, SGDR), start factor (warmup), ``base_lr / max_lr``
            (triangular), ``1 / div_factor`` (one-cycle); unused by constant.
        t_mult: Growth factor of the SGDR restart period.

    Returns:
        lr_scheduler.LRScheduler: The scheduler.

    Raises:
        ValueError: For an unknown ``name``.
    """
    lr = optimizer.param_groups[0]["lr"]
    T = max(1, round(period * num_steps))
    if name == "constant":
        return lr_scheduler.ConstantLR(optimizer, factor=1.0, total_iters=0)
    if name == "step decay":
        return lr_scheduler.StepLR(optimizer, step_size=T, gamma=low)
    if name == "cosine":
        return lr_scheduler.CosineAnnealingLR(optimizer, T_max=num_steps, eta_min=low * lr)
    if name == "linear warmup":
        return lr_scheduler.LinearLR(optimizer, start_factor=low, end_factor=1.0, total_iters=T)
    if name == "cyclic (triangular)":
        return lr_scheduler.CyclicLR(
            optimizer,
            base_lr=low * lr,
            max_lr=lr,
            step_size_up=T,
            mode="triangular",
            cycle_momentum=False,
        )
    if name == "SGDR":
        return lr_scheduler.CosineAnnealingWarmRestarts(
            optimizer, T_0=T, T_mult=t_mult, eta_min=low * lr
        )
    if name == "one-cycle":
        return lr_scheduler.OneCycleLR(
            optimizer,
            max_lr=lr,
            total_steps=num_steps,
            pct_start=min(max(period, 0.01), 0.99),
            div_factor=1.0 / low,
            cycle_momentum="momentum" in optimizer.defaults,
        )
    raise ValueError(f"unknown schedule {name!r}; choose one of {SCHEDULE_NAMES}")


def lr_curve(
    name: str, lr: float = 0.1, num_steps: int = 1000, **params
) -> tuple[np.ndarray, np.ndarray]:
    """The learning rate (and momentum) a schedule sets at every step ``t = 0 .. N-1``.

    Runs the real scheduler on a throw-away optimizer (SGD with momentum 0.9 on one dummy
    parameter), so the curve is exactly what training would use.

    Args:
        name: One of :data:`SCHEDULE_NAMES`.
        lr: Peak learning rate.
        num_steps: ``N``.
        **params: ``period``, ``low``, ``t_mult`` of :func:`make_scheduler`.

    Returns:
        tuple[np.ndarray, np.ndarray]: ``lr_t`` and momentum ``beta_t``, each of shape ``(N,)``.
    """
    dummy = torch.zeros(1, requires_grad=True)
    optimizer = torch.optim.SGD([dummy], lr=lr, momentum=0.9)
    scheduler = make_scheduler(name, optimizer, num_steps, **params)
    lrs, moms = np.empty(num_steps), np.empty(num_steps)
    for t in range(num_steps):
        lrs[t] = optimizer.param_groups[0]["lr"]
        moms[t] = optimizer.param_groups[0]["momentum"]
        optimizer.step()  # no gradient: nothing moves, but the scheduler sees a real step
        scheduler.step()
    return lrs, moms


def plot_schedule(
    ax: plt.Axes,
    name: str,
    lr: float = 0.1,
    num_steps: int = 1000,
    show_momentum: bool = True,
    **params,
) -> None:
    """Draw one schedule's ``lr_t`` (and one-cycle's momentum on a second axis) into ``ax``.

    Args:
        ax: Axes to draw into.
        name: One of :data:`SCHEDULE_NAMES`.
        lr: Peak learning rate.
        num_steps: ``N``.
        show_momentum: For one-cycle, also draw the momentum it cycles inversely to ``lr``.
        **params: ``period``, ``low``, ``t_mult`` of :func:`make_scheduler`.
    """
    lrs, moms = lr_curve(name, lr, num_steps, **params)
    ax.plot(lrs, color="tab:blue", lw=2)
    ax.set(title=name, xlabel="step $t$", ylabel="lr", ylim=(0, 1.08 * lr))
    ax.grid(alpha=0.3)
    if show_momentum and name == "one-cycle":
        ax2 = ax.twinx()
        ax2.plot(moms, color="tab:orange", lw=1.5, ls="--")
        ax2.set_ylabel("momentum", color="tab:orange")
        ax2.set_ylim(0.8, 1.0)


def draw_schedules(
    names=SCHEDULE_NAMES[:-1], lr: float = 0.1, num_steps: int = 1000, **params
) -> plt.Figure:
    """All schedules side by side (one panel each) with the same ``lr``, ``N`` and parameters.

    Args:
        names: Schedules to draw (default: all but constant).
        lr: Peak learning rate.
        num_steps: ``N``.
        **params: ``period``, ``low``, ``t_mult`` of :func:`make_scheduler`.

    Returns:
        plt.Figure: The figure.
    """
    cols = 3
    rows = -(-len(names) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.4 * cols, 3.0 * rows), squeeze=False)
    for ax, name in zip(axes.flat, names, strict=False):
        plot_schedule(ax, name, lr, num_steps, **params)
    for ax in list(axes.flat)[len(names) :]:
        ax.set_visible(False)
    fig.tight_layout()
    return fig


def draw_schedule(
    name: str = "one-cycle",
    lr: float = 0.1,
    num_steps: int = 1000,
    period: float = 0.25,
    low: float = 0.1,
    t_mult: int = 2,
) -> plt.Figure:
    """The schedule plotter: one schedule, linear and logarithmic ``lr`` axes.

    Args:
        name: One of :data:`SCHEDULE_NAMES`.
        lr: Peak learning rate.
        num_steps: ``N``.
        period: See :func:`make_scheduler`.
        low: See :func:`make_scheduler`.
        t_mult: See :func:`make_scheduler`.

    Returns:
        plt.Figure: The figure.
    """
    params = {"period": period, "low": low, "t_mult": t_mult}
    lrs, _ = lr_curve(name, lr, num_steps, **params)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 3.6))
    plot_schedule(ax1, name, lr, num_steps, **params)
    ax2.semilogy(lrs, color="tab:blue", lw=2)
    ax2.set(title=f"{name}: log scale", xlabel="step $t$", ylabel="lr")
    ax2.grid(alpha=0.3, which="both")
    fig.suptitle(
        f"lr from {lrs.min():.2e} to {lrs.max():.2e}; mean {lrs.mean():.2e} "
        f"(period = {period:g}, low = {low:g}, t_mult = {t_mult})",
        fontsize=10,
    )
    fig.tight_layout()
    return fig


def lr_range_test(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    batches: Iterator,
    loss_fn: Callable,
    lr_min: float = 1e-4,
    lr_max: float = 10.0,
    num_steps: int = 200,
    beta: float = 0.9,
    diverge_factor: float = 4.0,
) -> dict[str, np.ndarray]:
    """fastai's ``lr_find``: raise ``lr`` exponentially, record the (smoothed) loss.

    This is the variant popularized by fastai (``lr_find``; Gugger 2017), not Smith's original
    test, which raises ``lr`` *linearly* and reads the validation accuracy (Smith 2017; see
    :func:`linear_range_test`). Step ``t`` uses
    ``lr_t = lr_min (lr_max / lr_min)^(t / (num_steps - 1))`` on a fresh
    mini-batch. The recorded loss is smoothed with a bias-corrected exponential moving average
    ``a_t = beta a_{t-1} + (1 - beta) L_t``, ``s_t = a_t / (1 - beta^(t+1))``. The test stops early
    once ``s_t > diverge_factor * min(s)`` (the loss has blown up). The model and optimizer are
    changed in place: use throw-away copies.

    Args:
        model: The network.
        optimizer: Its optimizer; its ``lr`` is overwritten at every step.
        batches: Iterator of ``(X, y)`` mini-batches (at least ``num_steps`` of them).
        loss_fn: ``loss_fn(model(X), y)`` -> scalar tensor.
        lr_min: First learning rate.
        lr_max: Last learning rate.
        num_steps: Number of steps (if the loss does not blow up first).
        beta: Smoothing factor of the moving average.
        diverge_factor: Stop when the smoothed loss exceeds this multiple of its minimum.

    Returns:
        dict[str, np.ndarray]: ``lr``, ``loss`` (raw) and ``smoothed``, one entry per step taken.
    """
    lrs = lr_min * (lr_max / lr_min) ** (np.arange(num_steps) / (num_steps - 1))
    raw, smoothed, avg = [], [], 0.0
    for t in range(num_steps):
        X, y = next(batches)
        for group in optimizer.param_groups:
            group["lr"] = float(lrs[t])
        optimizer.zero_grad()
        loss = loss_fn(model(X), y)
        loss.backward()
        optimizer.step()
        raw.append(loss.item())
        avg = beta * avg + (1 - beta) * raw[-1]
        smoothed.append(avg / (1 - beta ** (t + 1)))
        if not np.isfinite(smoothed[-1]) or smoothed[-1] > diverge_factor * min(smoothed):
            break
    n = len(raw)
    return {"lr": lrs[:n], "loss": np.array(raw), "smoothed": np.array(smoothed)}


def linear_range_test(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    batches: Iterator,
    loss_fn: Callable,
    X_val: torch.Tensor,
    y_val: torch.Tensor,
    lr_min: float = 0.0,
    lr_max: float = 1.0,
    num_steps: int = 64,
    eval_every: int = 2,
) -> dict[str, np.ndarray]:
    """Smith's (2017) range test: raise ``lr`` *linearly*, read the validation accuracy.

    Step ``t = 0 .. num_steps - 1`` uses ``lr_t = lr_min + (lr_max - lr_min) t / (num_steps - 1)``
    on a fresh mini-batch. After every ``eval_every``-th step (and after the last one) the model is
    evaluated on ``(X_val, y_val)`` in evaluation mode: accuracy
    ``acc = mean_n [argmax_c f(x_n)_c = y_n]`` and loss ``loss_fn(f(X_val), y_val)``. Smith reads
    two rates from the accuracy-versus-``lr`` curve: where the accuracy starts to rise (the
    cycle's lower bound) and where it stops rising, turns ragged or falls (its upper bound). The
    test runs to the end unless the training loss is not finite. The model and optimizer are
    changed in place: use throw-away copies.

    Args:
        model: The network (maps ``X`` of shape ``(n, d)`` to logits of shape ``(n, C)``).
        optimizer: Its optimizer; its ``lr`` is overwritten at every step.
        batches: Iterator of ``(X, y)`` mini-batches (at least ``num_steps`` of them).
        loss_fn: ``loss_fn(logits, y)`` -> scalar tensor.
        X_val: Validation features (never the test split).
        y_val: Validation labels.
        lr_min: Rate of the first step.
        lr_max: Rate of the last step.
        num_steps: Number of steps, ``>= 2``.
        eval_every: Evaluate after every this many steps.

    Returns:
        dict[str, np.ndarray]: per step taken ``lr`` and training ``loss``; per evaluation
        ``eval_lr`` (the rate of the step just taken), ``val_acc`` and ``val_loss``.
    """
    lrs = lr_min + (lr_max - lr_min) * np.arange(num_steps) / (num_steps - 1)
    out: dict[str, list[float]] = {"loss": [], "eval_lr": [], "val_acc": [], "val_loss": []}
    for t in range(num_steps):
        X, y = next(batches)
        for group in optimizer.param_groups:
            group["lr"] = float(lrs[t])
        model.train()
        optimizer.zero_grad()
        loss = loss_fn(model(X), y)
        loss.backward()
        optimizer.step()
        out["loss"].append(loss.item())
        if (t + 1) % eval_every == 0 or t == num_steps - 1:
            model.eval()
            with torch.no_grad():
                logits = model(X_val)
                out["val_loss"].append(loss_fn(logits, y_val).item())
                out["val_acc"].append((logits.argmax(dim=1) == y_val).float().mean().item())
            out["eval_lr"].append(float(lrs[t]))
        if not np.isfinite(out["loss"][-1]):
            break
    result = {k: np.array(v) for k, v in out.items()}
    result["lr"] = lrs[: len(result["loss"])]
    return result


def carve_validation(data: DigitsData, val_fraction: float = 0.25, seed: int = 0) -> DigitsData:
    """Cut a stratified validation split off the training split, for choosing hyperparameters.

    The returned ``DigitsData`` holds the rest of the training split in ``X_train``/``y_train``
    and the validation split in ``X_test``/``y_test``, so that :func:`wwit.digits.train` (which
    evaluates on ``X_test`` after every epoch) reports *validation* curves. The test split of
    ``data`` is not part of it: keep it for one final report. The features are left as they are
    (standardized with the statistics of the whole training split).

    Args:
        data: Train and test tensors, e.g. from :func:`wwit.digits.load_digits_split`.
        val_fraction: Fraction of the training split held out for validation, in ``(0, 1)``.
        seed: Seed of the (stratified) split.

    Returns:
        DigitsData: ``(X_fit, y_fit, X_val, y_val)`` in the fields
        ``(X_train, y_train, X_test, y_test)``, on the device of ``data``.
    """
    labels = data.y_train.cpu().numpy()
    idx_fit, idx_val = train_test_split(
        np.arange(len(labels)), test_size=val_fraction, random_state=seed, stratify=labels
    )
    device = data.X_train.device
    idx_fit = torch.as_tensor(np.sort(idx_fit), device=device)
    idx_val = torch.as_tensor(np.sort(idx_val), device=device)
    return DigitsData(
        data.X_train[idx_fit], data.y_train[idx_fit], data.X_train[idx_val], data.y_train[idx_val]
    )


def update_to_weight_ratios(model: torch.nn.Module, step: Callable[[], None]) -> dict[str, float]:
    """The size of one update relative to the weights, per parameter tensor (CS231n's check).

    Copies every parameter ``w``, calls ``step()`` (one optimizer step, which changes the model in
    place) and returns ``||w_new - w|| / ||w||`` (Frobenius norms) per named parameter. For plain
    SGD the update is ``lr g``; for any optimizer it is whatever the step did, momentum and
    schedule included. CS231n's rule of thumb: about ``1e-3`` for the weights; much smaller and
    ``lr`` is probably too low, much larger and it is probably too high.

    Args:
        model: The network whose parameters ``step`` updates.
        step: Callable doing one optimizer step (forward, backward and ``optimizer.step()``).

    Returns:
        dict[str, float]: ``name -> ||Delta w|| / ||w||`` (``inf`` for an all-zero ``w`` that moved,
        ``0`` for one that did not).
    """
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    step()
    ratios = {}
    for name, p in model.named_parameters():
        delta = (p.detach() - before[name]).norm().item()
        size = before[name].norm().item()
        ratios[name] = delta / size if size > 0 else (float("inf") if delta > 0 else 0.0)
    return ratios
