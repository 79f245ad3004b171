"""Forward-pass speed: minimodels vs Hugging Face transformers, same weights, side by side.

    python benchmarks/bench_forward.py            # what `make bench` runs
    python benchmarks/bench_forward.py --repeats 30 --threads 1

For every model pair: build the transformers model with random weights, save it with
``save_pretrained`` to a temporary directory, load that into minimodels with the
``minimodels.hf`` loader, and time both on the same input in eval mode under
``torch.inference_mode()``. Runs are interleaved (ours, theirs, ours, theirs, ...) so that
load from other processes hits both alike. The table reports each side's median time, the
speed-up as the median of the per-round ratios (theirs / ours, one round = one run of each
side, back to back, so a slow spell on the machine cancels out) with the ratios' 25th-75th
percentile range, and the largest absolute difference between the two outputs.

Add a model by writing one ``<model>_pair(args) -> Pair`` function and listing it in PAIRS.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from typing import Callable

import torch

from minimodels.report import format_table

TOLERANCE = 1e-4  # max abs difference between the two models' outputs


@dataclass
class Pair:
    name: str  # what is compared, e.g. "SegFormer-B0 1x3x512x512"
    ours: Callable[[], torch.Tensor]  # one forward pass of minimodels, returns the output tensor
    theirs: Callable[[], torch.Tensor]  # one forward pass of transformers, same output


def segformer_pair(args) -> Pair:
    """SegFormer-B0 (150 classes) at args.size x args.size, batch 1."""
    from transformers import SegformerConfig, SegformerForSemanticSegmentation

    from minimodels.hf import load_segformer

    torch.manual_seed(0)
    theirs = SegformerForSemanticSegmentation(SegformerConfig(num_labels=150)).eval()
    with tempfile.TemporaryDirectory() as tmp:
        theirs.save_pretrained(tmp)
        ours = load_segformer(tmp)
    x = torch.randn(1, 3, args.size, args.size)
    return Pair(
        name=f"SegFormer-B0 1x3x{args.size}x{args.size}",
        ours=lambda: ours(x),
        theirs=lambda: theirs(pixel_values=x).logits,
    )


def vivit_pair(args) -> Pair:
    """ViViT-B/16x2 Model 1 (400 classes), args.frames frames of 224x224, batch 1.

    Each side gets the input in its own layout, contiguous: transformers (B, T, C, H, W),
    minimodels (B, C, T, H, W).
    """
    from transformers import VivitConfig, VivitForVideoClassification

    from minimodels.hf import load_vivit

    torch.manual_seed(0)
    theirs = VivitForVideoClassification(VivitConfig(num_labels=400, num_frames=args.frames)).eval()
    with tempfile.TemporaryDirectory() as tmp:
        theirs.save_pretrained(tmp)
        ours = load_vivit(tmp)
    x = torch.randn(1, args.frames, 3, 224, 224)
    x_ours = x.permute(0, 2, 1, 3, 4).contiguous()
    return Pair(
        name=f"ViViT-B/16x2 Model 1 1x3x{args.frames}x224x224",
        ours=lambda: ours(x_ours),
        theirs=lambda: theirs(pixel_values=x).logits,
    )


PAIRS = {"segformer": segformer_pair, "vivit": vivit_pair}


def interleaved(fns: dict[str, Callable[[], object]], repeats: int, warmup: int) -> dict[str, list[float]]:
    """Seconds of every timed call of each function in ``fns`` ({"ours": f, "theirs": g}).

    ``warmup`` untimed rounds, then ``repeats`` timed ones; a round calls each function once,
    back to back, in an order that alternates from round to round, so neither side always
    runs on a warmer cache and a slow spell on the machine hits both.
    """
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    times = {side: [] for side in fns}
    for i in range(repeats):
        for side in list(fns) if i % 2 == 0 else list(fns)[::-1]:
            start = time.perf_counter()
            fns[side]()
            times[side].append(time.perf_counter() - start)
    return times


def speedup(times: dict[str, list[float]]) -> dict:
    """Each side's median (ms) and the speed-up: the median of the per-round ratios theirs / ours,
    with their 25th-75th percentiles."""
    ratios = [t / o for o, t in zip(times["ours"], times["theirs"])]
    quartiles = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else [ratios[0]] * 3
    return {
        "ours_ms": 1e3 * statistics.median(times["ours"]),
        "theirs_ms": 1e3 * statistics.median(times["theirs"]),
        "speedup": statistics.median(ratios),
        "speedup_quartiles": (quartiles[0], quartiles[2]),
    }


def speed_cells(result: dict) -> list[str]:
    """The table cells minimodels ms, transformers ms, speed-up and middle half of a ``speedup`` result."""
    return [
        f"{result['ours_ms']:.1f}",
        f"{result['theirs_ms']:.1f}",
        f"{result['speedup']:.2f}x",
        "{:.2f}-{:.2f}x".format(*result["speedup_quartiles"]),
    ]


SPEED_HEADERS = ["minimodels ms", "transformers ms", "speed-up", "middle half"]


def time_pair(pair: Pair, repeats: int, warmup: int) -> dict:
    """Interleaved timing of both sides; returns medians (ms), the paired ratio and the output gap."""
    with torch.inference_mode():
        out_ours, out_theirs = pair.ours(), pair.theirs()
        diff = (out_ours.float() - out_theirs.float()).abs().max().item()
        times = interleaved({"ours": pair.ours, "theirs": pair.theirs}, repeats, warmup)
    return {"name": pair.name, **speedup(times), "max_abs_diff": diff, "shape": tuple(out_ours.shape)}


def timing_args(parser: argparse.ArgumentParser, pairs: dict, repeats: int, warmup: int) -> None:
    """The options every bench script has: --models, --repeats, --warmup, --threads."""
    parser.add_argument("--models", nargs="+", default=list(pairs), choices=list(pairs))
    parser.add_argument("--repeats", type=int, default=repeats, help=f"timed rounds (default {repeats})")
    parser.add_argument("--warmup", type=int, default=warmup, help=f"untimed rounds first (default {warmup})")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")


def start(args, what: str) -> None:
    """Set the threads, quieten save_pretrained and print what is measured, with which versions, and
    how busy the machine was (other processes' threads stall every parallel op of torch's)."""
    if args.threads:
        torch.set_num_threads(args.threads)
    import transformers

    transformers.utils.logging.disable_progress_bar()  # save_pretrained's, once per model
    print(
        f"torch {torch.__version__}, transformers {transformers.__version__}, CPU threads {torch.get_num_threads()} "
        f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs), {args.repeats} interleaved rounds "
        f"after {args.warmup} warm-up (medians; speed-up = median per-round ratio), {what}"
    )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=512, help="image side for SegFormer (default 512)")
    parser.add_argument("--frames", type=int, default=16, help="frames per clip for ViViT (default 16)")
    timing_args(parser, PAIRS, repeats=20, warmup=3)
    args = parser.parse_args(argv)
    start(args, "eval mode + inference_mode")
    rows, ok = [], True
    for name in args.models:
        result = time_pair(PAIRS[name](args), args.repeats, args.warmup)
        same = result["max_abs_diff"] <= TOLERANCE
        ok &= same
        rows.append(
            [result["name"], *speed_cells(result), f"{result['max_abs_diff']:.1e}" + ("" if same else " MISMATCH")]
        )
    print(format_table(rows, ["model", *SPEED_HEADERS, "max |diff|"]))
    if not ok:
        print(f"outputs differ by more than {TOLERANCE}", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
