"""The shipped backbone: its file is the one the script makes, small, and good at its task."""

from __future__ import annotations

import pytest
import torch

from wwit import pretrained


def test_the_shipped_weights_are_the_recorded_file():
    data = pretrained.WEIGHTS.read_bytes()
    assert len(data) <= 2 * 2**20, f"{len(data)} bytes: the backbone must stay under 2 MB"
    assert pretrained.sha256(data) == pretrained.WEIGHTS_SHA256, (
        "wwit/data/backbone_digits04.pt changed: regenerate it with `python -m wwit.pretrained` "
        "and record its SHA-256 in wwit.pretrained.WEIGHTS_SHA256")


def test_the_shipped_backbone_solves_its_source_task():
    model = pretrained.load_pretrained(device="cpu")
    task = pretrained.load_task(pretrained.SOURCE_DIGITS, device="cpu")
    assert pretrained.accuracy(model, task.X_test, task.y_test) >= 0.97
    assert not model.training


def test_load_pretrained_returns_independent_copies():
    a, b = pretrained.load_pretrained(device="cpu"), pretrained.load_pretrained(device="cpu")
    with torch.no_grad():
        a.head.weight.add_(1.0)
    assert not torch.equal(a.head.weight, b.head.weight)


def test_tasks_are_disjoint_and_fixed():
    source = pretrained.load_task(pretrained.SOURCE_DIGITS, device="cpu")
    again = pretrained.load_task(pretrained.SOURCE_DIGITS, device="cpu")
    assert torch.equal(source.X_train, again.X_train)
    assert source.X_train.shape[1:] == (1, pretrained.CANVAS, pretrained.CANVAS)
    assert set(source.y_train.tolist()) == set(range(5))
    X, y = pretrained.few_labels(pretrained.load_task(pretrained.TARGET_DIGITS, device="cpu"),
                                 per_class=3, seed=1)
    assert X.shape[0] == 15 and torch.bincount(y).tolist() == [3] * 5


@pytest.mark.slow
def test_the_script_reproduces_the_shipped_file_bit_for_bit(tmp_path):
    out = tmp_path / "backbone.pt"
    pretrained.main(["--out", str(out)])
    assert out.read_bytes() == pretrained.WEIGHTS.read_bytes()
