"""Training-step speed: minimodels vs Hugging Face transformers, same weights and batch, side by side.

    python benchmarks/bench_train_step.py            # what `make bench` runs after bench_forward.py
    python benchmarks/bench_train_step.py --models vivit --repeats 20 --threads 1

One training step, the same on both sides: the forward pass in train mode, the cross entropy
of the logits against fixed random labels, ``loss.backward()``, an AdamW ``optimizer.step()``
and ``optimizer.zero_grad(set_to_none=True)``. AdamW is the fused implementation, the one
``minimodels.train.make_optimizer`` trains with (here lr 1e-4, its default weight decay, one
parameter group). For every model pair the transformers model is built with random weights and
with dropout and stochastic depth at 0 in its config, saved with ``save_pretrained`` and loaded
into minimodels with the ``minimodels.hf`` loader, which takes the rates from the same config:
in train mode both sides then compute the same deterministic function (SegFormer's BatchNorm
normalises with the batch's statistics on both). Each side has its own parameters (checked: no
storage shared) and its own AdamW.

Before timing, one forward and backward pass from the identical starting weights checks that
both compute the same loss and the same gradients: transformers' gradients are renamed with the
loader's own converter (so minimodels' fused key-value or query-key-value weights are compared
with the concatenation of the separate ones' gradients); the table shows the largest absolute
gradient difference and, as the check, the whole difference relative to the whole gradient
(``check_pair`` says why).

Rounds are interleaved as in ``bench_forward.py`` (one step of each side, back to back, the
order alternating), after warm-up steps; the speed-up is the median of the per-round ratios
theirs / ours with their 25th-75th percentiles. The weights are not reset between rounds: both
sides take the same update from the same weights each step - equal up to float rounding, and
up to Adam's step of about lr either way where a gradient is itself rounding noise (biases that
BatchNorm cancels) - so they stay on one trajectory, which the loss gap after the last round
shows; and what a step costs on a CPU does not depend on the values (dense kernels, no
data-dependent branches). Resetting would mean copying every parameter and the optimizer state
back each round, for no difference in what is timed.

Sizes, chosen as a training run would use them while keeping ``make bench`` to a few minutes
on two cores:

- **SegFormer-B0**, 150 classes, 2 images of 512x512 (``--images``, ``--size``): the paper's
  ADE20K crop and its batch per GPU (16 over 8 GPUs); the loss is taken on the H/4 x W/4
  logits (128x128), where the decoder predicts. About 1 s a step on two idle cores.
- **ViViT-B/16x2 Model 1**, 400 classes, 1 clip of 8 frames of 224x224 (``--clips``,
  ``--frames``): 4 x 14 x 14 = 784 tokens and the CLS, about 3-4 s a step on two cores. The
  paper trains on 32 frames: four times the tokens, and a larger share of the step in
  attention (the same fused kernel on both sides), so there the ratio moves towards that of
  the attention alone.

Eight rounds after one warm-up step (``--repeats``, ``--warmup``) keep the run to about two
minutes on two idle cores; the middle half of the ratios shows whether that was enough. On a
machine where another job keeps a core busy, two torch threads spend their time waiting for
each other: pass ``--threads 1`` there (docs/PERFORMANCE.md).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from bench_forward import SPEED_HEADERS, interleaved, speed_cells, speedup, start, timing_args
from minimodels.report import format_table

GRAD_TOLERANCE = 1e-2  # |gradient difference| / |gradient|, both over all parameters (L2; see check_pair)
LOSS_TOLERANCE = 1e-4  # |loss difference| of the checked step
LR = 1e-4  # AdamW's learning rate (weight decay: its default, 0.01)


@dataclass
class TrainPair:
    name: str  # what is compared, e.g. "SegFormer-B0 2x3x512x512"
    ours: nn.Module  # minimodels, in train mode
    theirs: nn.Module  # transformers, in train mode, the same weights
    logits: dict[str, Callable[[], torch.Tensor]]  # "ours" / "theirs": forward pass on the batch -> logits
    labels: torch.Tensor  # fixed random class labels, the logits' shape without the class dimension
    convert: Callable[[dict], tuple[dict, list]]  # the loader's converter: transformers' names -> ours


def segformer_pair(args) -> TrainPair:
    """SegFormer-B0 (150 classes), args.images images of args.size x args.size."""
    from transformers import SegformerConfig, SegformerForSemanticSegmentation

    from minimodels.hf import convert_segformer_state_dict, load_segformer

    config = SegformerConfig(num_labels=args.classes or 150, drop_path_rate=0.0, classifier_dropout_prob=0.0,
                             **args.segformer_config)
    torch.manual_seed(0)
    theirs = SegformerForSemanticSegmentation(config).train()
    with tempfile.TemporaryDirectory() as tmp:
        theirs.save_pretrained(tmp)
        ours = load_segformer(tmp).train()
    x = torch.randn(args.images, 3, args.size, args.size)
    logits = {"ours": lambda: ours(x), "theirs": lambda: theirs(pixel_values=x).logits}
    h = (args.size + 3) // 4  # the logits' side, ceil(size / 4)
    return TrainPair(
        name=f"{'SegFormer (test config)' if args.segformer_config else 'SegFormer-B0'} "
             f"{args.images}x3x{args.size}x{args.size}",
        ours=ours, theirs=theirs, logits=logits,
        labels=torch.randint(0, config.num_labels, (args.images, h, h)),
        convert=convert_segformer_state_dict,
    )


def vivit_pair(args) -> TrainPair:
    """ViViT-B/16x2 Model 1 (400 classes), args.clips clips of args.frames frames of 224x224.

    Each side gets the clips in its own layout, contiguous: transformers (B, T, C, H, W),
    minimodels (B, C, T, H, W).
    """
    from transformers import VivitConfig, VivitForVideoClassification

    from minimodels.hf import convert_vivit_state_dict, load_vivit

    config = VivitConfig(num_labels=args.classes or 400, num_frames=args.frames, hidden_dropout_prob=0.0,
                         attention_probs_dropout_prob=0.0, **args.vivit_config)
    torch.manual_seed(0)
    theirs = VivitForVideoClassification(config).train()
    with tempfile.TemporaryDirectory() as tmp:
        theirs.save_pretrained(tmp)
        ours = load_vivit(tmp).train()
    x = torch.randn(args.clips, args.frames, 3, config.image_size, config.image_size)
    x_ours = x.permute(0, 2, 1, 3, 4).contiguous()
    return TrainPair(
        name=f"{'ViViT (test config)' if args.vivit_config else 'ViViT-B/16x2'} Model 1 "
             f"{args.clips}x3x{args.frames}x{config.image_size}x{config.image_size}",
        ours=ours, theirs=theirs,
        logits={"ours": lambda: ours(x_ours), "theirs": lambda: theirs(pixel_values=x).logits},
        labels=torch.randint(0, config.num_labels, (args.clips,)),
        convert=convert_vivit_state_dict,
    )


PAIRS = {"segformer": segformer_pair, "vivit": vivit_pair}


def check_pair(pair: TrainPair) -> dict:
    """One forward and backward pass of each side from the same weights: the loss gap, the largest
    absolute gradient difference and the size of the whole difference relative to the whole
    gradient (L2 norms over every parameter).

    Why the whole gradient, and 1%: at a ReLU input within rounding of 0 the two sides may take
    either side of the kink - two valid subgradients - and that one element moves the gradient
    of everything upstream of it. In a trial (SegFormer-B0, 2 images of 128x128) one of the
    decoder's 524,288 ReLU inputs (8e-8 in float64) did so: the whole gradients differed by 0.4%
    and some small tensors' by most of their size, where otherwise they agree to about 1e-6.
    A function computed differently (a dropout left on, another eps or layout) is off by far more.
    """
    ours_storage = {p.untyped_storage().data_ptr() for p in pair.ours.parameters()}
    if any(p.untyped_storage().data_ptr() in ours_storage for p in pair.theirs.parameters()):
        raise RuntimeError(f"{pair.name}: the two models share parameter storage; one optimizer would move both")
    losses = {}
    for side in ("ours", "theirs"):
        loss = F.cross_entropy(pair.logits[side](), pair.labels)
        loss.backward()
        losses[side] = loss.item()
    theirs, _ = pair.convert({n: p.grad for n, p in pair.theirs.named_parameters() if p.grad is not None})
    ours = {n: p.grad for n, p in pair.ours.named_parameters()}
    if set(ours) != set(theirs) or any(g is None for g in ours.values()):
        raise RuntimeError(f"{pair.name}: gradients of different parameters: only ours "
                           f"{sorted(set(ours) - set(theirs))[:5]}, only theirs {sorted(set(theirs) - set(ours))[:5]}, "
                           f"no gradient {[n for n, g in ours.items() if g is None][:5]}")
    diffs = torch.cat([(g - theirs[n].reshape(g.shape)).flatten() for n, g in ours.items()])  # 1x1 convs: Linears
    norm = torch.cat([g.flatten() for g in theirs.values()]).norm().item()
    pair.ours.zero_grad(set_to_none=True)
    pair.theirs.zero_grad(set_to_none=True)
    return {"loss_diff": abs(losses["ours"] - losses["theirs"]),
            "grad_abs_diff": diffs.abs().max().item(), "grad_rel_diff": diffs.norm().item() / norm}


def train_step(model: nn.Module, logits: Callable[[], torch.Tensor], labels: torch.Tensor, lr: float = LR):
    """A function doing one training step of ``model`` (its own AdamW) and keeping the last loss."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, fused=True)
    last = {}

    def step():
        loss = F.cross_entropy(logits(), labels)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        last["loss"] = loss.item()

    step.last = last
    return step


def time_pair(pair: TrainPair, repeats: int, warmup: int) -> dict:
    """The check, then interleaved training steps; the medians, the paired speed-up and the loss gap
    after the last round."""
    result = {"name": pair.name, **check_pair(pair)}
    steps = {side: train_step(getattr(pair, side), pair.logits[side], pair.labels) for side in ("ours", "theirs")}
    result.update(speedup(interleaved(steps, repeats, warmup)))
    result["final_loss_diff"] = abs(steps["ours"].last["loss"] - steps["theirs"].last["loss"])
    return result


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=512, help="image side for SegFormer (default 512)")
    parser.add_argument("--images", type=int, default=2, help="images per SegFormer batch (default 2)")
    parser.add_argument("--frames", type=int, default=8, help="frames per clip for ViViT (default 8)")
    parser.add_argument("--clips", type=int, default=1, help="clips per ViViT batch (default 1)")
    timing_args(parser, PAIRS, repeats=8, warmup=1)
    args = parser.parse_args(argv)
    # what tests/test_bench.py shrinks: classes (0: the model's usual number) and config fields
    args.classes, args.segformer_config, args.vivit_config = 0, {}, {}
    return args


def main(argv=None, args=None) -> int:
    args = args or parse_args(argv)
    start(args, "train mode: cross entropy, backward, fused AdamW step")
    rows, ok = [], True
    for name in args.models:
        result = time_pair(PAIRS[name](args), args.repeats, args.warmup)
        same = result["loss_diff"] <= LOSS_TOLERANCE and result["grad_rel_diff"] <= GRAD_TOLERANCE
        ok &= same
        rows.append([
            result["name"], *speed_cells(result), f"{result['loss_diff']:.1e}",
            f"{result['grad_abs_diff']:.1e}", f"{result['grad_rel_diff']:.1e}" + ("" if same else " MISMATCH"),
            f"{result['final_loss_diff']:.1e}",
        ])
    print(format_table(rows, ["model", *SPEED_HEADERS, "loss |diff|", "max |grad diff|", "relative",
                              "loss |diff| at the end"]))
    if not ok:
        print(f"losses differ by more than {LOSS_TOLERANCE}, or gradients by more than {GRAD_TOLERANCE} of the "
              "whole gradient (L2 over every parameter)", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
