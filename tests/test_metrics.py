"""Confusion matrix, IoU, accuracies: hand-computed cases and scikit-learn as the yardstick."""

import math

import numpy as np
import pytest
import torch
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    jaccard_score,
    top_k_accuracy_score,
)
from sklearn.metrics import confusion_matrix as sk_confusion_matrix

from minimodels.metrics import (
    confusion_matrix,
    iou_per_class,
    mean_accuracy,
    mean_iou,
    pixel_accuracy,
    topk_accuracy,
)


def test_hand_computed_example():
    # 4 classes; class 3 never occurs; one ignored pixel (its prediction must not count)
    target = torch.tensor([[0, 0, 1, 1], [2, 2, 2, 255]])
    pred = torch.tensor([[0, 1, 1, 1], [2, 2, 0, 3]])
    conf = confusion_matrix(pred, target, num_classes=4)
    expected = torch.tensor([[1, 1, 0, 0], [0, 2, 0, 0], [1, 0, 2, 0], [0, 0, 0, 0]])
    assert torch.equal(conf, expected) and conf.dtype == torch.int64
    miou, per_class = mean_iou(conf)
    # IoU0 = 1 / (1 + 1 + 1) , IoU1 = 2 / (2 + 1 + 0), IoU2 = 2 / (2 + 0 + 1), IoU3 = 0 / 0
    assert per_class[:3].tolist() == pytest.approx([1 / 3, 2 / 3, 2 / 3])
    assert math.isnan(per_class[3])
    assert miou == pytest.approx((1 / 3 + 2 / 3 + 2 / 3) / 3)
    assert pixel_accuracy(conf) == pytest.approx(5 / 7)
    assert mean_accuracy(conf) == pytest.approx((1 / 2 + 1 + 2 / 3) / 3)


def test_class_only_predicted_counts_as_zero():
    target = torch.tensor([0, 0, 1, 1])
    pred = torch.tensor([0, 2, 1, 1])
    miou, per_class = mean_iou(confusion_matrix(pred, target, 3))
    assert per_class.tolist() == pytest.approx([1 / 2, 1.0, 0.0])
    assert miou == pytest.approx(0.5)


def test_perfect_and_empty():
    t = torch.randint(0, 5, (3, 8, 8))
    miou, per_class = mean_iou(confusion_matrix(t, t, 5))
    assert miou == 1.0 and pixel_accuracy(confusion_matrix(t, t, 5)) == 1.0
    all_ignored = torch.full((4, 4), 255)
    conf = confusion_matrix(torch.zeros(4, 4, dtype=torch.long), all_ignored, 3)
    assert conf.sum() == 0
    assert math.isnan(mean_iou(conf)[0]) and math.isnan(pixel_accuracy(conf))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_against_sklearn(seed):
    g = torch.Generator().manual_seed(seed)
    C = 6
    target = torch.randint(0, C - 1, (4, 17, 23), generator=g)  # class C-1 never true ...
    pred = torch.randint(0, C, (4, 17, 23), generator=g)  # ... but predicted
    target[torch.rand(target.shape, generator=g) < 0.1] = 255
    conf = confusion_matrix(pred, target, C)
    keep = target != 255
    t, p = target[keep].numpy(), pred[keep].numpy()
    assert np.array_equal(conf.numpy(), sk_confusion_matrix(t, p, labels=list(range(C))))
    miou, per_class = mean_iou(conf)
    sk_iou = jaccard_score(t, p, labels=list(range(C)), average=None, zero_division=0)
    assert np.allclose(per_class.numpy(), sk_iou)
    assert miou == pytest.approx(jaccard_score(t, p, labels=list(range(C)), average="macro", zero_division=0))
    assert pixel_accuracy(conf) == pytest.approx(accuracy_score(t, p))


def test_nan_classes_are_left_out_like_mmseg():
    g = torch.Generator().manual_seed(4)
    target = torch.randint(0, 3, (500,), generator=g)  # classes 3, 4 absent from both
    pred = torch.randint(0, 3, (500,), generator=g)
    miou, per_class = mean_iou(confusion_matrix(pred, target, 5))
    assert per_class[3:].isnan().all()
    sk = jaccard_score(target.numpy(), pred.numpy(), labels=[0, 1, 2], average="macro")
    assert miou == pytest.approx(sk)
    macc = mean_accuracy(confusion_matrix(pred, target, 5))
    assert macc == pytest.approx(balanced_accuracy_score(target.numpy(), pred.numpy()))


def test_batches_add_up():
    g = torch.Generator().manual_seed(5)
    pred, target = torch.randint(0, 4, (6, 10, 10), generator=g), torch.randint(0, 4, (6, 10, 10), generator=g)
    total = sum(confusion_matrix(pred[i : i + 2], target[i : i + 2], 4) for i in range(0, 6, 2))
    assert torch.equal(total, confusion_matrix(pred, target, 4))
    assert iou_per_class(total).dtype == torch.float64


def test_confusion_matrix_errors():
    t = torch.zeros(2, 3, dtype=torch.long)
    with pytest.raises(ValueError, match="same shape"):
        confusion_matrix(t, torch.zeros(3, 2, dtype=torch.long), 2)
    with pytest.raises(TypeError, match="integer class indices"):
        confusion_matrix(t.float(), t, 2)
    with pytest.raises(ValueError, match=r"target values must be in \[0, 1\]"):
        confusion_matrix(t, t + 2, 2)
    with pytest.raises(ValueError, match=r"pred values must be in \[0, 1\]"):
        confusion_matrix(t - 1, t, 2)
    with pytest.raises(ValueError, match="num_classes"):
        confusion_matrix(t, t, 0)
    with pytest.raises(ValueError, match="square"):
        mean_iou(torch.zeros(2, 3))


def test_topk_accuracy():
    logits = torch.tensor([[0.1, 0.5, 0.4], [0.8, 0.15, 0.05], [0.2, 0.3, 0.5], [0.3, 0.4, 0.3 - 1e-3]])
    target = torch.tensor([2, 0, 0, 2])
    assert topk_accuracy(logits, target, 1) == pytest.approx(1 / 4)
    assert topk_accuracy(logits, target, 2) == pytest.approx(2 / 4)
    assert topk_accuracy(logits, target, 3) == 1.0
    g = torch.Generator().manual_seed(0)
    logits, target = torch.randn(200, 10, generator=g), torch.randint(0, 10, (200,), generator=g)
    assert topk_accuracy(logits, target, 1) == pytest.approx((logits.argmax(1) == target).float().mean().item())
    for k in (1, 3, 5):
        sk = top_k_accuracy_score(target.numpy(), logits.numpy(), k=k, labels=list(range(10)))
        assert topk_accuracy(logits, target, k) == pytest.approx(sk)
    with pytest.raises(ValueError, match="k must be"):
        topk_accuracy(logits, target, 11)
    with pytest.raises(ValueError, match="target must be"):
        topk_accuracy(logits, target[:5], 1)
    with pytest.raises(ValueError, match="target values"):
        topk_accuracy(logits, target + 10, 1)
