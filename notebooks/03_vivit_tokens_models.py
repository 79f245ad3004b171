# %% [markdown] slideshow={"slide_type": "slide"}
# # ViViT I: from video to tokens, and the four models
#
# Arnab, Dehghani, Heigold, Sun, Lučić, Schmid. *ViViT: A Video Vision Transformer.* ICCV 2021
# ([arXiv 2103.15691](https://arxiv.org/abs/2103.15691)). Official code: google-research/scenic,
# `scenic/projects/vivit`.
#
# **What the paper claims**
#
# - A video can be classified by a **pure transformer**: cut the clip into spatio-temporal tokens, run
#   ViT-style encoders over them, classify one token. No convolution beyond the linear embedding.
# - **Tubelet embedding** - 3D patches spanning several frames - fuses space and time already while
#   tokenising; uniform frame sampling (2D patches of every frame) is its special case with one frame.
# - **Four models** trade accuracy for cost: joint spatio-temporal attention (Model 1) is the most
#   accurate on Kinetics in Table 2 and the most expensive - its attention grows with the square of the
#   token count - while three factorised models (a factorised encoder, factorised self-attention,
#   factorised dot-product attention) are cheaper.
# - Transformers need much data and video datasets are small, so ViViT **starts from an image-pretrained
#   ViT** (positions tiled over time, the tubelet kernel built from the image patch kernel) and
#   **regularises** strongly on small datasets (stochastic depth, RandAugment, label smoothing, mixup).
#   The seed: small datasets such as Epic Kitchens and SSv2 overfit without it, while on Kinetics basic
#   regularisation is enough (notebook 04).
#
# **What you will see** (notebook 1 of 2; training and the ablations are notebook 04):
#
# 1. the claims above;
# 2. how a video file becomes model input: the training clip, scale jitter, crop, flip; the 4 x 3 = 12 test
#    views; averaging softmax scores or logits;
# 3. uniform frame sampling vs tubelet embedding: which pixels make one token, how many tokens;
# 4. the four models: the source of each key module, shapes traced step by step, attention patterns, and
#    Model 4 written from its equations and checked against the package;
# 5. Table 2 recomputed (parameters and FLOPs) next to the paper's, and the FLOPs of ViViT-L at three
#    resolutions;
# 6. tokens vs FLOPs as the tubelet size and the frame count change;
# 7. position embeddings when the frame count or the resolution changes;
# 8. initialisation from an image ViT (the seed's equation (9)), and loading `transformers` checkpoints;
# 9. a results table against the paper and questions for the journal club.
#
# The story follows the seed, a Korean blog post on the paper (quoted in translation, with the
# original words where they help). Its summary: ViViT classifies videos with a transformer; what to learn
# from it is how a video is fed to the model and which transformer structures cut computation and memory;
# it is not a self-supervised or foundation model - each dataset is trained on separately (from an
# image-pretrained start). Where the seed and the paper differ, both are shown.
#
# Korean terms of the seed deck and blog, and the English words used here: [GLOSSARY.md](GLOSSARY.md).

# %% [markdown] slideshow={"slide_type": "notes"}
# **Speaker notes.** The story follows the Korean blog post: input processing first (학습 시 / 추론 시),
# then tubelets, the four models and initialisation. Nothing here trains, so every cell can be re-run
# live on a laptop CPU. Budget in the talk (talk.html): input pipeline 6 min, tubelets 2, the four
# models 8, Table 2 to the results 5; notebook 04 and the discussion take the rest (docs/PRESENTING.md).

# %% slideshow={"slide_type": "skip"}
import math
import os
import tempfile
import warnings
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from matplotlib.colors import ListedColormap
from matplotlib.patches import Rectangle

import minimodels
from minimodels import profiles, report
from minimodels.data.video import (
    KineticsFolder,
    VideoTestViews,
    VideoTrainTransform,
    clip_span,
    crop,
    frames_to_clip,
    multi_view_predict,
    normalize_clip,
    random_crop,
    random_hflip,
    random_short_side_scale,
    read_video,
    resize_short_side,
    sample_clip_indices,
    short_side_size,
    three_crops,
    uniform_clip_starts,
)
from minimodels.flops import count_macs, macs_by_op
from minimodels.layers import count_params
from minimodels.recipes.vivit import make_vivit, trained_image_vit, vivit_recipe
from minimodels.report import CACHE_DIR
from minimodels.schematics import vivit_schematic
from minimodels.vivit import (
    MODELS,
    Attention,
    Block,
    Encoder,
    FactorisedDotProductAttention,
    FactorisedEncoder,
    FactorisedSelfAttentionBlock,
    PositionEmbedding,
    TubeletEmbedding,
    ViT,
    ViTConfig,
    ViViT,
    ViViTConfig,
    attention_pattern,
    init_from_image,
    resize_grid,
    variant_config,
)

NB = "03_vivit_tokens_models"
torch.manual_seed(0)
np.random.seed(0)
show = report.figure_saver(NB)  # show(fig, name): inline here; PNG + SVG under $MINIMODELS_FIGURES


def meta_vivit(variant="B/16x2", model=1, **kwargs) -> ViViT:
    """A ViViT whose weights have shapes but no data: free to build, enough to count."""
    with torch.device("meta"):
        return ViViT.from_variant(variant, model=model, **kwargs)


def meta_video(frames=32, size=224) -> torch.Tensor:
    return torch.empty(1, 3, frames, size, size, device="meta")


def replay(generator: torch.Generator) -> torch.Generator:
    """A copy of ``generator`` in its current state: it draws the numbers the original will draw next."""
    copy = torch.Generator()
    copy.set_state(generator.get_state())
    return copy


# The paper's own figures (literals, labelled as the paper's).
PAPER_TABLE2 = {  # Table 2: ViViT-B, tubelet 16x16x2, 32 frames of 224x224; K400 top-1 %, EK action %, GFLOPs, params M, TPU-v3 ms
    "Model 1: spatio-temporal": dict(model=1, overrides={}, k400=80.0, ek=43.1, gflops=455.2, params=88.9, ms=58.9),
    "Model 2: factorised encoder": dict(model=2, overrides={}, k400=78.8, ek=43.7, gflops=284.4, params=115.1, ms=17.4),
    "Model 3: factorised self-attention": dict(model=3, overrides={}, k400=77.4, ek=39.1, gflops=372.3, params=117.3, ms=31.7),
    "Model 4: factorised dot-product": dict(model=4, overrides={}, k400=76.3, ek=39.5, gflops=277.1, params=88.9, ms=22.9),
    "Model 2, average-pool baseline (L_t = 0)": dict(model=2, overrides={"temporal_layers": 0}, k400=75.8, ek=38.8,
                                                     gflops=283.9, params=86.7, ms=17.3),
}
PAPER_CROP = {224: (80.3, 1446), 288: (80.7, 2919), 320: (81.0, 3992)}  # ViViT-L/16x2 Model 1, K400: top-1 %, GFLOPs
PAPER_TABLE1 = {"uniform frame sampling": 78.5, "tubelet, random init": 73.2, "filter inflation": 77.6,
                "central frame": 79.2}  # Table 1: ViViT-B Model 1, K400 top-1 %
PAPER_PIPELINE = dict(num_frames=32, stride=2, short_side=(256, 320), crop=224, test_short_side=224,
                      temporal_views=4, spatial_views=3)  # the paper / scenic; the short-side range as the seed gives it
SEED = dict(video_s=10, fps=30, clip_frames=64, clip_s=2.56, frame=(720, 1080), resized=((256, 384), (320, 480)),
            views=12)  # numbers the seed states in its input-processing section

# %% slideshow={"slide_type": "skip"} tags=["nbval-ignore-output"]
print(f"profile: {profiles.current()}   torch {torch.__version__}   threads: {torch.get_num_threads()}")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 2. From a video file to model input
#
# The seed's input-processing section (its "1. Input 처리에 대해") describes two protocols side by side -
# SlowFast's (which ViViT follows) and ViViT's own:
#
# **Training** ("학습 시"): from a 10-second video (10 x 30 = 300 frames) pick **one random clip of 64
# consecutive frames (2.56 s)**; ViViT keeps **32 of them at a stride of 2**. Resize every frame so that its
# **short side is a random 256-320 px** (720x1080 becomes 256x384 or 320x480), then take a **224x224 crop**
# (random while training) and flip it horizontally half of the time.
#
# **Inference** ("추론 시"): SlowFast takes 10 clips spaced uniformly over the video and 3 crops of 256 px
# each; ViViT takes **4 clips x 3 spatial crops (left, centre, right) = 12 views**, with the short side at
# 224, and **averages the softmax scores** ("소프트맥스 점수를 평균"). Scenic, the official code, averages the
# logits instead - we show both.
#
# The seed's arithmetic, checked by the package's own functions:

# %% tags=["hide-input"]
span = clip_span(PAPER_PIPELINE["num_frames"], PAPER_PIPELINE["stride"])
rows = [
    ("raw frames in a 10 s video at 30 fps", SEED["video_s"] * SEED["fps"], 300),
    ("raw frames a 32-frame clip at stride 2 spans", span, SEED["clip_frames"]),
    ("its duration at 25 fps (s)", round(span / 25, 2), SEED["clip_s"]),
    ("its duration at 30 fps (s)", round(span / 30, 2), SEED["clip_s"]),
    ("720x1080 with short side 256", "x".join(map(str, short_side_size(720, 1080, 256))), "256x384"),
    ("720x1080 with short side 320", "x".join(map(str, short_side_size(720, 1080, 320))), "320x480"),
    ("test views: 4 clips x 3 crops", PAPER_PIPELINE["temporal_views"] * PAPER_PIPELINE["spatial_views"], SEED["views"]),
]
report.print_table(rows, ["quantity", "computed", "seed says"])
assert span == SEED["clip_frames"] and round(span / 25, 2) == SEED["clip_s"]
assert [short_side_size(*SEED["frame"], s) for s in (256, 320)] == list(SEED["resized"])

# %% [markdown] slideshow={"slide_type": "fragment"}
# One slip: 64 frames last 2.56 s at **25 fps** but 2.13 s at 30 fps - the seed's two numbers assume
# different frame rates. The paper phrases the scale jitter as a random factor of 0.9-1.33; 256-320 is the
# seed's (SlowFast's) wording. Also worth knowing:
# the seed writes that training, too, passes a 10-second video through ViViT four times. In the official
# training pipeline each video gives **one** random clip per epoch; the four clips are the test protocol.
#
# ### A real file
#
# `data_samples/kinetics` holds video files in Kinetics' folder layout (MPEG-4 in MP4, decoded with PyAV);
# their content is a DigitWorld motion video: a handwritten digit zooming in or out. Our files are tiny -
# 48 frames of 96x128 - so every size below is scaled down from the paper's, and the setting is printed
# next to the paper's.

# %% tags=["hide-input"]
SAMPLES = Path(minimodels.__file__).resolve().parent.parent / "data_samples" / "kinetics"
dataset = KineticsFolder(SAMPLES, "train")
path, label = dataset.samples[0]
frames, fps = read_video(path)
print(f"KineticsFolder(data_samples/kinetics, split 'train'): {len(dataset)} videos, classes {dataset.classes}")
print(f"{path.relative_to(SAMPLES)}: class {label} ({dataset.classes[label]}), frames {tuple(frames.shape)} "
      f"{frames.dtype} (T, H, W, RGB), {fps:g} fps, {len(frames) / fps:.2f} s")

OURS = dict(num_frames=16, stride=2, short_side=(64, 80), crop=64, test_short_side=64, temporal_views=4, spatial_views=3)
rows = [(key, str(PAPER_PIPELINE[key]), str(OURS[key])) for key in PAPER_PIPELINE]
rows.append(("raw frames per clip", clip_span(32, 2), clip_span(OURS["num_frames"], OURS["stride"])))
report.print_table(rows, ["setting", "paper (32 frames of 224x224)", "ours (48 frames of 96x128)"])

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### The training clip, step by step
#
# Each step is a function of `minimodels.data.video`; randomness comes from one seeded
# `torch.Generator`. To see *what* a random step chose, we replay the generator (a copy in the same state
# draws the same numbers) and check that the choice explains the output exactly.

# %% tags=["hide-input"]
g = torch.Generator().manual_seed(0)
steps = []
idx = sample_clip_indices(len(frames), OURS["num_frames"], OURS["stride"], generator=g)
steps.append(("sample_clip_indices", f"frames {idx[0].item()}, {idx[1].item()}, ..., {idx[-1].item()}",
              f"start {idx[0].item()} of 0..{len(frames) - clip_span(16, 2)}"))
clip = frames_to_clip(frames[idx])
steps.append(("frames_to_clip", tuple(clip.shape), "uint8 (T, H, W, 3) -> float (C, T, H, W) in [0, 1]"))
short = int(torch.randint(OURS["short_side"][0], OURS["short_side"][1] + 1, (), generator=replay(g)))
scaled = random_short_side_scale(clip, *OURS["short_side"], generator=g)
steps.append(("random_short_side_scale", tuple(scaled.shape), f"short side {short} of 64..80"))
H, W = scaled.shape[-2:]
r = replay(g)
top, left = int(torch.randint(H - OURS["crop"] + 1, (), generator=r)), int(torch.randint(W - OURS["crop"] + 1, (), generator=r))
cropped = random_crop(scaled, OURS["crop"], generator=g)
steps.append(("random_crop", tuple(cropped.shape), f"window at (top, left) = ({top}, {left})"))
flipped = torch.rand((), generator=replay(g)).item() < 0.5
train_clip = normalize_clip(random_hflip(cropped, 0.5, generator=g))
steps.append(("random_hflip + normalize_clip", tuple(train_clip.shape),
              f"flipped: {flipped}; pixels in [{train_clip.min():.0f}, {train_clip.max():.0f}]"))
report.print_table(steps, ["step", "output", "random choice"])

assert min(scaled.shape[-2:]) == short
assert torch.equal(cropped, crop(scaled, top, left, OURS["crop"]))
transform = VideoTrainTransform(OURS["num_frames"], OURS["stride"], OURS["short_side"], OURS["crop"])
same = torch.equal(transform(frames, generator=torch.Generator().manual_seed(0)), train_clip)
print(f"{transform}\n  gives the same clip from the same seed: {same}")
assert same

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### The 12 test views
#
# `VideoTestViews`: 4 clips spaced uniformly (`uniform_clip_starts`: the first clip starts the video, the
# last one ends it), short side resized to the crop size, and 3 square crops along the long side (left,
# centre, right). View `k` is clip `k // 3`, crop `k % 3`.

# %% [markdown] slideshow={"slide_type": "notes"}
# **Speaker notes.** The blog uses "view" and "클립" (clip) loosely. Here a clip is a run of frames in
# time and a view is one clip seen through one spatial crop: 4 clips x 3 crops (left, centre, right)
# = 12 views. Say it once explicitly; the rest of the deck relies on it.

# %% tags=["hide-input"]
test_views = VideoTestViews(OURS["num_frames"], OURS["stride"], OURS["test_short_side"], OURS["crop"],
                            OURS["temporal_views"], OURS["spatial_views"])
views = test_views(frames)
clip_idx = test_views.clip_indices(len(frames))
starts = uniform_clip_starts(len(frames), OURS["num_frames"], OURS["stride"], OURS["temporal_views"])
resized_hw = short_side_size(*frames.shape[1:3], OURS["test_short_side"])
lefts = (0, (resized_hw[1] - OURS["crop"]) // 2, resized_hw[1] - OURS["crop"])
print(f"{test_views}\n  views {tuple(views.shape)} = (views, C, T, H, W)")
print(f"  clip starts {starts.tolist()} (frames {clip_idx[:, 0].tolist()} .. {clip_idx[:, -1].tolist()});"
      f" frames resized to {resized_hw[0]}x{resized_hw[1]}, crops at columns {lefts}")
for k in (0, 4, 11):  # the order of the views: clip k // 3, crop k % 3
    c = normalize_clip(resize_short_side(frames_to_clip(frames[clip_idx[k // 3]]), OURS["test_short_side"]))
    assert torch.allclose(views[k], three_crops(c, OURS["crop"])[k % 3], atol=1e-6)
assert views.shape == (12, 3, 16, 64, 64) and starts.tolist() == [0, 5, 10, 16]

# At the paper's scale: a 10 s video at 25 fps has 250 frames.
paper_starts = uniform_clip_starts(250, 32, 2, 4)
covered = torch.zeros(250, dtype=torch.bool)
for s in paper_starts.tolist():
    covered[s : s + span] = True
one_view = sample_clip_indices(250, 128, 2, start=0, pad="last")
print(f"paper scale, 250 frames: clip starts {paper_starts.tolist()}, the 4 clips span {covered.float().mean():.0%} of the video; "
      f"one 128-frame view at stride 2 spans {clip_span(128, 2)} frames (frames {one_view[0].item()}..{one_view[-1].item()})")

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### One training view and the 12 test views, drawn

# %% tags=["hide-input"]
def to_image(clip_or_frame):
    """(C, H, W) in [-1, 1] or [0, 1] -> (H, W, C) in [0, 1] for imshow."""
    x = clip_or_frame
    x = (x + 1) / 2 if x.min() < 0 else x
    return x.permute(1, 2, 0).clamp(0, 1).numpy()


fig = plt.figure(figsize=(14, 7.2), constrained_layout=True)
grid_spec = fig.add_gridspec(3, 6, height_ratios=[1.1, 1.2, 1.2])
ax = fig.add_subplot(grid_spec[0, :])
ax.set_xlim(-1, len(frames))
ax.set_ylim(-0.8, 4.8)
ax.scatter(range(len(frames)), [4] * len(frames), s=8, color="0.6")
ax.scatter(idx, [4] * len(idx), s=22, color="tab:red", label=f"training clip ({OURS['num_frames']} frames, stride {OURS['stride']})")
ax.add_patch(Rectangle((idx[0] - 0.5, 3.6), clip_span(16, 2), 0.8, color="tab:red", alpha=0.15))
for i, (s, ci) in enumerate(zip(starts.tolist(), clip_idx)):
    y = 2.7 - 0.9 * i
    ax.add_patch(Rectangle((s - 0.5, y - 0.35), clip_span(16, 2), 0.7, color="tab:blue", alpha=0.15))
    ax.scatter(ci, [y] * len(ci), s=14, color="tab:blue", label="4 test clips" if i == 0 else None)
ax.set_yticks([4, 2.7, 1.8, 0.9, 0.0], ["train", "test 1", "test 2", "test 3", "test 4"])
ax.set_xlabel(f"frame index (the file has {len(frames)} frames at {fps:g} fps)")
ax.legend(loc="upper right", fontsize=8, ncols=2)
ax.set_title("Time: which frames a clip takes")

ax = fig.add_subplot(grid_spec[1:, :2])
ax.imshow(to_image(scaled[:, 0]))
ax.add_patch(Rectangle((left - 0.5, top - 0.5), OURS["crop"], OURS["crop"], fill=False, color="tab:red", lw=2.5))
ax.set_title(f"training: short side {short}, random {OURS['crop']}x{OURS['crop']} crop" + (", then flipped" if flipped else ""),
             fontsize=10)
ax = fig.add_subplot(grid_spec[1:, 2:4])
test_frame = resize_short_side(frames_to_clip(frames[clip_idx[0]]), OURS["test_short_side"])[:, 0]
ax.imshow(to_image(test_frame))
for k, (colour, lft, name) in enumerate(zip(("tab:blue", "tab:orange", "tab:green"), lefts, ("left", "centre", "right"))):
    inset = 1.2 * k  # a small vertical inset, so that the three overlapping boxes stay visible
    ax.add_patch(Rectangle((lft - 0.5 + inset, -0.5 + inset), OURS["crop"] - inset, OURS["crop"] - 2 * inset, fill=False,
                           color=colour, lw=2.5))
    ax.text(lft + 1 + inset, OURS["crop"] - 3 - 5 * k, name, color=colour, fontsize=9, fontweight="bold",
            bbox=dict(facecolor="white", alpha=0.7, lw=0))
ax.set_title(f"test: short side {OURS['test_short_side']}, crops left / centre / right", fontsize=10)
for j, t in enumerate((0, 5, 10, 15)):
    ax = fig.add_subplot(grid_spec[1 + j // 2, 4 + j % 2])
    ax.imshow(to_image(train_clip[:, t]))
    ax.set_title(f"training clip, frame {t} (raw {idx[t].item()})", fontsize=8)
for a in fig.axes[1:]:
    a.set_xticks([])
    a.set_yticks([])
fig.suptitle(f"{path.name} ({dataset.classes[label]}): one training view and the test views", fontsize=12)
show(fig, "clips_and_crops")

# %% tags=["hide-input"]
fig, axes = plt.subplots(3, 4, figsize=(10, 7.8), constrained_layout=True)
for k in range(len(views)):
    ax = axes[k % 3, k // 3]
    ax.imshow(to_image(views[k][:, OURS["num_frames"] // 2]))  # the middle frame of view k
    ax.set_title(f"view {k}: clip {k // 3 + 1}, {('left', 'centre', 'right')[k % 3]}\n"
                 f"(raw frames {clip_idx[k // 3, 0].item()}-{clip_idx[k // 3, -1].item()})", fontsize=8)
    ax.set_xticks([])
    ax.set_yticks([])
fig.suptitle("The 12 test views (middle frame of each): 4 clips (columns) x 3 crops (rows)", fontsize=12)
show(fig, "test_views")

# %% [markdown] slideshow={"slide_type": "fragment"}
# At the paper's scale the four 64-frame clips of a 250-frame video overlap slightly and cover it whole;
# a single view of **128 frames** at stride 2 spans 256 frames, so it already covers the whole 10 s video
# (the seed's "128프레임을 단일 뷰로 처리하는 모델은 이미 전체 영상을 모두 커버한다"). That is why the paper's
# views-vs-accuracy curve flattens after about 4 views for 32-frame clips, and why a 128-frame model needs
# only one.
# The stride matters too: a model trained at stride 2 sees motion at that speed; testing at another stride
# changes the apparent speed of everything in the clip.

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Averaging the 12 views: softmax scores or logits
#
# `multi_view_predict(model, views, average=...)` runs the views through a model and averages. A random
# ViViT (its head drawn with std 1, so that its scores are far from uniform) on our 12 views:

# %% tags=["hide-input", "nbval-ignore-output"]
torch.manual_seed(0)
view_model = ViViT(ViViTConfig(num_frames=16, image_size=64, tubelet=(2, 16, 16), hidden_dim=48, depth=2,
                               num_heads=4, mlp_dim=96, num_classes=5)).eval()
torch.nn.init.normal_(view_model.head.weight, std=1.0)
with torch.no_grad():
    view_logits = view_model(views)
mean_softmax = multi_view_predict(view_model, views, average="softmax")
mean_logits = multi_view_predict(view_model, views, average="logits")
rows = [(k, k // 3 + 1, ("left", "centre", "right")[k % 3], int(view_logits[k].argmax()),
         round(view_logits[k].softmax(-1).max().item(), 3)) for k in range(len(views))]
report.print_table(rows, ["view", "clip", "crop", "top class", "its probability"])
print("mean of the softmax scores:        ", [round(v, 3) for v in mean_softmax.tolist()], "-> class", int(mean_softmax.argmax()))
print("softmax of the mean of the logits: ", [round(v, 3) for v in mean_logits.softmax(-1).tolist()], "-> class", int(mean_logits.argmax()))
assert torch.allclose(mean_softmax.sum(), torch.tensor(1.0)) and mean_logits.shape == (5,)

# %% [markdown] slideshow={"slide_type": "fragment"}
# Here the views agree and so do the two averages - but they are different averages. The mean of the
# probabilities is a **mixture**: no view counts for more than a probability of 1. The softmax of the mean logits is a normalised **geometric mean** of the views'
# probabilities (a product of experts): $\text{softmax}(\frac{1}{V}\sum_v z_v) \propto \prod_v p_v^{1/V}$,
# so one very confident view can outvote all the others, and one view that rules a class out
# (a probability near 0) vetoes it. They usually agree; here is a case built to make them disagree -
# 11 views mildly prefer class 0, one view is certain of class 1:

# %% tags=["hide-input"]
votes = torch.tensor([[1.0, 0.0, 0.0]] * 11 + [[0.0, 15.0, 0.0]])  # logits of 12 views, 3 classes


def fixed(_views):  # a stand-in "model" that returns these logits whatever the views
    return votes


by_softmax = multi_view_predict(fixed, torch.zeros(12, 3, 2, 2, 2), average="softmax")
by_logits = multi_view_predict(fixed, torch.zeros(12, 3, 2, 2, 2), average="logits")
geometric = votes.softmax(-1).log().mean(0).softmax(-1)  # normalised geometric mean of the probabilities
print("mean softmax:           ", [round(v, 3) for v in by_softmax.tolist()], "-> class", int(by_softmax.argmax()))
print("softmax of mean logits: ", [round(v, 3) for v in by_logits.softmax(-1).tolist()], "-> class", int(by_logits.argmax()))
print("geometric mean of p:    ", [round(v, 3) for v in geometric.tolist()])
assert int(by_softmax.argmax()) == 0 and int(by_logits.argmax()) == 1
assert torch.allclose(geometric, by_logits.softmax(-1), atol=1e-6)
with torch.no_grad():  # the same identity on the random model's 12 views
    assert torch.allclose(view_logits.softmax(-1).log().mean(0).softmax(-1), mean_logits.softmax(-1), atol=1e-5)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 3. Uniform frame sampling vs tubelet embedding
#
# The paper's Figures 2 and 3. A clip of $T$ frames of $H \times W$ pixels becomes a grid of tokens:
#
# - **uniform frame sampling**: $n_t$ frames are sampled, each is cut into $h \times w$ patches and embedded
#   by ViT's patch embedding, and all the tokens are concatenated;
# - **tubelet embedding**: non-overlapping $t \times h \times w$ tubes are embedded by a 3D convolution with
#   kernel = stride = $(t, h, w)$, giving $n_t = \lfloor T/t \rfloor$, $n_h = \lfloor H/h \rfloor$,
#   $n_w = \lfloor W/w \rfloor$ tokens along each axis.
#
# With $t = 1$ the two are the same thing (the frames sampled beforehand by the clip sampler).
# `TubeletEmbedding` is that 3D convolution:

# %% tags=["appendix"]
report.show_source(TubeletEmbedding)

# %% [markdown] slideshow={"slide_type": "subslide"}
# Token counts for the paper's 32 frames of 224x224 with 16x16 patches:

# %% tags=["hide-input"]
rows = []
for t in (1, 2, 4, 8):
    cfg = variant_config(f"B/16x{t}", num_frames=32, image_size=224)
    n_t, n_h, n_w = cfg.grid
    rows.append((f"B/16x{t}", "uniform frame sampling" if t == 1 else "tubelet", f"{t}x16x16", n_t, n_h, n_w,
                 f"{cfg.num_tokens:,}", 3 * t * 16 * 16, f"{3 * t * 16 * 16 * 768 + 768:,}"))
    assert cfg.num_tokens == (32 // t) * (224 // 16) ** 2
report.print_table(rows, ["variant", "embedding", "t x h x w", "n_t", "n_h", "n_w", "tokens N", "pixel values per token",
                          "embedding params (d=768)"])

# %% [markdown] slideshow={"slide_type": "fragment"}
# Halving $t$ doubles the number of tokens - and Model 1's attention cost roughly quadruples (section 6).
# The seed: "tubelet으로 time을 압축할수록, 성능과 계산량이 동시에 떨어진다" - the more a tubelet compresses
# time, the lower both accuracy and cost.
#
# What a token *is*, on our training clip (16 frames of 64x64, 16x16 patches). Each colour is one token:
# with $t = 1$ every frame has its own tokens; with $t = 2$ one token covers the same patch in two
# consecutive frames.

# %% tags=["hide-input"]
PATCH = 16
fig, axes = plt.subplots(2, 6, figsize=(14, 5.2), constrained_layout=True)
colours = ["tab:blue", "cyan", "lime", "white", "magenta", "yellow"]
for row, t in enumerate((1, 2)):
    for f in range(6):
        ax = axes[row, f]
        ax.imshow(to_image(train_clip[:, f]))
        for k in range(PATCH, OURS["crop"], PATCH):
            ax.axhline(k - 0.5, color="white", lw=0.6)
            ax.axvline(k - 0.5, color="white", lw=0.6)
        token_t = f // t  # the temporal index of the token this frame belongs to
        ax.add_patch(Rectangle((2 * PATCH - 0.5, PATCH - 0.5), PATCH, PATCH, facecolor=colours[token_t], alpha=0.7,
                               edgecolor="black", lw=1.5))
        ax.set_title(f"frame {f}: token ({token_t}, 1, 2)", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    axes[row, 0].set_ylabel("uniform frame sampling\nt = 1" if t == 1 else "tubelet embedding\nt = 2", fontsize=10)
fig.suptitle("Which pixels go into token (n_t, row 1, column 2): one colour = one token", fontsize=12)
show(fig, "tubelets")

# %% [markdown] slideshow={"slide_type": "subslide"} tags=["appendix"]
# Checked on the real module, with its random weights $E$ (shape $(d, C, t, h, w)$):
#
# - $t = 1$: the 3D convolution is the 2D patch embedding with kernel $E_{:,:,0}$ applied to every frame;
# - $t = 2$: token $i$ is $\sum_{k<t} E_{:,:,k} * x_{ti+k} + b$ - a learned linear mix of $t$ frames, so
#   time is fused from the very first layer;
# - leftover frames are dropped ($\lfloor T/t \rfloor$) by the convolution; the model itself refuses a clip
#   whose frame count is not a multiple of $t$, with a message saying so.

# %%
x = train_clip.unsqueeze(0)  # (1, 3, 16, 64, 64)
torch.manual_seed(0)
emb1, emb2 = TubeletEmbedding(3, 48, (1, PATCH, PATCH)), TubeletEmbedding(3, 48, (2, PATCH, PATCH))
with torch.no_grad():
    tok1, tok2 = emb1(x), emb2(x)
    per_frame = torch.stack([F.conv2d(x[:, :, f], emb1.proj.weight[:, :, 0], emb1.proj.bias, stride=PATCH)
                             for f in range(16)], dim=1).permute(0, 1, 3, 4, 2)
    w2 = emb2.proj.weight
    by_frames = torch.stack([sum(F.conv2d(x[:, :, 2 * i + k], w2[:, :, k], stride=PATCH) for k in range(2)) + emb2.proj.bias.view(1, -1, 1, 1)
                             for i in range(8)], dim=1).permute(0, 1, 3, 4, 2)
    tok_odd = emb2(x[:, :, :15])
print(f"t = 1: tokens {tuple(tok1.shape)} (B, n_t, n_h, n_w, d) = Conv2d on every frame: {torch.allclose(tok1, per_frame, atol=1e-5)}")
print(f"t = 2: tokens {tuple(tok2.shape)} = sum over the tubelet's 2 frames: {torch.allclose(tok2, by_frames, atol=1e-5)}")
print(f"t = 2 on 15 frames: tokens {tuple(tok_odd.shape)} - n_t = floor(15 / 2) = {15 // 2}, the last frame is dropped")
assert torch.allclose(tok1, per_frame, atol=1e-5) and torch.allclose(tok2, by_frames, atol=1e-5) and tok_odd.shape[1] == 7
try:
    ViViT(ViViTConfig(num_frames=16, image_size=64, tubelet=(2, 16, 16), hidden_dim=48, depth=1, num_heads=4,
                      mlp_dim=96, num_classes=2))(x[:, :, :15])
except ValueError as err:
    print(f"ViViT on 15 frames: ValueError: {err}")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 4. The four models
#
# All four start with the tubelet embedding and end with a linear head; they differ in **which tokens
# attend to which**. To trace shapes we use one tiny configuration for all: clips of 8 frames of 24x24,
# tubelets 2x8x8, so the token grid is $n_t \times n_h \times n_w = 4 \times 3 \times 3$ ($N = 36$ tokens,
# $S = n_h n_w = 9$ per frame), width $d = 48$, 4 heads, 2 layers, 10 classes, a batch of 2 clips.
#
# The trace records, in the order they finish, the input and output of the named modules and of every
# attention product $\text{softmax}(QK^\top/\sqrt{d_h})V$ (the `attend` call: its input is the query
# tensor, (batch, heads, sequence, $d_h$)).

# %% tags=["hide-input"]
TINY = dict(num_frames=8, image_size=24, tubelet=(2, 8, 8), hidden_dim=48, depth=2, num_heads=4, mlp_dim=96, num_classes=10)
GRID = (4, 3, 3)
x_tiny = torch.randn(2, 3, 8, 24, 24, generator=torch.Generator().manual_seed(1))


def tiny_vivit(model, seed=0, **overrides) -> ViViT:
    torch.manual_seed(seed)
    return ViViT(ViViTConfig(model=model, **{**TINY, **overrides})).eval()


def describe(value):
    if isinstance(value, torch.Tensor):
        return str(tuple(value.shape))
    return f"grid {tuple(value)}" if isinstance(value, tuple) else "-"


def trace(model, video, names, notes):
    """Forward ``video`` and return rows (step, module, input, output, note) for the modules in ``names``
    (forward hooks) and for the `attend` call of each Attention among them."""
    rows, hooks, wrapped = [], [], []
    modules = dict(model.named_modules())
    for name in names:
        module = modules[name]
        hooks.append(module.register_forward_hook(
            lambda mod, args, out, name=name: rows.append((name, type(mod).__name__, describe(args[0]), describe(out), notes.get(name, "")))))
        if isinstance(module, Attention):
            def attend(q, k, v, name=name, original=module.attend):
                out = original(q, k, v)
                rows.append((f"{name}.attend", "softmax(QK^T)V", describe(q), describe(out), notes.get(f"{name}.attend", "")))
                return out
            module.attend = attend
            wrapped.append(module)
    try:
        with torch.no_grad():
            logits = model(video)
    finally:
        for h in hooks:
            h.remove()
        for module in wrapped:
            del module.attend  # back to the class's method
    return rows, logits


TRACE_HEADERS = ["step", "module", "input", "output", "what happens"]


def traced_input(rows, step):
    """The input shape recorded for ``step`` (the first time it ran)."""
    return next(r[2] for r in rows if r[0] == step)

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### The four models at a glance
#
# Whom one token attends to in each model, counted for the paper's ViViT-B/16x2 on 32 frames of 224x224.

# %% tags=["hide-input"]
show(vivit_schematic(variant_config("B/16x2")), "four_models")

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Model 1: spatio-temporal attention
#
# All $N = n_t n_h n_w$ tokens, plus a CLS token, go through one ViT encoder: every token attends to every
# other, across space and time. It is ViT on a longer sequence; its cost is quadratic in $N$. The
# `Encoder` (shared by every model here) and its `Block`:

# %% tags=["appendix"]
report.show_source(Encoder.forward)
report.show_source(Block)

# %% tags=["hide-input"]
m1 = tiny_vivit(1)
rows, _ = trace(m1, x_tiny, ["tubelet_embed", "encoder.pos_embed", "encoder.blocks.0.attn", "encoder.blocks.0", "encoder", "head"], {
    "tubelet_embed": "(B, C, T, H, W) -> tokens on their grid (B, n_t, n_h, n_w, d)",
    "encoder.pos_embed": "1 CLS + 36 positions, added after flattening (t, h, w) and prepending CLS",
    "encoder.blocks.0.attn.attend": "each of 37 queries attends to all 37 keys, per head",
    "encoder.blocks.0": "pre-LN block: x + MSA(LN(x)), then x + MLP(LN(x))",
    "encoder": "L blocks, final LayerNorm; CLS first",
    "head": "the CLS token's output -> 10 class logits",
})
report.print_table(rows, TRACE_HEADERS)
assert traced_input(rows, "encoder.blocks.0.attn.attend") == "(2, 4, 37, 12)"  # (B, heads, 1 + N, d_h)

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Model 2: factorised encoder ("late fusion")
#
# Two transformers in series. A **spatial encoder** (ViT, $L_s$ layers) runs on the tokens of each temporal
# index separately - the $n_t$ indices are a batch, the weights are shared - and summarises each by its CLS
# output $h_i$. A **temporal encoder** ($L_t$ layers, its own CLS and positions) then runs on
# $[h_1, \ldots, h_{n_t}]$. Space and time meet only at the end. With $L_t = 0$ there is no temporal
# transformer: the $h_i$ are averaged - the paper's **average-pool baseline** (Table 2, last row).

# %% tags=["appendix"]
report.show_source(FactorisedEncoder)

# %% tags=["hide-input"]
m2 = tiny_vivit(2, temporal_layers=1)
rows, _ = trace(m2, x_tiny, ["tubelet_embed", "encoder.spatial.blocks.0.attn", "encoder.spatial", "encoder.temporal.pos_embed",
                             "encoder.temporal.blocks.0.attn", "encoder.temporal", "head"], {
    "tubelet_embed": "tokens on their grid (B, n_t, n_h, n_w, d)",
    "encoder.spatial.blocks.0.attn.attend": "B*n_t = 8 frames as a batch; 1 CLS + 9 tokens each",
    "encoder.spatial": "the same spatial ViT on every temporal index",
    "encoder.temporal.pos_embed": "1 CLS + n_t = 4 temporal positions",
    "encoder.temporal.blocks.0.attn.attend": "the 4 frame summaries h_i (+ CLS) attend to each other",
    "encoder.temporal": "input: each index's spatial CLS output h_i, (B, n_t, d)",
    "head": "the temporal CLS output -> logits",
})
report.print_table(rows, TRACE_HEADERS)
assert traced_input(rows, "encoder.spatial.blocks.0.attn.attend") == "(8, 4, 10, 12)"  # (B*n_t, heads, 1 + S, d_h)
assert traced_input(rows, "encoder.temporal.blocks.0.attn.attend") == "(2, 4, 5, 12)"  # (B, heads, 1 + n_t, d_h)

m2_pool = tiny_vivit(2, temporal_layers=0)
rows, logits_pool = trace(m2_pool, x_tiny, ["encoder.spatial", "encoder", "head"], {
    "encoder.spatial": "as above",
    "encoder": "L_t = 0: the frame summaries h_i, no temporal transformer",
    "head": "input: the mean of the h_i (average-pool baseline)",
})
print("\naverage-pool baseline (L_t = 0):")
report.print_table(rows, TRACE_HEADERS)
with torch.no_grad():
    h = m2_pool.encoder.frame_tokens(m2_pool.tubelet_embed(x_tiny))
    assert torch.allclose(logits_pool, m2_pool.head(h.mean(1)), atol=1e-6)

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Model 3: factorised self-attention
#
# Same number of layers as Model 1, but each block splits self-attention in two steps with their own
# LayerNorm and residual: **spatial** MSA among the $n_h n_w$ tokens of one frame, then **temporal** MSA
# among the $n_t$ tokens at one spatial position, then the MLP. The reshapes do the work: (B, N, d) becomes
# (B $n_t$, S, d) for the spatial step and (B S, $n_t$, d) for the temporal one. There is no CLS token (it
# belongs to no frame and no position); the output tokens are averaged. The seed: "공간 -> 시간 을 하던,
# 시간 -> 공간을 하던 성능은 비슷했다" - space then time or time then space performs alike (the paper says so).
# Space first by default, as in the paper's equations; `attention_order="time_first"` (the official code's
# default) swaps the two steps with the same parameters.

# %% tags=["appendix"]
report.show_source(FactorisedSelfAttentionBlock)

# %% tags=["hide-input"]
m3 = tiny_vivit(3)
rows, _ = trace(m3, x_tiny, ["tubelet_embed", "encoder.blocks.0.attn", "encoder.blocks.0.temporal_attn", "encoder.blocks.0.mlp",
                             "encoder.blocks.0", "encoder", "head"], {
    "encoder.blocks.0.attn": "MSA_s on (B*n_t, S, d): frames as a batch",
    "encoder.blocks.0.attn.attend": "9 tokens of one frame attend to each other",
    "encoder.blocks.0.temporal_attn": "MSA_t on (B*S, n_t, d): positions as a batch",
    "encoder.blocks.0.temporal_attn.attend": "4 tokens at one position, one per frame",
    "encoder.blocks.0.mlp": "per token, back in (t, h, w) order",
    "encoder": "no CLS: 36 tokens out",
    "head": "the mean of the 36 output tokens -> logits",
})
report.print_table(rows, TRACE_HEADERS)
assert traced_input(rows, "encoder.blocks.0.attn.attend") == "(8, 4, 9, 12)"  # (B*n_t, heads, S, d_h)
assert traced_input(rows, "encoder.blocks.0.temporal_attn.attend") == "(18, 4, 4, 12)"  # (B*S, heads, n_t, d_h)

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Model 4: factorised dot-product attention
#
# The seed admits "완벽히는 이해 못했다" (did not fully understand it), so slowly. Model 4 keeps Model 1's
# blocks and **parameters** and changes only what one attention layer computes. Its heads are split in two
# halves: in one half a query attends only to the tokens of **its own frame** (spatial), in the other only
# to the tokens at **its own spatial position** in every frame (temporal). The paper's equations:
#
# $$Y_s = \text{Attention}(Q, K_s, V_s), \qquad Y_t = \text{Attention}(Q, K_t, V_t), \qquad
#   Y = \text{Concat}(Y_s, Y_t)\, W_O$$
#
# where $K_s, V_s$ are the keys and values of the query's frame ($n_h n_w$ of them) and $K_t, V_t$ those at
# its position ($n_t$). Each query sees $n_h n_w + n_t$ keys instead of $N$: less compute, the same
# weights. (The official code gives the first half of the heads to time, the second to space.)
#
# **Q: "Where does Model 4 live?"** Hugging Face implements Model 1 only. In scenic, Models 3 and 4 are
# attention types of the one `Encoder` in `projects/vivit/model.py` (`attention_config.type` =
# `'factorized_self_attention_block'` or `'factorized_dot_product_attention'`, the latter an attention
# function in `model_utils.py`); its published configs are Model 1 and Model 2 ones. Here it is
# `FactorisedDotProductAttention`:

# %% [markdown] slideshow={"slide_type": "notes"}
# **Speaker notes.** The blog's author wrote that he did not fully understand Model 4 (완벽히는 이해 못했다):
# take this slide slowly. One sentence: Model 1's weights, but half of the heads attend within the
# query's frame and half along its spatial position through time. Then show "Who attends to whom".

# %% tags=["appendix"]
report.show_source(FactorisedDotProductAttention)

# %% tags=["hide-input"]
m4 = tiny_vivit(4)
rows, _ = trace(m4, x_tiny, ["tubelet_embed", "encoder.blocks.0.attn.qkv", "encoder.blocks.0.attn", "encoder.blocks.0.attn.proj",
                             "encoder", "head"], {
    "encoder.blocks.0.attn.qkv": "Q, K, V of all 4 heads from one Linear, like Model 1",
    "encoder.blocks.0.attn.attend": "heads 0-1 (temporal) | heads 2-3 (spatial)",
    "encoder.blocks.0.attn.proj": "heads concatenated in order 0..3 -> W_O",
    "encoder": "no CLS: 36 tokens out",
    "head": "the mean of the 36 output tokens -> logits",
})
report.print_table(rows, TRACE_HEADERS)
attends = [r for r in rows if r[0].endswith(".attend")]
assert [a[2] for a in attends] == ["(18, 2, 4, 12)", "(8, 2, 9, 12)"]  # (B*S, h/2, n_t, d_h), (B*n_t, h/2, S, d_h)

# %% [markdown] slideshow={"slide_type": "subslide"} tags=["appendix"]
# ### Model 4 from its definition
#
# Written here straight from the equations - per head, scaled dot-product attention over all $N$ tokens
# with the forbidden pairs masked to $-\infty$ (the masks come from `attention_pattern`) - and compared with
# the package's `FactorisedDotProductAttention` on the same weights. Then a whole Model 4 is rebuilt as
# **Model 1's network with this masked attention**, from Model 4's own state dict.

# %%
def factorised_dot_product_by_masks(attn, x, grid):
    """Model 4's attention from its definition: heads [0, h/2) temporal, [h/2, h) spatial, via masks."""
    B, N, C = x.shape
    h = attn.num_heads
    d_h = C // h
    masks = attention_pattern(4, *grid)
    q, k, v = attn.qkv(x).split(C, dim=-1)  # the fused Linear's rows: [0:d] queries, [d:2d] keys, [2d:3d] values
    heads = []
    for i in range(h):
        s = slice(i * d_h, (i + 1) * d_h)
        scores = q[..., s] @ k[..., s].transpose(-2, -1) / math.sqrt(d_h)  # (B, N, N)
        allowed = masks["temporal"] if i < h // 2 else masks["spatial"]
        heads.append(scores.masked_fill(~allowed, float("-inf")).softmax(-1) @ v[..., s])
    return attn.proj(torch.cat(heads, dim=-1))  # Concat(Y_t, Y_s) W_O


block = m4.encoder.blocks[0]
with torch.no_grad():
    z = m4.tubelet_embed(x_tiny).flatten(1, 3) + m4.encoder.pos_embed.weight
    ours = factorised_dot_product_by_masks(block.attn, block.norm1(z), GRID)
    package = block.attn(block.norm1(z), GRID)
print(f"masked attention == FactorisedDotProductAttention: {torch.allclose(ours, package, atol=1e-5)} "
      f"(max |diff| < 1e-5: {(ours - package).abs().max().item() < 1e-5})")
assert torch.allclose(ours, package, atol=1e-5)

m1_gap = tiny_vivit(1, classifier="gap", seed=9)
print(f"Model 1 (no CLS) and Model 4 have the same parameter names and shapes: "
      f"{ {k: v.shape for k, v in m1_gap.state_dict().items()} == {k: v.shape for k, v in m4.state_dict().items()} }")
m1_gap.load_state_dict(m4.state_dict())
with torch.no_grad():
    z = m1_gap.tubelet_embed(x_tiny).flatten(1, 3) + m1_gap.encoder.pos_embed.weight
    for blk in m1_gap.encoder.blocks:
        z = z + factorised_dot_product_by_masks(blk.attn, blk.norm1(z), GRID)
        z = z + blk.mlp(blk.norm2(z))
    rebuilt = m1_gap.head(m1_gap.encoder.norm(z).mean(1))
    same_as_m4 = torch.allclose(rebuilt, m4(x_tiny), atol=1e-5)
    same_as_m1 = torch.allclose(m1_gap(x_tiny), m4(x_tiny), atol=1e-4)
print(f"Model 1's network + masked attention, Model 4's weights == Model 4: {same_as_m4}")
print(f"the same weights with full attention (Model 1) == Model 4:          {same_as_m1}")
assert same_as_m4 and not same_as_m1

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Who attends to whom
#
# `attention_pattern(model, n_t, n_h, n_w)` gives, per kind of attention layer, the $N \times N$ matrix of
# allowed (query, key) pairs, tokens in $(t, h, w)$ order. For our 4 x 3 x 3 grid (CLS tokens left out):

# %% tags=["hide-input"]
patterns = {m: attention_pattern(m, *GRID) for m in MODELS}
panels = [("Model 1: joint", patterns[1]["joint"]), ("Model 2: spatial encoder", patterns[2]["spatial"]),
          ("Models 3 and 4: spatial", patterns[3]["spatial"]), ("Models 3 and 4: temporal", patterns[3]["temporal"])]
fig, axes = plt.subplots(1, 4, figsize=(15, 4.2), constrained_layout=True)
for ax, (title, mask) in zip(axes, panels):
    ax.imshow(mask.numpy(), cmap="Blues", vmin=0, vmax=1.3)
    for k in range(9, 36, 9):  # frame boundaries
        ax.axhline(k - 0.5, color="0.5", lw=0.6)
        ax.axvline(k - 0.5, color="0.5", lw=0.6)
    ax.set_title(f"{title}\n{int(mask.sum())} of {mask.numel()} pairs", fontsize=10)
    ax.set_xlabel("key token (t, h, w order)")
    ax.set_ylabel("query token")
fig.suptitle("Allowed (query, key) pairs on a 4 x 3 x 3 token grid; grey lines separate frames", fontsize=12)
show(fig, "attention_patterns")

# %% [markdown] slideshow={"slide_type": "fragment"}
# And from the point of view of one query token (frame 1, centre). Model 2's spatial encoder never looks
# outside the frame; the other frames reach it only through their summary tokens, after the spatial
# encoder has finished.

# %% tags=["hide-input"]
query = 1 * 9 + 4  # frame 1, row 1, column 1
CODES = ["not attended", "query", "spatial (own frame)", "temporal (own position)", "joint (everything)",
         "through frame summaries, after the spatial encoder"]
cmap = ListedColormap(["0.93", "black", "tab:blue", "tab:orange", "tab:green", "moccasin"])


def query_view(model):
    p = patterns[model]
    code = torch.zeros(36, dtype=torch.long)
    if model == 1:
        code[p["joint"][query]] = 4
    elif model == 2:
        code[:] = 5
        code[p["spatial"][query]] = 2
    else:
        code[p["spatial"][query]] = 2
        code[p["temporal"][query]] = 3
    code[query] = 1
    return code.view(*GRID)


labels = {1: "Model 1", 2: "Model 2", 3: "Model 3\n(two steps per block)", 4: "Model 4\n(two halves of heads)"}
fig, axes = plt.subplots(4, 4, figsize=(8, 8.4), layout="constrained")
for r, model in enumerate(MODELS):
    view = query_view(model)
    for f in range(4):
        ax = axes[r, f]
        ax.imshow(view[f].numpy(), cmap=cmap, vmin=-0.5, vmax=5.5)
        for k in (0.5, 1.5):
            ax.axhline(k, color="white", lw=1)
            ax.axvline(k, color="white", lw=1)
        ax.set_xticks([])
        ax.set_yticks([])
        if r == 0:
            ax.set_title(f"frame {f}", fontsize=10)
    axes[r, 0].set_ylabel(labels[model], fontsize=10)
handles = [Rectangle((0, 0), 1, 1, color=cmap(i)) for i in range(len(CODES))]
fig.legend(handles, CODES, loc="outside lower center", ncols=2, fontsize=8)
fig.suptitle("Which tokens the query (black) attends to in one layer", fontsize=12)
show(fig, "query_view")

# %% [markdown] slideshow={"slide_type": "subslide"} tags=["appendix"]
# The patterns are drawn from a function; the real modules must agree. Perturb one input token of the first
# block of each model and see which output tokens change - the **reach of one layer**, measured:

# %%
def reach_of_first_block(model, query=query):
    """Output tokens of the first block (spatial encoder's for Model 2) that change when input token `query` changes."""
    torch.manual_seed(0)
    z = torch.randn(1, 36, TINY["hidden_dim"])
    z2 = z.clone()
    z2[0, query] += torch.randn(TINY["hidden_dim"])  # not a constant shift: LayerNorm would remove that
    if model.config.model == 2:
        blk = model.encoder.spatial.blocks[0]
        run = lambda t: blk(t.view(4, 9, -1)).view(1, 36, -1)  # noqa: E731 - frames as a batch
    else:
        blk = model.encoder.blocks[0]
        run = lambda t: blk(t, GRID)  # noqa: E731
    with torch.no_grad():
        return (run(z) - run(z2)).abs().amax(-1)[0] > 1e-6


expected = {1: patterns[1]["joint"][query], 2: patterns[2]["spatial"][query],
            3: (patterns[3]["temporal"].float() @ patterns[3]["spatial"].float())[:, query] > 0,  # space, then time
            4: patterns[4]["spatial"][query] | patterns[4]["temporal"][query]}
S, n_t = 9, 4
keys_per_query = {1: "N + 1 = 37", 2: "S + 1 = 10, then n_t + 1 = 5", 3: "S = 9, then n_t = 4", 4: "S = 9 or n_t = 4 (by head)"}
paper_keys = {1: "3,137", 2: "197, then 17", 3: "196, then 16", 4: "196 or 16"}
rows = []
for model, m in zip(MODELS, (m1, m2, m3, m4)):
    measured = reach_of_first_block(m)
    assert torch.equal(measured, expected[model]), model
    rows.append((f"Model {model}", keys_per_query[model], paper_keys[model], int(measured.sum())))
report.print_table(rows, ["model", "keys per query (4x3x3 grid)", "keys per query (B/16x2, 32x224)", "tokens reached by one block"])

# %% [markdown] slideshow={"slide_type": "fragment"}
# Model 3 reaches every token in one block - space then time is two hops - at the price of two attention
# steps; Model 4 reaches the "cross" of its frame and its position (9 + 4 - 1 = 12); Model 2's spatial
# encoder stays in its frame through all $L_s$ layers. This is the accuracy-for-cost trade of Table 2.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 5. Table 2, recomputed
#
# ViViT-B/16x2 (12 layers, 12 heads, $d = 768$, MLP 3072), 32 frames of 224x224, a 400-class head.
# Parameters are counted on the package's models and MACs with `minimodels.flops.count_macs` - both on the
# `meta` device, where weights have shapes but no data. The paper's "FLOPs" are multiply-accumulates.

# %% tags=["hide-input"]
table2 = {}
rows = []
for name, p in PAPER_TABLE2.items():
    m = meta_vivit("B/16x2", p["model"], num_classes=400, num_frames=32, image_size=224, **p["overrides"])
    params, macs = count_params(m), count_macs(m, meta_video(32, 224))
    table2[name] = dict(params=params, gmacs=macs / 1e9)
    rows.append((name, f"{params:,}", round(params / 1e6, 2), p["params"], round(macs / 1e9, 2), p["gflops"],
                 f"{100 * (macs / 1e9 / p['gflops'] - 1):+.2f}%"))
report.print_table(rows, ["ViViT-B/16x2", "params", "ours (M)", "paper (M)", "GMACs (ours)", "paper GFLOPs", "difference"])
assert all(abs(table2[n]["params"] / 1e6 - p["params"]) < 0.1 for n, p in PAPER_TABLE2.items())
assert all(-0.015 < table2[n]["gmacs"] / p["gflops"] - 1 < 0 for n, p in PAPER_TABLE2.items())

# %% [markdown] slideshow={"slide_type": "fragment"}
# The paper's other columns are quoted, not reproduced here (notebook 04 trains reduced models):

# %% tags=["hide-input"]
rows = [(name, f"{p['k400']:.1f}", f"{p['ek']:.1f}", f"{p['ms']:.1f}", f"{table2[name]['gmacs']:.1f}") for name, p in PAPER_TABLE2.items()]
report.print_table(rows, ["ViViT-B/16x2", "paper: K400 top-1 %", "paper: EK action %", "paper: TPU-v3 ms", "GMACs (ours)"])

# %% [markdown] slideshow={"slide_type": "subslide"} tags=["appendix"]
# ### Parameters: where they differ, and the paper's rounding
#
# - Model 4 has **exactly Model 1's weights** minus the CLS token and its position ($2d$ = 1,536).
# - Model 3 adds a temporal MSA and LayerNorm to each of the 12 blocks (+28.4 M).
# - Model 2 = a spatial ViT with 196 + 1 positions (not 3,136 + 1) + a 4-layer temporal encoder; without
#   it (the average-pool baseline) it is the smallest model.
#
# The paper's last digit: every row is rounded to the nearest 0.1 M except Models 1 and 4, 88.95 M
# printed as 88.9 (truncated):

# %% tags=["hide-input"]
rows = []
for name, p in PAPER_TABLE2.items():
    params = table2[name]["params"]
    nearest, truncated = round(params / 1e6, 1), math.floor(params / 1e5) / 10
    rows.append((name, f"{params:,}", f"{nearest:.1f}", f"{truncated:.1f}", f"{p['params']:.1f}",
                 "nearest" if nearest == p["params"] else "truncated" if truncated == p["params"] else "neither"))
report.print_table(rows, ["ViViT-B/16x2", "params", "rounded", "truncated", "paper", "paper matches"])
d = 768
assert table2["Model 1: spatio-temporal"]["params"] - table2["Model 4: factorised dot-product"]["params"] == 2 * d
assert table2["Model 1: spatio-temporal"]["params"] == 88_954_000  # = transformers' VivitForVideoClassification

# %% [markdown] slideshow={"slide_type": "subslide"} tags=["appendix"]
# ### The FLOP gap
#
# Our counts are 0.3-0.8% below the paper's, always below. `count_macs` counts the multiply-accumulates of
# the matrix products, the convolution and the two attention products - nothing else. The paper's count
# (it does not say how it counted) evidently includes some element-wise work as well. A
# simple hypothesis fits all five rows: a cost per token per block (LayerNorms, GELU, biases, residual
# adds) plus a cost per attention weight (the softmax). Least squares over the five gaps:

# %%
L, h, L_t = 12, 12, 4
n_t, S = 16, 196
N = n_t * S
structure = {  # (token-blocks: tokens x blocks they pass through, attention weights: heads x queries x keys, summed)
    "Model 1: spatio-temporal": (L * (N + 1), L * h * (N + 1) ** 2),
    "Model 2: factorised encoder": (L * n_t * (S + 1) + L_t * (n_t + 1), L * h * n_t * (S + 1) ** 2 + L_t * h * (n_t + 1) ** 2),
    "Model 3: factorised self-attention": (L * N, L * h * N * (S + n_t)),
    "Model 4: factorised dot-product": (L * N, L * (h // 2) * N * (S + n_t)),
    "Model 2, average-pool baseline (L_t = 0)": (L * n_t * (S + 1), L * h * n_t * (S + 1) ** 2),
}
gap = torch.tensor([(p["gflops"] - table2[n]["gmacs"]) * 1e9 for n, p in PAPER_TABLE2.items()], dtype=torch.float64)
A = torch.tensor([structure[n] for n in PAPER_TABLE2], dtype=torch.float64)
per_token, per_weight = torch.linalg.lstsq(A, gap.unsqueeze(1)).solution.squeeze(1).tolist()
fit = A @ torch.tensor([per_token, per_weight], dtype=torch.float64)
rows = [(n, round(gap[i].item() / 1e9, 2), f"{structure[n][0]:,}", f"{structure[n][1] / 1e6:,.1f}", round(fit[i].item() / 1e9, 2),
         f"{(gap[i] - fit[i]).item() / 1e9:+.2f}") for i, n in enumerate(PAPER_TABLE2)]
report.print_table(rows, ["ViViT-B/16x2", "paper - ours (G)", "token-blocks", "attention weights (M)", "fit (G)", "residual (G)"])
print(f"fit: {per_token:,.0f} operations per token per block (= {per_token / d:.0f} per channel) + {per_weight:.2f} per attention weight")
assert all(abs(float(r[-1])) < 0.2 for r in rows)  # the paper's figures are rounded to 0.1 G
temporal_ours = table2["Model 2: factorised encoder"]["gmacs"] - table2["Model 2, average-pool baseline (L_t = 0)"]["gmacs"]
temporal_paper = PAPER_TABLE2["Model 2: factorised encoder"]["gflops"] - PAPER_TABLE2["Model 2, average-pool baseline (L_t = 0)"]["gflops"]
print(f"Model 2's temporal encoder (Model 2 - baseline): ours {temporal_ours:.2f}, paper {temporal_paper:.1f} GFLOPs")

# %% [markdown] slideshow={"slide_type": "fragment"}
# About 31 operations per channel and token in every block, and about 2 per attention weight (an
# exponential and a division): the order of what LayerNorm, GELU, bias and residual arithmetic and a
# softmax cost. Model 1's larger gap is its $N^2$ attention matrix. Model 3's positive residual fits too -
# its blocks have a second LayerNorm and MSA, so more element-wise work per token than the common fit.
# This is a hypothesis consistent with the numbers, not the paper's stated method. Where the element-wise
# terms cancel - the cost of Model 2's 4-layer temporal encoder, on 17 tokens - ours and the paper's agree.

# %% [markdown] slideshow={"slide_type": "subslide"} tags=["appendix"]
# ### Spatial resolution: ViViT-L/16x2
#
# The paper also reports a larger model (ViViT-L: 24 layers, 16 heads, $d = 1024$, MLP 4096) at three crop
# sizes. Which frame count? Counting ViViT-L/16x2 Model 1 at 224x224 with 16 and with 32 frames settles it:

# %%
rows, gmacs_l = [], {}
for frames_l, size in [(16, 224), (32, 224), (32, 288), (32, 320)]:
    m = meta_vivit("L/16x2", 1, num_classes=400, num_frames=frames_l, image_size=size)
    g_l = count_macs(m, meta_video(frames_l, size)) / 1e9
    top1, paper_g = PAPER_CROP[size]
    if frames_l == 32:
        gmacs_l[size] = g_l
    rows.append((f"{frames_l} x {size}x{size}", f"{m.config.num_tokens:,}", round(count_params(m) / 1e6, 1), round(g_l, 1), paper_g,
                 f"{100 * (g_l / paper_g - 1):+.2f}%", f"{top1:.1f}" if frames_l == 32 else "-"))
report.print_table(rows, ["frames x crop", "tokens", "params (M)", "GMACs (ours)", "paper GFLOPs", "difference", "paper K400 top-1 %"])
tokens_224, tokens_320 = (32 // 2) * (224 // 16) ** 2, (32 // 2) * (320 // 16) ** 2
print(f"224 -> 320: tokens x{tokens_320 / tokens_224:.2f}, GMACs x{gmacs_l[320] / gmacs_l[224]:.2f} "
      f"(paper x{PAPER_CROP[320][1] / PAPER_CROP[224][1]:.2f}), top-1 {PAPER_CROP[320][0] - PAPER_CROP[224][0]:+.1f} points (paper)")
assert all(-0.015 < gmacs_l[s] / PAPER_CROP[s][1] - 1 < 0 for s in PAPER_CROP)

# %% [markdown] slideshow={"slide_type": "fragment"}
# 32 frames: the three figures are reproduced to within 1% (0.7-0.9% low, the element-wise work again;
# 16 frames would be less than half). Going from 224 to 320 doubles the tokens and multiplies the cost by
# more - Model 1's quadratic attention - for under a point of top-1. The position embedding, sized for the
# grid at 224, is resized to the larger grid (section 7). The seed's point: more tokens (a smaller tubelet,
# a larger crop, more frames) raise accuracy, and raise FLOPs.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 6. Tokens vs FLOPs
#
# Two sweeps on ViViT-B at 224x224, each model counted with `count_macs`: the temporal tubelet size $t$ at
# 32 frames (more tokens as $t$ shrinks), and the frame count $T$ at $t = 2$ (a model built for 32 frames
# runs on any multiple of $t$; its positions are resized).

# %% tags=["hide-input"]
rows, sweep = [], {}
for m_id in MODELS:
    for t in (8, 4, 2, 1):
        m = meta_vivit(f"B/16x{t}", m_id, num_classes=400, num_frames=32, image_size=224)
        sweep[(m_id, "tubelet", t)] = (m.config.num_tokens, count_macs(m, meta_video(32, 224)) / 1e9)
    m = meta_vivit("B/16x2", m_id, num_classes=400, num_frames=32, image_size=224)
    for T in (8, 16, 32, 48, 64, 128):
        sweep[(m_id, "frames", T)] = ((T // 2) * 196, count_macs(m, meta_video(T, 224)) / 1e9)
for kind, values in (("tubelet", (8, 4, 2, 1)), ("frames", (8, 16, 32, 48, 64, 128))):
    for v in values:
        label = f"t = {v}, T = 32" if kind == "tubelet" else f"t = 2, T = {v}"
        rows.append((label, f"{sweep[(1, kind, v)][0]:,}", *[round(sweep[(m_id, kind, v)][1], 1) for m_id in MODELS]))
report.print_table(rows, ["B/16, 224x224", "tokens N", "Model 1 GMACs", "Model 2", "Model 3", "Model 4"])

# %% tags=["hide-input"]
fig, axes = plt.subplots(1, 2, figsize=(13, 4.6), constrained_layout=True)
markers = {1: "o", 2: "s", 3: "^", 4: "D"}
for ax, (kind, values, xlabel) in zip(axes, (("tubelet", (8, 4, 2, 1), "tokens N (T = 32, t = 8, 4, 2, 1)"),
                                             ("frames", (8, 16, 32, 48, 64, 128), "tokens N (t = 2, T = 8 ... 128)"))):
    for m_id in MODELS:
        n_tok, g_m = zip(*[sweep[(m_id, kind, v)] for v in values])
        ax.plot(n_tok, g_m, marker=markers[m_id], label=f"Model {m_id}: {MODELS[m_id]}")
    n_ref = np.array([sweep[(1, kind, v)][0] for v in values], dtype=float)
    ax.plot(n_ref, sweep[(2, kind, values[0])][1] * n_ref / n_ref[0], "k:", lw=1, label="linear in N (from Model 2's first point)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("GMACs per clip")
    ax.grid(True, which="both", alpha=0.3)
axes[0].legend(fontsize=8)
axes[0].set_title("smaller tubelets: more tokens")
axes[1].set_title("more frames: more tokens")
fig.suptitle("ViViT-B at 224x224: cost against the number of tokens (log-log)", fontsize=12)
show(fig, "tokens_vs_flops")

# %% tags=["hide-input"]
def growth(m_id, kind, a, b):
    return sweep[(m_id, kind, b)][1] / sweep[(m_id, kind, a)][1]


rows = [(f"Model {m_id}", round(growth(m_id, "frames", 64, 128), 2), round(growth(m_id, "tubelet", 2, 1), 2)) for m_id in MODELS]
report.print_table(rows, ["model", "GMACs x, T 64 -> 128 (2x tokens)", "GMACs x, t 2 -> 1 (2x tokens)"])
m1_32 = meta_vivit("B/16x2", 1, num_classes=400, num_frames=32, image_size=224)
for T in (32, 128):
    by_op = macs_by_op(m1_32, meta_video(T, 224))
    attention = sum(v for op, v in by_op.items() if "bmm" in op or "scaled_dot_product" in op)
    assert attention == 12 * ((T // 2) * 196 + 1) ** 2 * 2 * 768  # L x (N + 1)^2 x (d for Q K^T + d for A V)
    print(f"Model 1, {T} frames: the attention products (Q K^T, A V) are {attention / sum(by_op.values()):.0%} of the MACs")
budget = sweep[(1, "frames", 32)][1]
affordable = max(T for (m_id, kind, T), (_, g_m) in sweep.items() if m_id == 2 and kind == "frames" and g_m <= budget)
print(f"Model 2 fits {affordable} frames in Model 1's 32-frame budget ({budget:.1f} GMACs): "
      f"{sweep[(2, 'frames', affordable)][1]:.1f} GMACs")
assert growth(1, "frames", 64, 128) > 2.5 and all(1.95 < growth(m, "frames", 64, 128) < 2.1 for m in (2, 3, 4))
assert affordable > 32

# %% [markdown] slideshow={"slide_type": "fragment"}
# Doubling the tokens doubles the cost of Models 2-4 (their attention is per frame, per position, or both -
# linear in $n_t$ at a fixed frame size) but multiplies Model 1's by about three at 64 -> 128 frames: its
# attention matrix is $N^2$, and at 128 frames the attention products are most of its work. This is the
# seed's point that Model 2 "handles more tokens efficiently" and "processes more frames with fewer FLOPs
# than Model 1" ("Model 1 대비 Model 2는 더 적은 FLOPs로도 더 많은 프레임을 처리"): within Model 1's
# 32-frame budget Model 2 runs 48 frames. Whether those frames buy accuracy is an experiment (the paper's
# frames ablation; notebook 04).
#
# The seed's last point: more frames give the model more temporal information and accuracy, but frames
# and views are chosen against regularisation and hardware. Cost is per *video*: views x cost per view.

# %% tags=["hide-input"]
rows = []
for m_id in (1, 2):
    for T, views_per_video in ((32, 12), (128, 3)):
        per_view = sweep[(m_id, "frames", T)][1]
        clips = views_per_video // 3
        rows.append((f"Model {m_id}", T, f"{views_per_video} ({clips} clip{'s' if clips > 1 else ''} x 3 crops)", round(per_view, 1),
                     round(views_per_video * per_view, 1)))
report.print_table(rows, ["B/16x2, 224x224", "frames per view", "views per video", "GMACs per view", "GMACs per video"])

# %% [markdown] slideshow={"slide_type": "fragment"}
# Covering the video with four 32-frame clips or with one 128-frame clip costs Model 2 the same per video
# (it is linear in the frames); for Model 1 the long clip costs more than twice as much.
#
# FLOPs are not time, though: Table 2's TPU column puts Model 4 (277 GFLOPs) at 22.9 ms and Model 2
# (284 GFLOPs) at 17.4 ms - plausibly the reshapes and transposes of the head split, memory traffic that a
# MAC count does not see.

# %% [markdown] slideshow={"slide_type": "slide"} tags=["appendix"]
# ## 7. Position embeddings at another frame count or resolution
#
# The learned positions are one vector per token of the grid the model was built for ($(1, 1 + n_t n_h n_w,
# d)$ for Model 1). A clip with more frames or a larger crop has a larger grid. Two ways to fill it:
#
# - **tile** (repeat) the table: what initialisation from an image model does over time (section 8) -
#   every frame gets the same spatial positions;
# - **interpolate** the table over $t$, $h$ and $w$: what this package does when a video model meets a
#   clip of another size (`PositionEmbedding` -> `resize_grid`, trilinear, CLS kept).

# %%
report.show_source(PositionEmbedding)
report.show_source(resize_grid)

# %% [markdown] slideshow={"slide_type": "subslide"} tags=["appendix"]
# Tiling over time would be wrong for a trained video model: a table whose temporal part is smooth (here,
# two sinusoids over 4 frames) tiled to 8 frames gives frames 0 and 4 the same position - the model could
# not tell them apart; interpolated, the 8 positions keep their order.

# %% tags=["hide-input"]
t_old = torch.arange(4, dtype=torch.float64)
table = torch.stack([torch.cos(math.pi * (t_old + 0.5) / 4), torch.sin(math.pi * (t_old + 0.5) / 4)], -1).float()  # (4, 2)
tiled = table.repeat(2, 1)  # (8, 2)
interpolated = resize_grid(table.unsqueeze(0), (8,))[0]  # (8, 2), linear over t
fig, ax = plt.subplots(figsize=(7.5, 3.6), constrained_layout=True)
ax.plot((t_old + 0.5) / 4, table[:, 0], "ko-", ms=8, label="table for n_t = 4 (channel 0)")
ax.plot((torch.arange(8) + 0.5) / 8, tiled[:, 0], "s--", label="tiled to n_t = 8")
ax.plot((torch.arange(8) + 0.5) / 8, interpolated[:, 0], "^-", label="interpolated to n_t = 8")
ax.set_xlabel("time within the clip (0 = start, 1 = end)")
ax.set_ylabel("position embedding value")
ax.legend(fontsize=8)
show(fig, "tile_vs_interpolate")
duplicates = [(i, j) for i in range(8) for j in range(i + 1, 8) if torch.equal(tiled[i], tiled[j])]
print(f"tiled: frames with identical positions {duplicates}")
print(f"interpolated: all 8 positions distinct: {len({tuple(r.tolist()) for r in interpolated}) == 8}")
assert duplicates == [(i, i + 4) for i in range(4)]
assert torch.equal(resize_grid(table.unsqueeze(0), (4,)), table.unsqueeze(0))  # the identity at the native size

# %% [markdown] slideshow={"slide_type": "subslide"} tags=["appendix"]
# So every model here runs on clips of other sizes. Each tiny model (built for 8 frames of 24x24, grid
# 4x3x3) on 16 frames of 40x40 (grid 8x5x5), checked against a model *built* for that size holding the
# resized tables:

# %%
x_big = torch.randn(2, 3, 16, 40, 40, generator=torch.Generator().manual_seed(2))
rows = []
for model_id in MODELS:
    small = tiny_vivit(model_id)
    big = tiny_vivit(model_id, seed=5, num_frames=16, image_size=40)
    state = small.state_dict()
    for key, pe in small.named_modules():
        if isinstance(pe, PositionEmbedding):
            new_grid = {1: (8,), 2: (5, 5), 3: (8, 5, 5)}[len(pe.grid)]
            state[f"{key}.weight"] = pe(new_grid).detach()
    big.load_state_dict(state)
    with torch.no_grad():
        y_small, y_big = small(x_big), big(x_big)
    same = torch.allclose(y_small, y_big, atol=1e-5)
    tables = [f"{tuple(pe.weight.shape)} -> {tuple(big.get_submodule(k).weight.shape)}" for k, pe in small.named_modules()
              if isinstance(pe, PositionEmbedding)]
    rows.append((f"Model {model_id}", "; ".join(tables), tuple(y_small.shape), "yes" if same else "no"))
    assert same
report.print_table(rows, ["model", "position tables: built -> used", "logits", "== model built for 16x40x40"])

# %% [markdown] slideshow={"slide_type": "fragment"}
# **Q: "The position embedding shape doesn't match when I change the crop size or frame count."**
# Hugging Face's ViViT (Model 1 only) has `interpolate_pos_encoding=True`, written for images (the DINO
# recipe): it returns the table unchanged when the input is square (it compares the *configured* patch count
# with the table's), and otherwise reshapes the whole $(t, h, w)$ table as one square 2D grid and resizes
# that, losing time. Either way another frame count or crop size fails.
# A small `transformers` ViViT with the same weights as ours, saved with `save_pretrained` and loaded with
# `minimodels.hf.load_vivit` (skipped if `transformers` is not installed):

# %% tags=["nbval-ignore-output"]
# tqdm (imported by transformers) warns in Jupyter when ipywidgets is missing; its progress bars are off here anyway
warnings.filterwarnings("ignore", message="IProgress not found")
try:
    import transformers
except ImportError:
    transformers = None
    print("transformers is not installed - skipped (pip install transformers)")

from minimodels.hf import load_vit, load_vivit  # noqa: E402

SMALL_HF_VIVIT = dict(image_size=24, num_frames=8, tubelet_size=[2, 8, 8], hidden_size=48, num_hidden_layers=2,
                      num_attention_heads=4, intermediate_size=96, num_labels=10)


def perturbed(model):
    """transformers' initialisation plus noise, so that no weight is trivial (zero positions, unit norms)."""
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return model.eval()


if transformers is not None:
    transformers.utils.logging.disable_progress_bar()
    transformers.utils.logging.set_verbosity_error()
    torch.manual_seed(0)
    hf_vivit = perturbed(transformers.VivitForVideoClassification(transformers.VivitConfig(**SMALL_HF_VIVIT)))
    with tempfile.TemporaryDirectory() as ckpt_dir:
        hf_vivit.save_pretrained(ckpt_dir)
        ours_vivit = load_vivit(ckpt_dir)
    rows = []
    for frames_hf, size, width in [(8, 24, 24), (16, 24, 24), (8, 40, 40), (16, 40, 40), (8, 24, 32)]:
        clip_hf = torch.randn(1, frames_hf, 3, size, width)  # transformers' layout (B, T, C, H, W)
        with torch.no_grad():
            ours_out = ours_vivit(clip_hf.permute(0, 2, 1, 3, 4))
            try:
                hf_out = hf_vivit(pixel_values=clip_hf, interpolate_pos_encoding=True).logits
                hf_result = f"ok, max |diff| {(hf_out - ours_out).abs().max().item():.1e}"
            except Exception as err:  # noqa: BLE001 - show whatever it raises
                hf_out, hf_result = None, f"{type(err).__name__}: {str(err).split(' at non-singleton')[0]}"
        rows.append((f"{frames_hf} x {size}x{width}", hf_result, f"ok, logits {tuple(ours_out.shape)}"))
        if (frames_hf, size, width) == (8, 24, 24):
            assert hf_out is not None and (hf_out - ours_out).abs().max().item() < 1e-4
    report.print_table(rows, ["clip", "transformers, interpolate_pos_encoding=True", "minimodels"])

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 8. Initialisation from an image ViT
#
# Video datasets are small; ViViT starts from a ViT trained on images (ImageNet-21k or JFT). The image
# model's transformer blocks fit the video model as they are; two tensors need a rule.
#
# **Positions.** The image table has one vector per patch of an $n_h \times n_w$ grid. It is **tiled over
# the $n_t$ temporal indices** - the seed: "같은 위치의 patch인데, 시간이 다른 경우 -> 같은 weight로 초기화"
# (the same patch position at different times starts with the same weights) - and resized bilinearly if
# the video's spatial grid differs.
#
# **The tubelet kernel** $\mathbf{E} \in \mathbb{R}^{d \times C \times t \times h \times w}$ from the patch
# kernel $\mathbf{E}_{\text{image}} \in \mathbb{R}^{d \times C \times h \times w}$:
#
# $$\text{filter inflation (I3D):}\quad \mathbf{E} = \tfrac{1}{t}\,[\mathbf{E}_{\text{image}}, \ldots,
#   \mathbf{E}_{\text{image}}, \ldots, \mathbf{E}_{\text{image}}]$$
# $$\text{central frame, the seed's (9):}\quad \mathbf{E} = [\mathbf{0}, \ldots, \mathbf{E}_{\text{image}},
#   \ldots, \mathbf{0}]$$
#
# A tubelet token is $\sum_{k<t} \mathbf{E}_k x_k + b$. Under inflation a **static** clip ($x_k = x$) gives
# $\sum_k \frac{1}{t}\mathbf{E}_{\text{image}} x + b$ - exactly the image's patch embedding. Under
# central-frame initialisation the token is $\mathbf{E}_{\text{image}} x_c + b$ for the centre frame
# $c = \lfloor t/2 \rfloor$: the model starts as **uniform frame sampling** and learns to use the other
# frames. The seed notes (9) works best; the paper's Table 1 (ViViT-B Model 1, K400 top-1):

# %% tags=["hide-input"]
report.print_table([(k, v) for k, v in PAPER_TABLE1.items()], ["tubelet initialisation (paper, Table 1)", "K400 top-1 %"])

# %% [markdown] slideshow={"slide_type": "subslide"} tags=["appendix"]
# `init_from_image(vivit, image_vit, tubelet_init=...)` does all of this (and the model-specific parts
# below). A small image ViT - same width, depth and patch size as our tiny video models - with its
# weights perturbed so that no weight is trivial:

# %%
torch.manual_seed(1)
vit = ViT(ViTConfig(image_size=24, patch_size=8, hidden_dim=48, depth=2, num_heads=4, mlp_dim=96, num_classes=10))
with torch.no_grad():
    for name, p in vit.named_parameters():
        if "norm" in name or "cls" in name or name.endswith("bias"):
            p.add_(0.1 * torch.randn_like(p))
vit.eval()
image = torch.randn(2, 3, 24, 24, generator=torch.Generator().manual_seed(3))
static = image.unsqueeze(2).expand(-1, -1, 8, -1, -1).contiguous()  # a clip of 8 identical frames
moving = torch.randn(2, 3, 8, 24, 24, generator=torch.Generator().manual_seed(4))

rows = []
E_img = vit.patch_embed.proj.weight
for how in ("inflate", "central", "random"):
    m = init_from_image(tiny_vivit(1), vit, tubelet_init=how)
    E = m.tubelet_embed.proj.weight  # (d, C, t, h, w)
    scale = [round((E[:, :, k] * E_img).sum().item() / (E_img * E_img).sum().item(), 3) for k in range(2)]
    with torch.no_grad():
        static_tokens = m.tubelet_embed(static)
        is_image = all(torch.allclose(static_tokens[:, i], vit.patch_embed(image), atol=1e-5) for i in range(4))
        tokens = m.tubelet_embed(moving)
        is_centre = all(torch.allclose(tokens[:, i], vit.patch_embed(moving[:, :, 2 * i + 1]), atol=1e-5) for i in range(4))
    rows.append((how, f"{scale[0]} E_img", f"{scale[1]} E_img", "yes" if is_image else "no", "yes" if is_centre else "no"))
    assert (is_image, is_centre) == {"inflate": (True, False), "central": (True, True), "random": (False, False)}[how]
    if how == "central":
        changed = moving.clone()
        changed[:, :, 0::2] = torch.randn_like(changed[:, :, 0::2])  # every non-centre frame replaced
        with torch.no_grad():
            assert torch.equal(m.tubelet_embed(changed), tokens)
report.print_table(rows, ["tubelet_init", "E[:, :, 0]", "E[:, :, 1]", "static clip -> the image's patch tokens",
                          "token i = image embedding of frame 2i+1"])

# %% [markdown] slideshow={"slide_type": "fragment"}
# On a static clip both rules give the image's patch tokens (any kernel whose slices sum to
# $\mathbf{E}_{\text{image}}$ does); they differ as soon as the frames differ. With $t = 2$ the "centre"
# frame is index $\lfloor 2/2 \rfloor = 1$, the *second* frame of each tubelet (the official code's
# `t // 2`). Replacing every other frame changes no token at all: at initialisation a central-frame model
# simply does not see half of the frames.
#
# Positions are tiled, and the model-specific parts:
#
# - **Model 1 and 4**: everything copies (Model 4 has Model 1's parameters; half of its image-trained heads
#   now attend over time).
# - **Model 2**: the image encoder becomes the *spatial* encoder; the temporal encoder starts random. With
#   $L_t = 0$ (the average-pool baseline) and a static clip, the whole video model *is* the image model.
# - **Model 3**: the spatial MSA and its LayerNorm come from the image; the **temporal MSA starts at zero**
#   output, so each block's temporal step is a plain residual connection until training moves it. The paper
#   says it initialises "all weights" of the temporal MSA with zeros. Taken literally, that is a trap: with
#   $W_V = 0$ every value is 0, so the output projection $W_O$ gets no gradient, and with $W_O = 0$ no
#   gradient reaches $W_Q, W_K, W_V$ - the temporal MSA stays dead and Model 3 stays a per-frame model.
#   `init_from_image` therefore zeroes only the output projection (`temporal_attention_init="zero_output"`,
#   Q, K, V copied from the image MSA); `"zero"` is the literal reading, `"copy"` the official code's default.

# %%
m1_init = init_from_image(tiny_vivit(1), vit)
pos, img_pos = m1_init.encoder.pos_embed.weight, vit.encoder.pos_embed.weight
tiled_ok = torch.equal(pos[:, 0], img_pos[:, 0]) and all(torch.equal(pos[:, 1 + 9 * i : 10 + 9 * i], img_pos[:, 1:]) for i in range(4))
print(f"Model 1 positions {tuple(pos.shape)}: CLS position + the image's {tuple(img_pos[:, 1:].shape)} table tiled 4 times: {tiled_ok}")

m2_init = init_from_image(tiny_vivit(2, temporal_layers=0), vit, tubelet_init="inflate")
with torch.no_grad():
    video_logits, image_logits = m2_init(static), vit(image)
print(f"Model 2 (L_t = 0, inflation) on a static clip == the image ViT on the image: {torch.allclose(video_logits, image_logits, atol=1e-5)}")

m3_init = init_from_image(tiny_vivit(3), vit)
blk3 = m3_init.encoder.blocks[0]
z = torch.randn(2, 36, 48)
with torch.no_grad():
    identity = torch.equal(blk3.temporal_attention(z, GRID), z)
zero = all((b.temporal_attn.proj.weight == 0).all() and (b.temporal_attn.proj.bias == 0).all() for b in m3_init.encoder.blocks)
print(f"Model 3: temporal MSA output projection zero: {zero}; temporal step returns its input: {identity}")
copied = torch.equal(blk3.attn.qkv.weight, vit.encoder.blocks[0].attn.qkv.weight)
print(f"Model 3: spatial MSA = the image block's MSA: {copied}")
assert tiled_ok and torch.allclose(video_logits, image_logits, atol=1e-5) and zero and identity and copied


def temporal_grads(init):
    """Gradient norms reaching block 0's temporal MSA in one backward pass, after ``init``."""
    m = init_from_image(tiny_vivit(3), vit, temporal_attention_init=init)
    F.cross_entropy(m(static), torch.tensor([1, 2])).backward()
    attn = m.encoder.blocks[0].temporal_attn
    return {name: f"{p.grad.norm():.1e}" for name, p in attn.named_parameters()}


for init in ("zero_output", "zero"):
    print(f"Model 3, temporal_attention_init={init!r}: gradients", temporal_grads(init))

# %% [markdown] slideshow={"slide_type": "fragment"}
# One backward pass shows the difference: with `"zero_output"` the output projection $W_O$ already gets a
# gradient (Q, K, V get theirs from the next step on, once $W_O$ is no longer zero); with `"zero"` only the
# output bias does, on this step and on every later one.
#
# Does central-frame initialisation really beat inflation, and by how much does any image initialisation
# beat training from scratch on a small dataset? Notebook 04 measures the analogue of Table 1 on DigitWorld
# motion videos.
#
# ### Loading `transformers` checkpoints
#
# `minimodels.hf.load_vit` / `load_vivit` read a `save_pretrained` or Hub directory (`config.json` plus
# `model.safetensors`) without importing `transformers`. There is no network here; if you have a ViViT
# checkpoint on disk (e.g. `google/vivit-b-16x2-kinetics400`), point `MINIMODELS_VIVIT_CKPT` at it and it is
# run on one view of our sample video (its DigitWorld content is not a Kinetics class: the prediction only
# shows that the pipeline runs end to end).

# %% tags=["nbval-ignore-output"]
ckpt = os.environ.get("MINIMODELS_VIVIT_CKPT")
if ckpt and Path(ckpt).is_dir():
    hub_vivit = load_vivit(ckpt)
    c = hub_vivit.config
    print(f"loaded {ckpt}: {c.num_frames} frames of {c.image_size}, tubelet {c.tubelet}, d={c.hidden_dim}, "
          f"{c.depth} layers, {c.num_classes} classes, {count_params(hub_vivit):,} parameters")
    one_view = VideoTestViews(c.num_frames, 2, c.image_size[0], c.image_size[0], temporal_views=1, spatial_views=1,
                              pad="loop")(frames)  # the sample has 48 frames: looped to fill a clip
    probs = multi_view_predict(hub_vivit, one_view)
    top = probs.topk(3)
    names = c.class_names or [str(i) for i in range(c.num_classes)]
    print("top-3:", [(names[i], round(p, 3)) for p, i in zip(top.values.tolist(), top.indices.tolist())])
else:
    print("no local checkpoint (set MINIMODELS_VIVIT_CKPT to a downloaded Hub directory) - skipped")

# %% [markdown] slideshow={"slide_type": "subslide"} tags=["appendix"]
# The same code path on a checkpoint written here: a small randomly initialised `transformers` ViT, saved
# with `save_pretrained`, loaded with `load_vit`, compared output for output - and then used to initialise
# a ViViT (section 7 did the same for a `transformers` ViViT). Skipped without `transformers`.

# %% tags=["nbval-ignore-output"]
if transformers is not None:
    torch.manual_seed(0)
    hf_vit = perturbed(transformers.ViTForImageClassification(transformers.ViTConfig(
        image_size=24, patch_size=8, hidden_size=48, num_hidden_layers=2, num_attention_heads=4, intermediate_size=96,
        num_labels=10)))
    with tempfile.TemporaryDirectory() as ckpt_dir:
        hf_vit.save_pretrained(ckpt_dir)
        print("written:", sorted(os.listdir(ckpt_dir)))
        ours_vit = load_vit(ckpt_dir)
    with torch.no_grad():
        diff = (hf_vit(pixel_values=image).logits - ours_vit(image)).abs().max().item()
    print(f"ViT logits {tuple(ours_vit(image).shape)}; max |transformers - minimodels| = {diff:.1e}")
    assert diff < 1e-4
    video_from_hf = init_from_image(tiny_vivit(2, temporal_layers=0), ours_vit, tubelet_init="inflate")
    with torch.no_grad():
        diff = (video_from_hf(static) - hf_vit(pixel_values=image).logits).abs().max().item()
    print(f"ViViT Model 2 (L_t = 0) initialised from it, on a static clip vs transformers' ViT on the image: max |diff| = {diff:.1e}")
    assert diff < 1e-4

# %% [markdown] slideshow={"slide_type": "subslide"} tags=["appendix"]
# ### Before notebook 04: the image ViT it starts from
#
# Our stand-in for an ImageNet ViT: the image model of notebook 04's recipe (same width, depth, heads
# and patch size as its ViViT) learns to name single handwritten digits, scored on held-out writers.
# The weights go to `runs/cache/` for notebook 04. The one cell here that trains (under half a minute);
# it also checks that central-frame initialisation puts this ViT's patch filters at the centre frame of
# the tubelet kernel.

# %% tags=["appendix", "nbval-ignore-output"]
VIDEO_RECIPE = vivit_recipe()  # notebook 04's recipe
image_vit, image_history = trained_image_vit(VIDEO_RECIPE, cache_dir=CACHE_DIR / "vivit",
                                             log=print)
digit_acc = float(image_history.evals[-1]["acc"])
central = init_from_image(make_vivit(VIDEO_RECIPE), image_vit, tubelet_init="central")
E = central.tubelet_embed.proj.weight  # (d, C, t, h, w)
assert torch.equal(E[:, :, E.shape[2] // 2], image_vit.patch_embed.proj.weight)

# %% tags=["appendix", "hide-input", "nbval-ignore-output"]
fig = report.pretraining_curve(image_history, f"Image ViT pretraining: {len(image_history.loss)} steps, "
                                             f"held-out accuracy {digit_acc:.3f}")
show(fig, "image_vit_pretraining")
report.record(NB, "image ViT pretraining: held-out digit accuracy", round(digit_acc, 3), None, "accuracy",
              note=f"{len(image_history.loss)} steps at {VIDEO_RECIPE.image_size}px, profile {VIDEO_RECIPE.profile}; "
                   "the paper: ImageNet-21k / JFT")
if profiles.current() != "smoke":
    assert digit_acc > 0.15, digit_acc  # chance is 0.1

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 9. Results: ours vs the paper
#
# Every "ours" value was computed above from the package; the paper column holds the paper's (or the
# seed's) literals. Each pair is also logged with `report.record` for `make run`'s summary.

# %% tags=["hide-input"]
rows = []
for name, p in PAPER_TABLE2.items():
    ours_p, ours_g = round(table2[name]["params"] / 1e6, 2), round(table2[name]["gmacs"], 1)
    rows.append((f"{name}: params (M)", ours_p, p["params"], "Table 2"))
    rows.append((f"{name}: GFLOPs", ours_g, p["gflops"], "Table 2 (ours: MACs of matmuls, conv, attention)"))
    report.record(NB, f"Table 2 {name}: params", ours_p, p["params"], "M", "ViViT-B/16x2, 400 classes")
    report.record(NB, f"Table 2 {name}: GFLOPs", ours_g, p["gflops"], "GMACs",
                  "32x224x224; ours count matmuls, conv and attention only")
for size, (_, paper_g) in PAPER_CROP.items():
    rows.append((f"ViViT-L/16x2 Model 1, 32 x {size}x{size}: GFLOPs", round(gmacs_l[size], 1), paper_g, "spatial-resolution ablation"))
    report.record(NB, f"ViViT-L/16x2 Model 1 at {size}: GFLOPs", round(gmacs_l[size], 1), paper_g, "GMACs", "32 frames")
seed_rows = [
    ("raw frames per training clip (32 at stride 2)", span, SEED["clip_frames"]),
    ("clip duration at 25 fps (s)", round(span / 25, 2), SEED["clip_s"]),
    ("720x1080, short side 256", "x".join(map(str, short_side_size(720, 1080, 256))), "256x384"),
    ("720x1080, short side 320", "x".join(map(str, short_side_size(720, 1080, 320))), "320x480"),
    ("test views per video", test_views.num_views, SEED["views"]),
]
for name, ours_v, seed_v in seed_rows:
    rows.append((name, ours_v, seed_v, "the seed"))
    report.record(NB, name, ours_v, seed_v, "", "the seed's input-processing section")
report.print_table(rows, ["quantity", "ours", "paper", "source"])

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Take-aways
#
# - Tokens: a Conv3d with kernel = stride = tubelet; $t = 1$ is uniform frame sampling.
# - The four models differ only in who attends to whom: everything, a frame then frame summaries,
#   a frame then a position, a frame *or* a position by head.
# - Model 1's cost is quadratic in the tokens; Table 2's parameters and FLOPs follow from the code.

# %% [markdown] slideshow={"slide_type": "fragment"}
# ### Questions to ask the room
#
# 1. Model 2 beats Model 1 on Epic Kitchens (the paper's 43.7 vs 43.1) in under a third of the TPU
#    time. What could make late fusion better on a small dataset?
# 2. Central-frame init starts as uniform frame sampling, ignoring half of the frames. Why might it beat
#    filter inflation (the paper's 79.2 vs 77.6)?
# 3. Twelve views of 32 frames cost 12x one view. Is that a fair comparison with a model that sees 128
#    frames in one view? How should a paper report cost per video?

# %% [markdown] slideshow={"slide_type": "subslide"} tags=["appendix"]
# ### More questions
#
# 4. Model 4 has exactly Model 1's parameters. Could you fine-tune a trained Model 1 into a Model 4 (or
#    back)? What would the heads that turn temporal have to unlearn?
# 5. Table 2 ranks the models differently by GFLOPs and by TPU milliseconds. Which would you report, and
#    what does a MAC count miss on real hardware (memory traffic, reshapes, kernel launches)?
# 6. Averaging logits lets one confident view decide; averaging softmax scores does not. For an action that
#    is visible in only one of four clips, which average would you want?
# 7. Tiling the positions over time means that at initialisation the model cannot tell frames apart except
#    through the tubelet. For Model 3, whose temporal attention also starts at zero, how does temporal order
#    ever enter?
