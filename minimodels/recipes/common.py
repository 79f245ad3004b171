"""What the three papers' recipes share: building a recipe from a profile, and pretraining a
network to name single handwritten digits (each paper starts from an image-pretrained model).

A recipe is a dataclass: the data, the model and one :class:`~minimodels.train.TrainConfig`
per training stage (``pretrain``, ``train``, ...), nested rather than copied field by field, so
``dataclasses.asdict(recipe)`` - what every run writes to its metrics - holds every knob of
every stage. The run has one seed, ``recipe.seed``: every stage trains with it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from minimodels import profiles
from minimodels.data.digitworld import digit_crops
from minimodels.layers import UnknownFieldError, check_fields
from minimodels.train import RUNTIME_FIELDS, History, TrainConfig, fit, sample_batches


def stage_configs(recipe) -> list[str]:
    """Names of the recipe's fields that are training stages (:class:`TrainConfig`)."""
    return [f.name for f in dataclasses.fields(recipe) if f.type in ("TrainConfig", TrainConfig)]


def check_recipe(recipe) -> None:
    """Checks every recipe shares: a known profile, stages that are :class:`TrainConfig`\\ s (a
    dict is turned into one; every stage takes the recipe's seed), and a batch that fits the
    training set."""
    check_stages(recipe)
    if recipe.train.batch_size > recipe.n_train:
        raise ValueError(f"batch_size {recipe.train.batch_size} is larger than n_train {recipe.n_train}")


def check_stages(recipe) -> None:
    """A known profile, and stages that are :class:`TrainConfig`\\ s (a dict is turned into one),
    each given the recipe's seed: :func:`check_recipe` without its data check, for a recipe built
    on others (e.g. one nesting a whole run)."""
    if recipe.profile not in profiles.PROFILES:
        raise ValueError(f"profile must be one of {profiles.PROFILES}, got {recipe.profile!r}")
    for name in stage_configs(recipe):
        stage = getattr(recipe, name)
        if isinstance(stage, dict):
            stage = TrainConfig(**stage)
        if not isinstance(stage, TrainConfig):
            raise TypeError(f"{type(recipe).__name__}.{name} must be a TrainConfig or a dict of its fields, "
                            f"got {type(stage).__name__}")
        setattr(recipe, name, dataclasses.replace(stage, seed=recipe.seed))


def build_recipe(cls, by_profile: dict, profile: str | None, overrides: dict, merged: tuple[str, ...] = ()):
    """``cls`` built from ``by_profile[profile]`` (default: the active profile) with ``overrides``
    replacing fields. Stages (``train=dict(steps=3000)``) and the dict fields named in ``merged``
    are merged into the profile's instead of replacing it; a stage given as a
    :class:`TrainConfig` replaces it whole."""
    profile = profile or profiles.current()
    if profile not in by_profile:
        raise ValueError(f"unknown profile {profile!r}; expected one of {sorted(by_profile)}")
    check_fields(cls, overrides)
    defaults = {f.name: f for f in dataclasses.fields(cls)}
    base = dict(by_profile[profile])
    fields = {**base, **overrides}
    for name, f in defaults.items():
        if f.type in ("TrainConfig", TrainConfig) and not isinstance(overrides.get(name), TrainConfig):
            given = {**base.get(name, {}), **overrides.get(name, {})}
            if "seed" in given:
                raise TypeError(f"{cls.__name__}.{name}: a stage has no seed of its own; set the run's seed "
                                f"(seed={given['seed']}), every stage trains with it")
            try:
                check_fields(TrainConfig, given)
            except UnknownFieldError as e:
                raise UnknownFieldError(f"{cls.__name__}.{name}: {e}") from None
            fields[name] = dataclasses.replace(f.default_factory(), **given)
    for key in merged:
        fields[key] = {**base.get(key, {}), **overrides.get(key, {})}
    return cls(profile=profile, **fields)


def run_identity(recipe) -> dict:
    """What defines a recipe's run, saved with its checkpoints and compared on resume: the recipe's
    class and fields, less the stages' runtime fields (logging, checkpointing, progress bars)."""
    fields = dataclasses.asdict(recipe)
    for name in stage_configs(recipe):
        fields[name] = {k: v for k, v in fields[name].items() if k not in RUNTIME_FIELDS}
    for f in dataclasses.fields(recipe):  # a recipe nested in another (a run built on a whole run)
        value = getattr(recipe, f.name)
        if dataclasses.is_dataclass(value) and not isinstance(value, TrainConfig):
            fields[f.name] = run_identity(value)
    return {"recipe": type(recipe).__name__, **fields}


def stage_config(config: TrainConfig, checkpoint_dir, name: str, progress: bool | None = False) -> TrainConfig:
    """``config`` with ``progress`` (None: a bar only on a terminal) and, when there is a directory,
    a checkpoint ``checkpoint_dir/name.pt`` every twentieth of the stage: each training stage can
    then be resumed exactly, and a run killed early loses little."""
    config = dataclasses.replace(config, progress=progress)
    if checkpoint_dir is None:
        return config
    return dataclasses.replace(config, checkpoint=str(Path(checkpoint_dir) / f"{name}.pt"),
                               checkpoint_every=max(1, config.steps // 20))


def check_out_dir(out_dir) -> Path | None:
    """A run's output directory, checked before any work: it may exist (a run to resume), but
    not as a file. Returns its ``stages/`` folder (where each stage keeps its checkpoint), or
    None without a directory."""
    if out_dir is None:
        return None
    out_dir = Path(out_dir)
    for p in (out_dir, *out_dir.parents):
        if p.exists() and not p.is_dir():
            raise NotADirectoryError(f"the output directory {out_dir} cannot be created: {p} is a file")
    return out_dir / "stages"


def cache_path(recipe, cache_dir, kind: str, keys=None, fields: dict | None = None) -> Path | None:
    """Where a trained stage of ``recipe`` is kept for later runs (a later notebook, the next
    execution): ``cache_dir/<kind>-<profile>-<hash of what defines it>.pt``, what defines it being
    the recipe fields ``keys`` (default: all of them) or, given, ``fields`` (a dict of everything
    the stage depends on); None without a ``cache_dir``."""
    if cache_dir is None:
        return None
    if fields is None:
        fields = dataclasses.asdict(recipe) if keys is None else {k: getattr(recipe, k) for k in keys}
    tag = hashlib.sha1(json.dumps(fields, sort_keys=True, default=str).encode()).hexdigest()[:10]
    return Path(cache_dir) / f"{kind}-{recipe.profile}-{tag}.pt"


def wall_time(t0: float, *histories: History | None) -> float:
    """Seconds a run took: this call's (since ``time.perf_counter()`` was ``t0``) plus what its
    training stages spent in earlier calls, before it was resumed."""
    return time.perf_counter() - t0 + sum(h.earlier_wall_time for h in histories if h is not None)


class Result:
    """What a recipe's ``train_*`` returns (a dataclass) is also readable as a dict:
    ``result["miou"]``, ``"acc" in result``, ``result.keys()``."""

    def __getitem__(self, key: str):
        return getattr(self, key)

    def keys(self):
        return [f.name for f in dataclasses.fields(self)]

    def __contains__(self, key) -> bool:
        return key in self.keys()


def extend_profiles(by_profile: dict, extra: dict) -> dict:
    """Per profile, ``by_profile``'s fields with ``extra``'s on top; dict fields (stages,
    ``model_overrides``) are merged key by key. How an ablation recipe shortens the main one."""
    out = {}
    for profile, fields in by_profile.items():
        out[profile] = dict(fields)
        for key, value in extra.get(profile, {}).items():
            out[profile][key] = {**fields.get(key, {}), **value} if isinstance(value, dict) else value
    return out


# -----------------------------------------------------------------------------------------------
# Image pretraining: name single handwritten digits
# -----------------------------------------------------------------------------------------------


def digit_task(n: int, size: int, seed: int, textured: float = 0.0, plain: float = 0.0, test: bool = True):
    """The digit-naming task of every image pretraining: ``n`` training crops (:func:`digit_crops`,
    seed ``seed``) and, with ``test``, ``max(100, min(1000, n // 5))`` held-out crops of the test
    digits (seed ``seed + 1``, no plain share). Returns ``((images, labels), (images, labels) | None)``."""
    train = digit_crops(n, size, seed=seed, split="train", textured=textured, plain=plain)
    if not test:
        return train, None
    return train, digit_crops(max(100, min(1000, n // 5)), size, seed=seed + 1, split="test", textured=textured)


def classify_digits(model: nn.Module, config: TrainConfig, train: tuple, test: tuple | None = None,
                    outputs: slice = slice(None), log=print, resume: bool = False, run: dict | None = None) -> History:
    """Pretrain ``model`` in place to name digits: cross entropy of ``model(x)[:, outputs]`` (the
    logits that name the ten digits; S3D uses its noun logits) on ``train = (inputs, labels)``, with
    ``config``. ``test``: held-out ``(inputs, labels)``, its accuracy in the history's evals.
    Inputs come already scaled the way the model expects them. ``resume`` / ``run``: as in
    :func:`minimodels.train.fit`."""

    def loss_fn(m, batch):
        x, labels = batch
        logits = m(x)[:, outputs]
        return F.cross_entropy(logits, labels), {"acc": (logits.argmax(1) == labels).float().mean()}

    def evaluate(m):
        device = next(m.parameters()).device
        x, labels = test
        logits = torch.cat([m(x[i:i + 500].to(device))[:, outputs].float().cpu() for i in range(0, len(x), 500)])
        return {"acc": (logits.argmax(1) == labels).float().mean()}

    return fit(model, sample_batches(*train, batch_size=config.batch_size, seed=config.seed), loss_fn, config,
               evaluate=evaluate if test is not None else None, resume=resume, log=log, run=run)
