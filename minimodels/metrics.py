"""Evaluation metrics: the confusion matrix and what the papers report from it.

Segmentation (SegFormer): mean intersection-over-union, computed as mmseg does - one
confusion matrix accumulated over the whole evaluation set, IoU per class

    IoU_c = TP_c / (TP_c + FP_c + FN_c)

and the mean over classes that occur in the predictions or the ground truth (a class
absent from both has 0 / 0 = NaN and is left out, ``nanmean``). Pixels labelled
``ignore_index`` (255) count nowhere. Classification (ViViT, VideoBERT's zero-shot
action classification): top-k accuracy, and VideoBERT's verb and noun top-1 / top-5
(``ranking_metrics``). Captioning (VideoBERT Section 4.3): corpus BLEU-4 (``bleu4``).
"""

from __future__ import annotations

import math

import sacrebleu
import torch


def confusion_matrix(
    pred: torch.Tensor, target: torch.Tensor, num_classes: int, ignore_index: int | None = 255
) -> torch.Tensor:
    """(num_classes, num_classes) int64 counts; row = true class, column = predicted class.

    pred and target are integer tensors of the same shape (any shape: (N, H, W) label
    maps, (N,) labels). Positions where target == ``ignore_index`` are skipped. The
    layout matches ``sklearn.metrics.confusion_matrix(target, pred)``. Sum the matrices
    of several batches to evaluate a whole set.
    """
    if not isinstance(num_classes, int) or isinstance(num_classes, bool) or num_classes < 1:
        raise ValueError(f"num_classes must be a positive int, got {num_classes!r}")
    for name, t in (("pred", pred), ("target", target)):
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
        if t.is_floating_point() or t.is_complex() or t.dtype == torch.bool:
            raise TypeError(f"{name} must hold integer class indices, got {t.dtype} (take logits.argmax(1) first)")
    if pred.shape != target.shape:
        raise ValueError(f"pred and target must have the same shape, got {tuple(pred.shape)} and {tuple(target.shape)}")
    pred, target = pred.flatten().long(), target.flatten().long()
    if ignore_index is not None:
        keep = target != ignore_index
        pred, target = pred[keep], target[keep]
    if target.numel():
        lo, hi = int(target.min()), int(target.max())
        if lo < 0 or hi >= num_classes:
            raise ValueError(
                f"target values must be in [0, {num_classes - 1}] or ignore_index={ignore_index}, got range [{lo}, {hi}]"
            )
        lo, hi = int(pred.min()), int(pred.max())
        if lo < 0 or hi >= num_classes:
            raise ValueError(f"pred values must be in [0, {num_classes - 1}], got range [{lo}, {hi}]")
    counts = torch.bincount(target * num_classes + pred, minlength=num_classes * num_classes)
    return counts.view(num_classes, num_classes).cpu()


def _check_conf(conf: torch.Tensor) -> torch.Tensor:
    if not isinstance(conf, torch.Tensor) or conf.dim() != 2 or conf.shape[0] != conf.shape[1]:
        shape = tuple(conf.shape) if isinstance(conf, torch.Tensor) else type(conf).__name__
        raise ValueError(f"conf must be a square (C, C) confusion matrix, got {shape}")
    return conf.double()


def iou_per_class(conf: torch.Tensor) -> torch.Tensor:
    """IoU of every class (float64, (C,)): TP / (TP + FP + FN); NaN for classes absent from both."""
    conf = _check_conf(conf)
    tp = conf.diagonal()
    union = conf.sum(0) + conf.sum(1) - tp
    return tp / union  # 0 / 0 = NaN marks a class that never occurs


def mean_iou(conf: torch.Tensor) -> tuple[float, torch.Tensor]:
    """(mIoU, per-class IoU) from a confusion matrix, mmseg-style.

    Classes that appear neither in the targets nor in the predictions have NaN IoU and
    are left out of the mean; a class that is only predicted (never true) has IoU 0 and
    counts. Returns NaN as the mean when no class occurs at all.
    """
    per_class = iou_per_class(conf)
    valid = ~per_class.isnan()
    miou = per_class[valid].mean().item() if valid.any() else math.nan
    return miou, per_class


def pixel_accuracy(conf: torch.Tensor) -> float:
    """Share of counted pixels (or samples) predicted correctly: trace / total (aAcc in mmseg)."""
    conf = _check_conf(conf)
    total = conf.sum().item()
    return conf.diagonal().sum().item() / total if total else math.nan


def mean_accuracy(conf: torch.Tensor) -> float:
    """Mean over classes present in the targets of per-class recall TP / (TP + FN) (mAcc in mmseg)."""
    conf = _check_conf(conf)
    support = conf.sum(1)
    present = support > 0
    return (conf.diagonal()[present] / support[present]).mean().item() if present.any() else math.nan


def topk_accuracy(logits: torch.Tensor, target: torch.Tensor, k: int = 1) -> float:
    """Share of samples whose true class is among the ``k`` highest scores.

    logits: (N, C) scores; target: (N,) integer classes in [0, C). Ties at the k-th score
    are broken as ``torch.topk`` breaks them.
    """
    if not isinstance(logits, torch.Tensor) or logits.dim() != 2:
        shape = tuple(logits.shape) if isinstance(logits, torch.Tensor) else type(logits).__name__
        raise ValueError(f"logits must be a (N, C) tensor, got {shape}")
    if not isinstance(target, torch.Tensor) or target.dim() != 1 or len(target) != len(logits):
        shape = tuple(target.shape) if isinstance(target, torch.Tensor) else type(target).__name__
        raise ValueError(f"target must be a (N,) tensor with N = {len(logits)}, got {shape}")
    if target.is_floating_point():
        raise TypeError(f"target must hold integer class indices, got {target.dtype}")
    n, c = logits.shape
    if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= c:
        raise ValueError(f"k must be an int in [1, {c}] (the number of classes), got {k!r}")
    if n == 0:
        raise ValueError("topk_accuracy needs at least one sample, got N = 0")
    if int(target.min()) < 0 or int(target.max()) >= c:
        raise ValueError(f"target values must be in [0, {c - 1}], got range [{int(target.min())}, {int(target.max())}]")
    top = logits.topk(k, dim=1).indices
    return (top == target.view(-1, 1)).any(1).float().mean().item()


def ranking_metrics(verb_scores: torch.Tensor, noun_scores: torch.Tensor, verbs: torch.Tensor,
                    nouns: torch.Tensor) -> dict:
    """VideoBERT Table 1's columns: top-1 and top-5 accuracy of verb scores (N, V) and noun scores
    (N, O) against their labels (N,) (top-5 is top-everything when there are fewer classes)."""
    def topk(scores, labels, k):
        return topk_accuracy(scores, labels, min(k, scores.shape[1]))

    return {"verb_top1": topk(verb_scores, verbs, 1), "verb_top5": topk(verb_scores, verbs, 5),
            "noun_top1": topk(noun_scores, nouns, 1), "noun_top5": topk(noun_scores, nouns, 5)}


def bleu4(hypotheses: list[str], references: list[str]) -> float:
    """Corpus BLEU-4 (sacrebleu, one reference per segment), on the 0-100 scale papers report."""
    if len(hypotheses) != len(references):
        raise ValueError(f"bleu4: {len(hypotheses)} hypotheses for {len(references)} references")
    return float(sacrebleu.corpus_bleu(hypotheses, [references]).score)
