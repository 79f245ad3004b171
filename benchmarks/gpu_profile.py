"""The gpu profile, measured: every ``gpu``-profile main run of the project, one after another, as plain Python.

    python benchmarks/gpu_profile.py                 # all three runs -> results/gpu/gpu_profile.json (`make gpu-profile`)
    python benchmarks/gpu_profile.py --out DIR       # -> DIR/gpu_profile.json
    python benchmarks/gpu_profile.py --dry           # 2 steps per stage, a handful of samples, any device
    python benchmarks/gpu_profile.py --estimate      # FLOPs of every stage, and the time they need on an H200
    python benchmarks/gpu_profile.py --runs vivit    # some of the runs only (segformer, vivit, videobert)

The runs are the three recipes' main runs, the ones ``minimodels.experiments`` records as
``segformer_main``, ``vivit_main`` and the main arm of ``videobert_zero_shot`` (notebooks 02, 04
and 06), built for the ``gpu`` profile with seed 0: ``train_segformer(segformer_recipe("gpu"))``,
``train_vivit(vivit_recipe("gpu"))`` and ``run_pipeline(videobert_recipe("gpu"))``.

Each run's values are the experiment's metrics (SegFormer mIoU; ViViT top-1 and direction
accuracy; VideoBERT zero-shot and language-prior top-1/top-5 and visual-word purity, in %) and
what the profile costs: the main stage's steps, samples per second and training seconds, the
FLOPs of the main stage's training steps (``minimodels.flops``, forward x 3), the seconds of
the whole run (data, every stage, evaluation), the GPU's name and its peak allocated memory in
GiB (None on a CPU).

They are written, in the format of ``minimodels.experiments`` (one arm per run, one seed), to
``gpu_profile.json`` after every run, ``complete`` false until the last: a killed session leaves
what finished. A run that fails is recorded under ``errors``, the others still run, and the
command exits 1.

``--dry`` runs the same code on every recipe with each stage cut to 2 steps and the data to a
handful of samples (the models and input sizes are the gpu profile's), on whatever device is
there, into a temporary folder unless ``--out`` is given: ``tests/test_gpu_profile.py`` runs it,
so the command cannot rot between GPU sessions.

The script puts the repository on ``sys.path``: it runs from a plain copy of the working tree
(``python3 benchmarks/gpu_profile.py --out $OUT`` on a GPU machine without the package installed);
where that copy has no git, ``--git-commit SHA`` names the commit it is.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import json
import os
import sys
import tempfile
import time
import traceback
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import torch  # noqa: E402

from minimodels.data.howto import make_vocab  # noqa: E402
from minimodels.experiments import EXPERIMENTS, git_commit, machine  # noqa: E402
from minimodels.flops import count_macs  # noqa: E402
from minimodels.recipes import segformer as seg  # noqa: E402
from minimodels.recipes import videobert as vb  # noqa: E402
from minimodels.recipes import vivit as vv  # noqa: E402
from minimodels.recipes.common import run_identity  # noqa: E402

NAME = "gpu_profile"
PROFILE = "gpu"
SEED = 0
H200_BF16_TFLOPS = 790.0  # dense bf16 matrix products on one H200 (measured: 769-798 TFLOP/s)
UTILISATION = 0.4  # the share of that peak assumed for these small models in --estimate
BUDGET_S = 8 * 60  # what the three runs together must fit in on one H200

# What --dry cuts each recipe to: 2 steps per stage, a handful of samples; models and sizes unchanged.
_DRY_STAGE = dict(steps=2, warmup_steps=0, log_every=0, eval_every=0)
DRY = {
    "segformer": dict(n_train=4, n_test=2, pretrain_crops=16, eval_batch_size=2,
                      pretrain=dict(_DRY_STAGE, batch_size=4), train=dict(_DRY_STAGE, batch_size=2)),
    "vivit": dict(n_train=4, n_test=2, pretrain_crops=16, eval_batch_size=2,
                  pretrain=dict(_DRY_STAGE, batch_size=4), train=dict(_DRY_STAGE, batch_size=2)),
    "videobert": dict(n_s3d=2, n_train=4, n_test=2,
                      s3d_pretrain=dict(_DRY_STAGE, batch_size=4), s3d=dict(_DRY_STAGE, batch_size=4),
                      text_bert=dict(_DRY_STAGE, batch_size=4), train=dict(_DRY_STAGE, batch_size=4),
                      caption=dict(_DRY_STAGE, batch_size=4)),
}


def gib(nbytes: int) -> float:
    return nbytes / 2**30


# -----------------------------------------------------------------------------------------------
# FLOPs: one batch of every training stage through minimodels.flops
# -----------------------------------------------------------------------------------------------


def _bert_macs(bert, batch: int, length: int) -> int:
    """MACs of one forward of a minimodels Bert (its layers and MLM head) on ``batch`` sequences of
    ``length`` tokens. Counted layer by layer: the model's input check reads token values, which
    the counter's shape-only tensors do not have. The embedding lookups cost no MACs."""
    h = torch.empty(batch, length, bert.config.hidden_dim, device="meta")
    return (sum(count_macs(layer, h) for layer in bert.layers)
            + count_macs(bert.mlm_head, h, bert.embeddings.word.weight))


def stage_macs(name: str, recipe) -> list[tuple[str, int, int, int]]:
    """``(stage, steps, batch size, forward MACs of one batch)`` for every training stage that the
    run of ``recipe`` makes (VideoBERT: the sequences at their longest, ``max_len`` tokens; its
    ``caption`` stage is not part of ``run_pipeline``)."""
    meta = dict(device="meta")
    out = []

    def add(stage, model, *inputs, macs=None):
        cfg = getattr(recipe, stage)
        if cfg.steps:
            out.append((stage, cfg.steps, cfg.batch_size, macs if macs is not None else count_macs(model, *inputs)))

    if name == "segformer":
        model = seg.make_segformer(recipe)
        p, s = recipe.pretrain_size, recipe.image_size
        add("pretrain", seg.EncoderClassifier(model.encoder), torch.empty(recipe.pretrain.batch_size, 3, p, p, **meta))
        add("train", model, torch.empty(recipe.train.batch_size, 3, s, s, **meta))
    elif name == "vivit":
        s, t = recipe.image_size, recipe.num_frames
        add("pretrain", vv.make_image_vit(recipe), torch.empty(recipe.pretrain.batch_size, 3, s, s, **meta))
        add("train", vv.make_vivit(recipe), torch.empty(recipe.train.batch_size, 3, t, s, s, **meta))
    elif name == "videobert":
        howto = recipe.howto
        size = howto.get("size", 32)
        size = size if isinstance(size, int) else size[0]
        s3d = vb.make_s3d(recipe)
        add("s3d_pretrain", s3d, torch.empty(recipe.s3d_pretrain.batch_size, 3, 1, size, size, **meta))
        add("s3d", s3d, torch.empty(recipe.s3d.batch_size, 3, howto.get("clip_frames", 8), size, size, **meta))
        vocab = make_vocab()
        add("text_bert", None, macs=_bert_macs(vb.make_text_bert(recipe, vocab), recipe.text_bert.batch_size,
                                               recipe.max_len))
        add("train", None, macs=_bert_macs(vb.make_videobert(recipe, vocab).bert, recipe.train.batch_size,
                                           recipe.max_len))
    else:
        raise ValueError(f"unknown run {name!r}")
    return out


def step_flops(macs: int) -> float:
    """FLOPs of one training step whose forward costs ``macs``: forward + backward = 3 forwards,
    2 FLOPs per multiply-accumulate."""
    return 3 * 2 * float(macs)


def estimate(names) -> int:
    """Print every stage's FLOPs and the seconds they need at UTILISATION of an H200's bf16 peak."""
    rate = UTILISATION * H200_BF16_TFLOPS * 1e12
    print(f"FLOP-bound estimate: forward MACs of one batch x 3 (forward + backward) x 2 FLOPs, at "
          f"{UTILISATION:.0%} of {H200_BF16_TFLOPS:.0f} bf16 TFLOP/s (an H200). Evaluation, data generation and "
          f"per-step overheads are not in it.")
    print(f"{'run':<10} {'stage':<13} {'steps':>6} {'batch':>6} {'GMAC/batch':>11} {'TFLOP/step':>11} "
          f"{'PFLOP':>8} {'seconds':>8}")
    total = 0.0
    for name in names:
        recipe = RUNS[name].recipe()
        for stage, steps, batch, macs in stage_macs(name, recipe):
            flops = step_flops(macs) * steps
            total += flops / rate
            print(f"{name:<10} {stage:<13} {steps:>6} {batch:>6} {macs / 1e9:>11.2f} {step_flops(macs) / 1e12:>11.3f} "
                  f"{flops / 1e15:>8.2f} {flops / rate:>8.1f}")
    print(f"all stages: {total:.0f} s of a budget of {BUDGET_S} s")
    return 0


# -----------------------------------------------------------------------------------------------
# The runs
# -----------------------------------------------------------------------------------------------


@dataclasses.dataclass
class Run:
    experiment: str  # the minimodels.experiments entry whose arm this is (its arm name, metrics, paper)
    build: object  # recipe builder: build(profile, **overrides)
    train: object  # train(recipe) -> dict of the run's values
    arm_index: int = 0  # which of the experiment's arms is the main run

    @property
    def arm(self) -> str:
        return EXPERIMENTS[self.experiment].arms[self.arm_index].name

    def recipe(self, overrides: dict | None = None):
        return self.build(PROFILE, seed=SEED, **(overrides or {}))


def _segformer(recipe, log) -> dict:
    r = seg.train_segformer(recipe, log=log)
    return {"miou": r.miou, "steps": len(r.history.loss), "samples_per_s": r.history.samples_per_s,
            "train_time_s": r.history.train_time, "pretrain_time_s": r.pretrain.train_time if r.pretrain else 0.0}


def _vivit(recipe, log) -> dict:
    r = vv.train_vivit(recipe, log=log)
    return {"acc": r.acc, "direction_acc": r.direction_acc, "steps": len(r.history.loss),
            "samples_per_s": r.history.samples_per_s, "train_time_s": r.history.train_time,
            "pretrain_time_s": r.pretrain.train_time if r.pretrain else 0.0}


def _videobert(recipe, log) -> dict:
    r = vb.run_pipeline(recipe, log=log)
    out = r.percentages()
    out.update({"steps": len(r.history.loss), "samples_per_s": r.history.samples_per_s,
                "train_time_s": r.history.train_time})
    out.update({f"{k}_s": v for k, v in r.times.items()})  # clip network + visual words, text BERT, VideoBERT
    return out


RUNS = {
    "segformer": Run("segformer_main", seg.segformer_recipe, _segformer),
    "vivit": Run("vivit_main", vv.vivit_recipe, _vivit),
    "videobert": Run("videobert_zero_shot", vb.videobert_recipe, _videobert, arm_index=-1),  # neither shortcut
}


def device_info() -> tuple[str | None, bool]:
    cuda = torch.cuda.is_available()
    return (torch.cuda.get_device_name(0) if cuda else None), cuda


def run_one(name: str, recipe, log) -> dict:
    """Train ``recipe`` (run ``name``) and return its values, timed, with the GPU's peak memory."""
    gpu, cuda = device_info()
    if cuda:
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    main = [m for stage, _, _, m in stage_macs(name, recipe) if stage == "train"]
    t0 = time.perf_counter()
    values = RUNS[name].train(recipe, log)
    if cuda:
        torch.cuda.synchronize()
    values["wall_time_s"] = time.perf_counter() - t0
    values["main_stage_flops"] = step_flops(main[0]) * values["steps"] if main else 0.0
    values["gpu"] = gpu
    values["peak_memory_gib"] = gib(torch.cuda.max_memory_allocated()) if cuda else None
    gc.collect()
    if cuda:
        torch.cuda.empty_cache()
    return values


def summary(name: str, values: dict) -> str:
    metrics = EXPERIMENTS[RUNS[name].experiment].metrics
    mem = values["peak_memory_gib"]
    return (f"{name}: " + ", ".join(f"{m} {values[m]:.4g}" for m in metrics)
            + f"; {values['steps']} steps at {values['samples_per_s']:.1f} samples/s, "
              f"train {values['train_time_s']:.0f} s, run {values['wall_time_s']:.0f} s; {values['gpu'] or 'no GPU'}"
            + (f", peak {mem:.2f} GiB" if mem is not None else ""))


def _write(path: Path, data: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1, default=float) + "\n")
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python benchmarks/gpu_profile.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=None, help="folder for gpu_profile.json (default: results/gpu/; "
                                                    "with --dry a temporary folder)")
    parser.add_argument("--dry", action="store_true",
                        help="2 steps per stage on a handful of samples: checks the wiring")
    parser.add_argument("--estimate", action="store_true", help="print the FLOP-based time of every stage; run nothing")
    parser.add_argument("--runs", nargs="+", choices=list(RUNS), default=list(RUNS), help="which runs (default: all)")
    parser.add_argument("--git-commit", default=None,
                        help="the commit to record, for a copy of the tree without git (default: the checkout's)")
    args = parser.parse_args(argv)
    if args.estimate:
        return estimate(args.runs)

    out_dir = Path(args.out) if args.out else (Path(tempfile.mkdtemp(prefix="gpu_profile_")) if args.dry
                                               else REPO / "results" / "gpu")
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{NAME}.json"
    log = None if args.dry else print
    recipes = {name: RUNS[name].recipe(DRY[name] if args.dry else None) for name in args.runs}
    command = "python benchmarks/gpu_profile.py" + (" --dry" if args.dry else "") + (
        "" if args.runs == list(RUNS) else " --runs " + " ".join(args.runs))
    claim = ("The gpu profile, measured: each paper's main run (notebooks 02, 04, 06) under the gpu profile, one "
             "after another on one device: its held-out metric, steps, throughput, time and peak memory")
    if args.dry:
        claim += " (dry: 2 steps per stage on a handful of samples, checks the wiring only)"
    arms = {n: RUNS[n].arm for n in recipes}
    paper = {arms[n]: EXPERIMENTS[RUNS[n].experiment].paper.get(arms[n]) for n in recipes}
    data = {"name": NAME, "claim": claim, "command": command, "profile": PROFILE, "seeds": [SEED],
            "arms": {arms[n]: {"recipe": run_identity(r), "runs": {}} for n, r in recipes.items()},
            "paper": {arm: figures for arm, figures in paper.items() if figures}, "wall_time_s": 0.0,
            "machine": machine(), "torch": torch.__version__, "git_commit": args.git_commit or git_commit(),
            "date": time.strftime("%Y-%m-%d"), "complete": False, "dry": args.dry, "errors": {}}
    _write(path, data)
    gpu, _ = device_info()
    print(f"{NAME}{' (dry)' if args.dry else ''}: {', '.join(recipes)} on {gpu or 'the CPU (no GPU)'}, writing {path}",
          flush=True)
    t0 = time.perf_counter()
    for name, recipe in recipes.items():
        print(f"--- {name}: {RUNS[name].arm}", flush=True)
        try:
            values = run_one(name, recipe, log)
        except Exception as e:  # noqa: BLE001 - recorded, the other runs still go
            traceback.print_exc()
            data["errors"][RUNS[name].arm] = f"{type(e).__name__}: {e}"
            print(f"{name}: FAILED after {time.perf_counter() - t0:.0f} s: {type(e).__name__}: {e}", flush=True)
        else:
            data["arms"][RUNS[name].arm]["runs"][str(SEED)] = values
            print(summary(name, values), flush=True)
        data["wall_time_s"] = time.perf_counter() - t0
        _write(path, data)
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    total = data["wall_time_s"]
    data["complete"] = not data["errors"]
    _write(path, data)
    over = "" if args.dry or total <= BUDGET_S else f" - over the {BUDGET_S / 60:.0f}-minute budget"
    print(f"total: {total:.0f} s ({total / 60:.1f} min){over}; "
          f"{'complete' if data['complete'] else 'INCOMPLETE: ' + ', '.join(data['errors'])}; wrote {path}", flush=True)
    return 0 if data["complete"] else 1


if __name__ == "__main__":
    sys.exit(main())
