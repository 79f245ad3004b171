"""Reduced training recipes: the runs the notebooks make, one function per model.

SegFormer (:func:`segformer_recipe`, :func:`train_segformer`) trains on DigitWorld
segmentation scenes (``minimodels.data.digitworld``): handwritten digits on textured
canvases, 11 classes (background + ten digits), scored on held-out test scenes drawn with
digit instances never seen in training. Like the paper, it runs in two stages:

1. **Encoder pretraining** (the paper: MiT on ImageNet-1K classification). Here the MiT
   encoder, global-average-pooled with a linear head, classifies single digits
   (:func:`digit_crops`) for ``pretrain_steps`` steps (:func:`pretrain_encoder`).
2. **Segmentation fine-tuning** of the whole SegFormer on scenes: AdamW, head (decoder)
   lr x10, linear warm-up then poly decay (power 1), cross entropy on logits upsampled
   from H/4 to the label size; at test time logits are upsampled bilinearly to the image
   size, then argmax and mIoU over the 11 classes (:func:`evaluate_segformer`).

Profiles: ``smoke`` checks the wiring in seconds; ``cpu`` is genuine MiT-B0 (paper dims,
depths, heads, reduction ratios) with the decoder narrowed to C = 128 on 96x96 scenes, a
few minutes on two cores; ``gpu`` is genuine B0 with its C = 256 decoder on 128x128
scenes and a longer schedule.

What differs from the paper's recipe (lr 6e-5, head x10, weight decay 0.01, 1500-step
warm-up, 160k iterations, batch 16, 512x512 crops), and why:

- lr 2e-3, not 6e-5: the paper's small lr preserves ImageNet features that took days to
  learn; our pretraining lasts a minute or two and the fine-tuning a few thousand steps,
  so the encoder must still move a lot (6e-5 barely changes it in that budget). A short
  warm-up and gradient clipping at 1.0 keep the first steps of the fresh decoder stable.
- batch 8 of small scenes: what fits the budget; at this scale more updates beat bigger
  batches.
- 96x96 scenes, not 64x64: logits are H/4, and thin handwritten strokes cannot be drawn
  from a 16x16 logit map - even the ideal H/4 prediction (each cell's class frequencies,
  upsampled) scores only mIoU 0.68 at 64x64, against 0.84 at 96x96 and 0.91 at 128x128.
- pretraining on digits instead of ImageNet: from random init the MiT predicts
  "background" everywhere for thousands of steps before digit identities emerge; after a
  short classification pretraining it segments within a few hundred steps - the paper's
  reason for ImageNet pretraining, in miniature. The crops mix flat and textured
  backgrounds with 30% plain white-on-black digits: with random colours only, when the
  classifier leaves chance level varied from 200 to over 800 steps between seeds; the plain
  share (one polarity, no colour) makes the onset come early in every seed tried, and the
  pretraining runs without gradient clipping, which slowed that onset too.
- no stochastic depth (it regularises long runs; ours are short) and no augmentation (the
  scenes are procedurally varied; flips would change a digit's identity).

``RECIPES`` maps a model name to the function ``python -m minimodels.train NAME`` runs;
ViViT and VideoBERT add theirs here.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from minimodels import profiles
from minimodels.data.digitworld import (
    CANVAS_PARAMS,
    SEG_CLASSES,
    contrasting_colours,
    digit_pool,
    make_scenes,
    render_glyphs,
    sharpen_alpha,
    textured_canvas,
)
from minimodels.data.transforms import normalize, random_crop
from minimodels.metrics import confusion_matrix, mean_iou
from minimodels.train import History, TrainConfig, device_name, fit, resolve_device, sample_batches

# -----------------------------------------------------------------------------------------------
# SegFormer on DigitWorld scenes
# -----------------------------------------------------------------------------------------------


@dataclass
class SegFormerRecipe:
    """Everything that defines a reduced SegFormer run (data, model, schedule)."""

    profile: str = "cpu"
    # data: DigitWorld scenes, square, the test split uses held-out digit instances
    image_size: int = 96
    n_train: int = 4000
    n_test: int = 300
    data_seed: int = 0
    scene: dict = field(default_factory=dict)  # make_scenes keyword arguments (digits, scale, ...)
    # Cityscapes-style: train on random image_size crops of larger scenes (scene_size px,
    # crops_per_scene crops each, mmseg's RandomCrop with cat_max_ratio 0.75) and test on
    # whole scene_size scenes. None: train and test on whole image_size scenes.
    scene_size: int | None = None
    crops_per_scene: int = 4
    # model: a named variant plus SegFormerConfig overrides (e.g. decoder_dim, pos_encoding)
    variant: str = "b0"
    model_overrides: dict = field(default_factory=dict)
    # encoder pretraining on digit classification (the paper's ImageNet pretraining, in small):
    # pretrain_steps of pretrain_batch_size crops of pretrain_size px; 0 = train from scratch
    pretrain_steps: int = 0
    pretrain_batch_size: int = 64
    pretrain_size: int = 32
    pretrain_crops: int = 20000
    pretrain_lr: float = 1e-3
    pretrain_textured: float = 0.0  # share of crops on textured (not flat) backgrounds
    pretrain_plain: float = 0.3  # share of crops drawn white on black (see digit_crops)
    # optimisation (see the module docstring for why lr differs from the paper's 6e-5)
    steps: int = 1000
    batch_size: int = 16
    lr: float = 1e-3
    head_lr_mult: float = 10.0
    weight_decay: float = 0.01
    warmup_steps: int = 50
    schedule: str = "poly"
    poly_power: float = 1.0
    min_lr: float = 0.0
    grad_clip: float | None = 1.0
    amp: str = "auto"
    seed: int = 0
    log_every: int = 100
    eval_every: int = 0  # 0: evaluate only at the end
    eval_batch_size: int = 64

    def __post_init__(self):
        _check_recipe(self)

    def train_config(self, **overrides) -> TrainConfig:
        """The :class:`TrainConfig` of this recipe (``overrides`` replace its fields)."""
        return TrainConfig(**{
            "steps": self.steps, "batch_size": self.batch_size, "lr": self.lr, "weight_decay": self.weight_decay,
            "warmup_steps": self.warmup_steps, "schedule": self.schedule, "poly_power": self.poly_power,
            "min_lr": self.min_lr, "head": ("decoder.",), "head_lr_mult": self.head_lr_mult,
            "grad_clip": self.grad_clip, "amp": self.amp, "seed": self.seed, "log_every": self.log_every,
            "eval_every": self.eval_every, **overrides})


# Per profile. Every profile first pretrains the MiT encoder on digit classification (the
# paper starts from ImageNet-pretrained MiT): from random init, a transformer learns digit
# shapes from the textured scenes far too slowly for a laptop budget (measured: held-out mIoU
# ~0.15 after 1500 steps at 64px, 0.39 after 2500 steps at 96px). Measured on the cpu profile
# (2 cores): 1000 pretraining steps (half the crops on textured canvases; without them 0.63
# after fine-tuning) take under a minute, then 2000 fine-tuning steps reach held-out mIoU 0.74
# (seed 0; 0.69 for seed 1 with 1800 steps) in about 4.7 minutes in all.
# The cpu run is genuine MiT-B0 (paper dims and depths) at 96x96 with the decoder narrowed to
# C = 128 (at this input the C = 256 fuse costs as much as the encoder; the C ablation shows why
# that is fine).
_SEGFORMER_PROFILES = {
    "smoke": dict(image_size=32, n_train=16, n_test=8, steps=3, batch_size=4, warmup_steps=1, log_every=0,
                  pretrain_steps=2, pretrain_batch_size=8, pretrain_crops=32,
                  model_overrides={"decoder_dim": 32, "drop_path_rate": 0.0}),
    "cpu": dict(image_size=96, n_train=4000, n_test=300, steps=2000, batch_size=8, lr=2e-3, warmup_steps=100,
                log_every=250, eval_every=500, pretrain_steps=1000, pretrain_textured=0.5,
                model_overrides={"decoder_dim": 128, "drop_path_rate": 0.0}),
    "gpu": dict(image_size=128, n_train=8000, n_test=1000, steps=8000, batch_size=32, warmup_steps=200,
                log_every=500, eval_every=1000, eval_batch_size=128, pretrain_steps=3000, pretrain_batch_size=128,
                pretrain_textured=0.5,
                model_overrides={"decoder_dim": 256, "drop_path_rate": 0.0}),
}


def segformer_recipe(profile: str | None = None, **overrides) -> SegFormerRecipe:
    """The reduced SegFormer recipe of ``profile`` (default: the active profile), with
    ``overrides`` replacing fields; ``model_overrides`` and ``scene`` are merged into the profile's."""
    return _recipe(SegFormerRecipe, _SEGFORMER_PROFILES, profile, overrides, merged=("model_overrides", "scene"))


def _check_recipe(recipe) -> None:
    """Checks every recipe shares: a known profile, and a batch that fits the training set."""
    if recipe.profile not in profiles.PROFILES:
        raise ValueError(f"profile must be one of {profiles.PROFILES}, got {recipe.profile!r}")
    if recipe.batch_size > recipe.n_train:
        raise ValueError(f"batch_size {recipe.batch_size} is larger than n_train {recipe.n_train}")
    scene_size = getattr(recipe, "scene_size", None)
    if scene_size is not None and scene_size < recipe.image_size:
        raise ValueError(f"scene_size must be at least image_size {recipe.image_size} (crops are taken from "
                         f"the scenes), got {scene_size}")


def _recipe(cls, by_profile: dict, profile: str | None, overrides: dict, merged: tuple[str, ...]):
    """``cls`` built from ``by_profile[profile]`` (default: the active profile) with
    ``overrides`` replacing fields; the dict fields named in ``merged`` are merged instead."""
    profile = profile or profiles.current()
    if profile not in by_profile:
        raise ValueError(f"unknown profile {profile!r}; expected one of {sorted(by_profile)}")
    fields = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(overrides) - fields)
    if unknown:
        raise TypeError(f"unknown {cls.__name__} field(s) {unknown}; valid: {sorted(fields)}")
    base = dict(by_profile[profile])
    for key in merged:
        overrides[key] = {**base.pop(key, {}), **overrides.get(key, {})}
    return cls(profile=profile, **{**base, **overrides})


# The notebook's ablations (decoder width C; Mix-FFN vs learned PE) run several short trainings
# of the same recipe, so each gets a fraction of the main run's steps.
_SEGFORMER_ABLATION = {
    "smoke": dict(),
    "cpu": dict(steps=400, n_train=2000, n_test=200, eval_every=0, log_every=0),
    "gpu": dict(steps=2000, n_train=4000, n_test=500, eval_every=0, log_every=0),
}


def segformer_ablation_recipe(profile: str | None = None, **overrides) -> SegFormerRecipe:
    """A short version of the profile's recipe for ablations (same model, data and schedule
    shape; fewer steps and scenes). E.g. ``segformer_ablation_recipe(model_overrides={"decoder_dim": 32})``
    or ``model_overrides={"pos_encoding": "learned"}`` (the PE is sized for the training images)."""
    profile = profile or profiles.current()
    if profile not in _SEGFORMER_ABLATION:
        raise ValueError(f"unknown profile {profile!r}; expected one of {sorted(_SEGFORMER_ABLATION)}")
    return segformer_recipe(profile, **{**_SEGFORMER_ABLATION[profile], **overrides})


def segformer_loss(model, batch):
    """Cross entropy on logits upsampled (bilinearly) from H/4 to the label size, as the paper's
    head does; pixels labelled 255 are ignored. Images come ImageNet-normalised."""
    images, masks = batch
    logits = model(images)
    logits = F.interpolate(logits.float(), size=masks.shape[-2:], mode="bilinear", align_corners=False)
    loss = F.cross_entropy(logits, masks, ignore_index=255)
    return loss, {}


@torch.no_grad()
def predict_segformer(model, images: torch.Tensor, batch_size: int = 64) -> torch.Tensor:
    """Class maps (N, H, W) int64 for images (N, 3, H, W) in [0, 1], at the images' size: the
    images are ImageNet-normalised, the logits upsampled bilinearly from H/4 to H x W (the
    paper's test-time resize), then argmax."""
    model.eval()
    device = next(model.parameters()).device
    preds = []
    for i in range(0, len(images), batch_size):
        x = normalize(images[i:i + batch_size]).to(device)
        logits = model(x).float()
        logits = F.interpolate(logits, size=x.shape[-2:], mode="bilinear", align_corners=False)
        preds.append(logits.argmax(1).cpu())
    return torch.cat(preds) if preds else torch.empty(0, *images.shape[-2:], dtype=torch.int64)


def _window_starts(size: int, window: int, stride: int) -> list[int]:
    """Window offsets along one axis: every ``stride`` pixels, plus one flush with the far edge."""
    return sorted(set(range(0, size - window, stride)) | {size - window})


@torch.no_grad()
def predict_segformer_sliding(model, images: torch.Tensor, window: int, stride: int,
                              batch_size: int = 64) -> torch.Tensor:
    """Class maps (N, H, W) by sliding-window inference, mmseg's ``mode="slide"`` (the paper's
    Cityscapes test at the 768x768 crop size, stride 512): ``window`` x ``window`` crops every
    ``stride`` pixels (the last one flush with the edge), each crop's logits upsampled to the
    crop, overlapping logits averaged, then argmax. The model only ever sees inputs of its
    training crop size."""
    if images.ndim != 4:
        raise ValueError(f"expected images (N, 3, H, W), got shape {tuple(images.shape)}")
    H, W = images.shape[-2:]
    if not 0 < stride <= window <= min(H, W):
        raise ValueError(f"need 0 < stride <= window <= min(H, W) = {min(H, W)}; got window {window}, stride {stride}")
    model.eval()
    device = next(model.parameters()).device
    preds = []
    for i in range(0, len(images), batch_size):
        x = normalize(images[i:i + batch_size]).to(device)
        logits = torch.zeros(len(x), model.config.num_classes, H, W, device=device)
        hits = torch.zeros(1, 1, H, W, device=device)
        for top in _window_starts(H, window, stride):
            for left in _window_starts(W, window, stride):
                crop = x[..., top:top + window, left:left + window]
                out = F.interpolate(model(crop).float(), size=crop.shape[-2:], mode="bilinear", align_corners=False)
                logits[..., top:top + window, left:left + window] += out
                hits[..., top:top + window, left:left + window] += 1
        preds.append((logits / hits).argmax(1).cpu())
    return torch.cat(preds) if preds else torch.empty(0, H, W, dtype=torch.int64)


def evaluate_segformer(model, images: torch.Tensor, masks: torch.Tensor, batch_size: int = 64,
                       window: int | None = None, stride: int | None = None) -> dict:
    """mIoU of ``model`` on (images (N, 3, H, W) in [0, 1], masks (N, H, W)), at any resolution:
    ``{"miou": float, "per_class_iou": {class name: IoU}}`` over DigitWorld's 11 classes (a class
    that occurs neither in the masks nor in the predictions has IoU None and is left out of
    the mean, as in mmseg). Whole images by default; with ``window`` (and ``stride``, default
    two thirds of it, as 768/512) by :func:`predict_segformer_sliding`."""
    if images.ndim != 4 or masks.ndim != 3 or images.shape[0] != masks.shape[0] or images.shape[-2:] != masks.shape[-2:]:
        raise ValueError(f"expected images (N, 3, H, W) and masks (N, H, W) of the same N, H, W; "
                         f"got {tuple(images.shape)} and {tuple(masks.shape)}")
    was_training = model.training
    conf = torch.zeros(len(SEG_CLASSES), len(SEG_CLASSES), dtype=torch.int64)
    for i in range(0, len(images), batch_size):
        if window is None:
            pred = predict_segformer(model, images[i:i + batch_size], batch_size)
        else:
            pred = predict_segformer_sliding(model, images[i:i + batch_size], window,
                                             stride or max(1, 2 * window // 3), batch_size)
        conf += confusion_matrix(pred, masks[i:i + batch_size], num_classes=len(SEG_CLASSES)).cpu()
    model.train(was_training)
    miou, per_class = mean_iou(conf)
    per_class = [None if v != v else float(v) for v in per_class.tolist()]  # NaN (0/0) -> None
    return {"miou": float(miou), "per_class_iou": dict(zip(SEG_CLASSES, per_class))}


@dataclass
class SegFormerResult:
    """What :func:`train_segformer` returns; also readable as a dict (``result["miou"]``)."""

    model: torch.nn.Module
    miou: float  # on the held-out test scenes, at the training resolution
    per_class_iou: dict[str, float | None]
    history: History  # loss/lr per step, periodic {"step", "miou", ...} evaluations
    images_per_s: float  # training throughput
    wall_time: float  # seconds for the whole call: data, training, evaluation
    recipe: SegFormerRecipe
    device: str
    pretrain: History | None = None  # the encoder's digit-classification pretraining, if any
    pretrained_encoder: dict | None = None  # encoder weights right after pretraining (for ablations)

    def __getitem__(self, key: str):
        return getattr(self, key)

    def keys(self):
        return [f.name for f in dataclasses.fields(self)]

    def __contains__(self, key) -> bool:
        return key in self.keys()

    def metrics(self) -> dict:
        """Everything but the model, as plain JSON-able values."""
        return {"miou": self.miou, "per_class_iou": self.per_class_iou, "images_per_s": self.images_per_s,
                "wall_time_s": self.wall_time, "train_time_s": self.history.train_time,
                "steps": len(self.history.loss), "device": self.device,
                "config": dataclasses.asdict(self.recipe),
                "train_config": dataclasses.asdict(self.recipe.train_config()),
                "history": self.history.to_dict(),
                "pretrain": self.pretrain.to_dict() if self.pretrain is not None else None}


def digit_crops(n: int, size: int = 32, seed: int = 0, split: str = "train", textured: float = 0.0,
                plain: float = 0.0, max_rotation: float = 15.0, noise: float = 0.0):
    """Single handwritten digits for encoder pretraining: images (n, 3, size, size) in [0, 1],
    labels (n,) int64 in 0..9.

    Each crop is one glyph of the split's pool, 55-85% of the crop tall, up to
    ``max_rotation`` degrees rotated and a little off-centre, in a random colour whose luma
    differs from the background's by at least 0.3 - the "one object per image" task of
    ImageNet, in small. The background is flat, or for a ``textured`` fraction of the crops
    one of DigitWorld's textured canvases (gradients, stripes, checks, blobs), as behind the
    digits of a scene. A ``plain`` fraction is drawn white on black instead (the easy case
    that gets a classifier started); ``noise`` adds Gaussian pixel noise of that std.
    """
    g = torch.Generator().manual_seed(seed)
    pool = digit_pool(split)
    idx = torch.randint(0, len(pool.labels), (n,), generator=g)
    u = torch.rand(n, 8, generator=g)
    h = size * (0.55 + 0.3 * u[:, 0])
    w = h * (0.8 + 0.35 * u[:, 1])
    centers = size / 2 + (u[:, 2:4] - 0.5) * (0.2 * size)
    angles = (2 * u[:, 4] - 1) * math.radians(max_rotation)
    alpha = sharpen_alpha(render_glyphs(pool.glyphs[idx], (size, size), centers, torch.stack([w, h], 1), angles))
    background = torch.rand(n, 3, 1, 1, generator=g).expand(n, 3, size, size).clone()
    canvas_u, field = torch.rand(n, CANVAS_PARAMS, generator=g), torch.rand(n, 3, 4, 4, generator=g)
    rows = (u[:, 6] < textured).nonzero().flatten()
    if len(rows):
        background[rows] = textured_canvas(canvas_u[rows], field[rows], (size, size))
    ink = contrasting_colours(torch.rand(n, 3, generator=g), u[:, 5], background.mean((2, 3)), min_contrast=0.3)
    easy = (u[:, 7] < plain).nonzero().flatten()
    background[easy], ink[easy] = 0.0, 1.0
    a = alpha.unsqueeze(1)
    images = background * (1 - a) + ink.view(n, 3, 1, 1) * a
    if noise > 0:
        images = (images + noise * torch.randn(images.shape, generator=g)).clamp(0, 1)
    return images, pool.labels[idx]


class EncoderClassifier(nn.Module):
    """A SegFormer encoder with a classification head: global average pooling of the last
    stage and a Linear - how MiT is pretrained on ImageNet before segmentation."""

    def __init__(self, encoder: nn.Module, num_classes: int = 10):
        super().__init__()
        self.encoder = encoder
        self.head = nn.Linear(encoder.config.embed_dims[-1], num_classes)

    def forward(self, images):
        return self.head(self.encoder(images)[-1].mean((2, 3)))


def _classification_loss(model, batch):
    images, labels = batch
    logits = model(images)
    return F.cross_entropy(logits, labels), {"acc": (logits.argmax(1) == labels).float().mean()}


def pretrain_encoder(model, recipe: SegFormerRecipe, log=print, progress: bool = False) -> History:
    """Pretrain ``model.encoder`` in place on digit classification (:func:`digit_crops`) for
    ``recipe.pretrain_steps`` steps; the history's eval holds the accuracy on held-out digits."""
    log = log or (lambda line: None)
    images, labels = digit_crops(recipe.pretrain_crops, recipe.pretrain_size, seed=recipe.data_seed, split="train",
                                 textured=recipe.pretrain_textured, plain=recipe.pretrain_plain)
    n_test = max(100, min(1000, recipe.pretrain_crops // 5))
    test_images, test_labels = digit_crops(n_test, recipe.pretrain_size, seed=recipe.data_seed + 1, split="test",
                                           textured=recipe.pretrain_textured)
    images, test_images = normalize(images), normalize(test_images)
    classifier = EncoderClassifier(model.encoder)
    config = TrainConfig(steps=recipe.pretrain_steps, batch_size=recipe.pretrain_batch_size, lr=recipe.pretrain_lr,
                         weight_decay=0.05, warmup_steps=min(50, recipe.pretrain_steps // 10), grad_clip=None,
                         amp=recipe.amp, seed=recipe.seed, progress=progress)
    log(f"pretraining the encoder on digit classification: {recipe.pretrain_steps} steps x "
        f"{recipe.pretrain_batch_size} crops of {recipe.pretrain_size}px")

    def evaluate(m):
        device = next(m.parameters()).device
        logits = torch.cat([m(test_images[i:i + 500].to(device)).float().cpu() for i in range(0, len(test_images), 500)])
        return {"acc": (logits.argmax(1) == test_labels).float().mean()}

    history = fit(classifier, sample_batches(images, labels, batch_size=recipe.pretrain_batch_size, seed=recipe.seed),
                  _classification_loss, config, evaluate=evaluate, log=log)
    return history


def make_segformer(recipe: SegFormerRecipe, encoder: dict | None = None):
    """The recipe's model, initialised from ``recipe.seed``; ``encoder``: a state dict (e.g.
    ``result.pretrained_encoder``) to start the encoder from. A learned positional encoding
    (``pos_encoding="learned"``) is sized for the training images unless ``pe_size`` is given."""
    from minimodels.segformer import SegFormer

    overrides = dict(recipe.model_overrides)
    if overrides.get("pos_encoding") == "learned":
        overrides.setdefault("pe_size", (recipe.image_size, recipe.image_size))
    torch.manual_seed(recipe.seed)
    model = SegFormer.from_variant(recipe.variant, num_classes=len(SEG_CLASSES), **overrides)
    if encoder is not None:
        model.encoder.load_state_dict(encoder)
    return model


def segformer_data(recipe: SegFormerRecipe, split: str, size: int | None = None, n: int | None = None):
    """DigitWorld scenes for ``split`` at ``size`` (default: the recipe's image size), ``n`` of
    them (default: the recipe's ``n_train`` / ``n_test``).

    With ``recipe.scene_size`` (and no ``size``), the split is what a Cityscapes run sees:
    training samples are random ``image_size`` crops, ``crops_per_scene`` from each scene of
    ``scene_size`` px (mmseg's ``RandomCrop``, ``cat_max_ratio=0.75``: a crop is redrawn while
    one class fills more than 75% of it), and test samples are whole ``scene_size`` scenes."""
    n = n if n is not None else (recipe.n_train if split == "train" else recipe.n_test)
    if recipe.scene_size is None or size is not None:
        return make_scenes(n, size or recipe.image_size, seed=recipe.data_seed, split=split, **recipe.scene)
    if split != "train":
        return make_scenes(n, recipe.scene_size, seed=recipe.data_seed, split=split, **recipe.scene)
    k = recipe.crops_per_scene
    images, masks = make_scenes(-(-n // k), recipe.scene_size, seed=recipe.data_seed, split=split, **recipe.scene)
    g = torch.Generator().manual_seed(recipe.data_seed)
    crops = [random_crop(images[i // k], masks[i // k], recipe.image_size, cat_max_ratio=0.75, generator=g)
             for i in range(n)]
    return torch.stack([c[0] for c in crops]), torch.stack([c[1] for c in crops])


def train_segformer(recipe: SegFormerRecipe | None = None, out_dir=None, progress: bool = False, log=print,
                    resume: bool = False, model=None) -> SegFormerResult:
    """Train SegFormer on DigitWorld scenes with ``recipe`` and evaluate it on held-out scenes.

    1. data: ``n_train`` training and ``n_test`` held-out test scenes (``segformer_data``);
    2. model: ``make_segformer(recipe)``, its encoder pretrained on digit classification for
       ``recipe.pretrain_steps`` steps (``pretrain_encoder``; skipped when resuming);
    3. segmentation training with :func:`minimodels.train.fit`, evaluated every ``eval_every``
       steps and at the end (``evaluate_segformer``).

    out_dir: if given, a checkpoint is kept in ``out_dir/checkpoint.pt`` (every ``eval_every``
    steps and at the end); with ``resume`` the run continues from it. log: where log lines go
    (``None``: silent). model: train this SegFormer instead (e.g. one whose encoder was
    pretrained before, see ``make_segformer(recipe, encoder=...)``); it is not pretrained again.
    """
    t0 = time.perf_counter()
    recipe = recipe or segformer_recipe()
    log = log or (lambda line: None)
    train_images, train_masks = segformer_data(recipe, "train")
    train_images = normalize(train_images)  # once, up front (test images are normalised in evaluation)
    test_images, test_masks = segformer_data(recipe, "test")
    checkpoint = str(Path(out_dir) / "checkpoint.pt") if out_dir is not None else None
    config = recipe.train_config(progress=progress, checkpoint=checkpoint, checkpoint_every=recipe.eval_every)
    resuming = resume and checkpoint is not None and Path(checkpoint).exists()
    pretrain, pretrained_encoder = None, None
    if model is None:
        model = make_segformer(recipe)
        n_params = sum(p.numel() for p in model.parameters())
        log(f"SegFormer-{recipe.variant.upper()} ({n_params / 1e6:.2f}M params, C={model.config.decoder_dim}), "
            f"{recipe.n_train} train / {recipe.n_test} test scenes at {recipe.image_size}px, "
            f"device {device_name(config.device)}")
        if recipe.pretrain_steps and not resuming:
            learned_pe = model.config.pos_encoding == "learned"
            if learned_pe:  # the PE is trained at the pretraining grid, then resampled once (ViT practice)
                pe_size = model.config.pe_size
                model.encoder.resize_positional_embeddings(recipe.pretrain_size, recipe.pretrain_size)
            pretrain = pretrain_encoder(model, recipe, log=log, progress=progress)
            if learned_pe:
                model.encoder.resize_positional_embeddings(*pe_size)
            pretrained_encoder = {k: v.detach().clone() for k, v in model.encoder.state_dict().items()}
    log(f"segmentation: {recipe.steps} steps x {recipe.batch_size} scenes, lr {recipe.lr:g} "
        f"(head x{recipe.head_lr_mult:g}), {recipe.schedule} schedule")

    def evaluate(m):
        return evaluate_segformer(m, test_images, test_masks, recipe.eval_batch_size)

    history = fit(model, sample_batches(train_images, train_masks, batch_size=recipe.batch_size, seed=recipe.seed),
                  segformer_loss, config, evaluate=evaluate, resume=resume, log=log)
    final = history.evals[-1]
    return SegFormerResult(model=model, miou=final["miou"], per_class_iou=final["per_class_iou"], history=history,
                           images_per_s=history.samples_per_s, wall_time=time.perf_counter() - t0,
                           recipe=recipe, device=device_name(resolve_device(config.device)), pretrain=pretrain,
                           pretrained_encoder=pretrained_encoder)


def run_segformer(profile: str | None = None, out_dir=None, resume: bool = False, progress: bool = False,
                  **overrides) -> dict:
    """``python -m minimodels.train segformer``: train with the profile's recipe, return the metrics."""
    recipe = segformer_recipe(profile, **overrides)
    result = train_segformer(recipe, out_dir=out_dir, progress=progress, resume=resume)
    return result.metrics()


# model name -> function(profile, out_dir, resume, progress, **recipe overrides) -> metrics dict
RECIPES = {"segformer": run_segformer}


# -----------------------------------------------------------------------------------------------
# ViViT on DigitWorld motion videos
# -----------------------------------------------------------------------------------------------
#
# ViViT (:func:`vivit_recipe`, :func:`train_vivit`) classifies DigitWorld motion videos
# (``minimodels.data.motion``): a handwritten digit moving left/right, up/down, turning
# clockwise/anticlockwise, zooming in/out, bouncing to rest/from rest - ten classes in five
# time-reversal pairs, so a single frame, or the average of the frames, cannot tell the two
# classes of a pair apart. Test videos are drawn with digit instances never seen in training.
# Like the paper, a run has two stages:
#
# 1. **Image pretraining** (the paper: ViT on ImageNet-21K/JFT). A small image ViT of the
#    video model's width, depth, heads and patch size classifies single handwritten digits
#    (:func:`digit_crops`, on flat and textured backgrounds) for ``pretrain_steps`` steps
#    (:func:`pretrain_image_vit`); ``init_from_image`` copies it into the ViViT: positions tiled
#    over time, the tubelet kernel by ``tubelet_init`` ("central" frame, filter "inflate", or
#    "random"), the paper's Section 3.4.
# 2. **Video training** on motion videos: AdamW, linear warm-up and cosine decay (the paper: SGD
#    with momentum and a cosine schedule), horizontal flips with mirrored labels (a flip turns
#    "move left" into "move right" and clockwise into anticlockwise, ``mirror_labels``); label
#    smoothing, mixup, stochastic depth (``model_overrides["drop_path_rate"]``) and time reversal
#    (``time_reverse``: a video played backwards, labelled with its pair's partner class) are there
#    and off by default. Pixels go in as scenic's [-1, 1].
#
# Profiles: ``smoke`` checks the wiring in seconds; ``cpu`` is a ViViT narrower and shallower
# than ViT-Ti (d = 64, 4 layers, 4 heads, MLP 256) on 16 frames of 32x32 with 2x8x8 tubelets
# (8 x 4 x 4 = 128 tokens): image pretraining and 1000 video steps take a few minutes on two cores and
# reach about 0.93 top-1 on held-out videos; ``gpu`` is a Ti-wide model (d = 192, 8 layers) on 32
# frames of 64x64 with a longer schedule.
#
# What differs from the paper's recipe (ViT-B/L, 32 frames of 224x224, 30 epochs of Kinetics,
# SGD with momentum at lr 0.1, batch 64, the official init N(0, 0.02)), and why:
#
# - everything is shrunk to a laptop's budget, and AdamW at lr 2e-3 replaces SGD: a few hundred
#   steps must move a freshly pretrained small model a long way;
# - ``init_std``: the official 0.02 is made for d = 768; at d = 64 it leaves a model stuck at chance
#   for hundreds of steps (see :func:`reinit_weights`), so the cpu model draws its weights with
#   std 1/sqrt(d);
# - no RandAugment or colour jitter: every training video is a fresh procedural draw.

from minimodels.data.motion import DIRECTION_PAIRS, MIRROR_CLASS, MOTION_CLASSES, make_motion_videos  # noqa: E402
from minimodels.vivit import (  # noqa: E402
    TEMPORAL_ATTENTION_INITS,
    TUBELET_INITS,
    ViT,
    ViViT,
    init_from_image,
    parse_variant,
)


@dataclass
class ViViTRecipe:
    """Everything that defines a reduced ViViT run (data, image pretraining, model, schedule)."""

    profile: str = "cpu"
    # data: DigitWorld motion videos (N, 3, T, H, W); the test split uses held-out digit instances
    num_frames: int = 16
    image_size: int = 32
    n_train: int = 4000
    n_test: int = 500
    data_seed: int = 0
    video: dict = field(default_factory=dict)  # make_motion_videos keyword arguments (distractors, noise, ...)
    flip: bool = True  # random horizontal flips during training, labels mirrored (mirror_labels)
    time_reverse: bool = False  # random time reversal during training, labels -> the pair's partner class
    # model: "SIZE/PxT" (backbone, P x P patches, tubelets of T frames), ViViT Model 1..4, and
    # ViViTConfig overrides (hidden_dim, depth, num_heads, mlp_dim, temporal_layers, drop_path_rate, ...)
    variant: str = "Ti/8x2"
    model: int = 1
    model_overrides: dict = field(default_factory=dict)
    # image pretraining on digit classification (the paper's ImageNet-pretrained ViT, in small);
    # 0 steps: the ViViT starts from random weights
    pretrain_steps: int = 800
    pretrain_batch_size: int = 64
    pretrain_crops: int = 10000
    pretrain_lr: float = 2e-3
    pretrain_textured: float = 0.5  # share of crops on textured backgrounds (see digit_crops)
    tubelet_init: str = "central"  # "central" | "inflate" | "random" (init_from_image)
    temporal_attention_init: str = "zero_output"  # Model 3: "zero_output" | "zero" | "copy" (init_from_image)
    # std of the truncated-normal init of every Linear and patch/tubelet kernel (see reinit_weights);
    # None: the official 0.02, made for d = 768
    init_std: float | None = None
    # optimisation
    steps: int = 1000
    batch_size: int = 32
    lr: float = 2e-3
    weight_decay: float = 0.05
    warmup_steps: int = 40
    schedule: str = "cosine"
    min_lr: float = 0.0
    label_smoothing: float = 0.0
    mixup: float = 0.0  # alpha of mixup's Beta(alpha, alpha); 0: off
    grad_clip: float | None = 1.0
    amp: str = "auto"
    seed: int = 0
    log_every: int = 100
    eval_every: int = 0  # 0: evaluate only at the end
    eval_batch_size: int = 100

    def __post_init__(self):
        _check_recipe(self)
        if self.tubelet_init not in TUBELET_INITS:
            raise ValueError(f"tubelet_init must be one of {TUBELET_INITS}, got {self.tubelet_init!r}")
        if self.temporal_attention_init not in TEMPORAL_ATTENTION_INITS:
            raise ValueError(f"temporal_attention_init must be one of {TEMPORAL_ATTENTION_INITS}, "
                             f"got {self.temporal_attention_init!r}")
        if self.model not in (1, 2, 3, 4):
            raise ValueError(f"model must be a ViViT model number 1..4, got {self.model!r}")
        _, patch, t = parse_variant(self.variant)
        if self.num_frames % t or self.image_size % patch:
            raise ValueError(f"num_frames x image_size = {self.num_frames} x {self.image_size} must be divisible "
                             f"by the tubelet of {self.variant!r}: {t} frames x {patch}x{patch} px")
        if self.mixup < 0 or not 0 <= self.label_smoothing < 1:
            raise ValueError(f"need mixup >= 0 and 0 <= label_smoothing < 1, got {self.mixup}, {self.label_smoothing}")

    def train_config(self, **overrides) -> TrainConfig:
        """The :class:`TrainConfig` of this recipe (``overrides`` replace its fields)."""
        return TrainConfig(**{
            "steps": self.steps, "batch_size": self.batch_size, "lr": self.lr, "weight_decay": self.weight_decay,
            "warmup_steps": self.warmup_steps, "schedule": self.schedule, "min_lr": self.min_lr,
            "grad_clip": self.grad_clip, "amp": self.amp, "seed": self.seed, "log_every": self.log_every,
            "eval_every": self.eval_every, **overrides})


# Per profile. The cpu model: ViT-Ti's shape (pre-LN blocks, MLP 4d) at d = 64, 4 layers, 4 heads
# (Model 4 splits the heads in two halves, so their number is even; Ti has 3).
_VIVIT_CPU_MODEL = {"hidden_dim": 64, "depth": 4, "num_heads": 4, "mlp_dim": 256}
_VIVIT_PROFILES = {
    "smoke": dict(num_frames=8, image_size=16, n_train=16, n_test=10, steps=3, batch_size=4, warmup_steps=1,
                  log_every=0, pretrain_steps=2, pretrain_batch_size=8, pretrain_crops=32, variant="Ti/8x2",
                  init_std=0.25, model_overrides={"hidden_dim": 16, "depth": 1, "num_heads": 2, "mlp_dim": 32}),
    "cpu": dict(num_frames=16, image_size=32, n_train=4000, n_test=500, steps=1000, batch_size=32, lr=2e-3,
                warmup_steps=40, log_every=100, eval_every=200, pretrain_steps=800, pretrain_lr=2e-3, variant="Ti/8x2",
                init_std=0.125, model_overrides=dict(_VIVIT_CPU_MODEL)),
    "gpu": dict(num_frames=32, image_size=64, n_train=10000, n_test=2000, steps=3000, batch_size=64, lr=1e-3,
                warmup_steps=150, log_every=250, eval_every=1000, eval_batch_size=200, pretrain_steps=2000,
                pretrain_batch_size=128, pretrain_crops=30000, variant="Ti/8x2", init_std=0.072,
                model_overrides={"hidden_dim": 192, "depth": 8, "num_heads": 4, "mlp_dim": 768, "drop_path_rate": 0.1}),
}


def vivit_recipe(profile: str | None = None, **overrides) -> ViViTRecipe:
    """The reduced ViViT recipe of ``profile`` (default: the active profile), with ``overrides``
    replacing fields; ``model_overrides`` and ``video`` are merged into the profile's."""
    return _recipe(ViViTRecipe, _VIVIT_PROFILES, profile, overrides, merged=("model_overrides", "video"))


# The notebook's ablations (tubelet init, tubelet size, Models 1-4, L_t, ...) run many short
# trainings of the same recipe, so each gets a fraction of the main run's steps.
_VIVIT_ABLATION = {
    "smoke": dict(),
    "cpu": dict(steps=150, log_every=0, eval_every=0),
    "gpu": dict(steps=1000, log_every=0, eval_every=0),
}


def vivit_ablation_recipe(profile: str | None = None, **overrides) -> ViViTRecipe:
    """A short version of the profile's recipe for ablations (same model, data and schedule shape,
    fewer steps), e.g. ``vivit_ablation_recipe(model=2, model_overrides={"temporal_layers": 0})``."""
    profile = profile or profiles.current()
    if profile not in _VIVIT_ABLATION:
        raise ValueError(f"unknown profile {profile!r}; expected one of {sorted(_VIVIT_ABLATION)}")
    return vivit_recipe(profile, **{**_VIVIT_ABLATION[profile], **overrides})


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
    """Motion videos (N, 3, T, H, W) in [0, 1] and labels (N,) for ``split`` (default size: the recipe's)."""
    n = n if n is not None else (recipe.n_train if split == "train" else recipe.n_test)
    return make_motion_videos(n, num_frames or recipe.num_frames, size or recipe.image_size, seed=recipe.data_seed,
                              split=split, **recipe.video)


_VIT_FIELDS = ("hidden_dim", "depth", "num_heads", "mlp_dim", "dropout", "attention_dropout", "drop_path_rate",
               "layer_norm_eps", "gelu_approximate", "qkv_bias")


def reinit_weights(model: nn.Module, std: float | None) -> nn.Module:
    """Re-draw every Linear and patch/tubelet kernel but the head's from a truncated normal of
    ``std`` (biases, norms, positions, CLS tokens and the head keep their init, so the first
    loss is still ln(classes)); ``None`` leaves the model as it is.

    The official init (std 0.02) suits ViT-B: 0.02 is about 0.55 / sqrt(768). In a model 12 times
    narrower every block then starts as an almost exact identity (each Linear shrinks its input
    about 6-fold), and on our videos training sits at chance for hundreds of steps - measured: a
    d = 64 Model 1 from scratch still at ln(10) after 150 steps with 0.02, at 2.07 with
    1 / sqrt(64) = 0.125."""
    if std is None:
        return model
    for name, m in model.named_modules():
        if isinstance(m, (nn.Linear, nn.Conv2d, nn.Conv3d)) and name != "head":  # head: 0.02, logits near 0
            nn.init.trunc_normal_(m.weight, std=std, a=-2 * std, b=2 * std)
    return model


def make_image_vit(recipe: ViViTRecipe) -> ViT:
    """The image ViT the recipe's ViViT is initialised from: same width, depth, heads and patch
    size, for single ``image_size`` frames, with a 10-way digit head."""
    size, patch, _ = parse_variant(recipe.variant)
    overrides = {k: v for k, v in recipe.model_overrides.items() if k in _VIT_FIELDS}
    torch.manual_seed(recipe.seed)
    vit = ViT.from_variant(f"{size}/{patch}", num_classes=10, image_size=recipe.image_size, **overrides)
    return reinit_weights(vit, recipe.init_std)


def pretrain_image_vit(recipe: ViViTRecipe, log=print, progress: bool = False) -> tuple[ViT, History]:
    """Train :func:`make_image_vit` on digit classification (:func:`digit_crops` at the video's
    frame size) for ``recipe.pretrain_steps`` steps: the stand-in for the paper's
    ImageNet-pretrained ViT. Returns the ViT and its history (eval: accuracy on held-out digits)."""
    log = log or (lambda line: None)
    vit = make_image_vit(recipe)
    images, labels = digit_crops(recipe.pretrain_crops, recipe.image_size, seed=recipe.data_seed, split="train",
                                 textured=recipe.pretrain_textured)
    n_test = max(100, min(1000, recipe.pretrain_crops // 5))
    test_images, test_labels = digit_crops(n_test, recipe.image_size, seed=recipe.data_seed + 1, split="test",
                                           textured=recipe.pretrain_textured)
    images, test_images = scale_pixels(images), scale_pixels(test_images)
    config = TrainConfig(steps=recipe.pretrain_steps, batch_size=recipe.pretrain_batch_size, lr=recipe.pretrain_lr,
                         weight_decay=0.05, warmup_steps=min(20, recipe.pretrain_steps // 10), schedule="cosine",
                         grad_clip=1.0, amp=recipe.amp, seed=recipe.seed, progress=progress)
    n_params = sum(p.numel() for p in vit.parameters())
    log(f"image pretraining: ViT ({n_params / 1e3:.0f}k params) on digit classification, "
        f"{recipe.pretrain_steps} steps x {recipe.pretrain_batch_size} crops of {recipe.image_size}px")

    def evaluate(m):
        device = next(m.parameters()).device
        logits = torch.cat([m(test_images[i:i + 500].to(device)).float().cpu()
                            for i in range(0, len(test_images), 500)])
        return {"acc": (logits.argmax(1) == test_labels).float().mean()}

    history = fit(vit, sample_batches(images, labels, batch_size=recipe.pretrain_batch_size, seed=recipe.seed),
                  _classification_loss, config, evaluate=evaluate, log=log)
    return vit.cpu(), history


def make_vivit(recipe: ViViTRecipe, image_vit=None) -> ViViT:
    """The recipe's ViViT (10 motion classes), initialised from ``recipe.seed``; with ``image_vit``
    (a ViT or its state dict) initialised from it by ``init_from_image`` with the recipe's
    ``tubelet_init`` and ``temporal_attention_init``."""
    torch.manual_seed(recipe.seed)
    model = ViViT.from_variant(recipe.variant, model=recipe.model, num_classes=len(MOTION_CLASSES),
                               num_frames=recipe.num_frames, image_size=recipe.image_size,
                               class_names=MOTION_CLASSES, **recipe.model_overrides)
    reinit_weights(model, recipe.init_std)
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


def evaluate_vivit(model, videos: torch.Tensor, labels: torch.Tensor, batch_size: int = 100) -> dict:
    """:func:`motion_metrics` of ``model`` on motion videos (N, 3, T, H, W) in [0, 1] and labels (N,)."""
    if videos.ndim != 5 or len(videos) != len(labels):
        raise ValueError(f"expected videos (N, 3, T, H, W) and labels (N,), got {tuple(videos.shape)} and "
                         f"{tuple(labels.shape)}")
    return motion_metrics(predict_vivit(model, videos, batch_size), labels)


@dataclass
class ViViTResult:
    """What :func:`train_vivit` returns; also readable as a dict (``result["acc"]``)."""

    model: torch.nn.Module
    acc: float  # top-1 on the held-out test videos
    per_class_acc: dict[str, float | None]
    type_acc: float  # the motion type (the pair) right
    direction_acc: float  # the true class above its time-reversed partner (0.5: chance)
    pair_direction_acc: dict[str, float | None]
    history: History  # loss/lr/acc per step, periodic {"step", "acc", ...} evaluations
    clips_per_s: float  # training throughput
    wall_time: float  # seconds for the whole call: data, pretraining, training, evaluation
    recipe: ViViTRecipe
    device: str
    pretrain: History | None = None  # the image ViT's digit-classification pretraining, if run here
    image_vit: dict | None = None  # its weights (a state dict), to initialise other ViViTs from

    def __getitem__(self, key: str):
        return getattr(self, key)

    def keys(self):
        return [f.name for f in dataclasses.fields(self)]

    def __contains__(self, key) -> bool:
        return key in self.keys()

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
                "train_config": dataclasses.asdict(self.recipe.train_config()),
                "history": self.history.to_dict(),
                "pretrain": self.pretrain.to_dict() if self.pretrain is not None else None}


def train_vivit(recipe: ViViTRecipe | None = None, model=None, image_vit=None, log=print, progress: bool = False,
                out_dir=None, resume: bool = False, data=None) -> ViViTResult:
    """Train ViViT on motion videos with ``recipe`` and evaluate it on held-out test videos.

    1. data: ``n_train`` training and ``n_test`` test videos (:func:`vivit_data`), or ``data`` =
       ((train videos, labels), (test videos, labels)) in [0, 1] to reuse them across runs;
    2. model: ``make_vivit(recipe)`` initialised from an image ViT - ``image_vit`` (a ViT or
       state dict) if given, else one pretrained here for ``recipe.pretrain_steps`` steps
       (:func:`pretrain_image_vit`; none when 0 or resuming);
    3. training with :func:`minimodels.train.fit` and :func:`vivit_loss`, evaluated every
       ``eval_every`` steps and at the end (:func:`evaluate_vivit`).

    model: train this ViViT instead (nothing is pretrained). out_dir: keep a checkpoint in
    ``out_dir/checkpoint.pt`` (every ``eval_every`` steps and at the end); with ``resume`` the run
    continues from it. log: where log lines go (``None``: silent).
    """
    t0 = time.perf_counter()
    recipe = recipe or vivit_recipe()
    log = log or (lambda line: None)
    if data is None:
        data = (vivit_data(recipe, "train"), vivit_data(recipe, "test"))
    (train_videos, train_labels), (test_videos, test_labels) = data
    train_videos = scale_pixels(train_videos)  # once, up front (test videos are scaled in evaluation)
    checkpoint = str(Path(out_dir) / "checkpoint.pt") if out_dir is not None else None
    config = recipe.train_config(progress=progress, checkpoint=checkpoint, checkpoint_every=recipe.eval_every)
    resuming = resume and checkpoint is not None and Path(checkpoint).exists()
    pretrain, given = None, model is not None
    if model is None:
        if image_vit is None and recipe.pretrain_steps and not resuming:
            vit, pretrain = pretrain_image_vit(recipe, log=log, progress=progress)
            image_vit = {k: v.detach().clone() for k, v in vit.state_dict().items()}
        elif isinstance(image_vit, nn.Module):
            image_vit = {k: v.detach().clone() for k, v in image_vit.state_dict().items()}
        model = make_vivit(recipe, image_vit if not resuming else None)
    n_params = sum(p.numel() for p in model.parameters())
    c = model.config
    init = ("the given weights" if given else f"{recipe.tubelet_init} tubelet init from the image ViT"
            if image_vit is not None else "random init")
    log(f"ViViT Model {c.model} {recipe.variant} d={c.hidden_dim} L={c.depth} ({n_params / 1e3:.0f}k params, {init}), "
        f"{len(train_labels)} train / {len(test_labels)} test videos of {recipe.num_frames}x{recipe.image_size}px, "
        f"device {device_name(config.device)}")
    log(f"video training: {recipe.steps} steps x {recipe.batch_size} clips, lr {recipe.lr:g}, {recipe.schedule}")

    def evaluate(m):
        return evaluate_vivit(m, test_videos, test_labels, recipe.eval_batch_size)

    history = fit(model, sample_batches(train_videos, train_labels, batch_size=recipe.batch_size, seed=recipe.seed),
                  vivit_loss(recipe), config, evaluate=evaluate, resume=resume, log=log)
    final = history.evals[-1]
    return ViViTResult(model=model, acc=final["acc"], per_class_acc=final["per_class_acc"], type_acc=final["type_acc"],
                       direction_acc=final["direction_acc"], pair_direction_acc=final["pair_direction_acc"],
                       history=history, clips_per_s=history.samples_per_s, wall_time=time.perf_counter() - t0,
                       recipe=recipe, device=device_name(resolve_device(config.device)), pretrain=pretrain,
                       image_vit=image_vit if isinstance(image_vit, dict) else None)


def run_vivit(profile: str | None = None, out_dir=None, resume: bool = False, progress: bool = False,
              **overrides) -> dict:
    """``python -m minimodels.train vivit``: train with the profile's recipe, return the metrics."""
    recipe = vivit_recipe(profile, **overrides)
    result = train_vivit(recipe, out_dir=out_dir, progress=progress, resume=resume)
    return result.metrics()


RECIPES["vivit"] = run_vivit


def run_videobert(profile: str | None = None, out_dir=None, resume: bool = False, progress: bool = False,
                  **overrides) -> dict:
    """``python -m minimodels.train videobert``: see :mod:`minimodels.recipes_videobert`."""
    from minimodels.recipes_videobert import run_videobert as run

    return run(profile, out_dir=out_dir, resume=resume, progress=progress, **overrides)


RECIPES["videobert"] = run_videobert
