"""One small training loop for all three models.

Read top to bottom:

1. :class:`TrainConfig` - every knob of a run in one dataclass.
2. :func:`param_groups` - AdamW groups: no weight decay on norms, biases and position
   embeddings; an optional learning-rate multiplier for the head (SegFormer trains its
   decoder with 10x the encoder's learning rate).
3. :func:`lr_at` - linear warm-up, then ``poly`` (SegFormer's schedule, power 1.0) or
   ``cosine`` decay, as a plain function of the step.
4. :func:`fit` - the loop: mixed precision and ``channels_last`` on CUDA, gradient
   clipping, periodic logging and evaluation, atomic checkpoints, exact resume.
5. :func:`device_name` - the device a run ran on, for its metrics.

The recipes (:mod:`minimodels.recipes`) call :func:`fit` for each stage of the runs the
notebooks make; ``python -m minimodels.recipes segformer --profile cpu`` runs one.

The loop knows nothing about the model: ``loss_fn(model, batch) -> (loss, metrics)``
does the model-specific part, ``evaluate(model) -> dict`` measures it.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import os
import random
import sys
import time
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import torch
from torch import nn

SCHEDULES = ("poly", "cosine")
AMP_MODES = ("auto", "bf16", "fp16", "off")
# Parameters whose name contains one of these never get weight decay (besides every 0-/1-D tensor:
# norm scales and shifts, biases). Position embeddings and class tokens are "where"/"what" tables,
# not filters: shrinking them towards zero only hurts.
NO_DECAY_KEYWORDS = ("pos_embed", "position_embed", "cls_token")


# -----------------------------------------------------------------------------------------------
# 1. Configuration
# -----------------------------------------------------------------------------------------------


@dataclass
class TrainConfig:
    steps: int = 1000  # optimizer updates in the whole run
    batch_size: int = 8  # samples per update (used by sample_batches and the recipes)
    lr: float = 1e-3  # peak learning rate, reached at the end of warm-up
    weight_decay: float = 0.01  # AdamW's decoupled weight decay
    betas: tuple[float, float] = (0.9, 0.999)
    warmup_steps: int = 0  # linear warm-up from lr/warmup_steps to lr
    schedule: str = "poly"  # "poly" | "cosine" decay after warm-up
    poly_power: float = 1.0  # SegFormer: power 1.0, i.e. a straight line down to min_lr
    min_lr: float = 0.0  # learning rate at the last step
    head: tuple[str, ...] = ()  # name prefixes of the head's parameters, e.g. ("decoder.",)
    head_lr_mult: float = 1.0  # SegFormer: 10.0 for the decoder head
    grad_clip: float | None = None  # max global grad norm; None: no clipping
    amp: str = "auto"  # "auto" (bf16, else fp16, only on CUDA) | "bf16" | "fp16" | "off"
    channels_last: bool | str = "auto"  # "auto": on CUDA for models with Conv2d (4-D inputs follow)
    seed: int = 0
    log_every: int = 0  # print a log line every N steps (0: never)
    eval_every: int = 0  # call evaluate(model) every N steps (0: only at the end)
    checkpoint: str | None = None  # path of the checkpoint file; None: no checkpoints
    checkpoint_every: int = 0  # save every N steps (0: only at the end)
    progress: bool | None = None  # tqdm bar on stderr; None: only when stderr is a terminal
    device: str = "auto"  # "auto": CUDA if available, else CPU

    def __post_init__(self):
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {SCHEDULES}, got {self.schedule!r}")
        if self.amp not in AMP_MODES:
            raise ValueError(f"amp must be one of {AMP_MODES}, got {self.amp!r}")
        if self.channels_last not in (True, False, "auto"):
            raise ValueError(f"channels_last must be True, False or 'auto', got {self.channels_last!r}")
        if self.steps < 0 or self.warmup_steps < 0 or self.batch_size < 1:
            raise ValueError(
                f"need steps >= 0, warmup_steps >= 0, batch_size >= 1; "
                f"got steps={self.steps}, warmup_steps={self.warmup_steps}, batch_size={self.batch_size}"
            )
        if isinstance(self.head, str):
            self.head = (self.head,)
        self.head, self.betas = tuple(self.head), tuple(self.betas)


# -----------------------------------------------------------------------------------------------
# 2. Optimizer: AdamW with parameter groups
# -----------------------------------------------------------------------------------------------


def param_groups(model: nn.Module, config: TrainConfig) -> list[dict]:
    """Split the trainable parameters into AdamW groups.

    - weight decay only on >= 2-D weights (linear, conv, embedding tables); none on norm
      scales/shifts, biases, or anything named like a position embedding (NO_DECAY_KEYWORDS);
    - parameters whose name starts with one of ``config.head`` get ``lr * head_lr_mult``.

    Each group carries a ``name`` ("decay", "no_decay", "head_decay", "head_no_decay").
    """
    groups: dict[str, dict] = {}
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        no_decay = p.ndim <= 1 or any(k in name for k in NO_DECAY_KEYWORDS)
        in_head = any(name.startswith(prefix) for prefix in config.head)
        key = ("head_" if in_head else "") + ("no_decay" if no_decay else "decay")
        if key not in groups:
            lr = config.lr * (config.head_lr_mult if in_head else 1.0)
            groups[key] = {"name": key, "params": [], "param_names": [], "lr": lr,
                           "weight_decay": 0.0 if no_decay else config.weight_decay}
        groups[key]["params"].append(p)
        groups[key]["param_names"].append(name)
    if config.head and not any(k.startswith("head_") for k in groups):
        raise ValueError(f"no parameter name starts with any of head={config.head}; "
                         f"names look like {[n for n, _ in model.named_parameters()][:3]}")
    return list(groups.values())


def make_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.AdamW:
    """AdamW over :func:`param_groups`. The fused implementation (one kernel for all
    parameters, on CUDA and, since PyTorch 2.4, on CPU) gives the same updates, faster."""
    groups = param_groups(model, config)
    for g in groups:  # AdamW does not need the names; they stay in our list for inspection
        g.pop("param_names")
    kwargs = dict(lr=config.lr, betas=config.betas, weight_decay=config.weight_decay)
    try:
        return torch.optim.AdamW(groups, fused=True, **kwargs)
    except (RuntimeError, ValueError):  # an older PyTorch without fused AdamW for this device/dtype
        return torch.optim.AdamW(groups, **kwargs)


# -----------------------------------------------------------------------------------------------
# 3. Learning-rate schedule
# -----------------------------------------------------------------------------------------------


def lr_at(step: int, config: TrainConfig) -> float:
    """Learning rate of update number ``step`` (0-based) for a group whose peak is ``config.lr``.

    Warm-up: ``lr * (step + 1) / warmup_steps`` for the first ``warmup_steps`` updates.
    Then, with ``t`` going from 0 (end of warm-up) to 1 (``step == steps``):
    poly ``min_lr + (lr - min_lr) * (1 - t) ** power``;
    cosine ``min_lr + (lr - min_lr) * (1 + cos(pi * t)) / 2``.
    """
    if step < config.warmup_steps:
        return config.lr * (step + 1) / config.warmup_steps
    t = min(1.0, (step - config.warmup_steps) / max(1, config.steps - config.warmup_steps))
    if config.schedule == "poly":
        decay = (1.0 - t) ** config.poly_power
    else:
        decay = 0.5 * (1.0 + math.cos(math.pi * t))
    return config.min_lr + (config.lr - config.min_lr) * decay


def make_scheduler(optimizer, config: TrainConfig) -> torch.optim.lr_scheduler.LambdaLR:
    """LambdaLR multiplies each group's base lr by ``lr_at(step) / lr``: the head keeps its x10."""
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: lr_at(step, config) / config.lr)


# -----------------------------------------------------------------------------------------------
# 4. The loop
# -----------------------------------------------------------------------------------------------


@dataclass
class History:
    """What a run did: per-step loss/lr/metrics, evaluation results, throughput."""

    step: list[int] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    metrics: dict[str, list[float]] = field(default_factory=dict)  # name -> one value per step
    evals: list[dict] = field(default_factory=list)  # {"step": s, **evaluate(model)}
    samples: int = 0  # training samples seen (images, clips, sequences)
    train_time: float = 0.0  # seconds in training steps (no evaluation, no checkpointing)
    wall_time: float = 0.0  # seconds in fit(), everything included, summed over resumes
    earlier_wall_time: float = 0.0  # of which in the calls before the last resume (0: never resumed)

    @property
    def samples_per_s(self) -> float:
        return self.samples / self.train_time if self.train_time > 0 else 0.0

    def to_dict(self) -> dict:
        return {**asdict(self), "samples_per_s": self.samples_per_s}

    @classmethod
    def from_dict(cls, d: dict) -> "History":
        return cls(**{k: v for k, v in d.items() if k != "samples_per_s"})


def sample_batches(*tensors: torch.Tensor, batch_size: int, seed: int = 0) -> Callable[[int], tuple]:
    """An in-memory dataset as ``batches(step) -> tuple``: random indices drawn from a
    generator seeded by (seed, step), so step ``s`` always sees the same batch - which makes
    resuming from a checkpoint exact."""
    n = len(tensors[0])
    if any(len(t) != n for t in tensors):
        raise ValueError(f"all tensors need the same length, got {[len(t) for t in tensors]}")
    if batch_size > n:
        raise ValueError(f"batch_size {batch_size} is larger than the dataset ({n} samples)")

    def batches(step: int) -> tuple:
        g = torch.Generator().manual_seed(seed * 1_000_003 + step)
        idx = torch.randperm(n, generator=g)[:batch_size]
        return tuple(t[idx] for t in tensors)

    return batches


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def autocast_dtype(config: TrainConfig, device: torch.device) -> torch.dtype | None:
    """The autocast dtype: "auto" is bf16 (or fp16 on GPUs without bf16) on CUDA, off on CPU."""
    if config.amp == "off" or (config.amp == "auto" and device.type != "cuda"):
        return None
    if config.amp == "auto":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.bfloat16 if config.amp == "bf16" else torch.float16


def to_device(batch, device: torch.device, channels_last: bool = False):
    """Move every tensor of a (nested) batch to ``device``; 4-D float tensors go channels_last.
    On CUDA, host tensors are pinned first so the copy runs asynchronously (non_blocking)."""
    if isinstance(batch, torch.Tensor):
        cuda = device.type == "cuda" and batch.device.type == "cpu"
        if cuda:
            batch = batch.pin_memory()
        fmt = torch.channels_last if channels_last and batch.ndim == 4 and batch.is_floating_point() \
            else torch.preserve_format
        return batch.to(device, non_blocking=cuda, memory_format=fmt)
    if isinstance(batch, dict):
        return {k: to_device(v, device, channels_last) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        return type(batch)(to_device(v, device, channels_last) for v in batch)
    if dataclasses.is_dataclass(batch) and hasattr(batch, "to"):  # e.g. videobert.PretrainingBatch
        return batch.to(device)
    return batch


def _batch_len(batch) -> int:
    if isinstance(batch, torch.Tensor):
        return len(batch)
    if dataclasses.is_dataclass(batch):
        return _batch_len(getattr(batch, dataclasses.fields(batch)[0].name))
    items = list(batch.values()) if isinstance(batch, dict) else list(batch)
    return _batch_len(items[0])


def save_checkpoint(path: str | os.PathLike, state: dict) -> None:
    """Write ``state`` atomically: to ``path.tmp`` first, then rename over ``path``. A crash
    while writing leaves the previous checkpoint intact. A state holding a non-finite
    floating-point tensor (NaN or inf weights) is refused: it is never worth resuming from."""
    bad = _non_finite(state)
    if bad:
        raise NonFiniteError(f"refusing to write {path}: non-finite values in {bad[:5]}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        torch.save(state, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def load_checkpoint(path: str | os.PathLike, map_location="cpu") -> dict:
    """Load a checkpoint written by :func:`fit` (tensors and plain Python values only)."""
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except FileNotFoundError:
        raise
    except Exception as e:  # truncated, garbage, or pickled objects other than tensors and plain values
        raise CheckpointError(f"{path} is not a readable checkpoint (truncated or corrupt?): {e}") from e


class CheckpointError(ValueError):
    """A checkpoint that cannot be read, or that belongs to another run."""


class NonFiniteError(FloatingPointError):
    """A NaN or inf where training needs finite numbers (loss, gradients, saved weights)."""


def _non_finite(tree, prefix: str = "") -> list[str]:
    """Names of the floating-point tensors in a nested dict/list of ``tree`` that hold NaN or inf."""
    if torch.is_tensor(tree):
        return [prefix or "tensor"] if tree.is_floating_point() and not torch.isfinite(tree).all() else []
    if isinstance(tree, dict):
        return [n for k, v in tree.items() for n in _non_finite(v, f"{prefix}.{k}" if prefix else str(k))]
    if isinstance(tree, (list, tuple)):
        return [n for i, v in enumerate(tree) for n in _non_finite(v, f"{prefix}[{i}]")]
    return []


# TrainConfig fields that do not change what a run computes: a run may be resumed with others.
RUNTIME_FIELDS = ("progress", "checkpoint", "checkpoint_every", "log_every", "eval_every", "device", "channels_last")


def _differences(saved: dict, current: dict, prefix: str = "") -> list[str]:
    """``name: saved -> current`` for every field (nested dicts flattened) that differs."""
    out = []
    for key in sorted(set(saved) | set(current)):
        a, b = saved.get(key, "(absent)"), current.get(key, "(absent)")
        name = f"{prefix}{key}"
        if isinstance(a, dict) and isinstance(b, dict):
            out += _differences(a, b, name + ".")
        elif _plain(a) != _plain(b):
            out.append(f"{name}: {a!r} -> {b!r}")
    return out


def _run_identity(config: "TrainConfig", run: dict | None) -> dict:
    """What defines a run for resuming: the training config (less its runtime fields) and ``run``."""
    train = {k: v for k, v in asdict(config).items() if k not in RUNTIME_FIELDS}
    return _plain({"train": train, "run": run or {}})


def fit(
    model: nn.Module,
    batches: Callable[[int], object] | Iterable,
    loss_fn: Callable[[nn.Module, object], tuple[torch.Tensor, dict]],
    config: TrainConfig,
    evaluate: Callable[[nn.Module], dict] | None = None,
    resume: bool = False,
    log: Callable[[str], None] | None = None,
    run: dict | None = None,
) -> History:
    """Train ``model`` for ``config.steps`` AdamW updates and return its :class:`History`.

    batches:  ``batches(step) -> batch`` (see :func:`sample_batches`), or an iterable of
              batches, cycled (on resume it is fast-forwarded past the steps already done).
    loss_fn:  ``loss_fn(model, batch) -> (loss, {name: value})``; the batch is already on
              the device. Runs under autocast when mixed precision is on.
    evaluate: ``evaluate(model) -> {name: value}``, called in eval mode without gradients
              every ``config.eval_every`` steps and at the end; it never touches the
              training RNG stream, so evaluating does not change the run.
    resume:   continue from ``config.checkpoint`` if that file exists. The model, optimizer,
              schedule, grad scaler, RNG states and history are restored, so an interrupted
              run that resumes ends exactly where an uninterrupted one does. A checkpoint of
              another run (another training config - runtime fields such as ``log_every`` aside -
              or another ``run``) is refused with the fields that differ.
    log:      where log lines go (default: ``print``, or above the progress bar).
    run:      what else defines the run (e.g. the recipe, as a dict): saved with every checkpoint
              and compared on resume.

    A non-finite loss (or gradient norm, when clipping) stops the run with a
    :class:`NonFiniteError` naming the step - at once on a CPU, within 50 steps on a GPU (where
    each check costs a device sync) - before anything after it is saved.
    """
    device = resolve_device(config.device)
    dtype = autocast_dtype(config, device)
    scaler = torch.amp.GradScaler(device.type, enabled=dtype == torch.float16)
    if not callable(batches):
        batches = _cycled(batches)

    channels_last = config.channels_last
    if channels_last == "auto":  # NHWC convolutions are faster on GPUs (tensor cores)
        channels_last = device.type == "cuda" and any(isinstance(m, nn.Conv2d) for m in model.modules())
    model.to(device, memory_format=torch.channels_last if channels_last else torch.preserve_format)
    optimizer = make_optimizer(model, config)
    scheduler = make_scheduler(optimizer, config)
    history, start = History(), 0
    identity = _run_identity(config, run)
    progress = sys.stderr.isatty() if config.progress is None else config.progress
    say = log or print
    if resume and config.checkpoint and Path(config.checkpoint).exists():
        ckpt = load_checkpoint(config.checkpoint, map_location=device)
        saved = ckpt.get("identity")
        if saved is None:
            raise CheckpointError(f"{config.checkpoint} holds no record of the run that wrote it; "
                                  "it cannot be resumed safely (start again without resume)")
        kinds = saved["run"].get("recipe"), identity["run"].get("recipe")
        if kinds[0] != kinds[1]:
            raise CheckpointError(f"{config.checkpoint} is a checkpoint of a {kinds[0]} run, not of this "
                                  f"{kinds[1]} run; use another output directory")
        changed = _differences(saved, identity)
        if changed:
            raise CheckpointError(f"{config.checkpoint} was written by another run; fields that differ "
                                  f"(checkpoint -> this run): " + "; ".join(changed[:8])
                                  + (f"; and {len(changed) - 8} more" if len(changed) > 8 else ""))
        try:
            model.load_state_dict(ckpt["model"])
        except RuntimeError as e:
            raise CheckpointError(f"{config.checkpoint}: its weights do not fit this model: {e}") from e
        optimizer.load_state_dict(ckpt["optimizer"])
        _match_layout(optimizer)
        scheduler.load_state_dict(ckpt["scheduler"])
        scaler.load_state_dict(ckpt["scaler"])
        history, start = History.from_dict(ckpt["history"]), ckpt["step"]
        _set_rng_state(ckpt["rng"])
        say(f"resuming from step {start} of {config.steps} ({config.checkpoint})")
    else:
        if resume:
            say(f"nothing to resume: no checkpoint at {config.checkpoint}; starting from step 0")
        _seed_everything(config.seed)
    if hasattr(batches, "skip"):
        batches.skip(start)

    bar = _progress_bar(config.steps, start, progress)
    log = log or (bar.write if bar is not None else print)
    pending: list[tuple] = []  # (step, lr, loss, metrics) still on the device: no sync per step
    wall0, train0 = history.wall_time, history.train_time
    history.earlier_wall_time = wall0
    t_start, t_train = time.perf_counter(), 0.0

    def flush():  # move the pending per-step values into the history (one device sync)
        check_finite()
        checked[0] = 0
        for step, lr, loss, metrics in pending:
            history.step.append(step)
            history.lr.append(lr)
            history.loss.append(float(loss))
            for k, v in metrics.items():
                history.metrics.setdefault(k, []).append(float(v))
        pending.clear()
        history.wall_time = wall0 + time.perf_counter() - t_start
        history.train_time = train0 + t_train

    def every(n, done):
        return done == config.steps or (n > 0 and done % n == 0)

    check_every, checked = (50 if device.type == "cuda" else 1), [0]

    def check_finite():  # the pending steps not checked yet: losses and gradient norms (one device sync)
        for step, _, loss, metrics in pending[checked[0]:]:
            # under fp16 an overflowing gradient is expected now and then: the grad scaler skips that update
            grad_norm = None if scaler.is_enabled() else metrics.get("grad_norm")
            for name, value in (("loss", loss), ("gradient norm", grad_norm)):
                if value is not None and not math.isfinite(float(value)):
                    saved = (f"the last checkpoint ({config.checkpoint}) is from before it"
                             if config.checkpoint else "nothing was saved")
                    raise NonFiniteError(f"step {step + 1} of {config.steps}: the {name} is {float(value)} "
                                         f"(non-finite); stopping the run, {saved}")
        checked[0] = len(pending)

    model.train()
    for step in range(start, config.steps):
        t0 = time.perf_counter()
        batch = to_device(batches(step), device, channels_last)
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast(device.type, dtype=dtype) if dtype else nullcontext():
            loss, metrics = loss_fn(model, batch)
        scaler.scale(loss).backward()
        if config.grad_clip is not None:
            scaler.unscale_(optimizer)  # clip the true gradients, not the fp16-scaled ones
            metrics = {**metrics, "grad_norm": nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)}
        scaler.step(optimizer)  # skips the update if fp16 gradients overflowed
        scaler.update()
        scheduler.step()
        pending.append((step, lr_at(step, config), loss.detach(),
                        {k: v.detach() if torch.is_tensor(v) else v for k, v in metrics.items()}))
        history.samples += _batch_len(batch)
        done = step + 1
        if done % check_every == 0:
            check_finite()
        report = every(config.log_every, done) or every(config.eval_every, done) or every(config.checkpoint_every, done)
        if report and device.type == "cuda":
            torch.cuda.synchronize()  # so the measured time includes the queued GPU work
        t_train += time.perf_counter() - t0

        if bar is not None:
            bar.update(1)
        if config.log_every and done % config.log_every == 0:
            flush()
            extra = "".join(f"  {k} {v[-1]:.4g}" for k, v in history.metrics.items())
            log(f"step {done:>{len(str(config.steps))}}/{config.steps}  loss {history.loss[-1]:.4f}"
                f"  lr {history.lr[-1]:.2e}{extra}  {history.samples_per_s:.1f}/s")
            if bar is not None:
                bar.set_postfix(loss=f"{history.loss[-1]:.4f}")
        if evaluate is not None and every(config.eval_every, done):
            result = _evaluate(model, evaluate)
            history.evals.append({"step": done, **result})
            log(f"eval @ {done}: " + "  ".join(f"{k} {v:.4g}" for k, v in result.items()
                                               if isinstance(v, (int, float))))
        if config.checkpoint and every(config.checkpoint_every, done):
            flush()
            save_checkpoint(config.checkpoint, {
                "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(), "scaler": scaler.state_dict(),
                "step": done, "rng": _rng_state(), "history": history.to_dict(), "config": asdict(config),
                "identity": identity,
            })

    if bar is not None:
        bar.close()
    if evaluate is not None and not history.evals:  # nothing left to train: still measure the model
        history.evals.append({"step": start, **_evaluate(model, evaluate)})
    flush()
    return history


def _evaluate(model: nn.Module, evaluate: Callable) -> dict:
    was_training = model.training
    model.eval()
    devices = [torch.cuda.current_device()] if torch.cuda.is_available() else []
    with torch.random.fork_rng(devices=devices), torch.no_grad():
        result = evaluate(model)
    model.train(was_training)
    if not isinstance(result, dict):
        raise TypeError(f"evaluate(model) must return a dict of metrics, got {type(result).__name__}")
    return {k: _plain(v) for k, v in result.items()}


def _plain(v):
    """Tensors and arrays as Python numbers/lists, so the history is JSON and checkpoint friendly."""
    if hasattr(v, "tolist"):
        return v.tolist()
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    return v


def _match_layout(optimizer) -> None:
    """Give loaded optimizer state the memory layout of its parameter (a checkpoint written
    without channels_last may be resumed with it)."""
    for group in optimizer.param_groups:
        for p in group["params"]:
            state = optimizer.state.get(p, {})
            for k, v in state.items():
                if torch.is_tensor(v) and v.shape == p.shape and v.stride() != p.stride():
                    state[k] = torch.empty_like(p, dtype=v.dtype).copy_(v)


class _cycled:
    """An iterable of batches as a ``step -> batch`` function, cycled; ``skip(n)`` fast-forwards."""

    def __init__(self, iterable):
        self.it = itertools.cycle(iterable)

    def skip(self, n):
        for _ in range(n):
            next(self.it)

    def __call__(self, step):
        return next(self.it)


def _progress_bar(total, start, enabled):
    if not enabled:
        return None
    from tqdm import tqdm  # plain text bar: no widget in notebooks (where it is off by default anyway)

    return tqdm(total=total, initial=start, file=sys.stderr, dynamic_ncols=True, desc="train")


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    torch.manual_seed(seed)  # also seeds every CUDA device


def _rng_state() -> dict:
    return {"torch": torch.get_rng_state(), "python": random.getstate(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []}


def _set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"].cpu())
    random.setstate(_as_tuple(state["python"]))
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])


def _as_tuple(x):
    return tuple(_as_tuple(v) for v in x) if isinstance(x, (list, tuple)) else x


# -----------------------------------------------------------------------------------------------
# 5. Where a run ran
# -----------------------------------------------------------------------------------------------


def device_name(device: torch.device | str | None = None) -> str:
    device = resolve_device(device or "auto")
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    import platform

    return f"cpu ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"
