"""Named experiments: every result the project shows that a notebook does not compute live.

``python -m minimodels.experiments NAME [--profile cpu] [--seeds 0 1 2]`` runs one and writes
``results/NAME.json`` (committed): the exact command, each arm's full recipe (every knob of every
stage), the seeds and each seed's values, the wall time, the machine, the torch version and the git
commit it ran on. ``python -m minimodels.experiments --list`` names them; ``--docs`` regenerates
``docs/RESULTS.md`` and the README's results table from ``results/`` (``make docs``).

An experiment is a list of arms; an arm is a recipe (built for a profile, its seed set per run)
and the function that trains it and returns the numbers that matter. The recipe each arm would
run today is what ``tests/test_experiments.py`` compares with the file's: a results file whose
recipe the code no longer runs is stale, and CI says so.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import shlex
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch

from minimodels import profiles
from minimodels.recipes import segformer as seg
from minimodels.recipes import videobert as vb
from minimodels.recipes import vivit as vv
from minimodels.recipes.common import run_identity

REPO_ROOT = Path(__file__).resolve().parent.parent
RESULTS = REPO_ROOT / "results"
FIELDS = ("name", "claim", "command", "profile", "seeds", "arms", "paper", "wall_time_s", "machine", "torch",
          "git_commit", "date", "complete")


@dataclass
class Arm:
    """One arm of an experiment: ``recipe(profile)`` builds its recipe, ``run(recipe)`` trains it
    and returns ``{metric: value}``."""

    name: str
    recipe: Callable[[str], object]
    run: Callable[[object], dict]


@dataclass
class Experiment:
    name: str
    claim: str  # what it tests, in one line
    arms: list[Arm]
    # the values each run must report, in table order (it may report more, e.g. times); or a function
    # of the profile giving them, when their names follow the profile's sizes
    metrics: tuple[str, ...] | Callable[[str], tuple[str, ...]]
    paper: dict = field(default_factory=dict)  # the paper's own figures (literals), by arm and metric
    seeds: tuple[int, ...] = (0, 1, 2)  # the default seeds

    def metric_names(self, profile: str) -> tuple[str, ...]:
        """The values each run of ``profile`` reports, in table order."""
        return tuple(self.metrics(profile) if callable(self.metrics) else self.metrics)

    def recipes(self, profile: str, seed: int) -> dict:
        """Each arm's recipe for ``profile`` and ``seed``."""
        return {arm.name: dataclasses.replace(arm.recipe(profile), seed=seed) for arm in self.arms}


def _segformer(recipe) -> dict:
    result = seg.train_segformer(recipe, log=None)
    return {"miou": result.miou, "train_time_s": result.history.train_time}


def _table_1c(recipe) -> dict:
    return seg.run_table_1c(recipe)


def _table_1c_control(recipe) -> dict:
    return seg.run_table_1c_control(recipe)


def _segformer_speed(recipe) -> dict:
    return seg.measure_segformer_speed(recipe)


_SEGFORMER_CACHE: dict = {}  # one process's jointly trained SegFormer, shared by a seed's decoder widths


def _decoder_width(recipe) -> dict:
    return seg.run_decoder_width(recipe, cache=_SEGFORMER_CACHE)


def _decoder_width_arm(width):
    return lambda profile: seg.decoder_width_recipe(profile, width)


def _table_1c_arm(pos_encoding):
    return lambda profile: seg.table_1c_recipe(profile, pos_encoding)


def _erf(recipe) -> dict:
    return seg.run_erf(recipe)


def _erf_arm(encoder):
    return lambda profile: seg.erf_recipe(profile, encoder)


def _speed_arm(variant):
    return lambda profile: seg.segformer_speed_recipe(profile, variant=variant)


# The paper's Table 2 on a V100: Cityscapes FPS and GFLOPs by short side (B0), and at 1024 (B4, B5).
_PAPER_SPEED = {"MiT-B0": {"fps_1024": 15.2, "fps_768": 26.3, "fps_640": 37.1, "fps_512": 47.6,
                           "gmacs_1024": 125.5, "gmacs_768": 51.7, "gmacs_640": 31.5, "gmacs_512": 17.7},
                "MiT-B4": {"fps_1024": 3.0, "gmacs_1024": 1240.6},
                "MiT-B5": {"fps_1024": 2.5, "gmacs_1024": 1447.6}}


def _vivit(recipe) -> dict:
    result = vv.train_vivit(recipe, log=None)
    return {"acc": result.acc, "direction_acc": result.direction_acc, "train_time_s": result.history.train_time}


_VIVIT_CACHE: dict = {}  # one process's pretrained image ViTs and videos, shared by its arms


def _vivit_arm(recipe) -> dict:
    return vv.run_vivit_arm(recipe, cache=_VIVIT_CACHE)


def _tubelet_arm(task, t):
    return lambda profile: vv.tubelet_recipe(profile, task, t)


def _ablation_arm(study, arm):
    return lambda profile: vv.ablation_arm_recipe(profile, study, arm)


def _fractions(top1_percent: dict) -> dict:
    """The paper's Kinetics-400 top-1 (%, literals) per arm, as fractions like our accuracies."""
    return {arm: {"acc": round(p / 100, 3)} for arm, p in top1_percent.items()}


def _vivit_study(name, study, claim, metrics, paper=None):
    return Experiment(name, claim, [Arm(arm, _ablation_arm(study, arm), _vivit_arm) for arm in vv.VIVIT_ARMS[study]],
                      metrics, paper=paper or {})


_VIDEOBERT_CACHE: dict = {}  # one process's visual words, shared by the arms that agree on them


def _videobert_arm(recipe) -> dict:
    return vb.run_videobert_arm(recipe, cache=_VIDEOBERT_CACHE)


def _captioning(recipe) -> dict:
    return vb.run_captioning_arm(recipe, cache=_VIDEOBERT_CACHE)


def _captioning_arm(budget, features):
    return lambda profile: vb.captioning_recipe(profile, budget, features)


def _zero_shot_arm(probe_in_narration, clip_labels):
    return lambda profile: vb.zero_shot_recipe(profile, probe_in_narration, clip_labels)


def _data_size_arm(share):
    return lambda profile: vb.data_size_recipe(profile, share)


def _augmentation_arm(world, arm):
    return lambda profile: vb.augmentation_recipe(profile, world, arm)


EXPERIMENTS = {e.name: e for e in [
    Experiment(
        "segformer_main", "SegFormer's reduced run (notebook 02's main run): held-out mIoU over seeds",
        [Arm("MiT-B0, All-MLP decoder", seg.segformer_recipe, _segformer)], ("miou",)),
    Experiment(
        "segformer_table_1b", "Table 1b on a frozen encoder: how wide the All-MLP decoder must be on top of a good "
        "encoder (the main run's, frozen; a fresh decoder of each width C trained on it), held-out mIoU; joint_miou "
        "is the main run's own C = 128 decoder, trained with the encoder",
        [Arm(f"C={c}", _decoder_width_arm(c), _decoder_width) for c in seg.DECODER_WIDTHS], ("miou", "joint_miou")),
    Experiment(
        "segformer_table_1c", "Table 1c: how Mix-FFN and a learned PE change when the test input grows past the "
        "training crop (whole input vs sliding windows of the training size)",
        [Arm("Mix-FFN", _table_1c_arm("mixffn"), _table_1c),
         Arm("learned PE", _table_1c_arm("learned"), _table_1c)],
        ("change_x2", "change_x1.5", "change_x3", "change_x4", "whole_x1", "miou"),
        paper={"Mix-FFN": {"change_x2": round((79.8 - 80.5) / 100, 3)},
               "learned PE": {"change_x2": round((74.0 - 77.3) / 100, 3)}}),
    Experiment(
        "segformer_table_1c_control", "Table 1c's control: does the learned-PE arm use absolute position at all "
        "(its accuracy at the training size with the PE's positions removed), and what growing the input costs "
        "an encoder with no positional encoding to interpolate (plain FFN, no PE, trained as long)",
        [Arm("learned PE", _table_1c_arm("learned"), _table_1c_control),
         Arm("no PE", _table_1c_arm("none"), _table_1c_control)],
        ("change_x2", "change_x3", "change_x4", "whole_x1", "position_mean_x1", "position_shuffled_x1")),
    Experiment(
        "segformer_erf", "Figure 3's argument: the effective receptive field of MiT-B0 next to a CNN of the same "
        "layout and similar cost, trained on the same scenes (90% of the gradient mass within a radius, px)",
        [Arm("MiT-B0", _erf_arm("mit"), _erf), Arm("CNN (MiT layout, ResNet blocks)", _erf_arm("cnn"), _erf)],
        ("radius90_stage4", "radius90_decoder", "radius90_stage1", "miou")),
    Experiment(
        "segformer_speed", "Table 2's real-time claim: images per second of MiT-B0..B5 at Cityscapes short sides "
        "1024, 768, 640, 512 (batch 1, 1:2 images), next to their counted GMACs",
        [Arm(f"MiT-{v.upper()}", _speed_arm(v), _segformer_speed) for v in ("b0", "b1", "b2", "b3", "b4", "b5")],
        lambda profile: tuple(f"{k}_{s}" for k in ("fps", "gmacs")
                              for s in seg.segformer_speed_recipe(profile).short_sides),
        paper=_PAPER_SPEED, seeds=(0,)),
    Experiment(
        "vivit_main", "ViViT's reduced run (notebook 04's main run): held-out top-1 over seeds",
        [Arm("Model 1, central-frame init", vv.vivit_recipe, _vivit)], ("acc", "direction_acc")),
    Experiment(
        "vivit_tubelet", "Tubelet size (Section 3.1, Figure 7): accuracy and cost of t = 1, 2, 4, 8 frames per token "
        "on motion videos (one digit moving smoothly) and on flip-books (a new digit every frame, labelled by the "
        "digit shown most often), Model 1 from the central-frame init, the main schedule",
        [Arm(f"{label}, t={t}", _tubelet_arm(task, t), _vivit_arm)
         for task, label in (("motion", "motion"), ("flipbook", "flip-book")) for t in vv.TUBELET_LENGTHS],
        ("acc", "mmacs")),
    _vivit_study("vivit_models", "models", "Models 1-4 (Table 2), Model 2's temporal layers L_t (Table 4) and Model 3 "
                 "with time or space first (claim T13), each trained with the main schedule", ("acc", "mmacs"),
                 paper=_fractions({"Model 1": 80.0, "Model 2 (L_t = 4)": 78.8, "Model 2, L_t = 1": 78.6,
                                   "Model 2, L_t = 0 (average pool)": 75.8, "Model 3 (space first)": 77.4,
                                   "Model 4": 76.3})),
    _vivit_study("vivit_init", "init", "How the tubelet kernel starts (Table 1): random, filter inflation, central "
                 "frame, the rest from the image ViT, with the main schedule", ("acc", "direction_acc"),
                 paper=_fractions({"random": 73.2, "filter inflation": 77.6, "central frame": 79.2})),
    _vivit_study("vivit_frames", "frames", "More tokens for more accuracy at more cost (claims T19/T23): 8, 16 and "
                 "32 frames, and 48 px frames, with the main schedule", ("acc", "mmacs")),
    _vivit_study("vivit_regularisers", "regularisers", "Regularisers where data is scarce and where it is not "
                 "(claim T18): stochastic depth, label smoothing, mixup and time reversal on a small and on the "
                 "full training set", ("acc", "direction_acc")),
    # its last arm is the main recipe (notebook 06's run): zero-shot as in the paper
    Experiment(
        "videobert_zero_shot", "How much zero-shot owes to two shortcuts (Table 1): the probe sentence inside the "
        "pre-training narration, and a clip network trained on the very verbs and nouns it is scored on; each "
        "removed alone and both together (zero-shot as in the paper), top-1/5 (%) and visual-word purity (%)",
        [Arm(name, _zero_shot_arm(*how), _videobert_arm) for name, how in vb.ZERO_SHOT_ARMS.items()],
        ("zero_shot_verb_top1", "zero_shot_verb_top5", "zero_shot_noun_top1", "zero_shot_noun_top5",
         "language_prior_verb_top1", "language_prior_noun_top1", "word_purity_verb", "word_purity_noun"),
        paper={"zero-shot: neither shortcut": {"zero_shot_verb_top1": 3.2, "zero_shot_verb_top5": 43.3,
                                               "zero_shot_noun_top1": 13.1, "zero_shot_noun_top5": 33.7}}),
    Experiment(
        "videobert_data_size", "Table 2: zero-shot against the amount of pre-training video (shares of the training "
        "videos, the same steps each; zero-shot setting, top-1/5 %); all of the videos is videobert_zero_shot's last "
        "arm, the same recipe and seeds",
        # all of the videos is the main recipe, recorded once (videobert_zero_shot): not run twice
        [Arm(f"{share} of the videos", _data_size_arm(share), _videobert_arm)
         for share, fraction in vb.DATA_SHARES.items() if fraction < 1],
        ("zero_shot_verb_top1", "zero_shot_verb_top5", "zero_shot_noun_top1", "zero_shot_noun_top5")),
    Experiment(
        "videobert_augmentations", "Section 3.3's two fixes - sentence concatenation against misalignment, video "
        "subsampling against varying pace - alone and together, in this world and in one where narration drifts "
        "by up to a step and the pace varies x0.5-x2 between videos (zero-shot setting, top-1/5 %)",
        [Arm(f"{world}: {arm}", _augmentation_arm(world, arm), _videobert_arm)
         for world in vb.AUGMENTATION_WORLDS for arm in vb.AUGMENTATION_ARMS],
        ("zero_shot_verb_top1", "zero_shot_verb_top5", "zero_shot_noun_top1", "zero_shot_noun_top5",
         "faster_verb_top5", "faster_noun_top5")),
    Experiment(
        "videobert_captioning", "Section 4.3 where captions are scarce: BLEU-4 of the same captioner on S3D's "
        "features alone and with VideoBERT's, trained on the first 60, 150, 450 and all captioned segments; a seed "
        "is the whole pipeline (clip network, VideoBERT, captioner)",
        [Arm(f"{budget}, {features}", _captioning_arm(budget, features), _captioning)
         for budget in vb.CAPTION_BUDGETS for features in vb.CAPTION_FEATURES],
        ("bleu4", "captions"),
        paper={"all captions, S3D": {"bleu4": 3.24}, "all captions, VideoBERT + S3D": {"bleu4": 4.33}}),
]}


# -----------------------------------------------------------------------------------------------
# Running one and writing its file
# -----------------------------------------------------------------------------------------------


def machine() -> dict:
    """Where a run ran: the CPU model and threads, and the GPU if one was used."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return {"cpu": cpu, "cores": os.cpu_count(), "threads": torch.get_num_threads(), "gpu": gpu,
            "platform": platform.platform()}


def git_commit() -> str | None:
    """The commit the code ran at (``+dirty`` when the package had uncommitted changes), or None outside git."""
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True,
                              check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "minimodels"], cwd=REPO_ROOT,
                               capture_output=True, text=True, check=True).stdout.strip()
        return head + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return None


def _write(path: Path, data: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1, default=float) + "\n")
    os.replace(tmp, path)


def _request(name: str, profile: str | None, seeds) -> tuple[Experiment, str, list[int]]:
    """The experiment, profile (default: the active one) and seeds (default: the experiment's) of a
    run, checked."""
    if name not in EXPERIMENTS:
        raise ValueError(f"unknown experiment {name!r}; expected one of {sorted(EXPERIMENTS)}")
    exp = EXPERIMENTS[name]
    profile = profile or profiles.current()
    if profile not in profiles.PROFILES:
        raise ValueError(f"unknown profile {profile!r}; expected one of {profiles.PROFILES}")
    seeds = list(exp.seeds if seeds is None else seeds)
    if not seeds or any(not isinstance(s, int) or isinstance(s, bool) or s < 0 for s in seeds) \
            or len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must be distinct non-negative integers, got {seeds}")
    return exp, profile, seeds


def run_experiment(name: str, profile: str | None = None, seeds=None, out_dir: Path | None = None,
                   log=print) -> dict:
    """Run every arm of experiment ``name`` for every seed and write ``out_dir/NAME.json`` (default
    ``results/``) after each run, ``complete`` false until the last one: a killed run leaves a
    file that says it is partial, never one that looks whole."""
    exp, profile, seeds = _request(name, profile, seeds)
    log = log or (lambda line: None)
    out_dir = Path(out_dir or RESULTS)
    out_dir.mkdir(parents=True, exist_ok=True)
    command = "python -m minimodels.experiments " + shlex.join([name, "--profile", profile, "--seeds",
                                                                 *map(str, seeds)])
    data = {"name": name, "claim": exp.claim, "command": command, "profile": profile, "seeds": seeds,
            "arms": {arm.name: {"recipe": run_identity(exp.recipes(profile, seeds[0])[arm.name]), "runs": {}}
                     for arm in exp.arms},
            "paper": exp.paper, "wall_time_s": 0.0, "machine": machine(), "torch": torch.__version__,
            "git_commit": git_commit(), "date": time.strftime("%Y-%m-%d"), "complete": False}
    t0 = time.perf_counter()
    for seed in seeds:
        recipes = exp.recipes(profile, seed)
        for arm in exp.arms:
            t = time.perf_counter()
            values = arm.run(recipes[arm.name])
            metrics = exp.metric_names(profile)
            missing = [m for m in metrics if m not in values]
            if missing:
                raise KeyError(f"experiment {name}, arm {arm.name!r}: the run returned no {missing}")
            data["arms"][arm.name]["runs"][str(seed)] = {
                k: [float(x) for x in v] if isinstance(v, (list, tuple)) else float(v) for k, v in values.items()}
            data["wall_time_s"] = time.perf_counter() - t0
            _write(out_dir / f"{name}.json", data)
            log(f"{name} / {arm.name} / seed {seed}: " + ", ".join(f"{m} {values[m]:.4g}" for m in metrics)
                + f" ({time.perf_counter() - t:.0f} s)")
    data["complete"] = True
    _write(out_dir / f"{name}.json", data)
    return data


def recipe_for_seed(recipe: dict, seed: int) -> dict:
    """A recorded recipe (a dict) with its run's seed set to ``seed`` in every stage that has one."""
    return {k: seed if k == "seed" else recipe_for_seed(v, seed) if isinstance(v, dict) else v
            for k, v in recipe.items()}


def merge(name: str, parts, out_dir: Path | None = None) -> dict:
    """Join results files of experiment ``name`` that ran its seeds as separate processes (side by
    side, e.g. one seed per core) into ``out_dir/NAME.json`` (default ``results/``), as one run of
    every seed would have written it. Each part contributes the seeds that all its arms finished
    (a part stopped early gives the seeds it completed); the parts must agree on the profile, every
    arm's recipe, the code's commit and the torch version, and give each seed once. The file keeps
    the command that reproduces the whole, and under ``parts`` each part's command, machine and wall
    time; ``wall_time_s`` is their sum (the time one process would take, seed after seed)."""
    datas = [load(name, Path(part)) for part in parts]
    if not datas:
        raise ValueError(f"merge {name}: no parts given")
    first = datas[0]
    for key in ("profile", "git_commit", "torch"):
        values = {str(d[key]) for d in datas}
        if len(values) > 1:
            raise ValueError(f"merge {name}: the parts differ in {key}: {sorted(values)}")
    # a recipe records its run's first seed (in every stage): the parts must agree on everything else
    def seedless(value):
        return {k: seedless(v) for k, v in value.items() if k != "seed"} if isinstance(value, dict) else value

    recipes = [{arm: seedless(a["recipe"]) for arm, a in d["arms"].items()} for d in datas]
    if any(r != recipes[0] for r in recipes):
        raise ValueError(f"merge {name}: the parts ran different recipes (or arms)")
    runs = {arm: {} for arm in first["arms"]}
    for part, d in zip(parts, datas):
        done = set.intersection(*(set(a["runs"]) for a in d["arms"].values()))
        for seed in done:
            if seed in runs[next(iter(runs))]:
                raise ValueError(f"merge {name}: seed {seed} is in more than one part ({part})")
            for arm, a in d["arms"].items():
                runs[arm][seed] = a["runs"][seed]
    seeds = sorted(int(s) for s in runs[next(iter(runs))])
    command = "python -m minimodels.experiments " + shlex.join([name, "--profile", first["profile"], "--seeds",
                                                                 *map(str, seeds)])
    lowest = next(d for d in datas if all(str(seeds[0]) in a["runs"] for a in d["arms"].values()))
    data = {**first, "command": command, "seeds": seeds,
            "arms": {arm: {"recipe": lowest["arms"][arm]["recipe"] if lowest["seeds"][0] == seeds[0] else
                           recipe_for_seed(lowest["arms"][arm]["recipe"], seeds[0]),
                           "runs": {str(s): runs[arm][str(s)] for s in seeds}} for arm in first["arms"]},
            "wall_time_s": sum(d["wall_time_s"] for d in datas), "date": max(d["date"] for d in datas),
            "complete": True,
            "parts": [{"command": d["command"], "seeds": sorted(set.intersection(*(set(a["runs"]) for a in
                                                                                   d["arms"].values())), key=int),
                       "machine": d["machine"], "wall_time_s": d["wall_time_s"]} for d in datas]}
    out = Path(out_dir or RESULTS)
    out.mkdir(parents=True, exist_ok=True)
    _write(out / f"{name}.json", data)
    return data


def run_parallel(name: str, profile: str | None = None, seeds=None, out_dir: Path | None = None, jobs: int = 2,
                 log=print) -> dict:
    """Run experiment ``name`` with each seed in its own process, ``jobs`` at a time, each with
    ``cores // jobs`` threads, then :func:`merge` them into ``out_dir/NAME.json``: the same file one
    process running the seeds in turn would write, in about 1/jobs of the time on a machine with
    the cores. The parts go to a temporary folder under ``out_dir`` with their logs; a part that
    fails stops the others and the merge (the error names its seed and log) and leaves the parts
    for inspection; so does an interrupt."""
    _, profile, seeds = _request(name, profile, seeds)
    if not isinstance(jobs, int) or isinstance(jobs, bool) or jobs < 1:
        raise ValueError(f"jobs must be an int >= 1, got {jobs!r}")
    out_dir = Path(out_dir or RESULTS)
    out_dir.mkdir(parents=True, exist_ok=True)
    parts_dir = Path(tempfile.mkdtemp(prefix=f".{name}-parts-", dir=out_dir))
    log = log or (lambda line: None)
    threads = max(1, (os.cpu_count() or 1) // jobs)
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    pending, running, parts = list(seeds), [], []
    try:
        while pending or running:
            while pending and len(running) < jobs:
                seed = pending.pop(0)
                part = parts_dir / f"seed{seed}"
                part.mkdir()
                logf = open(part / "log", "w")
                cmd = [sys.executable, "-m", "minimodels.experiments", name, "--profile", profile, "--seeds",
                       str(seed), "--out", str(part)]
                running.append((seed, part, logf, subprocess.Popen(cmd, cwd=REPO_ROOT, env=env, stdout=logf,
                                                                    stderr=subprocess.STDOUT)))
                log(f"{name}: seed {seed} started ({threads} thread{'s' if threads > 1 else ''}), log {part / 'log'}")
            time.sleep(0.5)
            for item in list(running):
                seed, part, logf, proc = item
                if proc.poll() is None:
                    continue
                running.remove(item)
                logf.close()
                if proc.returncode:
                    raise RuntimeError(f"{name}: seed {seed} failed (exit {proc.returncode}); see {part / 'log'}")
                parts.append(part)
                log(f"{name}: seed {seed} done")
    finally:
        for _, _, logf, proc in running:  # only after a failure or an interrupt
            proc.terminate()
            proc.wait()
            logf.close()
    data = merge(name, sorted(parts, key=lambda p: int(p.name[4:])), out_dir)
    shutil.rmtree(parts_dir)
    return data


def load(name: str, results: Path | None = None) -> dict:
    """``results/NAME.json`` as written by :func:`run_experiment`, checked for every field."""
    path = Path(results or RESULTS) / f"{name}.json"
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise FileNotFoundError(f"no results for {name!r} at {path}: run `python -m minimodels.experiments {name}`")
    except json.JSONDecodeError as e:
        raise ValueError(f"{path} is not valid JSON: {e}") from e
    missing = [f for f in FIELDS if f not in data]
    if missing:
        raise ValueError(f"{path} lacks the field(s) {missing}; a results file holds {list(FIELDS)}")
    return data


def _as_recorded(recipe, recorded: dict) -> dict:
    """``recipe``'s identity as a results file stores it, less the fields the recorded recipe
    predates that still hold their default: a knob added later, left at its default, runs what
    was recorded (any other value, or a changed field, still differs)."""
    today = json.loads(json.dumps(run_identity(recipe), default=float))
    for f in dataclasses.fields(recipe):
        if f.name in recorded or f.name not in today:
            continue
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        if today[f.name] == json.loads(json.dumps(default, default=float)):
            del today[f.name]
    return today


def stale_arms(data: dict) -> list[str]:
    """The arms of a results file whose recorded recipe differs from what the code runs today
    (:func:`_as_recorded`: a field added since, at its default, does not count)."""
    exp = EXPERIMENTS.get(data["name"])
    if exp is None:
        return [f"{data['name']}: no such experiment in the code"]
    recipes = exp.recipes(data["profile"], data["seeds"][0])
    recorded = {name: arm["recipe"] for name, arm in data["arms"].items()}
    if set(recipes) != set(recorded):
        return [f"arms {sorted(recorded)} recorded, {sorted(recipes)} today"]
    return [name for name, r in recipes.items() if _as_recorded(r, recorded[name]) != recorded[name]]


def is_arm_recipe(data: dict, arm: str, recipe) -> bool:
    """Whether ``recipe`` (a notebook's live run, at its own seed and profile) is what arm ``arm`` of
    a results file ran: a notebook draws its run beside that arm's seeds only as one of them when
    this holds (under another profile it is a different, smaller run)."""
    if arm not in data["arms"]:
        raise ValueError(f"{data['name']} has no arm {arm!r}; its arms: {list(data['arms'])}")
    recorded = recipe_for_seed(data["arms"][arm]["recipe"], recipe.seed)
    return _as_recorded(recipe, recorded) == recorded


# -----------------------------------------------------------------------------------------------
# docs/RESULTS.md and the README's table, generated from results/
# -----------------------------------------------------------------------------------------------


def summarise(values: list[float]) -> str:
    """Mean, and the spread (min-max) over seeds when there are several."""
    mean = sum(values) / len(values)
    if len(values) == 1:
        return f"{mean:.3g}"
    return f"{mean:.3g} ({min(values):.3g}-{max(values):.3g})"


def _paper(data: dict) -> dict:
    """The paper's figures for a results file: the experiment's literals as the code holds them today
    (they are the paper's, not the run's), else what the file recorded."""
    exp = EXPERIMENTS.get(data["name"])
    return exp.paper if exp is not None and exp.paper else data["paper"]


def draw(data: dict, path: Path) -> Path:
    """The experiment's first metric, every seed a dot and the mean a bar per arm (the paper's
    figure, when it has one, a cross): where the spread between seeds is easier seen than read."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    exp = EXPERIMENTS.get(data["name"])
    arms = list(data["arms"])
    papers, marked = _paper(data), False
    metric = exp.metric_names(data["profile"])[0] if exp else next(iter(next(iter(next(iter(data["arms"].values()))["runs"].values()))))
    fig, ax = plt.subplots(figsize=(1.6 + 1.3 * len(arms), 2.6))
    for i, arm in enumerate(arms):
        values = [r[metric] for r in data["arms"][arm]["runs"].values()]
        if values:
            ax.bar(i, sum(values) / len(values), 0.6, color="#c6dbef")
            ax.plot([i] * len(values), values, "o", color="#08519c", ms=4)
        paper = papers.get(arm, {}).get(metric)
        if paper is not None:
            ax.plot(i, paper, "x", color="#cb181d", ms=7, label=None if marked else "the paper's")
            marked = True
    ax.set_xticks(range(len(arms)), ["\n".join(textwrap.wrap(a, 22)) for a in arms], fontsize=7)
    ax.set_ylabel(metric, fontsize=8)
    ax.set_title(f"{data['name']} ({data['profile']}, seeds {', '.join(map(str, data['seeds']))})", fontsize=8)
    if marked:
        ax.legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, metadata={"Software": None})
    plt.close(fig)
    return path


def results_markdown(results: Path | None = None) -> str:
    """docs/RESULTS.md: one section per results file, with its figure (docs/figures/NAME.png)."""
    results = Path(results or RESULTS)
    out = ["# Results", "",
           "Generated by `python -m minimodels.experiments --docs` from `results/*.json`; do not edit by hand.",
           "Every number below was computed by the command shown with it. A value is the mean over seeds,",
           "with the lowest and highest seed in brackets; the paper's figures are its own, labelled as such.", ""]
    files = sorted(results.glob("*.json"))
    if not files:
        out.append("No experiment has been run yet: `python -m minimodels.experiments --list` names them.")
    for path in files:
        data = load(path.stem, results)
        exp = EXPERIMENTS.get(data["name"])
        metrics = list(exp.metric_names(data["profile"])) if exp else sorted({k for a in data["arms"].values()
                                                         for r in a["runs"].values() for k in r})
        m = data["machine"]
        where = m["gpu"] or f"{m['cpu']}, {m['threads']} thread{'s' if m['threads'] != 1 else ''}"
        if data.get("parts"):
            where += "; run as " + ", ".join(f"seeds {' '.join(p['seeds'])} ({p['machine']['threads']} thread"
                                             f"{'s' * (p['machine']['threads'] > 1)})" for p in data["parts"])
            where += " in processes side by side, the time summed over them"
        out += [f"## {data['name']}", "", data["claim"] + ("" if data["complete"] else " **(partial: the run stopped early)**"),
                "", f"`{data['command']}` - {data['date']}, {where}, torch {data['torch']}, commit "
                f"{(data['git_commit'] or 'unknown')[:12]}, {data['wall_time_s'] / 60:.0f} min in all.", "",
                f"![{data['name']}](figures/{data['name']}.png)", "",
                "| arm | " + " | ".join(metrics) + " |", "|---" * (len(metrics) + 1) + "|"]
        for arm, rec in data["arms"].items():
            cells = [summarise([r[k] for r in rec["runs"].values()]) if rec["runs"] else "-" for k in metrics]
            out.append(f"| {arm} | " + " | ".join(cells) + " |")
            paper = _paper(data).get(arm)
            if paper:
                out.append(f"| paper: {arm} | " + " | ".join(f"{paper[k]:g}" if k in paper else "" for k in metrics)
                           + " |")
        seeds = ", ".join(f"{arm} seed {s}: " + ", ".join(f"{k} {v:.4g}" for k, v in r.items() if k in metrics)
                          for arm, rec in data["arms"].items() for s, r in rec["runs"].items())
        out += ["", f"Per seed: {seeds}.", ""]
    return "\n".join(out).rstrip() + "\n"


# The README's headline rows: (experiment, arm, metric, factor to %, what it is, the paper's figure and where from).
HEADLINES = [
    ("segformer_main", "MiT-B0, All-MLP decoder", "miou", 100, "SegFormer-B0, held-out mIoU (DigitWorld scenes)",
     "37.4 (ADE20K, Table 2)"),
    ("vivit_main", "Model 1, central-frame init", "acc", 100, "ViViT Model 1, held-out top-1 (motion videos)",
     "80.0 (Kinetics-400, ViViT-B, Table 2)"),
    ("videobert_zero_shot", "zero-shot: neither shortcut", "zero_shot_verb_top1", 1,
     "VideoBERT zero-shot verb top-1 (how-to videos, 9 verbs)", "3.2 (YouCook2, Table 1)"),
    ("videobert_zero_shot", "zero-shot: neither shortcut", "zero_shot_noun_top1", 1,
     "VideoBERT zero-shot noun top-1 (how-to videos, 10 nouns)", "13.1 (YouCook2, Table 1)"),
]
README_MARKERS = ("<!-- results:start -->", "<!-- results:end -->")


def readme_table(results: Path | None = None) -> str:
    """The README's results table: the headline number of each main run (mean and seed range),
    next to the paper's - not comparable (a small world on a CPU), and said so."""
    rows = ["| result, % | ours (mean and range over seeds) | the paper's |", "|---|---|---|"]
    for name, arm, metric, scale, what, paper in HEADLINES:
        try:
            data = load(name, results)
        except FileNotFoundError:
            ours = f"not run yet: `make experiments NAME={name}`"
        else:
            runs = data["arms"][arm]["runs"].values()
            ours = summarise([scale * r[metric] for r in runs]) + f" ({len(runs)} seeds, {data['profile']} profile)"
        rows.append(f"| {what} | {ours} | {paper} |")
    return "\n".join(rows) + "\n\nEvery other result, with its command, machine and commit: [docs/RESULTS.md](docs/RESULTS.md)."


def with_readme_table(readme: str, results: Path | None = None) -> str:
    """``readme`` with the text between its results markers replaced by :func:`readme_table`."""
    start, end = README_MARKERS
    if readme.count(start) != 1 or readme.count(end) != 1 or readme.index(start) > readme.index(end):
        raise ValueError(f"README.md needs one {start} line followed by one {end} line")
    head, rest = readme.split(start)
    _, tail = rest.split(end)
    return f"{head}{start}\n{readme_table(results)}\n{end}{tail}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m minimodels.experiments",
                                     description="Run a named experiment and write results/NAME.json.")
    parser.add_argument("name", nargs="?", help=f"one of {sorted(EXPERIMENTS)}")
    parser.add_argument("--profile", default=None, help=f"one of {profiles.PROFILES} (default: the active profile)")
    parser.add_argument("--seeds", type=int, nargs="+", default=None, help="seeds (default: the experiment's)")
    parser.add_argument("--out", default=None, help="folder for NAME.json (default: results/)")
    parser.add_argument("--list", action="store_true", help="name every experiment and what it tests")
    parser.add_argument("--docs", action="store_true", help="regenerate docs/RESULTS.md from results/")
    parser.add_argument("--jobs", type=int, default=1,
                        help="run the seeds in this many processes side by side, then merge them (default 1)")
    parser.add_argument("--merge", nargs="+", metavar="DIR", default=None,
                        help="join NAME.json files of DIRs that ran different seeds into --out (default results/)")
    args = parser.parse_args(argv)
    if args.list:
        for exp in EXPERIMENTS.values():
            print(f"{exp.name:<20} {exp.claim}")
        return 0
    if args.docs:
        path = REPO_ROOT / "docs" / "RESULTS.md"
        path.parent.mkdir(exist_ok=True)
        recorded = sorted(RESULTS.glob("*.json"))
        for results in recorded:
            draw(load(results.stem), path.parent / "figures" / f"{results.stem}.png")
        for figure in (path.parent / "figures").glob("*.png"):  # an experiment's results removed: its figure too
            if figure.stem not in {r.stem for r in recorded}:
                figure.unlink()
        path.write_text(results_markdown())
        readme = REPO_ROOT / "README.md"
        readme.write_text(with_readme_table(readme.read_text()))
        print(f"wrote {path} and the results table of {readme}")
        return 0
    if args.name is None:
        parser.error("name an experiment (or --list)")
    if args.name not in EXPERIMENTS:
        parser.error(f"unknown experiment {args.name!r}; expected one of {sorted(EXPERIMENTS)}")
    if args.merge:
        try:
            data = merge(args.name, args.merge, args.out)
        except (ValueError, FileNotFoundError) as e:
            parser.error(str(e))
        print(f"merged seeds {data['seeds']} of {args.name} from {len(args.merge)} parts")
        return 0
    try:
        if args.jobs != 1:
            run_parallel(args.name, args.profile, args.seeds, args.out, args.jobs)
        else:
            run_experiment(args.name, args.profile, args.seeds, args.out)
    except ValueError as e:
        parser.error(str(e))
    except RuntimeError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
