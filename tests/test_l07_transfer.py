"""Lecture 7's helpers: the probe, the control network and what each training method changes."""

from __future__ import annotations

import math

import pytest
import torch

from wwit import l07_transfer as l07
from wwit import pretrained


@pytest.fixture(scope="module")
def target():
    return pretrained.load_task(pretrained.TARGET_DIGITS, device="cpu")


@pytest.fixture(scope="module")
def source_model():
    return pretrained.load_pretrained(device="cpu")


def test_nearest_class_mean_standardizes_with_training_statistics():
    gen = torch.Generator().manual_seed(0)
    y = torch.arange(3).repeat(20)
    F = torch.randn(60, 3, generator=gen) * 0.1
    F += torch.nn.functional.one_hot(y, 3)  # feature c marks class c
    assert l07.nearest_class_mean_accuracy(F, y, F, y) == 1.0
    scaled = F * torch.tensor([1e-3, 1.0, 1e3])  # a change of units cannot matter
    assert l07.nearest_class_mean_accuracy(scaled, y, scaled, y) == 1.0
    # manual check: class means of the standardized features, nearest one wins
    z = (F - F.mean(0)) / F.std(0, unbiased=False)
    means = torch.stack([z[y == c].mean(0) for c in range(3)])
    expected = (torch.cdist(z, means).argmin(1) == y).double().mean().item()
    assert l07.nearest_class_mean_accuracy(F, y, F, y) == pytest.approx(expected)


def test_block_features_pool_every_block_and_restore_the_mode(source_model, target):
    model = pretrained.load_pretrained(device="cpu").train()
    feats = l07.block_features(model, target.X_val[:7])
    assert [tuple(f.shape) for f in feats] == [(7, 32), (7, 64), (7, 128)]
    assert model.training
    with torch.no_grad():
        assert torch.allclose(feats[-1], source_model.backbone(target.X_val[:7]), atol=1e-6)


def test_pretraining_init_is_the_initialization_with_measured_statistics(target):
    model = l07.pretraining_init(target.X_train)
    torch.manual_seed(pretrained.SEED)
    fresh = pretrained.SmallCNN()
    assert l07.relative_change(model, fresh) == 0.0
    bn = model.backbone[0][1]
    with torch.no_grad():
        z = model.backbone[0][0](target.X_train)
    assert torch.allclose(bn.running_mean, z.mean(dim=(0, 2, 3)), atol=1e-5)
    assert not model.training


def test_transfer_model_keeps_the_backbone_and_replaces_the_head(source_model):
    model = l07.transfer_model("pretrained", seed=3)
    assert l07.relative_change(model.backbone, source_model.backbone) == 0.0
    assert model.head.out_features == 5
    assert not torch.equal(model.head.weight, source_model.head.weight)
    again = l07.transfer_model("scratch", seed=3)
    assert l07.relative_change(again, l07.transfer_model("scratch", seed=3)) == 0.0
    with pytest.raises(ValueError):
        l07.transfer_model("imagenet", seed=0)


def test_head_only_in_eval_mode_changes_nothing_in_the_backbone(source_model, target):
    run = l07.finetune_run("head", target, per_class=2, seed=0, lr=1e-2, num_steps=3)
    backbone = run.model.backbone
    assert l07.relative_change(backbone, source_model.backbone) == 0.0
    for a, b in zip(backbone.buffers(), source_model.backbone.buffers(), strict=True):
        assert torch.equal(a, b)
    assert len(run.losses) == 3 and 0.0 <= run.val_acc <= 1.0 and math.isnan(run.test_acc)


def test_head_only_in_train_mode_moves_the_running_statistics_only(source_model, target):
    run = l07.finetune_run("head", target, per_class=2, seed=0, lr=1e-2, num_steps=2,
                           bn_mode="train", val=False, test=True)
    backbone = run.model.backbone
    assert l07.relative_change(backbone, source_model.backbone) == 0.0
    assert not torch.equal(backbone[2][1].running_mean, source_model.backbone[2][1].running_mean)
    assert math.isnan(run.val_acc) and 0.0 <= run.test_acc <= 1.0


def test_finetune_gives_each_block_its_own_rate(source_model, target):
    run = l07.finetune_run("finetune", target, per_class=2, seed=0, lr=1e-2, num_steps=2,
                           backbone_lr=[0.0, 0.0, 1e-2])
    blocks = run.model.backbone
    for b in (0, 1):  # a zero rate leaves the parameters where they were
        assert l07.relative_change(blocks[b], source_model.backbone[b]) == 0.0
    assert l07.relative_change(blocks[2], source_model.backbone[2]) > 0.0


def test_with_source_head_scores_the_source_task(source_model):
    source = pretrained.load_task(pretrained.SOURCE_DIGITS, device="cpu")
    model = l07.transfer_model("pretrained", seed=0)
    combined = l07.with_source_head(model, source_model)
    assert pretrained.accuracy(combined, source.X_test, source.y_test) == pytest.approx(
        pretrained.accuracy(source_model, source.X_test, source.y_test))


def test_relative_change():
    a, b = torch.nn.Linear(2, 1), torch.nn.Linear(2, 1)
    with torch.no_grad():
        b.weight.copy_(torch.tensor([[3.0, 4.0]]))
        b.bias.zero_()
        a.weight.copy_(torch.tensor([[3.0, 4.0]]))
        a.bias.fill_(1.0)
    assert l07.relative_change(a, b) == pytest.approx(1.0 / 5.0)


def test_finetune_with_frozen_batchnorm_trains_the_weights_but_not_the_statistics(
        source_model, target):
    run = l07.finetune_run("finetune", target, per_class=2, seed=0, lr=1e-2, num_steps=2,
                           bn_mode="eval")
    backbone = run.model.backbone
    assert l07.relative_change(backbone, source_model.backbone) > 0.0
    for a, b in zip(backbone.buffers(), source_model.backbone.buffers(), strict=True):
        assert torch.equal(a, b)  # running statistics and batch counts untouched
    default = l07.finetune_run("finetune", target, per_class=2, seed=0, lr=1e-2, num_steps=2)
    assert not torch.equal(default.model.backbone[2][1].running_mean,
                           source_model.backbone[2][1].running_mean)
    with pytest.raises(ValueError):
        l07.finetune_run("scratch", target, per_class=2, seed=0, lr=1e-2, num_steps=1,
                         bn_mode="eval")


def test_logistic_probe_separates_separable_features_whatever_their_units():
    gen = torch.Generator().manual_seed(0)
    y = torch.arange(3).repeat(20)
    F = torch.randn(60, 3, generator=gen) * 0.1 + torch.nn.functional.one_hot(y, 3)
    scaled = F * torch.tensor([1e-3, 1.0, 1e3])
    assert l07.logistic_probe_accuracy(scaled, y, scaled, y) == 1.0
    noise = torch.randn(60, 3, generator=gen)  # labels unrelated to the features
    assert l07.logistic_probe_accuracy(noise[:30], y[:30], noise[30:], y[30:]) < 0.8
