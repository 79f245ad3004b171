"""``python -m minimodels.recipes MODEL --profile PROFILE``: run a paper's reduced training recipe
(the one its notebook runs) and write ``metrics.json`` and ``checkpoint.pt`` into ``--out``."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from minimodels import profiles
from minimodels.recipes import RECIPES
from minimodels.train import device_name


def main(argv: list[str] | None = None) -> dict:
    """Run a model's reduced training recipe (the one its notebook runs) and write
    ``metrics.json`` and ``checkpoint.pt`` into ``--out``. Returns the metrics."""
    parser = argparse.ArgumentParser(
        prog="python -m minimodels.recipes",
        description="Train a model with its reduced recipe; writes metrics.json and checkpoint.pt.")
    parser.add_argument("model", help=f"one of {sorted(RECIPES)}")
    parser.add_argument("--profile", default=None,
                        help=f"one of {profiles.PROFILES} (default: ${profiles.ENV_VAR}, else gpu if CUDA else cpu)")
    parser.add_argument("--out", default=None, help="output directory (default: runs/MODEL-PROFILE)")
    parser.add_argument("--steps", type=int, default=None, help="override the main training stage's number of steps")
    parser.add_argument("--seed", type=int, default=None,
                        help="override the recipe's seed (initialisation, batches, k-means); default: the recipe's, 0")
    parser.add_argument("--resume", action="store_true", help="continue an interrupted run from the checkpoints it left in OUT")
    parser.add_argument("--no-progress", action="store_true",
                        help="no progress bar (log lines only; the bar is drawn only when stderr is a terminal)")
    args = parser.parse_args(argv)

    if args.model not in RECIPES:
        parser.error(f"unknown model {args.model!r}; expected one of {sorted(RECIPES)}")
    profile = args.profile or profiles.current()
    if profile not in profiles.PROFILES:
        parser.error(f"unknown profile {profile!r}; expected one of {list(profiles.PROFILES)}")
    if args.steps is not None and args.steps < 1:
        parser.error(f"--steps must be a positive integer, got {args.steps}")
    if args.seed is not None and args.seed < 0:
        parser.error(f"--seed must be a non-negative integer, got {args.seed}")
    out = Path(args.out or f"runs/{args.model}-{profile}" + ("" if args.seed is None else f"-seed{args.seed}"))
    overrides = {}
    if args.steps is not None:
        overrides["train"] = {"steps": args.steps}
    if args.seed is not None:
        overrides["seed"] = args.seed

    print(f"{args.model}: profile {profile}, device {device_name()}, out {out}", flush=True)
    metrics = RECIPES[args.model](profile=profile, out_dir=out, resume=args.resume,
                                          progress=False if args.no_progress else None, **overrides)
    metrics = {"model": args.model, "profile": profile, "device": device_name(), **metrics}
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / "metrics.json.tmp"
    tmp.write_text(json.dumps(metrics, indent=1, default=str))
    os.replace(tmp, out / "metrics.json")
    summary = {k: v for k, v in metrics.items() if isinstance(v, (int, float, str))}
    print(json.dumps(summary, indent=1))
    print(f"wrote {out / 'metrics.json'} and {out / 'checkpoint.pt'}")
    return metrics


if __name__ == "__main__":
    main()
