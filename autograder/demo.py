"""``demo``: build a sample class for an assignment, grade it, and print the grade table.

The class mixes complete solutions, unanswered stubs, common wrong answers, and broken
submissions (invalid JSON, a missing notebook, a process that dies), so an instructor sees every
status of :mod:`autograder.grade` in one run.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from autograder import notebooks
from autograder.course import source_notebooks
from autograder.grade import grade
from autograder.outputs import reports
from autograder.outputs.results import ClassResult
from autograder.settings import GradeSettings

SOLUTION, STUB = "solution", "stub"


@dataclass(frozen=True)
class Student:
    """One sample student.

    Attributes:
        student_id: Folder name.
        answers: Exercise -> ``"solution"``, ``"stub"`` or replacement source; exercises not
            listed get ``default``.
        default: What unlisted exercises get.
        breakage: ``""``, ``"invalid_json"``, ``"missing_notebook"`` (no notebook at all),
            ``"missing_one_notebook"`` (the last notebook of the assignment left out) or
            ``"kernel_dies"``.
    """

    student_id: str
    answers: dict[str, str] = field(default_factory=dict)
    default: str = SOLUTION
    breakage: str = ""


_A01_WRONG = {
    "forward_difference": '''def numerical_gradient(f, theta, h=1e-5):
    grad = np.zeros_like(theta)
    for i in range(theta.size):
        step = np.zeros_like(theta)
        step[i] = h
        grad[i] = (f(theta + step) - f(theta)) / h
    return grad''',
    "hessian_wrong_denominator": '''def numerical_hessian(f, theta, h=1e-4):
    n = theta.size
    eye = np.eye(n) * h
    H = np.array([[(f(theta + eye[i] + eye[j]) - f(theta + eye[i] - eye[j])
                    - f(theta - eye[i] + eye[j]) + f(theta - eye[i] - eye[j])) / (h * h)
                   for j in range(n)] for i in range(n)])
    return (H + H.T) / 2''',
    "classify_without_tol": '''def classify_critical_point(H, tol=1e-6):
    eigenvalues = np.linalg.eigvalsh(H)
    if eigenvalues.min() < 0 < eigenvalues.max():
        return "saddle point"
    if np.any(eigenvalues == 0):
        return "degenerate"
    return "local minimum" if eigenvalues.min() > 0 else "local maximum"''',
    "escape_row_not_column": '''def escape_direction(H, tol=1e-6):
    eigenvalues, vectors = np.linalg.eigh(H)
    if eigenvalues[0] >= -tol:
        return None
    return vectors[0]''',
    "ratio_counts_zeros": '''def minimum_ratio(H, tol=1e-6):
    eigenvalues = np.linalg.eigvalsh(H)
    return float(np.mean(eigenvalues >= 0))''',
    "block_diagonal_hessian": '''def loss_hessian(model, loss_fn, X, y):
    blocks = []
    for p in model.parameters():
        loss = loss_fn(model(X), y)
        (g,) = torch.autograd.grad(loss, p, create_graph=True)
        g = g.reshape(-1)
        rows = [torch.autograd.grad(g[i], p, retain_graph=True)[0].reshape(-1)
                for i in range(g.numel())]
        blocks.append(torch.stack(rows))
    return torch.block_diag(*blocks).detach()''',
    "escape_always_plus": '''def escape_saddle(model, loss_fn, X, y, step_size=0.1, tol=1e-6):
    H = loss_hessian(model, loss_fn, X, y)
    u = escape_direction(H.numpy(), tol)
    if u is None:
        return False
    params = list(model.parameters())
    theta = torch.nn.utils.parameters_to_vector(params).detach()
    with torch.no_grad():
        torch.nn.utils.vector_to_parameters(theta + step_size * torch.as_tensor(u), params)
    return True''',
}

_A02_WRONG = {
    "no_shuffle": '''def minibatches(X, y, batch_size, rng):
    return [(X[i:i + batch_size], y[i:i + batch_size]) for i in range(0, len(X), batch_size)]''',
    "lr_inside_velocity": '''def momentum_step(w, dw, v, lr, momentum, nesterov=False):
    v = momentum * v - lr * dw
    if nesterov:
        return w + momentum * v - lr * dw, v
    return w + v, v''',
    "nesterov_old_velocity": '''def momentum_step(w, dw, v, lr, momentum, nesterov=False):
    v_new = momentum * v + dw
    if nesterov:
        return w - lr * (dw + momentum * v), v_new
    return w - lr * v_new, v_new''',
    "sgd_cached_lr": '''class SGD(torch.optim.Optimizer):
    def __init__(self, params, lr, momentum=0.0, nesterov=False, weight_decay=0.0):
        super().__init__(params, {"lr": lr, "momentum": momentum, "nesterov": nesterov,
                                  "weight_decay": weight_decay})
        self.lr = lr

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad + group["weight_decay"] * p
                if group["momentum"]:
                    state = self.state[p]
                    state["buf"] = group["momentum"] * state.get("buf", torch.zeros_like(p)) + g
                    g = g + group["momentum"] * state["buf"] if group["nesterov"] else state["buf"]
                p -= self.lr * g''',
}

_A03_WRONG = {
    "adam_no_bias_correction": '''def adam_step(w, dw, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999,
              eps=1e-8):
    m = beta1 * m + (1 - beta1) * dw
    v = beta2 * v + (1 - beta2) * dw**2
    return w - lr * m / (np.sqrt(v) + eps), m, v''',
    "rmsprop_eps_inside_sqrt": '''def rmsprop_step(w, dw, s, lr, alpha=0.99, eps=1e-8):
    s = alpha * s + (1 - alpha) * dw**2
    return w - lr * dw / np.sqrt(s + eps), s''',
    "cosine_off_by_one": '''def cosine_lr(step, base_lr, T_max, eta_min=0.0):
    return eta_min + (base_lr - eta_min) * (1 + math.cos(math.pi * (step + 1) / T_max)) / 2''',
    "newton_inverse": '''def newton_step(theta, grad, hess):
    return theta - np.linalg.inv(hess) @ grad''',
}

_A04_WRONG = {
    "softmax_no_max_shift": '''def softmax(z):
    e = np.exp(z)
    return e / np.sum(e, axis=-1, keepdims=True)''',
    "ce_gradient_not_divided_by_n": '''def cross_entropy(logits, y):
    n = len(logits)
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    loss = -log_probs[np.arange(n), y].mean()
    dlogits = np.exp(log_probs)
    dlogits[np.arange(n), y] -= 1
    return float(loss), dlogits''',
    "bce_naive_log_sigmoid": '''def binary_cross_entropy_with_logits(z, y):
    p = 1 / (1 + np.exp(-z))
    loss = np.mean(-y * np.log(p) - (1 - y) * np.log(1 - p))
    return float(loss), (p - y) / z.size''',
    "smoothing_over_other_classes": '''def label_smoothing_cross_entropy(logits, y, smoothing):
    n, c = logits.shape
    q = np.full((n, c), smoothing / (c - 1))
    q[np.arange(n), y] = 1 - smoothing
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return float(-(q * log_probs).sum() / n), (np.exp(log_probs) - q) / n''',
}

_A05_WRONG = {
    "momentum_reversed": '''def batchnorm_forward(x, gamma, beta, running_mean, running_var,
                      training, momentum=0.1, eps=1e-5):
    if not training:
        x_hat = (x - running_mean) / np.sqrt(running_var + eps)
        return gamma * x_hat + beta, running_mean, running_var, None
    n = x.shape[0]
    mean = x.mean(axis=0)
    var = x.var(axis=0)
    x_hat = (x - mean) / np.sqrt(var + eps)
    running_mean = momentum * running_mean + (1 - momentum) * mean
    running_var = momentum * running_var + (1 - momentum) * var * n / (n - 1)
    cache = (x_hat, gamma, 1 / np.sqrt(var + eps))
    return gamma * x_hat + beta, running_mean, running_var, cache''',
    "backward_ignores_statistics": '''def batchnorm_backward(dout, cache):
    x_hat, gamma, inv_std = cache
    dbeta = dout.sum(axis=0)
    dgamma = (dout * x_hat).sum(axis=0)
    dx = dout * gamma * inv_std
    return dx, dgamma, dbeta''',
    "naive_reshape_2d": '''def batchnorm2d_forward(x, gamma, beta, running_mean, running_var,
                        training, momentum=0.1, eps=1e-5):
    n, c, h, w = x.shape
    out, running_mean, running_var, cache = batchnorm_forward(
        x.reshape(-1, c), gamma, beta, running_mean, running_var, training, momentum, eps)
    return out.reshape(n, c, h, w), running_mean, running_var, cache''',
    "module_unbiased_variance": '''class BatchNorm1d(nn.Module):
    def __init__(self, num_features, eps=1e-5, momentum=0.1):
        super().__init__()
        self.eps, self.momentum = eps, momentum
        self.weight = nn.Parameter(torch.ones(num_features))
        self.bias = nn.Parameter(torch.zeros(num_features))
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("running_var", torch.ones(num_features))
        self.register_buffer("num_batches_tracked", torch.tensor(0))

    def forward(self, x):
        if self.training:
            mean, var = x.mean(dim=0), x.var(dim=0)
            with torch.no_grad():
                self.running_mean.mul_(1 - self.momentum).add_(self.momentum * mean)
                self.running_var.mul_(1 - self.momentum).add_(self.momentum * var)
                self.num_batches_tracked += 1
        else:
            mean, var = self.running_mean, self.running_var
        return self.weight * (x - mean) / torch.sqrt(var + self.eps) + self.bias''',
}

_A06_WRONG = {
    "dropout_keep_probability": '''def dropout_forward(x, p, training, rng):
    if not training or p == 0:
        return x, None
    mask = (rng.random(x.shape) < p) / p
    return x * mask, mask''',
    "adamw_as_adam_l2": '''def adamw_step(w, dw, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8,
               weight_decay=1e-2):
    dw = dw + weight_decay * w
    m = beta1 * m + (1 - beta1) * dw
    v = beta2 * v + (1 - beta2) * dw**2
    m_hat = m / (1 - beta1**t)
    v_hat = v / (1 - beta2**t)
    return w - lr * m_hat / (np.sqrt(v_hat) + eps), m, v''',
    "crop_off_by_one": '''def random_crop(images, size, padding, rng):
    n, c, h, w = images.shape
    padded = np.pad(images, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    out = np.empty((n, c, size, size))
    for k in range(n):
        i = rng.integers(0, h + 2 * padding - size)
        j = rng.integers(0, w + 2 * padding - size)
        out[k] = padded[k, :, i:i + size, j:j + size]
    return out''',
    "depth_whole_batch": '''def stochastic_depth(x, residual, p, training, rng):
    if not training:
        return x + residual
    if rng.random() < p:
        return x.copy()
    return x + residual / (1 - p)''',
    "ema_reversed": '''def ema_update(ema_params, params, decay):
    return [(1 - decay) * e + decay * p for e, p in zip(ema_params, params)]''',
}

_A07_WRONG = {
    "freeze_only_eval": '''def freeze(module):
    return module.eval()''',
    "accuracy_leaves_eval": '''def accuracy(model, X, y):
    model.eval()
    with torch.no_grad():
        return (model(X).argmax(dim=1) == y).float().mean().item()''',
    "no_zero_grad": '''def train_classifier(model, X, y, optimizer, epochs, batch_size, seed):
    generator = torch.Generator().manual_seed(seed)
    model.train()
    losses = []
    for _ in range(epochs):
        total = 0.0
        for index in torch.randperm(len(y), generator=generator).split(batch_size):
            loss = F.cross_entropy(model(X[index]), y[index])
            loss.backward()
            optimizer.step()
            total += loss.item() * len(index)
        losses.append(total / len(y))
    return losses''',
    "groups_keep_frozen": '''def param_groups(model, backbone_lr, head_lr):
    head = list(model.head.parameters())
    ids = {id(p) for p in head}
    return [{"params": [p for p in model.parameters() if id(p) not in ids], "lr": backbone_lr},
            {"params": head, "lr": head_lr}]''',
    "fine_tune_from_scratch": '''def fine_tune(model, X, y, seed):
    torch.manual_seed(seed)
    for module in model.modules():
        if hasattr(module, "reset_parameters"):
            module.reset_parameters()
    replace_head(model, 5)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    train_classifier(model, X, y, optimizer, epochs=10, batch_size=10, seed=seed)
    return model''',
}

SAMPLE_CLASSES: dict[str, list[Student]] = {
    "a01_critical_points": [
        Student("alice"),
        Student("bob"),
        Student("carol", default=STUB),
        Student("dave", {"numerical_gradient": _A01_WRONG["forward_difference"]}),
        Student("erin", {"classify_critical_point": _A01_WRONG["classify_without_tol"]}),
        Student("frank", {"escape_direction": _A01_WRONG["escape_row_not_column"]}),
        Student("grace", {"minimum_ratio": _A01_WRONG["ratio_counts_zeros"]}),
        Student("heidi", {"loss_hessian": _A01_WRONG["block_diagonal_hessian"]}),
        Student("ivan", {"numerical_gradient": SOLUTION, "numerical_hessian": SOLUTION,
                         "classify_critical_point": SOLUTION}, default=STUB),
        Student("judy", {"escape_saddle": _A01_WRONG["escape_always_plus"]}),
        Student("ken", {"numerical_hessian": _A01_WRONG["hessian_wrong_denominator"]}),
        Student("mallory", breakage="invalid_json"),
        Student("niaj", breakage="kernel_dies"),
        Student("olivia", breakage="missing_notebook"),
    ],
    "a02_batch_momentum": [
        Student("alice"),
        Student("bob"),
        Student("carol", default=STUB),
        Student("dave", {"minibatches": _A02_WRONG["no_shuffle"]}),
        Student("erin", {"momentum_step": _A02_WRONG["lr_inside_velocity"]}),
        Student("frank", {"momentum_step": _A02_WRONG["nesterov_old_velocity"]}),
        Student("grace", {"SGD": _A02_WRONG["sgd_cached_lr"]}),
        Student("ivan", {"minibatches": SOLUTION, "sgd_step": SOLUTION}, default=STUB),
        Student("judy", {"SGD": STUB}),
        Student("ken", {"sgd_step": SOLUTION, "momentum_step": SOLUTION}, default=STUB),
        Student("mallory", breakage="invalid_json"),
        Student("niaj", breakage="kernel_dies"),
        Student("olivia", breakage="missing_notebook"),
    ],
    "a03_adaptive_lr": [
        Student("alice"),
        Student("bob"),
        Student("carol", default=STUB),
        Student("dave", {"adam_step": _A03_WRONG["adam_no_bias_correction"]}),
        Student("erin", {"rmsprop_step": _A03_WRONG["rmsprop_eps_inside_sqrt"]}),
        Student("frank", {"cosine_lr": "import math\n\n\n" + _A03_WRONG["cosine_off_by_one"]}),
        Student("grace", {"newton_step": _A03_WRONG["newton_inverse"]}),
        Student("ivan", {"adagrad_step": SOLUTION, "rmsprop_step": SOLUTION,
                         "step_decay_lr": SOLUTION}, default=STUB),
        Student("mallory", breakage="invalid_json"),
        Student("niaj", breakage="kernel_dies"),
        Student("olivia", breakage="missing_notebook"),
        Student("peggy", breakage="missing_one_notebook"),
    ],
    "a04_loss_functions": [
        Student("alice"),
        Student("bob"),
        Student("carol", default=STUB),
        Student("dave", {"softmax": _A04_WRONG["softmax_no_max_shift"]}),
        Student("erin", {"cross_entropy": _A04_WRONG["ce_gradient_not_divided_by_n"]}),
        Student("frank", {"binary_cross_entropy_with_logits":
                          _A04_WRONG["bce_naive_log_sigmoid"]}),
        Student("grace", {"label_smoothing_cross_entropy":
                          _A04_WRONG["smoothing_over_other_classes"]}),
        Student("ivan", {"one_hot": SOLUTION, "softmax": SOLUTION, "log_softmax": SOLUTION},
                default=STUB),
        Student("mallory", breakage="invalid_json"),
        Student("niaj", breakage="kernel_dies"),
        Student("olivia", breakage="missing_notebook"),
    ],
    "a05_batchnorm": [
        Student("alice"),
        Student("bob"),
        Student("carol", default=STUB),
        Student("dave", {"batchnorm_forward": _A05_WRONG["momentum_reversed"]}),
        Student("erin", {"batchnorm_backward": _A05_WRONG["backward_ignores_statistics"]}),
        Student("frank", {"batchnorm2d_forward": _A05_WRONG["naive_reshape_2d"]}),
        Student("grace", {"BatchNorm1d": _A05_WRONG["module_unbiased_variance"]}),
        Student("ivan", {"standardize": SOLUTION, "batchnorm_forward": SOLUTION,
                         "batchnorm_backward": SOLUTION}, default=STUB),
        Student("mallory", breakage="invalid_json"),
        Student("niaj", breakage="kernel_dies"),
        Student("olivia", breakage="missing_notebook"),
    ],
    "a06_regularization": [
        Student("alice"),
        Student("bob"),
        Student("carol", default=STUB),
        Student("dave", {"dropout_forward": _A06_WRONG["dropout_keep_probability"]}),
        Student("erin", {"adamw_step": _A06_WRONG["adamw_as_adam_l2"]}),
        Student("frank", {"random_crop": _A06_WRONG["crop_off_by_one"]}),
        Student("grace", {"stochastic_depth": _A06_WRONG["depth_whole_batch"]}),
        Student("heidi", {"ema_update": _A06_WRONG["ema_reversed"]}),
        Student("ivan", {"l2_penalty": SOLUTION, "sgd_weight_decay_step": SOLUTION,
                         "adamw_step": SOLUTION}, default=STUB),
        Student("mallory", breakage="invalid_json"),
        Student("niaj", breakage="kernel_dies"),
        Student("olivia", breakage="missing_notebook"),
    ],
    "a07_transfer_learning": [
        Student("alice"),
        Student("bob"),
        Student("carol", default=STUB),
        Student("dave", {"freeze": _A07_WRONG["freeze_only_eval"]}),
        Student("erin", {"accuracy": _A07_WRONG["accuracy_leaves_eval"]}),
        Student("frank", {"train_classifier": _A07_WRONG["no_zero_grad"]}),
        Student("grace", {"fine_tune": _A07_WRONG["fine_tune_from_scratch"]}),
        Student("heidi", {"param_groups": _A07_WRONG["groups_keep_frozen"]}),
        Student("ivan", {"freeze": SOLUTION, "replace_head": SOLUTION, "param_groups": SOLUTION},
                default=STUB),
        Student("mallory", breakage="invalid_json"),
        Student("niaj", breakage="kernel_dies"),
        Student("olivia", breakage="missing_notebook"),
    ],
}


#: The class of an assignment without a sample class of its own: the solution, the stub and
#: the broken submissions, so that every assignment can be demonstrated.
GENERIC_CLASS: list[Student] = [
    Student("alice"),
    Student("carol", default=STUB),
    Student("mallory", breakage="invalid_json"),
    Student("niaj", breakage="kernel_dies"),
    Student("olivia", breakage="missing_notebook"),
]


def build_submission(root: Path, assignment: str, student: Student, submissions: Path) -> Path:
    """Write one sample student's submission from the released notebook and the solutions.

    Returns:
        The student's assignment folder.
    """
    folder = submissions / student.student_id / assignment
    folder.mkdir(parents=True, exist_ok=True)
    if student.breakage == "missing_notebook":
        (folder / "notes.txt").write_text("I forgot to upload my notebook.\n")
        return folder
    sources = source_notebooks(root, assignment)
    if student.breakage == "missing_one_notebook":
        sources = sources[:-1]
    for source_path in sources:
        released = notebooks.read(root / "notebooks" / assignment / source_path.name)
        solutions = notebooks.answer_cells(notebooks.read(source_path))
        for grade_id, cell in notebooks.answer_cells(released).items():
            choice = student.answers.get(grade_id, student.default)
            if choice == SOLUTION:
                cell.source = notebooks.without_solution_markers(solutions[grade_id].source)
            elif choice != STUB:
                cell.source = choice
        if student.breakage == "kernel_dies":  # in the last answer: earlier tests still count
            last = list(notebooks.answer_cells(released).values())[-1]
            last.source = "import os\nos._exit(1)\n" + last.source
        target = folder / source_path.name
        notebooks.write(released, target)
        if student.breakage == "invalid_json":
            text = target.read_text()
            target.write_text(text[: len(text) // 2])
    return folder


def build_class(root: Path, assignment: str, submissions: Path) -> list[Student]:
    """Write the whole sample class of ``assignment`` under ``submissions``."""
    source_notebooks(root, assignment)  # validates the name
    students = SAMPLE_CLASSES.get(assignment, GENERIC_CLASS)
    for student in students:
        build_submission(root, assignment, student, submissions)
    return students


def demo(root: Path, assignment: str = "a01_critical_points", out: Path | None = None,
         timeout: int = 60) -> ClassResult:
    """Build, grade and print a sample class; reports go to ``out`` (default: a temp folder)."""
    base = Path(out) if out else Path(tempfile.mkdtemp(prefix=f"demo-{assignment}-"))
    submissions = base / "submissions"
    students = build_class(root, assignment, submissions)
    print(f"Sample class of {len(students)} students for {assignment} in {submissions}")
    result = grade(root, assignment, submissions, base / "graded",
                   settings=GradeSettings(cell_timeout=timeout))
    print()
    print(reports.format_table(result))
    print(f"\nReports: {base / 'graded' / 'grades.csv'}, {base / 'graded' / 'report.json'}, "
          f"feedback in {base / 'graded' / 'feedback'}")
    return result
