"""VideoBERT's reduced pipeline on DigitWorld how-to videos: the runs notebooks 05-06 make.

The paper's pipeline, each stage a function here:

1. **Clip features** (:func:`train_s3d`, :func:`clip_features`). An S3D-style network is
   trained supervised on a label space disjoint from the one zero-shot classification is
   scored on - as S3D was trained on Kinetics' classes, not YouCook2's verbs and nouns: the
   motion videos' ten classes (:func:`motion_clips`), with the moving digit's glyph as a
   second, lighter task. Its spatial convolutions start from an image model that tells
   ``EXEMPLARS`` glyphs apart (:func:`pretrain_s3d_on_digits`; every ``SepConv3d`` spatial
   kernel is a 2D convolution, so an S3D run on one-frame clips *is* an image CNN), as the
   real S3D starts from ImageNet Inception weights. Pooled activations before the classifier
   are the clip features. ``clip_labels="verb_noun"`` trains it on the how-to videos' own
   verbs and nouns instead (``s3d_videos`` of another seed; images: digit names) - a shortcut
   the paper does not take, kept as a measured arm (``ZERO_SHOT_ARMS``, with the other one:
   the probe sentence inside the narration, ``howto["probe_in_narration"]``).
2. **Visual words** (:func:`fit_visual_words`): hierarchical k-means on the training
   videos' clip features; every clip becomes a leaf id.
3. **Pre-training** (:func:`train_videobert`): each ASR sentence with the visual words
   under its time span (``segments_from_video``), the three regimes mixed, the two
   augmentations (sentence concatenation, video-token subsampling), masked modelling plus
   linguistic-visual alignment.
4. **Zero-shot classification** (:func:`zero_shot_eval`) on held-out videos' steps with the
   template "now let me show you how to [MASK] the [MASK]" - a sentence the narration never
   contains - against the language prior (the template without video).

What differs from the paper, and why (the notebooks say it again where it shows):

- the world is small: 9 verbs x 10 nouns, 32x32 clips of 8 frames at 4 fps (2 s; the
  paper: 30 frames at 20 fps, 1.5 s), a few hundred videos (the paper: 312K);
- the visual vocabulary is 12^2 = 144 words (d = 2, k = 12), not 12^4 = 20,736: a
  vocabulary bigger than the number of training clips would leave most words unseen;
- a compact BERT trained from scratch on the narration, not BERT-large from Google's
  checkpoint (``VideoBert.from_bert`` + ``minimodels.hf.load_bert`` do that for anyone
  who has the weights); AdamW at lr 2e-3, not 1e-5 (measured over seeds 0-2, with the clip
  network then trained on the verbs and nouns: at 1e-3 the masked verb starts to use the video so
  late that one seed of three ended below 80% top-5; at 2e-3 all three had crossed 80% top-5 on
  verbs and nouns by step 1200 of 1600 and ended above 90%);
- the cpu profile draws flat counters (``howto["textured"] = 0``): on textured ones the
  small clip network needs several times the steps to start naming digits;
- the mix of regimes leans on video-text (0.1 / 0.1 / 0.8, negatives 0.2, concatenation 0.3;
  the paper gives none of these numbers), batches of 128, no dropout, video subsampling with a
  stride of 1-3 (the paper: 1-5; our steps are only 2-4 clips long, so 4 and 5 would leave one
  visual word of most sentences), and the BERT is text-pretrained first.
  Measured: a from-scratch BERT on an even mix (1 / 1 / 2, negatives 0.5, batch 64) fills the
  template from the text alone - zero-shot equal to the language prior - for 3000 steps and more;
  the masked verb or noun starts to use the video only after a long plateau, whose length varies
  with the seed. With the text BERT first and this mix, it leaves the plateau within ~1000 steps.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F

from minimodels import profiles
from minimodels.bert import Bert, variant_config
from minimodels.captioner import Captioner, CaptionerConfig
from minimodels.data.howto import (
    CAPTION_TEMPLATE, NOUNS, VERBS, ZERO_SHOT_TEMPLATE, HowToVideo, clips, make_howto_videos, make_vocab,
)
from minimodels.data.digitworld import digit_crops, digit_pool
from minimodels.data.motion import NUM_MOTION_CLASSES, make_motion_videos
from minimodels.kmeans import HierarchicalKMeans
from minimodels.layers import count_params
from minimodels.metrics import bleu4, ranking_metrics
from minimodels.recipes.common import (
    build_recipe,
    cache_path,
    check_out_dir,
    check_recipe,
    classify_digits,
    digit_task,
    run_identity,
    stage_config,
)
from minimodels.s3d import S3D
from minimodels.tokens import Vocab, tokenize
from minimodels.train import History, TrainConfig, fit, load_checkpoint, sample_batches, save_checkpoint
from minimodels.videobert import (
    IGNORE_INDEX,
    VideoBert, build_inputs, make_pretraining_batch, segments_from_video, videobert_loss, zero_shot_verb_noun,
)

NUM_VERBS, NUM_NOUNS = len(VERBS), len(NOUNS)
# what the clip network learns to name: the evaluation's verbs and nouns (the shortcut), or labels
# disjoint from them (motion classes; for its image pretraining, which glyph a digit is, not its name)
CLIP_LABELS = ("verb_noun", "motion")
# "motion": the image pretraining tells apart this many glyphs of the training pool (exemplars, each
# its own class whatever digit it is: Dosovitskiy et al. 2014) - shape without a digit's name
EXEMPLARS = 200
# "motion": the glyph loss's weight next to the motion classes' while the clips train. It decides what
# the visual words carry: measured (cpu, seed 0, held-out clips named by their word's majority), weight
# 0.03 / 0.05 / 0.1 / 0.3 / 1 gave verb purity 0.75 / 0.60 / 0.48 / 0.29 / 0.23 and noun purity 0.32 /
# 0.38 / 0.47 / 0.53 / 0.59; 0.1 is where the two meet
GLYPH_WEIGHT = 0.1
# "motion": as many motion clips as the labelled how-to videos hold on average (4 steps x 3 clips at cpu)
MOTION_CLIPS_PER_VIDEO = 12


@dataclass
class VideoBertRecipe:
    """Everything that defines a reduced VideoBERT run (data, clip network, k-means, BERT, schedule)."""

    profile: str = "cpu"
    # data: narrated how-to videos (minimodels.data.howto); make_howto_videos keyword arguments in `howto`
    n_s3d: int = 400  # labelled videos (another seed) to train the clip network on
    n_train: int = 600  # narrated videos for k-means and VideoBERT pre-training
    n_test: int = 150  # held-out videos (digit instances never seen): zero-shot evaluation
    n_pretrain: int | None = None  # VideoBERT pre-trains on the first n_pretrain of them (None: all; Table 2)
    data_seed: int = 0
    howto: dict = field(default_factory=dict)
    # clip network: what it is trained to name (CLIP_LABELS): "motion", a disjoint label space as
    # S3D's Kinetics classes are to YouCook2's verbs and nouns (the motion videos' ten classes, after
    # image pretraining that tells glyphs apart instead of naming digits), or "verb_noun", the
    # evaluation's own labels (a shortcut the paper does not take)
    clip_labels: str = "motion"
    # S3D variant and overrides; image pretraining on single digits, then clips
    s3d_variant: str = "mini"
    s3d_overrides: dict = field(default_factory=dict)
    # its image pretraining on single digits (one-frame clips; "motion": the profile's schedule is
    # _EXEMPLAR_PRETRAIN's, see videobert_recipe), then supervised training on clips
    s3d_pretrain: TrainConfig = field(default_factory=lambda: TrainConfig(
        steps=300, batch_size=32, lr=2e-3, weight_decay=0.01, warmup_steps=30, schedule="poly", log_every=250))
    s3d: TrainConfig = field(default_factory=lambda: TrainConfig(
        steps=800, batch_size=32, lr=2e-3, weight_decay=0.01, warmup_steps=50, schedule="cosine", log_every=250))
    # visual words
    kmeans_depth: int = 2
    kmeans_k: int = 12
    # VideoBERT
    bert_variant: str = "tiny"
    bert_overrides: dict = field(default_factory=dict)
    max_len: int = 48
    regime_probs: tuple = (0.1, 0.1, 0.8)  # text-only, video-only, video-text (the paper gives no mix)
    mask_prob: float = 0.15
    mismatch_prob: float = 0.2  # share of video-text examples whose text is another video's (negatives)
    concat_prob: float = 0.3  # augmentation 1: concatenate 2..max_sentences neighbouring sentences
    max_sentences: int = 3
    max_stride: int = 3  # augmentation 2: subsample video tokens with a stride of 1..max_stride
    align_weight: float = 1.0
    init_from_centroids: bool = True
    projection: str = "orthogonal"  # centroids (D) -> BERT width: "orthogonal" or "pca" (see VideoBert.from_bert)
    # the paper starts from a text-pretrained BERT (BERT-large); here a small BERT first learns the
    # narration's language with masked modelling (0 steps: VideoBERT from scratch)
    text_bert: TrainConfig = field(default_factory=lambda: TrainConfig(
        steps=400, batch_size=128, lr=2e-3, weight_decay=0.01, warmup_steps=40, schedule="cosine", grad_clip=1.0,
        log_every=250))
    # VideoBERT pre-training (lr: see the module docstring)
    train: TrainConfig = field(default_factory=lambda: TrainConfig(
        steps=1600, batch_size=128, lr=2e-3, weight_decay=0.01, warmup_steps=100, schedule="cosine", grad_clip=1.0,
        log_every=250))
    # the captioning transformer (each feature set); its batch is at most the number of captions
    caption: TrainConfig = field(default_factory=lambda: TrainConfig(
        steps=1500, batch_size=64, lr=1e-3, weight_decay=0.01, warmup_steps=100, schedule="cosine"))
    # the captioning study (Section 4.3, run_captioning_arm): the captioner learns from the first
    # n_captions captioned segments of the training videos (None: all of them), on the features of
    # caption_features (CAPTION_FEATURES: S3D alone, or VideoBERT + S3D)
    n_captions: int | None = None
    caption_features: str = "VideoBERT + S3D"
    seed: int = 0  # the run's seed: initialisation, batches, k-means, every stage

    def __post_init__(self):
        check_recipe(self)
        if self.clip_labels not in CLIP_LABELS:
            raise ValueError(f"clip_labels must be one of {CLIP_LABELS}, got {self.clip_labels!r}")
        if self.n_pretrain is not None and not 2 <= self.n_pretrain <= self.n_train:
            raise ValueError(f"n_pretrain must be None or in 2..n_train ({self.n_train}), got {self.n_pretrain!r}")
        if self.caption_features not in CAPTION_FEATURES:
            raise ValueError(f"caption_features must be one of {CAPTION_FEATURES}, got {self.caption_features!r}")
        if self.n_captions is not None and (isinstance(self.n_captions, bool) or not isinstance(self.n_captions, int)
                                            or self.n_captions < 1):
            raise ValueError(f"n_captions must be None (every caption) or a positive int, got {self.n_captions!r}")
        if self.n_train < 2 or self.n_test < 1 or self.n_s3d < 1:
            raise ValueError(f"need n_train >= 2, n_test >= 1, n_s3d >= 1; got {self.n_train}, {self.n_test}, "
                             f"{self.n_s3d}")
        self.regime_probs = tuple(self.regime_probs)

    @property
    def num_visual_words(self) -> int:
        return self.kmeans_k**self.kmeans_depth


# the probe sentence never appears in the narration (probe_in_narration=False): zero-shot is zero-shot
_HOWTO_CPU = dict(size=32, clip_frames=8, steps=(3, 5), clips_per_step=(2, 4), scale=(0.45, 0.6), textured=0.0,
                  probe_in_narration=False)
_VIDEOBERT_PROFILES = {
    "smoke": dict(n_s3d=6, n_train=6, n_test=3, howto=dict(_HOWTO_CPU, size=16, clip_frames=4, steps=(2, 3)),
                  kmeans_depth=2, kmeans_k=3, bert_overrides=dict(depth=1, hidden_dim=16, num_heads=2, mlp_dim=32),
                  s3d_pretrain=dict(steps=2, batch_size=4, warmup_steps=0, log_every=0),
                  s3d=dict(steps=2, batch_size=4, warmup_steps=0, log_every=0),
                  text_bert=dict(steps=2, batch_size=4, warmup_steps=0, log_every=0),
                  train=dict(steps=3, batch_size=4, warmup_steps=1, log_every=0),
                  caption=dict(steps=2, warmup_steps=0)),
    "cpu": dict(howto=dict(_HOWTO_CPU), bert_overrides=dict(dropout=0.0, attention_dropout=0.0)),
    "gpu": dict(n_s3d=2000, n_train=4000, n_test=500, howto=dict(_HOWTO_CPU, textured=0.5), kmeans_depth=3,
                kmeans_k=12, bert_variant="mini", max_len=64,
                s3d_pretrain=dict(steps=1000, batch_size=64, log_every=500),
                s3d=dict(steps=3000, batch_size=64, log_every=500),
                text_bert=dict(lr=5e-4, log_every=500),
                train=dict(steps=6000, lr=5e-4, warmup_steps=300, log_every=500)),
}


# telling EXEMPLARS glyphs apart takes longer than naming ten digits: the "motion" clip network's
# image pretraining, by profile (merged over the profile's s3d_pretrain)
_EXEMPLAR_PRETRAIN = {"smoke": {}, "cpu": dict(steps=1500, batch_size=64), "gpu": dict(steps=3000, batch_size=64)}


def videobert_recipe(profile: str | None = None, **overrides) -> VideoBertRecipe:
    """The reduced VideoBERT recipe of ``profile`` (default: the active profile), with
    ``overrides`` replacing fields; the stages (``train=dict(steps=800)``), ``howto``,
    ``s3d_overrides`` and ``bert_overrides`` are merged into the profile's. With
    ``clip_labels="motion"`` (the default) the image pretraining follows ``_EXEMPLAR_PRETRAIN``
    (given ``s3d_pretrain`` keys still win)."""
    profile = profile or profiles.current()
    if overrides.get("clip_labels", VideoBertRecipe.clip_labels) == "motion":
        given = overrides.get("s3d_pretrain", {})
        if not isinstance(given, TrainConfig):  # (an unknown profile is refused by build_recipe)
            overrides["s3d_pretrain"] = {**_EXEMPLAR_PRETRAIN.get(profile, {}), **given}
    return build_recipe(VideoBertRecipe, _VIDEOBERT_PROFILES, profile, overrides,
                        merged=("howto", "s3d_overrides", "bert_overrides"))


# The zero-shot study (Table 1 with and without shortcuts): (probe_in_narration, clip_labels) per arm;
# the last is the main recipe
ZERO_SHOT_ARMS = {
    "both shortcuts (probe in narration, clip net on verbs + nouns)": (True, "verb_noun"),
    "probe held out of the narration": (False, "verb_noun"),
    "clip net on motion classes": (True, "motion"),
    "zero-shot: neither shortcut": (False, "motion"),
}


def zero_shot_recipe(profile: str | None = None, probe_in_narration: bool = False, clip_labels: str = "motion",
                     **overrides) -> VideoBertRecipe:
    """The main recipe with the two shortcuts of zero-shot classification on or off: the probe
    sentence in the pre-training narration (``probe_in_narration``, a ``howto`` knob) and the clip
    network trained on the evaluation's own labels (``clip_labels="verb_noun"``). The defaults
    are the main recipe's: neither shortcut."""
    howto = dict(overrides.pop("howto", {}), probe_in_narration=probe_in_narration)
    return videobert_recipe(profile, clip_labels=clip_labels, howto=howto, **overrides)


# The augmentation study (Section 3.3's two fixes, in two worlds): each world's narration knobs, and
# each arm's overrides of the zero-shot recipe
AUGMENTATION_WORLDS = {
    "this world": {},  # narration shifted by up to 2 s around steps of 4-8 s, one pace
    "misaligned, varied pace": dict(misalignment=6.0, speed=(0.5, 2.0)),  # shifts up to a step; pace x0.5-x2
}
AUGMENTATION_ARMS = {
    "both": {},
    "without subsampling": dict(max_stride=1),
    "without concatenation": dict(concat_prob=0.0),
    "without either": dict(concat_prob=0.0, max_stride=1),
}


# The captioning study (Section 4.3 where captions are scarce): the captioner's features, and each
# budget's captioned segments (None: all) and share of the recipe's captioner steps - a small caption
# set is seen hundreds of times either way (cpu: 300, 300, 600 and 1500 steps)
CAPTION_FEATURES = ("S3D", "VideoBERT + S3D")
CAPTION_BUDGETS = {"60 captions": (60, 0.2), "150 captions": (150, 0.2), "450 captions": (450, 0.4),
                   "all captions": (None, 1.0)}


def captioning_recipe(profile: str | None, budget: str, features: str) -> VideoBertRecipe:
    """The main recipe with its captioner trained on ``CAPTION_BUDGETS[budget]``'s captions and
    steps (a short schedule warms up for a tenth of it, at most the recipe's warm-up), on
    ``features`` (``CAPTION_FEATURES``)."""
    if budget not in CAPTION_BUDGETS:
        raise ValueError(f"unknown caption budget {budget!r}; expected one of {list(CAPTION_BUDGETS)}")
    base = videobert_recipe(profile)
    n, share = CAPTION_BUDGETS[budget]
    steps = max(1, round(share * base.caption.steps))
    caption = dataclasses.replace(base.caption, steps=steps, warmup_steps=min(base.caption.warmup_steps, steps // 10))
    return dataclasses.replace(base, n_captions=n, caption_features=features, caption=caption)


# Table 2 at reduced scale: VideoBERT pre-trained on a share of the training videos (the visual words
# and the text BERT from all of them, as every row of the paper's table starts from the same BERT)
DATA_SHARES = {"1/8": 1 / 8, "1/4": 1 / 4, "1/2": 1 / 2, "all": 1}


def data_size_recipe(profile: str | None, share: str) -> VideoBertRecipe:
    """The zero-shot recipe with VideoBERT pre-trained on ``DATA_SHARES[share]`` of the training videos."""
    if share not in DATA_SHARES:
        raise ValueError(f"unknown share {share!r}; expected one of {list(DATA_SHARES)}")
    base = zero_shot_recipe(profile)
    n = None if DATA_SHARES[share] == 1 else max(2, round(DATA_SHARES[share] * base.n_train))
    return dataclasses.replace(base, n_pretrain=n)


def augmentation_recipe(profile: str | None, world: str, arm: str) -> VideoBertRecipe:
    """The zero-shot recipe (:func:`zero_shot_recipe`) in ``world`` (``AUGMENTATION_WORLDS``) with
    ``arm``'s augmentations (``AUGMENTATION_ARMS``)."""
    if world not in AUGMENTATION_WORLDS or arm not in AUGMENTATION_ARMS:
        raise ValueError(f"unknown world / arm {world!r} / {arm!r}; expected one of {list(AUGMENTATION_WORLDS)} / "
                         f"{list(AUGMENTATION_ARMS)}")
    return zero_shot_recipe(profile, howto=dict(AUGMENTATION_WORLDS[world]), **AUGMENTATION_ARMS[arm])


# -----------------------------------------------------------------------------------------------
# Data
# -----------------------------------------------------------------------------------------------


def howto_data(recipe: VideoBertRecipe, part: str, n: int | None = None) -> list[HowToVideo]:
    """The recipe's videos: ``part`` = "s3d" (labelled, another seed), "train" or "test" (held-out digits)."""
    seeds = {"s3d": (recipe.data_seed + 1, "train", recipe.n_s3d), "train": (recipe.data_seed, "train", recipe.n_train),
             "test": (recipe.data_seed, "test", recipe.n_test)}
    if part not in seeds:
        raise ValueError(f"part must be one of {sorted(seeds)}, got {part!r}")
    seed, split, default_n = seeds[part]
    return make_howto_videos(default_n if n is None else n, seed=seed, split=split, **recipe.howto)


def labelled_clips(videos) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """All clips of ``videos``: (N, 3, T, H, W) in [0, 1], verb labels (N,), noun labels (N,)."""
    return (torch.cat([clips(v) for v in videos]), torch.cat([v.clip_verbs for v in videos]),
            torch.cat([v.clip_nouns for v in videos]))


def scale_clips(x: torch.Tensor) -> torch.Tensor:
    """Pixels [0, 1] -> [-1, 1], the clip network's input."""
    return x * 2 - 1


# -----------------------------------------------------------------------------------------------
# 1. Clip features: an S3D-style network trained to name verbs and nouns
# -----------------------------------------------------------------------------------------------


def make_s3d(recipe: VideoBertRecipe) -> S3D:
    """The clip network. Its logits: ``clip_labels`` "verb_noun": verbs then nouns
    (``NUM_VERBS + NUM_NOUNS``); "motion": the motion classes then the ``EXEMPLARS`` glyphs."""
    torch.manual_seed(recipe.seed)
    n = NUM_VERBS + NUM_NOUNS if recipe.clip_labels == "verb_noun" else NUM_MOTION_CLASSES + EXEMPLARS
    return S3D.from_variant(recipe.s3d_variant, num_classes=n, **recipe.s3d_overrides)


def s3d_loss(model, batch):
    """Cross-entropy of the verb head plus that of the noun head."""
    x, verbs, nouns = batch
    logits = model(x)
    lv, ln = logits[:, :NUM_VERBS], logits[:, NUM_VERBS:]
    loss = F.cross_entropy(lv, verbs) + F.cross_entropy(ln, nouns)
    return loss, {"verb_acc": (lv.argmax(1) == verbs).float().mean(), "noun_acc": (ln.argmax(1) == nouns).float().mean()}


def pretrain_s3d_on_digits(model: S3D, recipe: VideoBertRecipe, log=print, progress: bool | None = False,
                           checkpoint_dir=None, resume: bool = False) -> History:
    """Image pretraining (S3D starts from ImageNet-trained Inception weights) on single digits
    shown as one-frame clips, for the ``recipe.s3d_pretrain`` stage: with ``clip_labels`` =
    "verb_noun" the network names the digits with its noun logits; with "motion" it never sees a
    digit's name: it tells ``EXEMPLARS`` glyphs of the pool apart (each glyph its own class, in
    other colours, sizes and angles), with its glyph logits. A one-frame clip makes every temporal kernel use only its centre tap, so this
    trains the spatial convolutions exactly as a 2D CNN's - nothing to inflate afterwards.
    ``checkpoint_dir`` / ``resume``: as in :func:`train_s3d`."""
    size = recipe.howto.get("size", 32)
    size = size if isinstance(size, int) else size[0]
    config = stage_config(recipe.s3d_pretrain, checkpoint_dir, "s3d_pretrain", progress)
    n = max(64, config.steps * config.batch_size // 2)
    if recipe.clip_labels == "motion":
        images, _, labels = digit_crops(n, size, seed=recipe.data_seed + 2, textured=0.5, plain=0.3, glyphs=EXEMPLARS,
                                        return_instances=True)
        outputs, task = slice(NUM_MOTION_CLASSES, None), f"which of {EXEMPLARS} glyphs, no digit names"
    else:
        (images, labels), _ = digit_task(n, size, recipe.data_seed + 2, textured=0.5, plain=0.3, test=False)
        outputs, task = slice(NUM_VERBS, None), "digit names"
    if log:
        log(f"clip network, image pretraining ({task}): {config.steps} steps x {config.batch_size} digits")
    return classify_digits(model, config, (scale_clips(images).unsqueeze(2), labels),  # (n, 3, 1, H, W)
                           outputs=outputs, log=log, resume=resume, run=run_identity(recipe))


def motion_clips(recipe: VideoBertRecipe, split: str = "train", n: int | None = None):
    """The "motion" clip network's labelled clips: motion videos (:mod:`minimodels.data.motion`) as
    long as one how-to clip, at its size, ``recipe.n_s3d * MOTION_CLIPS_PER_VIDEO`` of them (seed
    ``data_seed + 1``; ``split`` "test": held-out digits). Returns (clips (N, 3, T, H, W), motion
    labels (N,), glyph labels (N,): the moving digit's glyph when it is one of the ``EXEMPLARS``,
    else -100, ignored)."""
    n = recipe.n_s3d * MOTION_CLIPS_PER_VIDEO if n is None else n
    x, labels, info = make_motion_videos(n, num_frames=recipe.howto.get("clip_frames", 8),
                                         size=recipe.howto.get("size", 32), seed=recipe.data_seed + 1, split=split,
                                         scale=tuple(recipe.howto.get("scale", (0.35, 0.5))), return_info=True)
    pool = digit_pool(split)
    row = {int(i): r for r, i in enumerate(pool.ids)}
    glyph = torch.tensor([row[int(i)] for i in info["digit_ids"]], dtype=torch.int64)
    glyph[glyph >= EXEMPLARS] = IGNORE_INDEX
    if split != "train":
        glyph[:] = IGNORE_INDEX  # the held-out pool's glyphs are not the exemplars
    return x, labels, glyph


def motion_loss(model, batch):
    """Cross-entropy over the motion classes, plus, for clips whose digit is an exemplar, over the
    glyphs (what the image pretraining learned stays learned)."""
    x, labels, glyph = batch
    logits = model(x)
    motion = logits[:, :NUM_MOTION_CLASSES]
    loss = F.cross_entropy(motion, labels)
    if (glyph != IGNORE_INDEX).any():
        loss = loss + GLYPH_WEIGHT * F.cross_entropy(logits[:, NUM_MOTION_CLASSES:], glyph, ignore_index=IGNORE_INDEX)
    return loss, {"motion_acc": (motion.argmax(1) == labels).float().mean()}


@torch.no_grad()
def predict_s3d(model: S3D, x: torch.Tensor, batch_size: int = 256, features: bool = False) -> torch.Tensor:
    """Logits (or pooled features) of clips ``x`` in [0, 1], in eval mode, on the model's device."""
    was = model.training
    model.eval()
    device = next(model.parameters()).device
    try:
        fn = model.features if features else model
        out = [fn(scale_clips(x[i:i + batch_size]).to(device)).float().cpu() for i in range(0, len(x), batch_size)]
    finally:
        model.train(was)
    return torch.cat(out) if out else torch.empty(0)


def motion_accuracy(model: S3D, x: torch.Tensor, labels: torch.Tensor) -> float:
    """The "motion" clip network's top-1 on its own task: motion clips ``x`` (as
    :func:`motion_clips` gives them) named by the first ``NUM_MOTION_CLASSES`` logits."""
    return (predict_s3d(model, x)[:, :NUM_MOTION_CLASSES].argmax(1) == labels).float().mean().item()


def s3d_accuracy(model: S3D, x, verbs, nouns) -> dict:
    logits = predict_s3d(model, x)
    return {"verb_acc": (logits[:, :NUM_VERBS].argmax(1) == verbs).float().mean().item(),
            "noun_acc": (logits[:, NUM_VERBS:].argmax(1) == nouns).float().mean().item()}


def train_s3d(recipe: VideoBertRecipe, videos=None, test_videos=None, log=print, progress: bool | None = False,
              checkpoint_dir=None, resume: bool = False, test_clips: int = 0):
    """Image pretraining, then supervised training on labelled clips: with ``clip_labels`` =
    "verb_noun" the verbs and nouns of ``videos`` (default: the recipe's "s3d" videos); with
    "motion" the classes of :func:`motion_clips` (``videos`` and ``test_videos`` must then be
    None). Returns ``(model, {"pretrain": History, "train": History})``; the training history's
    evaluation holds the clip accuracy on ``test_videos`` ("verb_noun") or on ``test_clips``
    held-out motion clips ("motion"; 0: no evaluation). ``checkpoint_dir``: each stage keeps a
    checkpoint there (``s3d_pretrain.pt``, ``s3d.pt``); with ``resume`` a stage continues from its
    checkpoint (a finished one is only loaded)."""
    log = log or (lambda line: None)
    motion = recipe.clip_labels == "motion"
    if motion and (videos is not None or test_videos is not None):
        raise ValueError("clip_labels='motion' trains and scores on motion clips; pass videos=None and "
                         "test_videos=None (test_clips: how many held-out motion clips to score)")
    if not motion and test_clips:
        raise ValueError(f"test_clips scores held-out motion clips, for clip_labels='motion'; this recipe's clip "
                         f"labels are {recipe.clip_labels!r}: pass test_videos")
    model = make_s3d(recipe)
    pre = pretrain_s3d_on_digits(model, recipe, log=log, progress=progress, checkpoint_dir=checkpoint_dir,
                                 resume=resume) if recipe.s3d_pretrain.steps else None
    config = stage_config(recipe.s3d, checkpoint_dir, "s3d", progress)
    if motion:
        x, labels, glyph = motion_clips(recipe)
        held_out = motion_clips(recipe, "test", test_clips) if test_clips else None

        def evaluate(m):
            return {"motion_acc": motion_accuracy(m, *held_out[:2])}

        log(f"clip network, supervised on motion classes: {config.steps} steps x {config.batch_size} clips "
            f"({len(x)} labelled motion clips; no verb or noun label)")
        batches = sample_batches(scale_clips(x), labels, glyph, batch_size=config.batch_size, seed=recipe.seed)
        loss_fn = motion_loss
    else:
        videos = howto_data(recipe, "s3d") if videos is None else videos
        x, verbs, nouns = labelled_clips(videos)
        held_out = labelled_clips(test_videos) if test_videos is not None else None
        evaluate = lambda m: s3d_accuracy(m, *held_out)  # noqa: E731
        log(f"clip network, supervised: {config.steps} steps x {config.batch_size} clips "
            f"({len(x)} labelled clips from {len(videos)} videos)")
        batches, loss_fn = sample_batches(scale_clips(x), verbs, nouns, batch_size=config.batch_size,
                                          seed=recipe.seed), s3d_loss
    hist = fit(model, batches, loss_fn, config, evaluate=evaluate if held_out is not None else None, resume=resume,
               log=log, run=run_identity(recipe))
    model.eval()
    return model, {"pretrain": pre, "train": hist}


def clip_features(model: S3D, videos) -> list[torch.Tensor]:
    """Per video, the pooled features of its clips: (n_clips, D)."""
    feats = predict_s3d(model, torch.cat([clips(v) for v in videos]), features=True)
    return list(feats.split([v.num_clips for v in videos]))


_S3D_KEYS = ("clip_labels", "n_s3d", "data_seed", "howto", "s3d_variant", "s3d_overrides", "s3d_pretrain", "s3d", "seed")


def trained_s3d(recipe: VideoBertRecipe, cache_dir=None, log=print, progress: bool | None = False, checkpoint_dir=None,
                resume: bool = False):
    """:func:`train_s3d`, or its weights from ``cache_dir/s3d-<profile>-<hash of the recipe>.pt``
    when an earlier run (notebook 05) left them there. Returns ``(model, history or None)``.
    ``checkpoint_dir`` / ``resume``: passed to :func:`train_s3d`."""
    path = cache_path(recipe, cache_dir, "s3d", _S3D_KEYS)
    if path is not None and path.exists():
        model = make_s3d(recipe)
        model.load_state_dict(load_checkpoint(path)["model"])
        if log:
            log(f"clip network: loaded {path}")
        return model.eval(), None
    model, hist = train_s3d(recipe, log=log, progress=progress, checkpoint_dir=checkpoint_dir, resume=resume)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        save_checkpoint(path, {"model": model.state_dict()})
    return model, hist


# -----------------------------------------------------------------------------------------------
# 2. Visual words
# -----------------------------------------------------------------------------------------------


def fit_visual_words(recipe: VideoBertRecipe, features) -> HierarchicalKMeans:
    """Hierarchical k-means (depth ``kmeans_depth``, ``kmeans_k`` per level) on the clip features."""
    X = torch.cat(list(features)) if isinstance(features, (list, tuple)) else features
    return HierarchicalKMeans(recipe.kmeans_depth, recipe.kmeans_k, seed=recipe.seed).fit(X)


def tokenize_videos(kmeans: HierarchicalKMeans, features) -> list[torch.Tensor]:
    """Per video, the visual word of each clip."""
    return [kmeans.predict(f) for f in features]


def word_labels(videos, tokens, num_words: int) -> dict:
    """What each visual word names: the majority verb and noun of the clips of ``videos`` that have
    it (``tokens``: per video, one word per clip). Returns {"verb": (num_words,) int64, "noun":
    (num_words,) int64}; a word no clip has names label 0."""
    tok = torch.cat(list(tokens))
    _, verbs, nouns = labelled_clips(videos)
    if len(tok) != len(verbs):
        raise ValueError(f"one visual word per clip expected: {len(tok)} words for {len(verbs)} clips")
    if len(tok) and not 0 <= int(tok.min()) <= int(tok.max()) < num_words:
        raise ValueError(f"visual words must lie in [0, {num_words}), got {int(tok.min())}..{int(tok.max())}")
    return {name: torch.zeros(num_words, k).index_put_((tok, labels), torch.ones(len(tok)), accumulate=True).argmax(1)
            for name, labels, k in (("verb", verbs, NUM_VERBS), ("noun", nouns, NUM_NOUNS))}


def word_purity(train_videos, train_tokens, test_videos, test_tokens, num_words: int) -> dict:
    """How much a visual word alone says about a clip's verb and noun: each word names the
    majority verb (noun) of the training clips that have it (:func:`word_labels`), and held-out
    clips are named by their word. Returns {"verb": accuracy, "noun": accuracy} (chance: 1/9 and
    1/10)."""
    named = word_labels(train_videos, train_tokens, num_words)
    ttok = torch.cat(list(test_tokens))
    _, test_verbs, test_nouns = labelled_clips(test_videos)
    if len(ttok) != len(test_verbs):
        raise ValueError(f"one visual word per clip expected: {len(ttok)} words for {len(test_verbs)} held-out clips")
    return {name: (named[name][ttok] == labels).float().mean().item()
            for name, labels in (("verb", test_verbs), ("noun", test_nouns))}


@dataclass
class VisualWords:
    """Everything stages 1-2 produce (:func:`visual_words`)."""

    s3d: S3D
    kmeans: HierarchicalKMeans
    vocab: Vocab
    train_videos: list
    test_videos: list
    train_features: list  # per video (n_clips, D)
    test_features: list
    train_tokens: list  # per video (n_clips,) visual words
    test_tokens: list
    examples: list  # per training video, its (sentence ids, visual words) segments
    s3d_history: dict | None = None  # train_s3d's histories (None when the weights came from the cache)

    @property
    def num_visual_words(self) -> int:
        return self.kmeans.vocab_size


def visual_words(recipe: VideoBertRecipe, cache_dir=None, log=print, progress: bool | None = False, checkpoint_dir=None,
                 resume: bool = False) -> VisualWords:
    """Stages 1-2 in one call: the clip network (:func:`trained_s3d`, cached in ``cache_dir``;
    ``checkpoint_dir`` / ``resume`` as in :func:`train_s3d`), the videos, their clip features,
    the k-means tree, the visual words and the pre-training examples."""
    s3d, s3d_history = trained_s3d(recipe, cache_dir=cache_dir, log=log, progress=progress,
                                   checkpoint_dir=checkpoint_dir, resume=resume)
    train_videos, test_videos = howto_data(recipe, "train"), howto_data(recipe, "test")
    train_features, test_features = clip_features(s3d, train_videos), clip_features(s3d, test_videos)
    kmeans = fit_visual_words(recipe, train_features)
    train_tokens, test_tokens = tokenize_videos(kmeans, train_features), tokenize_videos(kmeans, test_features)
    vocab = make_vocab()
    examples = pretraining_examples(train_videos, train_tokens, vocab)
    return VisualWords(s3d, kmeans, vocab, train_videos, test_videos, train_features, test_features, train_tokens,
                       test_tokens, examples, s3d_history)


# -----------------------------------------------------------------------------------------------
# 3. Pre-training
# -----------------------------------------------------------------------------------------------


def pretraining_examples(videos, tokens, vocab: Vocab) -> list:
    """Per video, its ASR sentences with the visual words under their time spans."""
    return [segments_from_video(v.narration, t, v.clip_seconds, vocab) for v, t in zip(videos, tokens)]


def make_text_bert(recipe: VideoBertRecipe, vocab: Vocab):
    """A fresh text-only BERT of the recipe's size over the text vocabulary."""
    torch.manual_seed(recipe.seed)
    overrides = {"max_positions": recipe.max_len, **recipe.bert_overrides}
    return Bert(variant_config(recipe.bert_variant, len(vocab), **overrides))


def _text_mlm_loss(model, batch):
    inp = batch.inputs
    logits = model(inp.input_ids, inp.token_type_ids, inp.attention_mask, skip_padding=True)  # real tokens only
    sel = batch.labels != IGNORE_INDEX
    loss = F.cross_entropy(logits[sel], batch.labels[sel])
    return loss, {"mlm_accuracy": (logits[sel].argmax(-1) == batch.labels[sel]).float().mean()}


def pretrain_text_bert(recipe: VideoBertRecipe, examples, vocab: Vocab, log=print, progress: bool | None = False,
                       checkpoint_dir=None, resume: bool = False):
    """BERT before VideoBERT: masked language modelling on the narration's sentences only (the
    text-only regime, with sentence concatenation), the ``recipe.text_bert`` stage. The paper
    starts from Google's BERT-large, trained on books and Wikipedia. Returns ``(bert, History)``.
    ``checkpoint_dir``: keep ``text_bert.pt`` there; with ``resume`` continue from it."""
    bert = make_text_bert(recipe, vocab)
    if log:
        log(f"text BERT: {recipe.text_bert.steps} steps of masked language modelling on the narration")
    batches = pretraining_batches(recipe, examples, vocab, regime_probs=(1.0, 0.0, 0.0),
                                  batch_size=recipe.text_bert.batch_size)
    config = stage_config(recipe.text_bert, checkpoint_dir, "text_bert", progress)
    hist = fit(bert, batches, _text_mlm_loss, config, resume=resume, log=log, run=run_identity(recipe))
    return bert.eval(), hist


def make_videobert(recipe: VideoBertRecipe, vocab: Vocab, kmeans: HierarchicalKMeans | None = None,
                   bert=None) -> VideoBert:
    """VideoBERT on ``bert`` (a text BERT, extended in place; default: a fresh one): visual-word
    rows appended, initialised from the k-means centroids (projected to the width)."""
    bert = make_text_bert(recipe, vocab) if bert is None else bert
    centroids = kmeans.centroids if (kmeans is not None and recipe.init_from_centroids) else None
    return VideoBert.from_bert(bert, recipe.num_visual_words, centroids=centroids, projection=recipe.projection,
                               seed=recipe.seed)


def pretraining_batches(recipe: VideoBertRecipe, examples, vocab: Vocab, regime_probs=None, **overrides):
    """``batches(step)``: a fresh masked batch per step, reproducible (seeded by step)."""
    regime_probs = recipe.regime_probs if regime_probs is None else regime_probs
    kw = dict(num_visual_words=recipe.num_visual_words, max_len=recipe.max_len, batch_size=recipe.train.batch_size,
              mask_prob=recipe.mask_prob, mismatch_prob=recipe.mismatch_prob, concat_prob=recipe.concat_prob,
              max_sentences=recipe.max_sentences, max_stride=recipe.max_stride)
    kw.update(overrides)

    def batches(step: int):
        g = torch.Generator().manual_seed(recipe.seed * 1_000_003 + step)
        return make_pretraining_batch(examples, regime_probs, vocab, g, **kw)

    return batches


def trained_videobert(recipe: VideoBertRecipe, examples, vocab: Vocab, kmeans, cache_dir=None, reuse: bool = True,
                      log=print, progress: bool | None = False):
    """The recipe's text BERT and VideoBERT (:func:`pretrain_text_bert`, :func:`train_videobert`),
    saved to ``cache_dir`` - or, with ``reuse``, both loaded from there when an earlier run
    (notebook 06) saved them. Returns ``(text_bert, text_history or None, model, history or None)``."""
    path = cache_path(recipe, cache_dir, "videobert")
    if reuse and path is not None and path.exists():
        ckpt = load_checkpoint(path)
        text_bert = make_text_bert(recipe, vocab)
        text_bert.load_state_dict(ckpt["text_bert"])
        model = make_videobert(recipe, vocab, kmeans)
        model.load_state_dict(ckpt["videobert"])
        if log:
            log(f"text BERT and VideoBERT: loaded {path}")
        return text_bert.eval(), None, model.eval(), None
    text_bert, text_hist = pretrain_text_bert(recipe, examples, vocab, log=log, progress=progress)
    model, hist = train_videobert(recipe, examples, vocab, kmeans, text_bert=text_bert, log=log, progress=progress)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        save_checkpoint(path, {"text_bert": text_bert.state_dict(), "videobert": model.state_dict()})
    return text_bert, text_hist, model, hist


def main_videobert(recipe: VideoBertRecipe, cache_dir=None, log=print):
    """The main model of notebook 06, as the later notebooks start from it: ``(visual words,
    text BERT, VideoBERT)`` - :func:`visual_words` and :func:`trained_videobert`, both loaded
    from ``cache_dir`` when an earlier run saved them, trained (and saved) otherwise."""
    vw = visual_words(recipe, cache_dir=cache_dir, log=log)
    text_bert, _, model, _ = trained_videobert(recipe, vw.examples, vw.vocab, vw.kmeans, cache_dir=cache_dir, log=log)
    return vw, text_bert, model


def train_videobert(recipe: VideoBertRecipe, examples, vocab: Vocab, kmeans=None, model=None, evaluate=None,
                    log=print, progress: bool | None = False, text_bert=None, checkpoint_dir=None,
                    resume: bool = False) -> tuple[VideoBert, History]:
    """Masked modelling + alignment on ``examples`` (:func:`pretraining_examples`). The model:
    ``model``, else VideoBERT on ``text_bert`` (copied), else on a text BERT pretrained here
    (:func:`pretrain_text_bert`; none when its stage has 0 steps). ``checkpoint_dir``:
    keep ``videobert.pt`` there (and the text BERT's); with ``resume`` continue from them."""
    log = log or (lambda line: None)
    if model is None:
        if text_bert is None and recipe.text_bert.steps:
            text_bert, _ = pretrain_text_bert(recipe, examples, vocab, log=log, progress=progress,
                                              checkpoint_dir=checkpoint_dir, resume=resume)
        model = make_videobert(recipe, vocab, kmeans, copy.deepcopy(text_bert) if text_bert is not None else None)
    n_params = count_params(model)
    log(f"VideoBERT pre-training: {recipe.train.steps} steps x {recipe.train.batch_size} sequences, {len(examples)} videos, "
        f"{model.text_vocab_size} text tokens + {model.num_visual_words} visual words, {n_params / 1e3:.0f}k params")

    def loss_fn(m, batch):
        return videobert_loss(m, batch, recipe.align_weight)

    config = stage_config(recipe.train, checkpoint_dir, "videobert", progress)
    hist = fit(model, pretraining_batches(recipe, examples, vocab), loss_fn, config, evaluate=evaluate, resume=resume,
               log=log, run=run_identity(recipe))
    model.eval()
    return model, hist


# -----------------------------------------------------------------------------------------------
# 4. Evaluation: zero-shot verbs and nouns on held-out steps
# -----------------------------------------------------------------------------------------------


def step_tokens(video: HowToVideo, tokens: torch.Tensor, stride: int = 1) -> list[tuple[list[int], int, int]]:
    """Per step of ``video``: (its clips' visual words, verb, noun) - the true spans, as YouCook2's
    annotations. ``stride`` > 1 keeps every stride-th word of a step (the video played faster)."""
    out, c = [], 0
    for verb, noun, a, b in video.steps:
        n = (b - a) // video.clip_frames
        out.append((tokens[c:c + n][::stride].tolist(), verb, noun))
        c += n
    return out


def probe_overlap(sentences, probe: str = ZERO_SHOT_TEMPLATE) -> dict:
    """How much of the zero-shot ``probe`` pre-training text already holds: ``sentences`` (the
    narration). A [MASK] of the probe matches any one word. Returns "sentences" (how many),
    "containing" (how many hold the whole probe), "longest" (the longest run of the probe's words
    found in any sentence, as text, [MASK] for a matched slot) and "word_counts" (each probe word's
    occurrences)."""
    words = tokenize(probe)
    texts = [tokenize(s) for s in sentences]
    if not words:
        raise ValueError(f"the probe has no words: {probe!r}")
    best, containing = (0, 0), 0
    for t in texts:
        longest = 0
        for i in range(len(words)):
            for j in range(len(t)):
                n = 0
                while i + n < len(words) and j + n < len(t) and words[i + n] in ("[MASK]", t[j + n]):
                    n += 1
                if n > best[0]:
                    best = (n, i)
                longest = max(longest, n)
        containing += longest == len(words)
    counts = {w: sum(t.count(w) for t in texts) for w in dict.fromkeys(words) if w != "[MASK]"}
    return {"sentences": len(texts), "containing": containing, "longest": " ".join(words[best[1]:best[1] + best[0]]),
            "word_counts": counts}


def zero_shot_eval(model: VideoBert, videos, tokens, vocab: Vocab, language_prior: bool = False,
                   step_stride: int = 1) -> dict:
    """Table 1's cross-modal row (or, with ``language_prior``, its language-prior row: the
    template without video) on every step of ``videos`` (``step_stride``: see :func:`step_tokens`)."""
    steps = [s for v, t in zip(videos, tokens) for s in step_tokens(v, t, step_stride)]
    verbs = torch.tensor([s[1] for s in steps])
    nouns = torch.tensor([s[2] for s in steps])
    vids = [None if language_prior else s[0] for s in steps]
    res = []
    for i in range(0, len(vids), 256):
        res += zero_shot_verb_noun(model, vids[i:i + 256], vocab, VERBS, NOUNS, ZERO_SHOT_TEMPLATE)
    vs = torch.stack([r["verb_logits"] for r in res])
    ns = torch.stack([r["noun_logits"] for r in res])
    return {**ranking_metrics(vs, ns, verbs, nouns), "steps": len(steps)}


def text_bert_prior(recipe: VideoBertRecipe, text_bert, videos, tokens, vocab: Vocab) -> dict:
    """Table 1's "BERT (language prior)": the text-only BERT fills the template without video."""
    wrapped = VideoBert.from_bert(copy.deepcopy(text_bert), recipe.num_visual_words, seed=recipe.seed)
    return zero_shot_eval(wrapped, videos, tokens, vocab, language_prior=True)


def supervised_eval(model: S3D, videos) -> dict:
    """Table 1's supervised row: the clip classifier's logits averaged over each step's clips (a
    clip network trained on verbs and nouns: ``clip_labels="verb_noun"``)."""
    if model.config.num_classes != NUM_VERBS + NUM_NOUNS:
        raise ValueError(f"supervised_eval scores a clip network trained on the verbs and nouns (clip_labels="
                         f"'verb_noun': {NUM_VERBS + NUM_NOUNS} outputs); this one has {model.config.num_classes} "
                         "outputs - it names other labels")
    logits = predict_s3d(model, torch.cat([clips(v) for v in videos]))
    vs, ns, verbs, nouns, c = [], [], [], [], 0
    for v in videos:
        for verb, noun, a, b in v.steps:
            n = (b - a) // v.clip_frames
            step = logits[c:c + n].mean(0)
            vs.append(step[:NUM_VERBS]), ns.append(step[NUM_VERBS:]), verbs.append(verb), nouns.append(noun)
            c += n
    return ranking_metrics(torch.stack(vs), torch.stack(ns), torch.tensor(verbs), torch.tensor(nouns))


# -----------------------------------------------------------------------------------------------
# 5. Captioning (Section 4.3): VideoBERT as a feature extractor for a captioning transformer
# -----------------------------------------------------------------------------------------------
#
# A captioned segment is two consecutive steps of a video; its reference caption is their
# true descriptions joined, "lift the three and then spin the seven" (YouCook2's captions
# describe a segment in one sentence; two steps make 8 words, enough for BLEU-4's 4-grams).


def caption_segments(video: HowToVideo) -> list[tuple[int, int, str]]:
    """(first clip, end clip, reference caption) for every two consecutive steps of ``video``."""
    bounds, c = [], 0
    for _, _, a, b in video.steps:
        n = (b - a) // video.clip_frames
        bounds.append((c, c + n))
        c += n
    return [(bounds[i][0], bounds[i + 1][1], f"{video.step_sentences[i]} and then {video.step_sentences[i + 1]}")
            for i in range(len(video.steps) - 1)]


@torch.no_grad()
def videobert_caption_features(model: VideoBert, vocab: Vocab, video_ids: list) -> torch.Tensor:
    """The paper's VideoBERT features of a segment: its visual words fed with the template "now
    let's [MASK] the [MASK] to the [MASK], and then [MASK] the [MASK]"; the final hidden states
    at the video tokens and at the masked text positions, each averaged, concatenated: (B, 2H)."""
    text = vocab.encode(CAPTION_TEMPLATE, strict=True)
    inputs = build_inputs([text] * len(video_ids), [list(v) for v in video_ids], vocab,
                          num_visual_words=model.num_visual_words)
    was = model.training
    model.eval()
    try:
        device = next(model.parameters()).device
        inp = inputs.to(device)
        hidden = model.bert.encode(inp.input_ids, inp.token_type_ids, inp.attention_mask).float().cpu()
    finally:
        model.train(was)
    video = inputs.video_mask.unsqueeze(-1).float()
    masked = (inputs.input_ids == vocab.mask_id).unsqueeze(-1).float()
    mean = lambda m: (hidden * m).sum(1) / m.sum(1).clamp(min=1)  # noqa: E731
    return torch.cat([mean(video), mean(masked)], dim=1)


def caption_dataset(videos, s3d_features, tokens=None, model: VideoBert | None = None, vocab: Vocab | None = None):
    """Per segment: S3D clip features (M, D) - with the VideoBERT features of the segment
    concatenated to every clip's when ``model`` is given - and the reference caption.
    Returns (features (N, M_max, F), mask (N, M_max) bool, captions [str])."""
    feats, caps, vids = [], [], []
    for i, v in enumerate(videos):
        for a, b, caption in caption_segments(v):
            feats.append(s3d_features[i][a:b])
            caps.append(caption)
            if model is not None:
                vids.append(tokens[i][a:b].tolist())
    if model is not None:
        vb = torch.cat([videobert_caption_features(model, vocab, vids[j:j + 256]) for j in range(0, len(vids), 256)])
        feats = [torch.cat([f, vb[j].expand(len(f), -1)], 1) for j, f in enumerate(feats)]
    M = max(len(f) for f in feats)
    X = torch.zeros(len(feats), M, feats[0].shape[1])
    mask = torch.zeros(len(feats), M, dtype=torch.bool)
    for j, f in enumerate(feats):
        X[j, :len(f)], mask[j, :len(f)] = f, True
    return X, mask, caps


def train_captioner(features, mask, captions, vocab: Vocab, config: TrainConfig, feature_groups=None, log=print):
    """A :class:`minimodels.captioner.Captioner` trained with teacher forcing on ``captions`` with
    ``config`` (a recipe's ``caption`` stage; its batch is cut to the number of captions).
    ``feature_groups``: sizes of the concatenated feature sources, normalised separately
    (VideoBERT + S3D: ``(D, F - D)`` with D the clip-feature size); None for one source."""
    ids = [[vocab.cls_id] + vocab.encode(c, strict=True) + [vocab.sep_id] for c in captions]
    L = max(len(t) for t in ids)
    tokens = torch.full((len(ids), L), vocab.pad_id)
    for j, t in enumerate(ids):
        tokens[j, :len(t)] = torch.tensor(t)
    torch.manual_seed(config.seed)
    model = Captioner(CaptionerConfig(feature_dim=features.shape[-1], vocab_size=len(vocab),
                                      max_features=features.shape[1], max_len=L, feature_groups=feature_groups))
    config = dataclasses.replace(config, batch_size=min(config.batch_size, len(ids)), progress=False)

    def loss_fn(m, batch):
        x, msk, t = batch
        logits = m(x, msk, t[:, :-1])
        target = t[:, 1:]
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), target.reshape(-1),
                               ignore_index=vocab.pad_id), {}

    fit(model, sample_batches(features, mask, tokens, batch_size=config.batch_size, seed=config.seed), loss_fn, config,
        log=log)
    return model.eval()


def generate_captions(captioner, features, mask, vocab: Vocab) -> list[str]:
    out = []
    for j in range(0, len(features), 256):
        ids = captioner.generate(features[j:j + 256], mask[j:j + 256], vocab.cls_id, vocab.sep_id)
        out += [vocab.decode([i for i in row if i != vocab.pad_id], skip_special=True) for row in ids]
    return out


# -----------------------------------------------------------------------------------------------
# The whole pipeline
# -----------------------------------------------------------------------------------------------


@dataclass
class VideoBertResult:
    """What :func:`run_pipeline` returns."""

    recipe: VideoBertRecipe
    s3d: S3D
    kmeans: HierarchicalKMeans
    model: VideoBert
    vocab: Vocab
    train_videos: list
    test_videos: list
    train_tokens: list
    test_tokens: list
    train_features: list
    test_features: list
    s3d_history: dict
    history: History
    zero_shot: dict  # cross-modal
    language_prior: dict
    supervised: dict | None  # None when the clip network never learned verbs and nouns ("motion")
    times: dict
    text_bert: object = None  # the text-only BERT VideoBERT started from (None: from scratch)
    bert_prior: dict | None = None  # its language prior: Table 1's "BERT (language prior)"

    def percentages(self) -> dict:
        """The recorded studies' values, in %: ``zero_shot_*`` and ``language_prior_*`` (top-1/5 of
        verbs and nouns) and ``word_purity_verb`` / ``word_purity_noun`` (:func:`word_purity`)."""
        out = {f"{name}_{k}": 100 * v for name, res in (("zero_shot", self.zero_shot),
                                                         ("language_prior", self.language_prior))
               for k, v in res.items() if k != "steps"}
        purity = word_purity(self.train_videos, self.train_tokens, self.test_videos, self.test_tokens,
                             self.kmeans.vocab_size)
        return out | {f"word_purity_{k}": 100 * v for k, v in purity.items()}

    def metrics(self) -> dict:
        return {"zero_shot": self.zero_shot, "language_prior": self.language_prior, "supervised": self.supervised,
                "bert_language_prior": self.bert_prior,
                "times_s": self.times, "num_visual_words": self.recipe.num_visual_words,
                "words_used": int(torch.cat(self.train_tokens).unique().numel()),
                "config": dataclasses.asdict(self.recipe), "history": self.history.to_dict()}


def run_pipeline(recipe: VideoBertRecipe | None = None, log=print, progress: bool | None = False, checkpoint_dir=None,
                 resume: bool = False, words: VisualWords | None = None) -> VideoBertResult:
    """Clip network -> features -> visual words -> VideoBERT -> zero-shot evaluation.
    ``checkpoint_dir``: every training stage keeps a checkpoint there (``s3d_pretrain.pt``,
    ``s3d.pt``, ``text_bert.pt``, ``videobert.pt``); with ``resume`` an interrupted run picks up
    where it stopped - finished stages are loaded, the interrupted one continues from its last
    checkpoint - and ends exactly where an uninterrupted run does. ``words``: stages 1-2 already
    made for this recipe (:func:`visual_words`), shared by runs that differ only later."""
    recipe = recipe or videobert_recipe()
    log = log or (lambda line: None)
    stages = dict(checkpoint_dir=checkpoint_dir, resume=resume)
    t = time.perf_counter()
    vw = words if words is not None else visual_words(recipe, log=log, progress=progress, **stages)
    times = {"clip_network_and_visual_words": time.perf_counter() - t}
    vocab, examples, kmeans, s3d = vw.vocab, vw.examples, vw.kmeans, vw.s3d
    test_videos, test_tokens = vw.test_videos, vw.test_tokens
    t = time.perf_counter()
    text_bert = bert_prior = None
    if recipe.text_bert.steps:
        text_bert, _ = pretrain_text_bert(recipe, examples, vocab, log=log, progress=progress, **stages)
        bert_prior = text_bert_prior(recipe, text_bert, test_videos, test_tokens, vocab)
    times["text_pretraining"] = time.perf_counter() - t
    t = time.perf_counter()
    model, hist = train_videobert(recipe, examples[:recipe.n_pretrain], vocab, kmeans, log=log, progress=progress,
                                  text_bert=text_bert,
                                  **stages)
    times["pretraining"] = time.perf_counter() - t
    zs = zero_shot_eval(model, test_videos, test_tokens, vocab)
    prior = zero_shot_eval(model, test_videos, test_tokens, vocab, language_prior=True)
    sup = supervised_eval(s3d, test_videos) if recipe.clip_labels == "verb_noun" else None
    log("zero-shot (held-out steps): " + ", ".join(f"{k} {v:.3f}" for k, v in zs.items() if k != "steps"))
    return VideoBertResult(recipe, s3d, kmeans, model, vocab, vw.train_videos, test_videos, vw.train_tokens, test_tokens,
                           vw.train_features, vw.test_features, vw.s3d_history, hist, zs, prior, sup, times, text_bert,
                           bert_prior)


_WORDS_KEYS = _S3D_KEYS + ("n_train", "n_test", "kmeans_depth", "kmeans_k")


def _shared(cache: dict, kind: str, recipe: VideoBertRecipe, keys, make):
    """``make()``, kept in ``cache`` under ``kind`` and the recipe's ``keys`` (all fields when None)
    for the next arm of the process that agrees on them; one entry per kind at a time (arms
    come grouped, so an older entry is not needed again)."""
    fields = dataclasses.asdict(recipe) if keys is None else {k: getattr(recipe, k) for k in keys}
    key = json.dumps(fields, sort_keys=True, default=str)
    if cache.get(kind, (None,))[0] != key:
        cache[kind] = (key, make())
    return cache[kind][1]


def _words(recipe: VideoBertRecipe, cache: dict) -> VisualWords:
    return _shared(cache, "words", recipe, _WORDS_KEYS, lambda: visual_words(recipe, log=None))


def run_videobert_arm(recipe: VideoBertRecipe, cache: dict | None = None) -> dict:
    """One arm of a recorded VideoBERT study: the pipeline of :func:`run_pipeline` with the
    visual words (clip network, k-means, examples) shared through ``cache`` by the arms of one
    process whose recipes agree on them. Returns the zero-shot top-1/5 (%), the language prior,
    the visual words' purity (%, :func:`word_purity`) and the zero-shot top-5 on steps played
    twice as fast (every second visual word)."""
    vw = _words(recipe, {} if cache is None else cache)
    result = run_pipeline(recipe, log=None, words=vw)
    out = result.percentages()
    fast = zero_shot_eval(result.model, vw.test_videos, vw.test_tokens, vw.vocab, step_stride=2)
    out.update({f"faster_{k}": 100 * fast[k] for k in ("verb_top5", "noun_top5")})
    return out


_CAPTION_FIELDS = ("n_captions", "caption_features", "caption")


def run_captioning_arm(recipe: VideoBertRecipe, cache: dict | None = None) -> dict:
    """One arm of the recorded captioning study: the recipe's clip network, visual words and
    VideoBERT (shared through ``cache`` by the arms of one process that differ only in their
    captioner), then a captioner trained on the first ``recipe.n_captions`` captioned training
    segments with ``recipe.caption_features``, scored on every held-out segment. Returns
    ``bleu4`` (0-100) and ``captions`` (how many it learned from: a budget above the training
    set's size is all of it)."""
    cache = {} if cache is None else cache
    vw = _words(recipe, cache)
    keys = [f.name for f in dataclasses.fields(recipe) if f.name not in _CAPTION_FIELDS]

    def datasets():
        model = None
        if recipe.caption_features == "VideoBERT + S3D":
            _, _, model, _ = trained_videobert(recipe, vw.examples, vw.vocab, vw.kmeans, log=None)  # main_videobert's
        kw = dict(model=model, vocab=vw.vocab) if model is not None else {}
        return (caption_dataset(vw.train_videos, vw.train_features, vw.train_tokens, **kw),
                caption_dataset(vw.test_videos, vw.test_features, vw.test_tokens, **kw))

    (X, M, C), (Xt, Mt, Ct) = _shared(cache, f"captions: {recipe.caption_features}", recipe, keys, datasets)
    n = len(C) if recipe.n_captions is None else min(recipe.n_captions, len(C))
    d = vw.train_features[0].shape[-1]  # S3D's part of every feature; the rest is VideoBERT's
    groups = None if X.shape[-1] == d else (d, X.shape[-1] - d)
    captioner = train_captioner(X[:n], M[:n], C[:n], vw.vocab, recipe.caption, feature_groups=groups, log=None)
    return {"bleu4": bleu4(generate_captions(captioner, Xt, Mt, vw.vocab), Ct), "captions": n}


def run(profile: str | None = None, out_dir=None, resume: bool = False, progress: bool | None = False, log=print,
        **overrides) -> dict:
    """``python -m minimodels.recipes videobert``: the whole pipeline with the profile's recipe. With
    ``out_dir``, every training stage keeps its checkpoint in ``out_dir/stages/`` and ``resume``
    continues an interrupted run from them (:func:`run_pipeline`); the final models go to
    ``out_dir/checkpoint.pt``."""
    recipe = videobert_recipe(profile, **overrides)
    stages = check_out_dir(out_dir)
    result = run_pipeline(recipe, log=log, progress=progress, checkpoint_dir=stages, resume=resume)
    if out_dir is not None:
        Path(out_dir).mkdir(parents=True, exist_ok=True)
        save_checkpoint(Path(out_dir) / "checkpoint.pt", {
            "videobert": result.model.state_dict(), "s3d": result.s3d.state_dict(),
            "kmeans_centroids": result.kmeans.centroids, "recipe": dataclasses.asdict(recipe)})
    return result.metrics()
