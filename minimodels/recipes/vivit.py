"""ViViT's reduced training on DigitWorld motion videos: the runs notebook 04 makes.

ViViT (:func:`vivit_recipe`, :func:`train_vivit`) classifies DigitWorld motion videos
(``minimodels.data.motion``): a handwritten digit moving left/right, up/down, turning
clockwise/anticlockwise, zooming in/out, bouncing to rest/from rest - ten classes in five
time-reversal pairs, so a single frame, or the average of the frames, cannot tell the two
classes of a pair apart. Test videos are drawn with digit instances never seen in training.
Like the paper, a run has two stages:

1. **Image pretraining** (the paper: ViT on ImageNet-21K/JFT). A small image ViT of the
   video model's width, depth, heads and patch size classifies single handwritten digits
   (:func:`digit_crops`, on flat and textured backgrounds) for ``pretrain.steps`` steps
   (:func:`pretrain_image_vit`); ``init_from_image`` copies it into the ViViT: positions tiled
   over time, the tubelet kernel by ``tubelet_init`` ("central" frame, filter "inflate", or
   "random"), the paper's Section 3.4.
2. **Video training** on motion videos: AdamW, linear warm-up and cosine decay (the paper: SGD
   with momentum and a cosine schedule), horizontal flips with mirrored labels (a flip turns
   "move left" into "move right" and clockwise into anticlockwise, ``mirror_labels``); label
   smoothing, mixup, stochastic depth (``model_overrides["drop_path_rate"]``) and time reversal
   (``time_reverse``: a video played backwards, labelled with its pair's partner class) are there
   and off by default. Pixels go in as scenic's [-1, 1].

``task="flipbook"`` swaps the motion videos for flip-books (``minimodels.data.flipbook``): a new
digit on every frame, the label the digit shown most often - content that changes faster than a
long tubelet is long (the tubelet-size experiment runs both tasks).

Profiles: ``smoke`` checks the wiring in seconds; ``cpu`` is a ViViT narrower and shallower
than ViT-Ti (d = 64, 4 layers, 4 heads, MLP 256) on 16 frames of 32x32 with 2x8x8 tubelets
(8 x 4 x 4 = 128 tokens): image pretraining and 1000 video steps take a few minutes on two cores and
reach about 0.93 top-1 on held-out videos; ``gpu`` is a Ti-wide model (d = 192, 8 layers) on 32
frames of 64x64 with a longer schedule.

What differs from the paper's recipe (ViT-B/L, 32 frames of 224x224, 30 epochs of Kinetics,
SGD with momentum at lr 0.1, batch 64, the official init N(0, 0.02)), and why:

- everything is shrunk to a laptop's budget, and AdamW at lr 2e-3 replaces SGD: a few hundred
  steps must move a freshly pretrained small model a long way;
- ``init_std`` (a model field): the official 0.02 is made for d = 768. 0.02 is about 0.55 / sqrt(768);
  in a model 12 times narrower every block then starts as an almost exact identity (each Linear
  shrinks its input about 6-fold), and on our videos training sits at chance for hundreds of
  steps - measured: a d = 64 Model 1 from scratch still at ln(10) after 150 steps with 0.02, at
  2.07 with 1 / sqrt(64) = 0.125. So the cpu model draws its weights with std 1/sqrt(d);
- no RandAugment or colour jitter: every training video is a fresh procedural draw.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from minimodels.data.flipbook import FLIPBOOK_CLASSES, make_flipbook_videos
from minimodels.data.motion import DIRECTION_PAIRS, MIRROR_CLASS, MOTION_CLASSES, make_motion_videos
from minimodels.flops import count_macs
from minimodels.layers import count_params
from minimodels.recipes.common import (
    Result,
    build_recipe,
    cache_path,
    check_out_dir,
    check_recipe,
    classify_digits,
    digit_task,
    extend_profiles,
    run_identity,
    stage_config,
    wall_time,
)
from minimodels.train import (
    History,
    TrainConfig,
    device_name,
    fit,
    load_checkpoint,
    resolve_device,
    sample_batches,
    save_checkpoint,
)
from minimodels.vivit import (
    TEMPORAL_ATTENTION_INITS,
    TUBELET_INITS,
    ViT,
    ViViT,
    image_config,
    init_from_image,
    parse_variant,
    variant_config,
)


# The video tasks: their generator and class names (both ten-way).
TASKS = {"motion": (make_motion_videos, MOTION_CLASSES), "flipbook": (make_flipbook_videos, FLIPBOOK_CLASSES)}


@dataclass
class ViViTRecipe:
    """Everything that defines a reduced ViViT run (data, image pretraining, model, schedule)."""

    profile: str = "cpu"
    # data: DigitWorld videos (N, 3, T, H, W); the test split uses held-out digit instances.
    # task "motion": one digit moving in one of ten ways (minimodels.data.motion); "flipbook": a new
    # digit on every frame, labelled by the digit shown most often (minimodels.data.flipbook)
    task: str = "motion"
    num_frames: int = 16
    image_size: int = 32
    n_train: int = 4000
    n_test: int = 500
    data_seed: int = 0
    video: dict = field(default_factory=dict)  # the task's generator's keyword arguments (distractors, hold, ...)
    flip: bool = True  # random horizontal flips during training, labels mirrored (mirror_labels)
    time_reverse: bool = False  # random time reversal during training, labels -> the pair's partner class
    # model: "SIZE/PxT" (backbone, P x P patches, tubelets of T frames), ViViT Model 1..4, and
    # ViViTConfig overrides (hidden_dim, depth, num_heads, mlp_dim, init_std, temporal_layers, ...)
    variant: str = "Ti/8x2"
    model: int = 1
    model_overrides: dict = field(default_factory=dict)
    # image pretraining on digit classification (the paper's ImageNet-pretrained ViT, in small);
    # 0 steps: the ViViT starts from random weights
    pretrain_crops: int = 10000
    pretrain_textured: float = 0.5  # share of crops on textured backgrounds (see digit_crops)
    pretrain: TrainConfig = field(default_factory=lambda: TrainConfig(
        steps=800, batch_size=64, lr=2e-3, weight_decay=0.05, warmup_steps=20, schedule="cosine", grad_clip=1.0))
    tubelet_init: str = "central"  # "central" | "inflate" | "random" (init_from_image)
    temporal_attention_init: str = "zero_output"  # Model 3: "zero_output" | "zero" | "copy" (init_from_image)
    # video training: AdamW, warm-up then cosine decay
    train: TrainConfig = field(default_factory=lambda: TrainConfig(
        steps=1000, batch_size=32, lr=2e-3, weight_decay=0.05, warmup_steps=40, schedule="cosine", grad_clip=1.0,
        log_every=100))
    label_smoothing: float = 0.0
    mixup: float = 0.0  # alpha of mixup's Beta(alpha, alpha); 0: off
    seed: int = 0  # the run's seed: model initialisation, batches, every stage
    eval_batch_size: int = 100

    def __post_init__(self):
        check_recipe(self)
        if self.tubelet_init not in TUBELET_INITS:
            raise ValueError(f"tubelet_init must be one of {TUBELET_INITS}, got {self.tubelet_init!r}")
        if self.temporal_attention_init not in TEMPORAL_ATTENTION_INITS:
            raise ValueError(f"temporal_attention_init must be one of {TEMPORAL_ATTENTION_INITS}, "
                             f"got {self.temporal_attention_init!r}")
        if self.model not in (1, 2, 3, 4):
            raise ValueError(f"model must be a ViViT model number 1..4, got {self.model!r}")
        if self.task not in TASKS:
            raise ValueError(f"task must be one of {tuple(TASKS)}, got {self.task!r}")
        if self.task == "flipbook" and (self.flip or self.time_reverse):
            raise ValueError("task 'flipbook' needs flip=False and time_reverse=False: a mirrored digit is not a "
                             f"digit, and its labels have no mirror or partner class (got flip={self.flip}, "
                             f"time_reverse={self.time_reverse})")
        _, patch, t = parse_variant(self.variant)
        if self.num_frames % t or self.image_size % patch:
            raise ValueError(f"num_frames x image_size = {self.num_frames} x {self.image_size} must be divisible "
                             f"by the tubelet of {self.variant!r}: {t} frames x {patch}x{patch} px")
        if self.mixup < 0 or not 0 <= self.label_smoothing < 1:
            raise ValueError(f"need mixup >= 0 and 0 <= label_smoothing < 1, got {self.mixup}, {self.label_smoothing}")


# Per profile. The cpu model: ViT-Ti's shape (pre-LN blocks, MLP 4d) at d = 64, 4 layers, 4 heads
# (Model 4 splits the heads in two halves, so their number is even; Ti has 3).
# init_std: 1 / sqrt(d) (see the module docstring).
_VIVIT_CPU_MODEL = {"hidden_dim": 64, "depth": 4, "num_heads": 4, "mlp_dim": 256, "init_std": 0.125}
_VIVIT_PROFILES = {
    "smoke": dict(num_frames=8, image_size=16, n_train=16, n_test=10, pretrain_crops=32, variant="Ti/8x2",
                  pretrain=dict(steps=2, batch_size=8, warmup_steps=0),
                  train=dict(steps=3, batch_size=4, warmup_steps=1, log_every=0),
                  model_overrides={"hidden_dim": 16, "depth": 1, "num_heads": 2, "mlp_dim": 32, "init_std": 0.25}),
    "cpu": dict(num_frames=16, image_size=32, n_train=4000, n_test=500, variant="Ti/8x2",
                pretrain=dict(steps=800), train=dict(steps=1000, eval_every=200),
                model_overrides=dict(_VIVIT_CPU_MODEL)),
    "gpu": dict(num_frames=32, image_size=64, n_train=10000, n_test=2000, eval_batch_size=200, pretrain_crops=30000,
                variant="Ti/8x2", pretrain=dict(steps=2000, batch_size=128),
                train=dict(steps=3000, batch_size=64, lr=1e-3, warmup_steps=150, log_every=250, eval_every=1000),
                model_overrides={"hidden_dim": 192, "depth": 8, "num_heads": 4, "mlp_dim": 768, "drop_path_rate": 0.1,
                                 "init_std": 0.072}),
}


def vivit_recipe(profile: str | None = None, **overrides) -> ViViTRecipe:
    """The reduced ViViT recipe of ``profile`` (default: the active profile), with ``overrides``
    replacing fields; the stages (``train=dict(steps=3000)``), ``model_overrides`` and ``video`` are
    merged into the profile's."""
    return build_recipe(ViViTRecipe, _VIVIT_PROFILES, profile, overrides, merged=("model_overrides", "video"))


# The notebook's ablations (tubelet init, tubelet size, Models 1-4, L_t, ...) run many short
# trainings of the same recipe, so each gets a fraction of the main run's steps.
_VIVIT_ABLATION = {
    "smoke": dict(),
    "cpu": dict(train=dict(steps=150, log_every=0, eval_every=0)),
    "gpu": dict(train=dict(steps=1000, log_every=0, eval_every=0)),
}
_VIVIT_ABLATION_PROFILES = extend_profiles(_VIVIT_PROFILES, _VIVIT_ABLATION)


def vivit_ablation_recipe(profile: str | None = None, **overrides) -> ViViTRecipe:
    """A short version of the profile's recipe for ablations (same model, data and schedule shape,
    fewer steps), e.g. ``vivit_ablation_recipe(model=2, model_overrides={"temporal_layers": 0})``."""
    return build_recipe(ViViTRecipe, _VIVIT_ABLATION_PROFILES, profile, overrides, merged=("model_overrides", "video"))


def frame_average_recipe(recipe: ViViTRecipe | None = None, **overrides) -> ViViTRecipe:
    """The frame-average baseline of ``recipe`` (default: the active profile's): the same
    backbone, data and schedule, but an image model applied to every frame on its own and its
    outputs averaged over time - ViViT Model 2 with uniform frame sampling (tubelets of 1 frame)
    and no temporal encoder (L_t = 0, the paper's "average-pool baseline").

    Every frame is embedded and encoded alone (the spatial encoder's positions have no time
    axis), and the mean over frames does not depend on their order: the model gives a video and
    the video played backwards the same logits, so within each time-reversal pair it is at chance
    by construction. (Model 2 with L_t = 0 and 2-frame tubelets is *not* order-blind: each tubelet
    sees two frames in order.)"""
    recipe = recipe or vivit_recipe()
    size, patch, _ = parse_variant(recipe.variant)
    return dataclasses.replace(recipe, **{
        "variant": f"{size}/{patch}x1", "model": 2,
        "model_overrides": {**recipe.model_overrides, "temporal_layers": 0}, **overrides})


def scale_pixels(x: torch.Tensor) -> torch.Tensor:
    """Pixels in [0, 1] -> scenic's [-1, 1] (images and videos alike)."""
    return x * 2.0 - 1.0


def vivit_data(recipe: ViViTRecipe, split: str, n: int | None = None, num_frames: int | None = None, size=None):
    """The recipe's task's videos (N, 3, T, H, W) in [0, 1] and labels (N,) for ``split`` (default
    size: the recipe's): motion videos, or flip-books (``task="flipbook"``)."""
    n = n if n is not None else (recipe.n_train if split == "train" else recipe.n_test)
    make = TASKS[recipe.task][0]
    return make(n, num_frames or recipe.num_frames, size or recipe.image_size, seed=recipe.data_seed,
                split=split, **recipe.video)


def make_image_vit(recipe: ViViTRecipe) -> ViT:
    """The image ViT the recipe's ViViT is initialised from (:func:`minimodels.vivit.image_config`:
    same width, depth, heads, patch size and init), for single ``image_size`` frames, with a
    10-way digit head; initialised from ``recipe.seed``."""
    torch.manual_seed(recipe.seed)
    return ViT(image_config(_vivit_config(recipe), num_classes=10))


def pretrain_image_vit(recipe: ViViTRecipe, log=print, progress: bool | None = False, checkpoint_dir=None,
                       resume: bool = False) -> tuple[ViT, History]:
    """Train :func:`make_image_vit` on digit classification (:func:`digit_crops` at the video's
    frame size, pixels in [-1, 1]) with the ``recipe.pretrain`` stage: the stand-in for the paper's
    ImageNet-pretrained ViT. Returns the ViT and its history (eval: accuracy on held-out digits).
    ``checkpoint_dir``: keep ``image_vit.pt`` there; with ``resume`` continue from it (a finished
    stage is only loaded)."""
    log = log or (lambda line: None)
    vit = make_image_vit(recipe)
    (images, labels), (test_images, test_labels) = digit_task(
        recipe.pretrain_crops, recipe.image_size, recipe.data_seed, recipe.pretrain_textured)
    config = stage_config(recipe.pretrain, checkpoint_dir, "image_vit", progress)
    log(f"image pretraining: ViT ({count_params(vit) / 1e3:.0f}k params) on digit classification, "
        f"{config.steps} steps x {config.batch_size} crops of {recipe.image_size}px")
    history = classify_digits(vit, config, (scale_pixels(images), labels), (scale_pixels(test_images), test_labels),
                              log=log, resume=resume, run=run_identity(recipe))
    return vit.cpu(), history


def trained_image_vit(recipe: ViViTRecipe, cache_dir=None, log=print, progress: bool | None = False,
                      checkpoint_dir=None, resume: bool = False) -> tuple[ViT, History]:
    """:func:`pretrain_image_vit`, or its ViT and history loaded from
    ``cache_dir/vivit-image-vit-<profile>-<hash of image_pretraining(recipe)>.pt`` when an earlier
    run (notebook 03) left them there; a fresh run saves them there. ``checkpoint_dir`` /
    ``resume``: as in :func:`pretrain_image_vit`."""
    log = log or (lambda line: None)
    path = cache_path(recipe, cache_dir, "vivit-image-vit", fields=image_pretraining(recipe))
    if path is not None and path.exists():
        ckpt = load_checkpoint(path)
        vit = make_image_vit(recipe)
        vit.load_state_dict(ckpt["vit"])
        log(f"pretrained image ViT: loaded {path}")
        return vit, History.from_dict(ckpt["history"])
    vit, history = pretrain_image_vit(recipe, log=log, progress=progress, checkpoint_dir=checkpoint_dir, resume=resume)
    if path is not None:
        save_checkpoint(path, {"vit": vit.state_dict(), "history": history.to_dict()})
    return vit, history


def image_pretraining(recipe: ViViTRecipe) -> dict:
    """Everything the recipe's image pretraining depends on: recipes with equal values pretrain the
    same image ViT (e.g. arms that differ only in tubelet length, ViViT model or video schedule),
    so a caller running several can pretrain once (``train_vivit(..., image_vit=...)``)."""
    return {"vit": dataclasses.asdict(image_config(_vivit_config(recipe), num_classes=10)),
            "pretrain": dataclasses.asdict(recipe.pretrain), "pretrain_crops": recipe.pretrain_crops,
            "pretrain_textured": recipe.pretrain_textured, "data_seed": recipe.data_seed, "seed": recipe.seed}


def _vivit_config(recipe: ViViTRecipe):
    classes = TASKS[recipe.task][1]
    return variant_config(recipe.variant, model=recipe.model, num_classes=len(classes),
                          num_frames=recipe.num_frames, image_size=recipe.image_size, class_names=classes,
                          **recipe.model_overrides)


def make_vivit(recipe: ViViTRecipe, image_vit=None) -> ViViT:
    """The recipe's ViViT (10 motion classes), initialised from ``recipe.seed``; with ``image_vit``
    (a ViT or its state dict) initialised from it by ``init_from_image`` with the recipe's
    ``tubelet_init`` and ``temporal_attention_init``."""
    torch.manual_seed(recipe.seed)
    model = ViViT(_vivit_config(recipe))
    if image_vit is not None:
        init_from_image(model, image_vit, tubelet_init=recipe.tubelet_init,
                        temporal_attention_init=recipe.temporal_attention_init)
    return model


def vivit_loss(recipe: ViViTRecipe):
    """The training loss of ``recipe``: ``loss_fn(model, (videos, labels)) -> (loss, {"acc": ...})``.

    Videos come scaled to [-1, 1]. With ``recipe.flip`` each video is mirrored left-right with
    probability 1/2 and its label mirrored with it (left <-> right, clockwise <-> anticlockwise);
    with ``recipe.time_reverse`` each video is played backwards with probability 1/2 and labelled
    with its pair's partner class (a reversed "zoom in" is a "zoom out" of the right distribution);
    ``label_smoothing`` and ``mixup`` (Beta(alpha, alpha) blends of two videos and their labels)
    as in the paper's regularisation study."""
    mirror = torch.tensor(MIRROR_CLASS, dtype=torch.int64)
    partner = torch.empty(len(MOTION_CLASSES), dtype=torch.int64)
    for a, b in DIRECTION_PAIRS:
        partner[a], partner[b] = b, a

    def loss_fn(model, batch):
        videos, labels = batch
        for on, dim, table in ((recipe.flip, -1, mirror), (recipe.time_reverse, -3, partner)):
            if on:  # the random draws come from the training RNG stream (fit seeds and checkpoints it)
                chosen = (torch.rand(len(videos)) < 0.5).to(videos.device)
                videos = torch.where(chosen.view(-1, 1, 1, 1, 1), videos.flip(dim), videos)
                labels = torch.where(chosen, table.to(labels.device)[labels], labels)
        if recipe.mixup > 0:
            lam = float(torch.distributions.Beta(recipe.mixup, recipe.mixup).sample())
            perm = torch.randperm(len(videos)).to(videos.device)
            logits = model(lam * videos + (1 - lam) * videos[perm])
            loss = lam * F.cross_entropy(logits, labels, label_smoothing=recipe.label_smoothing) \
                + (1 - lam) * F.cross_entropy(logits, labels[perm], label_smoothing=recipe.label_smoothing)
        else:
            logits = model(videos)
            loss = F.cross_entropy(logits, labels, label_smoothing=recipe.label_smoothing)
        return loss, {"acc": (logits.argmax(1) == labels).float().mean()}

    return loss_fn


@torch.no_grad()
def predict_vivit(model, videos: torch.Tensor, batch_size: int = 100) -> torch.Tensor:
    """Logits (N, classes) float32 on the CPU for videos (N, 3, T, H, W) in [0, 1] (scaled to [-1, 1] here)."""
    if videos.ndim != 5:
        raise ValueError(f"expected videos (N, 3, T, H, W), got {tuple(videos.shape)}")
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    out = [model(scale_pixels(videos[i:i + batch_size]).to(device)).float().cpu()
           for i in range(0, len(videos), batch_size)]
    model.train(was_training)
    return torch.cat(out) if out else torch.empty(0, len(MOTION_CLASSES))


def _pair_names() -> list[str]:
    return [f"{MOTION_CLASSES[a]} / {MOTION_CLASSES[b]}" for a, b in DIRECTION_PAIRS]


def motion_metrics(scores: torch.Tensor, labels: torch.Tensor) -> dict:
    """Accuracies of class scores (N, 10) (logits or probabilities) against labels (N,):

    - ``acc``: top-1; ``per_class_acc``: {class name: top-1 on that class's videos};
    - ``type_acc``: the predicted class is in the true class's time-reversal pair (the motion
      *type* is right: sideways, up-down, turn, zoom, bounce);
    - ``direction_acc``: the true class scores above its partner (the direction is right);
      ``pair_direction_acc``: the same per pair. 0.5 is chance for the direction.
    """
    scores, labels = scores.float().cpu(), torch.as_tensor(labels).cpu()
    if scores.ndim != 2 or scores.shape[1] != len(MOTION_CLASSES) or len(scores) != len(labels):
        raise ValueError(f"expected scores (N, {len(MOTION_CLASSES)}) and labels (N,), "
                         f"got {tuple(scores.shape)} and {tuple(labels.shape)}")
    pred = scores.argmax(1)
    partner = torch.empty(len(MOTION_CLASSES), dtype=torch.int64)
    pair_of = torch.empty(len(MOTION_CLASSES), dtype=torch.int64)
    for k, (a, b) in enumerate(DIRECTION_PAIRS):
        partner[a], partner[b], pair_of[a], pair_of[b] = b, a, k, k
    right_way = scores.gather(1, labels.view(-1, 1)) > scores.gather(1, partner[labels].view(-1, 1))
    right_way = right_way.view(-1).float()

    def mean_or_none(x):
        return float(x.mean()) if len(x) else None

    return {
        "acc": mean_or_none((pred == labels).float()),
        "per_class_acc": {name: mean_or_none((pred[labels == c] == c).float())
                          for c, name in enumerate(MOTION_CLASSES)},
        "type_acc": mean_or_none((pair_of[pred] == pair_of[labels]).float()),
        "direction_acc": mean_or_none(right_way),
        "pair_direction_acc": {name: mean_or_none(right_way[pair_of[labels] == k])
                               for k, name in enumerate(_pair_names())},
    }


def evaluate_vivit(model, videos: torch.Tensor, labels: torch.Tensor, batch_size: int = 100,
                   task: str = "motion") -> dict:
    """:func:`motion_metrics` of ``model`` on videos (N, 3, T, H, W) in [0, 1] and labels (N,). For
    ``task="flipbook"`` the motion-only entries (``type_acc``, ``direction_acc``,
    ``pair_direction_acc``) are None: its classes come in no time-reversal pairs."""
    if videos.ndim != 5 or len(videos) != len(labels):
        raise ValueError(f"expected videos (N, 3, T, H, W) and labels (N,), got {tuple(videos.shape)} and "
                         f"{tuple(labels.shape)}")
    if task not in TASKS:
        raise ValueError(f"task must be one of {tuple(TASKS)}, got {task!r}")
    out = motion_metrics(predict_vivit(model, videos, batch_size), labels)
    if task == "flipbook":
        out.update(per_class_acc=dict(zip(FLIPBOOK_CLASSES, out["per_class_acc"].values())), type_acc=None,
                   direction_acc=None, pair_direction_acc=None)
    return out


@dataclass
class ViViTResult(Result):
    """What :func:`train_vivit` returns; also readable as a dict (``result["acc"]``)."""

    model: torch.nn.Module
    acc: float  # top-1 on the held-out test videos
    per_class_acc: dict[str, float | None]
    type_acc: float | None  # the motion type (the pair) right; None for flip-books
    direction_acc: float | None  # the true class above its time-reversed partner (0.5: chance); None for flip-books
    pair_direction_acc: dict[str, float | None] | None
    history: History  # loss/lr/acc per step, periodic {"step", "acc", ...} evaluations
    clips_per_s: float  # training throughput
    wall_time: float  # seconds for the whole call: data, pretraining, training, evaluation
    recipe: ViViTRecipe
    device: str
    pretrain: History | None = None  # the image ViT's digit-classification pretraining, if run here
    image_vit: dict | None = None  # its weights (a state dict), to initialise other ViViTs from

    def metrics(self) -> dict:
        """Everything but the model and weights, as plain JSON-able values."""
        pre = self.pretrain
        pretrain_acc = float(pre.evals[-1]["acc"]) if pre is not None and pre.evals else None
        return {"acc": self.acc, "per_class_acc": self.per_class_acc, "type_acc": self.type_acc,
                "direction_acc": self.direction_acc, "pair_direction_acc": self.pair_direction_acc,
                "clips_per_s": self.clips_per_s, "wall_time_s": self.wall_time,
                "train_time_s": self.history.train_time, "steps": len(self.history.loss), "device": self.device,
                "pretrain_digit_acc": pretrain_acc,
                "config": dataclasses.asdict(self.recipe),
                "history": self.history.to_dict(),
                "pretrain": self.pretrain.to_dict() if self.pretrain is not None else None}


def train_vivit(recipe: ViViTRecipe | None = None, model=None, image_vit=None, log=print, progress: bool | None = False,
                out_dir=None, resume: bool = False, data=None, cache_dir=None) -> ViViTResult:
    """Train ViViT on motion videos with ``recipe`` and evaluate it on held-out test videos.

    1. data: ``n_train`` training and ``n_test`` test videos (:func:`vivit_data`), or ``data`` =
       ((train videos, labels), (test videos, labels)) in [0, 1] to reuse them across runs;
    2. model: ``make_vivit(recipe)`` initialised from an image ViT - ``image_vit`` (a ViT or
       state dict) if given, else one pretrained here for ``recipe.pretrain.steps`` steps
       (:func:`pretrain_image_vit`; none when ``pretrain.steps`` is 0);
    3. training with :func:`minimodels.train.fit` and :func:`vivit_loss`, evaluated every
       ``train.eval_every`` steps and at the end (:func:`evaluate_vivit`).

    model: train this ViViT instead (nothing is pretrained). out_dir: keep checkpoints there - the
    image pretraining's in ``out_dir/stages/``, the video training's in ``out_dir/checkpoint.pt``,
    each every twentieth of its stage and at its end; with ``resume`` the run continues from them
    (a checkpoint of another recipe is refused, naming the fields that differ). log: where log
    lines go (``None``: silent). cache_dir: where the pretrained image ViT is kept for later runs,
    and taken from when an earlier run (notebook 03) left it (:func:`trained_image_vit`).
    """
    t0 = time.perf_counter()
    recipe = recipe or vivit_recipe()
    log = log or (lambda line: None)
    stages = check_out_dir(out_dir)
    if data is None:
        data = (vivit_data(recipe, "train"), vivit_data(recipe, "test"))
    (train_videos, train_labels), (test_videos, test_labels) = data
    train_videos = scale_pixels(train_videos)  # once, up front (test videos are scaled in evaluation)
    config = stage_config(recipe.train, out_dir, "checkpoint", progress)  # out_dir/checkpoint.pt
    pretrain, given = None, model is not None
    if model is None:
        if image_vit is None and recipe.pretrain.steps:
            vit, pretrain = trained_image_vit(recipe, cache_dir=cache_dir, log=log, progress=progress,
                                              checkpoint_dir=stages, resume=resume)
            image_vit = {k: v.detach().clone() for k, v in vit.state_dict().items()}
        elif isinstance(image_vit, nn.Module):
            image_vit = {k: v.detach().clone() for k, v in image_vit.state_dict().items()}
        model = make_vivit(recipe, image_vit)
    n_params = count_params(model)
    c = model.config
    init = ("the given weights" if given else f"{recipe.tubelet_init} tubelet init from the image ViT"
            if image_vit is not None else "random init")
    log(f"ViViT Model {c.model} {recipe.variant} d={c.hidden_dim} L={c.depth} ({n_params / 1e3:.0f}k params, {init}), "
        f"{len(train_labels)} train / {len(test_labels)} test videos of {recipe.num_frames}x{recipe.image_size}px, "
        f"device {device_name(config.device)}")
    log(f"video training: {config.steps} steps x {config.batch_size} clips, lr {config.lr:g}, {config.schedule}")

    def evaluate(m):
        return evaluate_vivit(m, test_videos, test_labels, recipe.eval_batch_size, recipe.task)

    history = fit(model, sample_batches(train_videos, train_labels, batch_size=config.batch_size, seed=recipe.seed),
                  vivit_loss(recipe), config, evaluate=evaluate, resume=resume, log=log, run=run_identity(recipe))
    final = history.evals[-1]
    return ViViTResult(model=model, acc=final["acc"], per_class_acc=final["per_class_acc"], type_acc=final["type_acc"],
                       direction_acc=final["direction_acc"], pair_direction_acc=final["pair_direction_acc"],
                       history=history, clips_per_s=history.samples_per_s, wall_time=wall_time(t0, history, pretrain),
                       recipe=recipe, device=device_name(resolve_device(config.device)), pretrain=pretrain,
                       image_vit=image_vit if isinstance(image_vit, dict) else None)


def run(profile: str | None = None, out_dir=None, resume: bool = False, progress: bool | None = False,
        **overrides) -> dict:
    """``python -m minimodels.recipes vivit``: train with the profile's recipe, return the metrics."""
    recipe = vivit_recipe(profile, **overrides)
    result = train_vivit(recipe, out_dir=out_dir, progress=progress, resume=resume)
    return result.metrics()


# -----------------------------------------------------------------------------------------------
# The ablations as recorded experiments (minimodels.experiments)
# -----------------------------------------------------------------------------------------------


def run_vivit_arm(recipe: ViViTRecipe, cache: dict | None = None, log=None) -> dict:
    """Train one arm of a ViViT experiment and return its numbers: ``acc`` (held-out top-1 at the
    end), ``direction_acc`` (motion only; else omitted), ``mmacs`` (multiply-accumulates of one
    clip's forward pass, millions), ``train_time_s`` and the accuracy along training,
    ``trajectory_step`` / ``trajectory_acc`` (every ``train.eval_every`` steps). ``cache``: a
    dict shared by the arms of one process - the image ViT is pretrained once per
    :func:`image_pretraining` and reused by every arm that would pretrain the same one (and the
    videos are drawn once per task and size)."""
    image_vit, data = None, None
    if cache is not None:
        key = repr(("data", recipe.task, recipe.n_train, recipe.n_test, recipe.num_frames, recipe.image_size,
                    recipe.data_seed, sorted(recipe.video.items())))
        if key not in cache:
            cache[key] = (vivit_data(recipe, "train"), vivit_data(recipe, "test"))
        data = cache[key]
    if recipe.pretrain.steps and cache is not None:
        key = repr(("image ViT", sorted(image_pretraining(recipe).items())))
        if key not in cache:
            vit, _ = pretrain_image_vit(recipe, log=log)
            cache[key] = {k: v.detach().clone() for k, v in vit.state_dict().items()}
        image_vit = cache[key]
    result = train_vivit(recipe, image_vit=image_vit, log=log, data=data)
    clip = torch.empty(1, 3, recipe.num_frames, recipe.image_size, recipe.image_size, device="meta")
    out = {"acc": result.acc, "mmacs": count_macs(result.model.cpu(), clip) / 1e6,
           "train_time_s": result.history.train_time,
           "trajectory_step": [float(e["step"]) for e in result.history.evals],
           "trajectory_acc": [e["acc"] for e in result.history.evals]}
    if result.direction_acc is not None:
        out["direction_acc"] = result.direction_acc
    return out


def _with_tubelet_length(recipe: ViViTRecipe, t: int) -> str:
    size, patch, _ = parse_variant(recipe.variant)
    return f"{size}/{patch}x{t}"


TUBELET_LENGTHS = (1, 2, 4, 8)  # the tubelet experiment's t (frames per token); the paper's Figure 7 sweeps 2..8


def tubelet_recipe(profile: str | None = None, task: str = "motion", t: int = 2, **overrides) -> ViViTRecipe:
    """The tubelet-size experiment's arm: the main recipe (Model 1, central-frame init, the main
    schedule) with tubelets of ``t`` frames, on ``task`` "motion" or "flipbook" (no flips there)."""
    if t not in TUBELET_LENGTHS:
        raise ValueError(f"t must be one of {TUBELET_LENGTHS}, got {t!r}")
    base = vivit_recipe(profile, task=task, flip=task == "motion", **overrides)
    return dataclasses.replace(base, variant=_with_tubelet_length(base, t))


# The other ablations of notebook 04, each arm the main recipe (Model 1, 2x8x8 tubelets, central-frame
# init, the main schedule: 1000 steps at cpu) with one thing changed, so every arm is trained to where
# the short 150-step runs of the notebook could not take it.
VIVIT_MODEL_ARMS = {  # Table 2 (Models 1-4), Table 4 (Model 2's L_t) and claim T13 (Model 3's order)
    "Model 1": dict(model=1),
    "Model 2 (L_t = 4)": dict(model=2),
    "Model 2, L_t = 1": dict(model=2, model_overrides={"temporal_layers": 1}),
    "Model 2, L_t = 0 (average pool)": dict(model=2, model_overrides={"temporal_layers": 0}),
    "Model 3 (space first)": dict(model=3),
    "Model 3, time first": dict(model=3, model_overrides={"attention_order": "time_first"}),
    "Model 4": dict(model=4),
}
VIVIT_INIT_ARMS = {  # Table 1: how the tubelet kernel starts (the rest from the image ViT)
    "random": dict(tubelet_init="random"),
    "filter inflation": dict(tubelet_init="inflate"),
    "central frame": dict(tubelet_init="central"),
}
VIVIT_FRAME_ARMS = {  # claims T19/T23: more tokens (frames, pixels) for more accuracy at more cost
    "8 frames": dict(num_frames=8),
    "16 frames": dict(num_frames=16),
    "32 frames": dict(num_frames=32),
    "16 frames, 48 px": dict(image_size=48),
}
# claim T18: the paper's regularisers (stochastic depth, label smoothing, mixup; here also time
# reversal, the dataset's own symmetry) on a small training set and on the full one
VIVIT_REGULARISERS = {"model_overrides": {"drop_path_rate": 0.1}, "label_smoothing": 0.1, "mixup": 0.2,
                      "time_reverse": True}
VIVIT_SMALL_TRAIN = {"smoke": 8, "cpu": 100, "gpu": 500}
VIVIT_REGULARISER_ARMS = {
    "small set, none": dict(small=True),
    "small set, all regularisers": dict(small=True, **VIVIT_REGULARISERS),
    "full set, none": dict(),
    "full set, all regularisers": dict(VIVIT_REGULARISERS),
}
VIVIT_ARMS = {"models": VIVIT_MODEL_ARMS, "init": VIVIT_INIT_ARMS, "frames": VIVIT_FRAME_ARMS,
              "regularisers": VIVIT_REGULARISER_ARMS}


def ablation_arm_recipe(profile: str | None, study: str, arm: str) -> ViViTRecipe:
    """The recipe of ``arm`` of ``study`` ("models", "init", "frames" or "regularisers";
    ``VIVIT_ARMS``): the main recipe with that arm's changes (``small``: the small training set
    of ``VIVIT_SMALL_TRAIN`` videos)."""
    if study not in VIVIT_ARMS or arm not in VIVIT_ARMS[study]:
        known = {k: list(v) for k, v in VIVIT_ARMS.items()}
        raise ValueError(f"unknown ViViT ablation arm {study!r} / {arm!r}; expected one of {known}")
    changes = dict(VIVIT_ARMS[study][arm])
    base = vivit_recipe(profile)
    if changes.pop("small", False):
        changes["n_train"] = VIVIT_SMALL_TRAIN[base.profile]
    return vivit_recipe(profile, **changes)
