# %% [markdown] slideshow={"slide_type": "slide"}
# # SegFormer I: the Mix Transformer encoder
#
# Xie, Wang, Yu, Anandkumar, Alvarez, Luo. *SegFormer: Simple and Efficient Design for
# Semantic Segmentation with Transformers.* NeurIPS 2021 (arXiv 2105.15203).
#
# **What the paper claims.** A transformer encoder built for dense prediction - the
# *Mix Transformer* (MiT) - gives multi-scale features, needs no positional encoding and
# stays affordable at high resolution; with it, a decoder made only of MLPs is enough.
# The smallest model, B0, has 3.8 M parameters and costs 8.4 GFLOPs at 512x512.
#
# **What you will see in this notebook** (the encoder; the decoder and training are notebook 02):
#
# 1. why ViT is a poor fit for segmentation - in token counts and attention cost;
# 2. SegFormer's contributions and the three parts of its encoder;
# 3. *overlapped patch merging*: the output-size formula, checked against the real layer;
# 4. *efficient self-attention*: the paper's Reshape + Linear is a strided convolution;
#    cost measured against resolution;
# 5. *Mix-FFN*: why a 3x3 convolution can replace positional encoding;
# 6. the four stages traced shape by shape, the six variants, their parameters and FLOPs;
# 7. a results table against the paper;
# 8. the encoder pretrained on digits (our ImageNet-1K) for notebook 02, and questions for discussion.
#
# Along the way, the questions people ask about the paper and its code (marked **Q:**)
# are answered where they arise.
#
# Korean terms of the seed deck and blog, and the English words used here: [GLOSSARY.md](GLOSSARY.md).

# %% [markdown] slideshow={"slide_type": "notes"}
# **Speaker notes.** This deck follows the seed deck's order: ViT's limits (이전 연구의 한계), the
# contributions (핵심 기여), then the encoder's three parts. Only section 8 trains (under a minute), so the whole
# notebook can be re-run live on a laptop CPU; only "Time and memory, measured" depends on the machine - show its
# committed plot if the laptop is busy. Budget in the talk (talk.html): sections 1-2 four minutes, 3-5
# eleven, 6-7 four; notebook 02 and the discussion take the rest (docs/PRESENTING.md).

# %% slideshow={"slide_type": "skip"} tags=["nbval-ignore-output"]
import math
import time
import weakref

import matplotlib
import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves
from torch.utils.flop_counter import FlopCounterMode

from minimodels import profiles
from minimodels.data.digitworld import make_scenes
from minimodels.flops import BREAKDOWN_HEADERS, breakdown_rows, count_macs, macs_by_module, macs_by_op
from minimodels.layers import count_params
from minimodels.recipes.common import digit_task
from minimodels.recipes.segformer import make_segformer, segformer_recipe, trained_encoder
from minimodels.report import CACHE_DIR, figure_saver, pretraining_curve, print_table, record, show_source
from minimodels.segformer import (
    VARIANTS,
    EfficientSelfAttention,
    MiTBlock,
    MixFFN,
    MixTransformer,
    OverlapPatchEmbed,
    SegFormer,
    SegFormerConfig,
    stage_sizes,
)

NB = "01_segformer_encoder"
PROFILE = profiles.current()
DEVICE = profiles.device()
torch.manual_seed(0)
show = figure_saver(NB)  # show(fig, name): inline here; PNG + SVG under $MINIMODELS_FIGURES
print(f"profile {PROFILE}, device {DEVICE}, torch {torch.__version__}")

# %% slideshow={"slide_type": "skip"}
# Small helpers used throughout.


def meta_model(variant: str, **overrides) -> SegFormer:
    """A SegFormer whose weights have shapes but no data: free to build, enough to count."""
    with torch.device("meta"):
        return SegFormer.from_variant(variant, **overrides)


def meta_image(height: int, width: int) -> torch.Tensor:
    return torch.empty(1, 3, height, width, device="meta")


def sdpa_macs(by_op: dict) -> int:
    """The attention matmuls (Q K^T and A V) in a ``macs_by_op`` result, whichever SDPA kernel ran."""
    return sum(macs for op, macs in by_op.items() if "scaled_dot_product" in op)


# The paper's own figures (literals, labelled as the paper's).
PAPER_TABLE1A = {  # Table 1a: encoder / decoder params (M), GFLOPs on ADE20K, Cityscapes, COCO-Stuff
    "b0": dict(enc=3.4, dec=0.4, ade=8.4, city=125.5, coco=8.4),
    "b1": dict(enc=13.1, dec=0.6, ade=15.9, city=243.7, coco=15.9),
    "b2": dict(enc=24.2, dec=3.3, ade=62.4, city=717.1, coco=62.4),
    "b3": dict(enc=44.0, dec=3.3, ade=79.0, city=962.9, coco=79.0),
    "b4": dict(enc=60.8, dec=3.3, ade=95.7, city=1240.6, coco=95.7),
    "b5": dict(enc=81.4, dec=3.3, ade=183.3, city=1460.4, coco=111.6),
}
PAPER_TABLE2_PARAMS = {"b0": 3.8, "b4": 64.1, "b5": 84.7}  # Table 2: whole model (M)
PAPER_R = (64, 16, 4, 1)  # Section 3.1: reduction ratio R of each stage (sequence length)
PAPER_E = (8, 8, 4, 4)  # Table 6: Mix-FFN expansion ratio of each stage

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 1. Where ViT falls short for segmentation
#
# The seed deck lists three limits of earlier work:
#
# - **ViT outputs a single scale.** One grid of 16x16-pixel tokens, while segmentation
#   needs fine features for boundaries and small objects *and* coarse ones for context.
# - **Cost at high resolution.** Self-attention compares every token with every other,
#   so cost grows with the square of the token count - and segmentation images are big.
# - **Encoder-only focus.** Earlier work (SETR, PVT) redesigned the encoder and kept heavy
#   decoders; SegFormer designs both (the decoder is notebook 02).
#
# Let us put numbers on the first two at the paper's ADE20K size, 512x512.

# %% tags=["hide-input"]
H = W = 512
VIT_PATCH, VIT_DIM = 16, 768  # ViT-B/16 (Dosovitskiy et al. 2021)
b0 = VARIANTS["b0"]

rows = [("ViT-B/16", "-", f"1/{VIT_PATCH}", f"{H // VIT_PATCH}x{W // VIT_PATCH}", (H // VIT_PATCH) * (W // VIT_PATCH), VIT_DIM)]
for i, (h, w) in enumerate(stage_sizes(b0, H, W)):
    rows.append(("MiT-B0", i + 1, f"1/{H // h}", f"{h}x{w}", h * w, b0.embed_dims[i]))
print(f"token grids for a {H}x{W} image")
print_table(rows, ["encoder", "stage", "scale", "grid", "tokens", "channels"])

# %% [markdown] slideshow={"slide_type": "fragment"}
# ViT gives one 32x32 grid. MiT gives a pyramid, like a CNN's: 1/4, 1/8, 1/16 and 1/32 of
# the image. Stage 1 has **16 times more tokens** than ViT - which is exactly where the cost
# problem bites. Self-attention costs two matrix products per layer, Q K^T and A V, each
# `N x N_kv x C` multiply-accumulates (MACs), and stores an `N x N_kv` matrix per head:

# %% tags=["hide-input"]
def attention_macs(n_q: int, n_kv: int, dim: int) -> int:
    """MACs of Q K^T plus A V (summed over heads: the head dims add up to dim)."""
    return 2 * n_q * n_kv * dim


n_vit = (H // VIT_PATCH) ** 2
n_s1 = (H // 4) * (W // 4)
cases = [
    ("ViT-B/16, one layer", n_vit, n_vit, VIT_DIM),
    ("MiT-B0 stage 1, full attention", n_s1, n_s1, b0.embed_dims[0]),
    ("MiT-B0 stage 1, R = 64", n_s1, n_s1 // PAPER_R[0], b0.embed_dims[0]),
]
rows = [
    (name, n, n_kv, c, round(attention_macs(n, n_kv, c) / 1e9, 3), n * n_kv, round(n * n_kv * 4 / 2**20, 1))
    for name, n, n_kv, c in cases
]
print_table(rows, ["attention", "queries N", "keys N_kv", "C", "GMACs", "matrix entries/head", "fp32 MiB/head"])

# %% [markdown] slideshow={"slide_type": "fragment"}
# Even with only 32 channels, full attention over stage 1 would cost more than ten times a
# ViT-B layer and hold a 1 GiB attention matrix per head and image. The reduction ratio
# R = 64 brings it down to a quarter of a GMAC. The whole of section 4 is about that R.

# %% [markdown] slideshow={"slide_type": "subslide"}
# What the two tokenisations look like on an image (a DigitWorld scene: handwritten digits
# on a textured canvas, the data of notebook 02). The grid lines show the stride of each
# token grid.

# %% tags=["hide-input"]
scene, _ = make_scenes(1, 128, seed=0, split="test", noise=0.0)  # no pixel noise: a lighter figure
fig, axes = plt.subplots(1, 5, figsize=(15, 3.6), constrained_layout=True)
panels = [(f"ViT-B/16: the only grid (1/{VIT_PATCH})", VIT_PATCH)]
panels += [(f"MiT stage {i + 1} (1/{s})", s) for i, s in enumerate((4, 8, 16, 32))]
for ax, (title, s) in zip(axes, panels):
    ax.imshow(scene[0].permute(1, 2, 0).numpy())
    for t in range(s, 128, s):
        ax.axhline(t - 0.5, color="white", lw=0.6)
        ax.axvline(t - 0.5, color="white", lw=0.6)
    ax.set_title(f"{title}\n{(128 // s) ** 2} tokens", fontsize=10)
    ax.set_axis_off()
fig.suptitle("One scale (ViT) vs four (MiT) on a 128x128 scene", fontsize=12)
show(fig, "vit_vs_mit_tokens")

# %% [markdown]
# A digit here spans two or three ViT tokens, but dozens of stage-1 tokens: fine enough to
# draw its outline. Stage 4's few tokens each summarise a large region - the deck's
# "stage 1 captures local information, stage 4 non-local".

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 2. SegFormer's contributions
#
# From the deck:
#
# - a **hierarchical transformer encoder** that outputs multi-scale features, without
#   positional encoding;
# - a **lightweight All-MLP decoder** that combines local attention (early stages) and
#   global attention (late stages) - notebook 02.
#
# The encoder repeats one stage four times; inside it are **three parts**:
#
# 1. **Overlapped patch merging** - `OverlapPatchEmbed` (section 3);
# 2. **Efficient self-attention** - `EfficientSelfAttention` (section 4);
# 3. **Mix-FFN** - `MixFFN` (section 5).
#
# Every box of the paper's Figure 2 has a module of the same name in `minimodels.segformer`:

# %%
torch.manual_seed(0)
model = SegFormer.from_variant("b0").eval()
encoder = model.encoder
print(type(encoder).__name__, "=", [name for name, _ in encoder.named_children()])
print("stage 1 patch merging:", encoder.patch_embeds[0])
print("stage 1, first block:", encoder.blocks[0][0])

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 3. Overlapped patch merging
#
# ViT cuts the image into non-overlapping 16x16 patches: a convolution with kernel = stride.
# Two pixels on either side of a patch border never meet in the same token, so the
# **local continuity** across the border is lost (deck: "인접한 패치 간의 연결성").
#
# MiT merges patches with a convolution whose kernel is larger than its stride, so windows
# overlap: K/S/P = 7/4/3 in stage 1, 3/2/1 in stages 2-4. Each stage shrinks the map
# (by 4, then 2, 2, 2) while neighbouring tokens share pixels.

# %% [markdown] slideshow={"slide_type": "notes"}
# **Speaker notes.** The deck defines local continuity as "인접한 패치 간의 연결성이 유지되는 성질".
# Ask the room before the figure: with K = 7, S = 4, P = 3, how many pixel columns does a stage-1
# window share with its right neighbour? (Three.) The deck's worked example is the output-size formula
# with input 8, K = 3, S = 2, P = 1: floor(7 / 2) + 1 = 4.

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Which pixels each token sees
#
# For every pixel of a 16x16 image, count the tokens whose window covers it: without
# overlap (ViT's K = S = 4) and with it (MiT's stage 1, K = 7, S = 4, P = 3).

# %% tags=["hide-input"]
def coverage(size: int, K: int, S: int, P: int) -> torch.Tensor:
    """How many output tokens see each input pixel: the gradient of the sum of a
    ones-kernel convolution with respect to its input."""
    x = torch.zeros(1, 1, size, size, requires_grad=True)
    F.conv2d(x, torch.ones(1, 1, K, K), stride=S, padding=P).sum().backward()
    return x.grad[0, 0].round().long()


cov_vit = coverage(16, K=4, S=4, P=0)
cov_mit = coverage(16, K=7, S=4, P=3)
rows = [
    (name, *[int((cov == n).sum()) for n in (1, 2, 4)])
    for name, cov in [("non-overlapping K=S=4", cov_vit), ("overlapping K=7 S=4 P=3", cov_mit)]
]
print("16x16 pixels, by the number of tokens that see them")
print_table(rows, ["patch merging", "1 token", "2 tokens", "4 tokens"])

# %% tags=["hide-input"]
fig, axes = plt.subplots(1, 3, figsize=(13, 4.3), constrained_layout=True)
colours = ["tab:red", "tab:blue", "tab:green"]
for ax, (title, K, S, P) in zip(axes[:2], [("non-overlapping: K=S=4", 4, 4, 0), ("overlapping: K=7, S=4, P=3", 7, 4, 3)]):
    ax.set_xlim(-3.5, 15.5)
    ax.set_ylim(15.5, -3.5)
    ax.add_patch(plt.Rectangle((-0.5, -0.5), 16, 16, fill=False, lw=1.5, color="k"))
    for t in range(17):
        ax.plot([t - 0.5, t - 0.5], [-0.5, 15.5], color="0.85", lw=0.5)
        ax.plot([-0.5, 15.5], [t - 0.5, t - 0.5], color="0.85", lw=0.5)
    for colour, (r, c) in zip(colours, [(0, 0), (0, 1), (1, 1)]):
        top, left = r * S - P, c * S - P
        ax.add_patch(plt.Rectangle((left - 0.5, top - 0.5), K, K, color=colour, alpha=0.25))
        ax.add_patch(plt.Rectangle((left - 0.5, top - 0.5), K, K, fill=False, color=colour, lw=2))
    ax.set_xticks(range(-3, 16, 3))
    ax.set_yticks(range(-3, 16, 3))
    ax.set_title(f"{title}\nwindows of tokens (0,0), (0,1), (1,1)", fontsize=10)
    ax.set_xlabel("pixel column (negative: zero padding)")
    ax.set_ylabel("pixel row")
im = axes[2].imshow(cov_mit.numpy(), cmap="viridis", vmin=0)
axes[2].set_title("overlapping: tokens seeing each pixel", fontsize=10)
axes[2].set_xlabel("pixel column")
axes[2].set_ylabel("pixel row")
fig.colorbar(im, ax=axes[2], ticks=[1, 2, 4])
fig.suptitle("Patch merging on a 16x16 image: 4x4 tokens either way, but only MiT's windows share pixels", fontsize=12)
print("non-overlapping coverage is 1 everywhere:", bool((cov_vit == 1).all()))
show(fig, "patch_merging_coverage")

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### The output-size formula
#
# The deck's formula for a convolution (floored division):
#
# $$\text{out} = \left\lfloor \frac{\text{in} + 2P - K}{S} \right\rfloor + 1$$
#
# Worked example from the deck: input 8, K = 3, S = 2, P = 1 gives (8 + 2 - 3) / 2 + 1 = 4.
# We compute it, then ask the real `OverlapPatchEmbed` (a `Conv2d` + `LayerNorm`):

# %%
def conv_out(size: int, K: int, S: int, P: int) -> int:
    return (size + 2 * P - K) // S + 1


print("formula: conv_out(8, K=3, S=2, P=1) =", conv_out(8, K=3, S=2, P=1))

torch.manual_seed(0)
merge = OverlapPatchEmbed(in_channels=3, embed_dim=16, patch_size=3, stride=2)
tokens, h, w = merge(torch.randn(1, 3, 8, 8))
print(f"OverlapPatchEmbed(K=3, S=2) on 8x8: map {h}x{w},",
      f"tokens {tuple(tokens.shape)} = (B, h*w, C)")
assert (h, w) == (conv_out(8, 3, 2, 1),) * 2 == (4, 4)

# %% [markdown] slideshow={"slide_type": "subslide"} tags=["appendix"]
# ### Stage sizes, for a square and for an odd image
#
# With P = K // 2, the formula gives ceil(in / S) for both 7/4/3 and 3/2/1, so stage i
# is ceil(H / 2^(i+1)). An ADE20K image of 500x375 therefore ends at **125x94** logits, not
# 125x93.75. The table computes each stage with the formula, with ceil, with the package's
# `stage_sizes`, and measures the real encoder's output maps.

# %%
def stage_rows(encoder, height, width):
    cfg = encoder.config
    with torch.no_grad():
        feats = encoder(torch.randn(1, 3, height, width))
    rows, (h, w) = [], (height, width)
    for i, (K, S) in enumerate(zip(cfg.patch_sizes, cfg.strides)):
        P = K // 2
        h, w = conv_out(h, K, S, P), conv_out(w, K, S, P)
        stride = 2 ** (i + 2)
        ceil_hw = (math.ceil(height / stride), math.ceil(width / stride))
        measured = tuple(feats[i].shape[-2:])
        assert (h, w) == ceil_hw == stage_sizes(cfg, height, width)[i] == measured
        rows.append((f"{height}x{width}", i + 1, f"{K}/{S}/{P}", f"{h}x{w}", f"{ceil_hw[0]}x{ceil_hw[1]}", f"{measured[0]}x{measured[1]}"))
    return rows, feats


torch.manual_seed(0)
rows_square, feats_square = stage_rows(encoder, 512, 512)
rows_odd, feats_odd = stage_rows(encoder, 500, 375)
print_table(rows_square + rows_odd, ["image", "stage", "K/S/P", "formula", "ceil(in/stride)", "encoder output"])

# %% [markdown] slideshow={"slide_type": "fragment"}
# ### Q: "The paper says 4x4 patches, the code says 7 - and its `patch_size` argument does nothing?"
#
# Both are right. The official `MixVisionTransformer(patch_size=4, ...)` never reads
# `patch_size`: the four patch embeddings are hard-coded to 7/3/3/3 with strides 4/2/2/2
# (NVlabs/SegFormer issues #98 and #141). "4x4 patches" is the **stride**: each stage-1
# token stands for a 4x4 cell of pixels and looks at the 7x7 window around it (the red,
# blue and green windows above). Our config has no `patch_size`; it has `patch_sizes` and
# `strides`, and both are used - as in Hugging Face's `SegformerConfig`. (Hugging Face's
# config has its own field that nothing reads: `layer_norm_eps`; its model builds every
# LayerNorm with PyTorch's default 1e-5, where the official code uses 1e-6 in the blocks.)

# %%
print("patch_sizes (K):", b0.patch_sizes, " strides (S):", b0.strides, " padding (P = K // 2):", tuple(k // 2 for k in b0.patch_sizes))
starts = [t * 4 - 3 for t in range(conv_out(16, K=7, S=4, P=3))]
print("stage-1 windows on a 16-pixel row start at", starts, "- 4 apart, 7 wide: neighbours share 3 pixels")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 4. Efficient self-attention
#
# Multi-head attention (the paper's Eq. 1) is
# $\text{Attention}(Q, K, V) = \text{Softmax}\left(\frac{QK^\top}{\sqrt{d_\text{head}}}\right)V$.
# With N tokens it costs O(N^2). SegFormer (after PVT) shrinks the sequence that keys and
# values are computed from (Eq. 2):
#
# $$\hat{K} = \text{Reshape}\left(\frac{N}{R}, C \cdot R\right)(K), \qquad K = \text{Linear}(C \cdot R, C)(\hat{K})$$
#
# Groups of R tokens are stacked into one vector of length C·R and projected back to C
# channels: N/R keys instead of N, so the cost drops from O(N^2) to O(N^2 / R). The
# paper uses R = [64, 16, 4, 1] for stages 1-4.

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Q: "`sr_ratio` is 8 in the code, R is 64 in the paper?"
#
# The code (official, Hugging Face and ours) implements the reduction as a `Conv2d` with
# kernel = stride = `sr_ratio` on the token map, followed by a LayerNorm. `sr_ratio` counts
# **one side** of the square window, the paper's R counts **tokens**: R = sr^2.

# %% [markdown] slideshow={"slide_type": "notes"}
# **Speaker notes.** The most common confusion about this paper. The deck's reduction ratio R = 64, 16, 4, 1
# divides the *sequence length*; the code's `sr_ratio` = 8, 4, 2, 1 is the *side* of the strided
# convolution, and R = sr_ratio^2. Let the room find it in the table before moving on.

# %% tags=["hide-input", "appendix"]
rows = [(i + 1, R, sr, sr * sr, "yes" if sr * sr == R else "NO") for i, (R, sr) in enumerate(zip(PAPER_R, b0.sr_ratios))]
print_table(rows, ["stage", "paper R", "code sr_ratio", "sr^2", "R == sr^2"])
assert all(sr * sr == R for R, sr in zip(PAPER_R, b0.sr_ratios))
show_source(EfficientSelfAttention)

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### The reshape + linear *is* the strided convolution
#
# Write Eq. 2 from the paper, with each group of R = sr x sr tokens taken from one square
# window of the token map, and give its Linear the convolution's weights (rearranged from
# `(C_out, C_in, sr, sr)` to `(C_out, sr·sr·C_in)`). It gives the same keys as the
# package's `sr` convolution. If the map's side is not a multiple of sr, the convolution
# drops the last rows and columns (floor); the function does the same.

# %% tags=["hide-input"]
def reduce_by_reshape(x, H, W, sr, weight, bias):
    """Eq. 2: Reshape(N/R, C*R) over sr x sr windows, then Linear(C*R, C)."""
    B, N, C = x.shape
    h, w = H // sr, W // sr  # whole windows only, as the convolution's floor
    grid = x.view(B, H, W, C)[:, : h * sr, : w * sr]
    windows = grid.reshape(B, h, sr, w, sr, C).permute(0, 1, 3, 2, 4, 5)  # (B, h, w, sr, sr, C)
    k_hat = windows.reshape(B, h * w, sr * sr * C)  # (B, N/R, C*R)
    return F.linear(k_hat, weight, bias)  # (B, N/R, C)


def conv_as_linear_weight(conv):
    """(C_out, C_in, sr, sr) -> (C_out, sr*sr*C_in), in the (row, column, channel) order of the windows."""
    return conv.weight.permute(0, 2, 3, 1).reshape(conv.out_channels, -1)


attn1 = encoder.blocks[0][0].attn  # stage 1 of B0: C = 32, 1 head, sr = 8
x = torch.randn(1, 125 * 94, 32)  # stage-1 tokens of a 500x375 image
with torch.no_grad():
    by_conv = attn1.sr(x.transpose(1, 2).reshape(1, 32, 125, 94)).flatten(2).transpose(1, 2)
    by_reshape = reduce_by_reshape(x, 125, 94, 8, conv_as_linear_weight(attn1.sr), attn1.sr.bias)
print("keys from conv:", tuple(by_conv.shape), " keys from Reshape+Linear:", tuple(by_reshape.shape))
print("equal (atol 1e-5):", torch.allclose(by_conv, by_reshape, atol=1e-5))
assert torch.allclose(by_conv, by_reshape, atol=1e-5)

# %% [markdown] slideshow={"slide_type": "fragment"}
# A warning for anyone who implements Eq. 2 *literally*: `x.reshape(B, N // R, C * R)` on a
# row-major sequence groups R **consecutive** tokens - for a 32x32 map and R = 64, two whole
# rows - not an 8x8 square. The keys then come out different:

# %% tags=["hide-input"]
Hs = Ws = 32
xs = torch.randn(1, Hs * Ws, 32)
with torch.no_grad():
    square = attn1.sr(xs.transpose(1, 2).reshape(1, 32, Hs, Ws)).flatten(2).transpose(1, 2)
    literal = F.linear(xs.reshape(1, Hs * Ws // 64, 64 * 32), conv_as_linear_weight(attn1.sr), attn1.sr.bias)
print("literal row-major reshape equals the conv:", torch.allclose(square, literal, atol=1e-5))
assert not torch.allclose(square, literal, atol=1e-3)

window_id = torch.arange(Hs * Ws).view(Hs, Ws)
window_id = (window_id // Ws // 8) * (Ws // 8) + (window_id % Ws) // 8
raster_id = torch.arange(Hs * Ws).view(Hs, Ws) // 64
fig, axes = plt.subplots(1, 2, figsize=(9, 4.4), constrained_layout=True)
for ax, ids, title in [(axes[0], window_id, "sr x sr windows (the code's conv)"), (axes[1], raster_id, "literal Reshape(N/R, C R), row-major")]:
    ax.imshow(ids.numpy() % 20, cmap="tab20", interpolation="nearest")
    ax.set_title(title, fontsize=10)
    ax.set_xlabel("token column")
    ax.set_ylabel("token row")
fig.suptitle("Which 64 tokens become one key (32x32 token map, R = 64): one colour per key", fontsize=11)
print("groups:", int(window_id.max()) + 1, "windows vs", int(raster_id.max()) + 1, "row strips")
show(fig, "reduction_groups")

# %% [markdown] slideshow={"slide_type": "subslide"} tags=["appendix"]
# ### Attention from the equation vs the package
#
# Now the whole attention written from Eq. 1-2 with explicit matrices - queries, the
# reduced keys and values, the softmax matrix of size N x N/R per head - and compared with
# the package's module, which calls `F.scaled_dot_product_attention` (SDPA), on the same
# weights, for every stage of B0 at the odd 500x375 size. (The package stores K and V in
# one Linear, `kv`: rows [:C] are the key, rows [C:] the value.)

# %%
def naive_efficient_attention(attn, x, H, W):
    """Eq. 1-2 written out, materialising the N x N/R attention matrix of every head."""
    B, N, C = x.shape
    heads, d = attn.num_heads, C // attn.num_heads
    q = attn.q(x)
    if attn.sr_ratio > 1:
        x = attn.norm(reduce_by_reshape(x, H, W, attn.sr_ratio, conv_as_linear_weight(attn.sr), attn.sr.bias))
    k = F.linear(x, attn.kv.weight[:C], attn.kv.bias[:C])
    v = F.linear(x, attn.kv.weight[C:], attn.kv.bias[C:])

    def split(t):  # (B, n, C) -> (B, heads, n, d)
        return t.view(B, -1, heads, d).transpose(1, 2)

    q, k, v = split(q), split(k), split(v)
    A = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(d), dim=-1)  # (B, heads, N, N/R)
    return attn.proj((A @ v).transpose(1, 2).reshape(B, N, C))


rows = []
for i, (h, w) in enumerate(stage_sizes(b0, 500, 375)):
    attn = encoder.blocks[i][0].attn
    xi = torch.randn(2, h * w, b0.embed_dims[i])
    with torch.no_grad():
        ours, package = naive_efficient_attention(attn, xi, h, w), attn(xi, h, w)
    same = torch.allclose(ours, package, atol=1e-5)
    assert same, (i, (ours - package).abs().max())
    rows.append((i + 1, f"{h}x{w}", h * w, attn.num_heads, attn.sr_ratio, (h // attn.sr_ratio) * (w // attn.sr_ratio), "yes"))
print_table(rows, ["stage", "map", "queries N", "heads", "sr", "keys N/R", "naive == package"])

# %% [markdown] slideshow={"slide_type": "fragment"}
# Stage 1 of a 500x375 image has 125x94 tokens, but only 15x11 = 165 keys: the conv's floor
# silently leaves the last 5 token rows and 6 columns out of the keys (they still ask
# queries). With sizes that are multiples of 32 nothing is lost.

# %% [markdown] slideshow={"slide_type": "subslide"} tags=["appendix"]
# ### O(N^2) -> O(N^2 / R), counted
#
# `minimodels.flops.count_macs` counts multiply-accumulates of a real forward pass (on
# shape-only tensors, so any size is free), attention matmuls included. One stage-1
# attention of B0 with its reduction (sr = 8) and without it (sr = 1), on the same
# weights otherwise:

# %%
def stage1_attention(sr: int) -> EfficientSelfAttention:
    torch.manual_seed(0)
    return EfficientSelfAttention(dim=b0.embed_dims[0], num_heads=b0.num_heads[0], sr_ratio=sr).eval()


attn_sr8, attn_sr1 = stage1_attention(8), stage1_attention(1)
rows = []
for size in (128, 256, 512, 1024, 2048):
    n = (size // 4) ** 2
    x_meta = torch.empty(1, n, b0.embed_dims[0], device="meta")
    m8, m1 = count_macs(attn_sr8, x_meta, size // 4, size // 4), count_macs(attn_sr1, x_meta, size // 4, size // 4)
    sdpa8 = sdpa_macs(macs_by_op(attn_sr8, x_meta, size // 4, size // 4))
    assert sdpa8 == attention_macs(n, n // 64, b0.embed_dims[0])  # the formula of section 1
    rows.append((f"{size}x{size}", n, round(m8 / 1e9, 3), round(m1 / 1e9, 3), round(m1 / m8, 1)))
print_table(rows, ["image", "stage-1 tokens N", "GMACs sr=8 (R=64)", "GMACs sr=1", "ratio"])

# %% [markdown] slideshow={"slide_type": "fragment"}
# Without reduction the cost grows 16x each time the side doubles (N^2). With it, the growth
# starts near 7x - the linear layers and the reduction conv itself (N·C^2 MACs) grow only as
# N - and approaches 16x only at very large N, from a level up to 64 times lower. At
# 1024x1024 one full-attention layer of stage 1 would cost more than thirty whole B0 models
# at 512x512.

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Time and memory, measured
#
# Counting is one thing; the clock and the allocator are another. We time the package's
# attention (SDPA) and the naive version (explicit softmax matrix) with and without
# reduction, at sizes chosen by the profile. Memory: on a GPU we read the allocator's peak;
# on a CPU, where PyTorch keeps no such statistic, a dispatch mode adds up the bytes of the
# tensors each operation creates and subtracts them when they are freed.

# %% slideshow={"slide_type": "skip"}
class PeakTensorMemory(TorchDispatchMode):
    """Peak bytes of tensors created while active (storages alive at once), CPU or GPU."""

    def __init__(self):
        super().__init__()
        self.live, self.current, self.peak = {}, 0, 0

    def _free(self, key):
        self.current -= self.live.pop(key)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in tree_leaves(out):
            if isinstance(t, torch.Tensor):
                storage = t.untyped_storage()
                key = storage.data_ptr()
                if storage.nbytes() and key not in self.live:
                    self.live[key] = storage.nbytes()
                    self.current += storage.nbytes()
                    self.peak = max(self.peak, self.current)
                    weakref.finalize(storage, self._free, key)
        return out


def peak_mib(fn) -> float:
    if DEVICE.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        fn()
        torch.cuda.synchronize()
        return (torch.cuda.max_memory_allocated() - base) / 2**20
    with PeakTensorMemory() as tracker:
        fn()
    return tracker.peak / 2**20


def best_ms(fn, repeats: int) -> float:
    """Fastest of ``repeats`` runs after a warm-up: the least disturbed by other processes."""
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        if DEVICE.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        fn()
        if DEVICE.type == "cuda":
            torch.cuda.synchronize()
        times.append((time.perf_counter() - t0) * 1000)
    return min(times)


# %% tags=["hide-input", "nbval-ignore-output"]
SIZES = profiles.pick(smoke=[64, 128, 192], cpu=[64, 128, 192, 256, 320, 384], gpu=[128, 256, 384, 512, 640, 768])
REPEATS = profiles.pick(smoke=5, cpu=5, gpu=10)
variants = {
    "sr=8, SDPA (package)": (attn_sr8, lambda a, x, s: a(x, s, s)),
    "sr=1, SDPA (package)": (attn_sr1, lambda a, x, s: a(x, s, s)),
    "sr=8, naive": (attn_sr8, lambda a, x, s: naive_efficient_attention(a, x, s, s)),
    "sr=1, naive": (attn_sr1, lambda a, x, s: naive_efficient_attention(a, x, s, s)),
}
results = {name: {"ms": [], "mib": []} for name in variants}
tokens = [(s // 4) ** 2 for s in SIZES]
gmacs = {sr: [count_macs(a, torch.empty(1, n, 32, device="meta"), s // 4, s // 4) / 1e9 for n, s in zip(tokens, SIZES)]
         for sr, a in [(8, attn_sr8), (1, attn_sr1)]}
threads = torch.get_num_threads()
if DEVICE.type == "cpu":
    torch.set_num_threads(1)  # one thread: a shared thread pool makes small CPU timings erratic
with torch.no_grad():
    for name, (attn, call) in variants.items():
        attn.to(DEVICE)
        for size, n in zip(SIZES, tokens):
            x = torch.randn(1, n, 32, device=DEVICE)
            results[name]["ms"].append(best_ms(lambda: call(attn, x, size // 4), REPEATS))
            results[name]["mib"].append(peak_mib(lambda: call(attn, x, size // 4)))
        attn.to("cpu")
torch.set_num_threads(threads)
rows = [(f"{s}x{s}", n, *[round(results[k]["ms"][j], 2) for k in variants], *[round(results[k]["mib"][j], 1) for k in variants])
        for j, (s, n) in enumerate(zip(SIZES, tokens))]
print(f"device {DEVICE}; columns: ms then MiB for " + " | ".join(variants))
print_table(rows, ["image", "N", "ms s8", "ms s1", "ms s8 naive", "ms s1 naive", "MiB s8", "MiB s1", "MiB s8 naive", "MiB s1 naive"])
# What must hold at the largest size: no reduction costs more MACs and, when the matrix is explicit,
# far more memory. (The times are printed, not asserted: they depend on the machine and its load.)
assert gmacs[1][-1] > 1.5 * gmacs[8][-1]
assert results["sr=1, naive"]["mib"][-1] > 10 * results["sr=8, naive"]["mib"][-1]

# %% tags=["hide-input", "nbval-ignore-output"]
fig, axes = plt.subplots(1, 3, figsize=(15, 4.3), constrained_layout=True)
axes[0].plot(tokens, gmacs[8], "o-", color="tab:blue", label="sr=8 (R=64)")
axes[0].plot(tokens, gmacs[1], "o-", color="tab:red", label="sr=1 (no reduction)")
axes[0].set_title("multiply-accumulates (count_macs)")
axes[0].set_ylabel("GMACs")
styles = {"sr=8, SDPA (package)": ("o-", "tab:blue"), "sr=1, SDPA (package)": ("o-", "tab:red"),
          "sr=8, naive": ("s--", "tab:blue"), "sr=1, naive": ("s--", "tab:red")}
for name, (style, colour) in styles.items():
    axes[1].plot(tokens, results[name]["ms"], style, color=colour, label=name)
    axes[2].plot(tokens, results[name]["mib"], style, color=colour, label=name)
axes[1].set_title(f"time per forward ({DEVICE.type}{', 1 thread' if DEVICE.type == 'cpu' else ''}, best of {REPEATS})")
axes[1].set_ylabel("ms")
axes[2].set_title("peak memory of the tensors created")
axes[2].set_ylabel("MiB")
for ax in axes:
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("stage-1 tokens N = (side / 4)^2")
    ax.legend(fontsize=8)
fig.suptitle("One stage-1 attention of MiT-B0 (C = 32): spatial reduction vs none", fontsize=12)
print("sizes:", SIZES)
show(fig, "attention_cost_measured")

# %% [markdown] slideshow={"slide_type": "fragment"}
# What to read off the plots:
#
# - compute without reduction grows as N^2 (the red lines are steeper), with R = 64 far
#   more slowly - the time follows the MAC count;
# - memory of the naive version grows as N^2 too: the explicit N x N softmax matrix. A fused
#   SDPA kernel (flash attention, on CPU and GPU) never stores that matrix, so its memory
#   stays linear - **fusion fixes memory, not compute**; only R fixes both. Fused kernels
#   (FlashAttention, 2022) came after PVT and SegFormer (2021): then, R was the only way in.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 5. Mix-FFN
#
# $$\mathbf{x}_\text{out} = \text{MLP}(\text{GELU}(\text{Conv}_{3\times3}(\text{MLP}(\mathbf{x}_\text{in})))) + \mathbf{x}_\text{in}$$
#
# In code: the first MLP is `fc1` (C -> E·C), the 3x3 convolution is `dwconv` (depth-wise:
# one 3x3 filter per channel, `groups = E·C`), then `act` (GELU) and `fc2` (E·C -> C).
# The conv comes *before* the GELU. The residual `+ x_in` and the LayerNorm in front are in
# `MiTBlock`.

# %% tags=["appendix"]
show_source(MixFFN)

# %%
show_source(MiTBlock.forward)

# %% [markdown] slideshow={"slide_type": "subslide"} tags=["appendix"]
# ### Q: "E is 8 in the paper's Table 6, 4 in the code?"
#
# Table 6 lists expansion ratios E = 8, 8, 4, 4; the official code uses 4, 4, 4, 4, and
# people who load the released weights find E = 4 in them (NVlabs/SegFormer issue #63).
# Parameter counts under both settings, against the paper's Table 1a (encoder) and
# Table 2 (whole model):

# %% tags=["hide-input"]
rows, e_counts = [], {}
for name in VARIANTS:
    counts = []
    for ratio in (4, PAPER_E):
        m = meta_model(name, mlp_ratio=ratio)
        counts += [count_params(m.encoder) / 1e6, count_params(m) / 1e6]
    e_counts[name] = counts
    rows.append((name.upper(), round(counts[0], 2), round(counts[2], 2), PAPER_TABLE1A[name]["enc"],
                 round(counts[1], 2), round(counts[3], 2), PAPER_TABLE2_PARAMS.get(name, "-")))
print_table(rows, ["variant", "enc, E=4", "enc, E=8,8,4,4", "paper enc (T1a)", "total, E=4", "total, E=8,8,4,4", "paper total (T2)"])
for name in ("b1", "b2", "b3", "b4", "b5"):  # E = 4 is within the paper's last digit, E = 8 is not
    assert abs(e_counts[name][0] - PAPER_TABLE1A[name]["enc"]) < 0.1 and abs(e_counts[name][2] - PAPER_TABLE1A[name]["enc"]) > 0.3

# %% [markdown] slideshow={"slide_type": "fragment"}
# B1-B5 and the Table 2 totals of B4 and B5 fit only E = 4 (E = 8 in stages 1-2 would add
# 0.3-1.2 M). The one oddity is B0: its printed encoder size, 3.4 M, is what E = 8, 8, 4, 4
# gives (3.41 M), while E = 4 gives 3.32 M - as if that one cell had been computed from a
# config that followed Table 6. Its Table 2 total (3.8 M) fits both. Trust the code and
# the weights: E = 4.

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Why a 3x3 convolution can replace positional encoding
#
# A transformer without positional encoding is permutation-equivariant: it cannot tell where
# a token is. Mix-FFN's convolution pads the map with **zeros**, and a token on the border
# sees those zeros while an interior token does not. Feed a constant map to a 3x3 conv with
# all-ones weights: the output *counts* the real neighbours of every position.

# %% [markdown] slideshow={"slide_type": "notes"}
# **Speaker notes.** The claim to contest: position enters through the convolution's zero padding,
# not through the convolution as such. Point at the corners / edges / interior values (4, 6, 9), then
# at the zero-padding figure; discussion question 1 picks this up.

# %%
ones_conv = torch.nn.Conv2d(1, 1, 3, padding=1, bias=False)
torch.nn.init.ones_(ones_conv.weight)
with torch.no_grad():
    counts = ones_conv(torch.ones(1, 1, 6, 6))[0, 0].long()
print("3x3 all-ones conv, zero padding, constant 6x6 input:")
print(counts.numpy())

# %% [markdown] slideshow={"slide_type": "fragment"}
# Corners, edges and interior come out different (4, 6, 9): position is now in the values.
# The same happens with the package's `MixFFN` (random weights) on a constant token map, and
# with the first stage of B0 on a blank grey image. Below, the distance of each output
# token from the centre token's output: zero means "indistinguishable from the centre".

# %% tags=["hide-input"]
torch.manual_seed(0)
ffn = MixFFN(dim=32, hidden_dim=128).eval()
side = 16
with torch.no_grad():
    y_ffn = ffn(torch.ones(1, side * side, 32), side, side)[0].view(side, side, 32)
    grey = torch.full((1, 3, 4 * side, 4 * side), 0.5)  # a blank image: every patch identical
    tok, hh, ww = encoder.patch_embeds[0](grey)
    y_stage = tok
    for block in encoder.blocks[0]:
        y_stage = block(y_stage, hh, ww)
    y_stage = y_stage[0].view(hh, ww, -1)


def distance_from_centre(y):
    return (y - y[y.shape[0] // 2, y.shape[1] // 2]).norm(dim=-1)


d_ffn, d_stage = distance_from_centre(y_ffn), distance_from_centre(y_stage)
ring = torch.zeros(side, side, dtype=torch.bool)
ring[[0, -1], :] = ring[:, [0, -1]] = True
print("MixFFN on constant tokens: interior tokens all equal:", bool(d_ffn[~ring].max() < 1e-5), "| every border token differs:", bool(d_ffn[ring].min() > 1e-4))
print("B0 stage 1 on a blank image: every border token differs from the centre:", bool(d_stage[ring].min() > 1e-3))
assert d_ffn[~ring].max() < 1e-5 < 1e-4 < d_ffn[ring].min()
assert d_stage[ring].min() > 1e-3

# %% tags=["hide-input"]
fig, axes = plt.subplots(1, 3, figsize=(14, 4.3), constrained_layout=True)
im0 = axes[0].imshow(counts.numpy(), cmap="viridis")
for (r, c), v in zip(torch.cartesian_prod(torch.arange(6), torch.arange(6)).tolist(), counts.flatten().tolist()):
    axes[0].text(c, r, v, ha="center", va="center", color="w" if v < 9 else "k")
axes[0].set_title("all-ones 3x3 conv on a constant map", fontsize=10)
log_scale = matplotlib.colors.LogNorm(vmin=1e-4, vmax=5)
im1 = axes[1].imshow(d_ffn.clamp(min=1e-4).numpy(), cmap="magma", norm=log_scale)
axes[1].set_title("package MixFFN, constant tokens:\n|y - y_centre| per token (log scale)", fontsize=10)
im2 = axes[2].imshow(d_stage.clamp(min=1e-4).numpy(), cmap="magma", norm=log_scale)
axes[2].set_title("B0 stage 1 (patch merging + 2 blocks), blank\nimage: |y - y_centre| per token (log scale)", fontsize=10)
for ax, im in zip(axes, (im0, im1, im2)):
    ax.set_xlabel("token column")
    ax.set_ylabel("token row")
    fig.colorbar(im, ax=ax, shrink=0.8)
fig.suptitle("Zero padding leaks position: identical inputs, position-dependent outputs", fontsize=12)
show(fig, "zero_padding_position")

# %% [markdown] slideshow={"slide_type": "fragment"}
# In the stage-1 panel the patch merging's own zero padding marks the top and left edges
# strongly (on a 64-pixel side, its last 7-wide window ends exactly at the image edge, so the
# right and bottom see no padding); each Mix-FFN marks all four edges and pushes the mark
# one token further in. Attention then lets any token read these marks. That is the
# paper's argument: enough positional information, and nothing tied to a resolution.

# %% [markdown] slideshow={"slide_type": "subslide"} tags=["appendix"]
# ### The alternative: a positional encoding tied to one resolution
#
# A learned (or fixed) positional encoding has one vector per position of the *training*
# grid. At another test resolution it must be interpolated, and the network meets encodings
# it never saw. The package keeps that variant for the ablation (`pos_encoding="learned"`,
# a PE per stage sized for `pe_size`); here is what it has to do at Cityscapes' 1024x2048
# after training on 512x512 crops:

# %%
pe_model = meta_model("b0", pos_encoding="learned", pe_size=(512, 512))
rows = []
for i, ((h, w), (h2, w2)) in enumerate(zip(stage_sizes(pe_model.config, 512, 512), stage_sizes(pe_model.config, 1024, 2048))):
    pe = pe_model.encoder.pos_embeds[i]
    resized = pe_model.encoder.positional_embedding(i, h2, w2)
    rows.append((i + 1, f"{h}x{w}", pe.numel(), f"{h2}x{w2}", tuple(resized.shape), "bilinear x{}x{}".format(h2 // h, w2 // w)))
print_table(rows, ["stage", "PE grid (train 512x512)", "PE params", "grid at 1024x2048", "PE used (1, N, C)", "interpolation"])
n_pe = sum(p.numel() for p in pe_model.encoder.pos_embeds)
print(f"learned PE: {n_pe:,} parameters, {n_pe / count_params(meta_model('b0').encoder):.0%} of the B0 encoder; Mix-FFN: 0, at any size")

# %% [markdown] slideshow={"slide_type": "fragment"}
# Mix-FFN has no parameter tied to a size: the same 3x3 filters run on any grid. The
# paper's Table 1c measures the consequence on Cityscapes (PE: 77.3 -> 74.0 mIoU when the
# test resolution changes; Mix-FFN: 80.5 -> 79.8). **Notebook 02** reruns that ablation on
# DigitWorld.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 6. The hierarchy, stage by stage
#
# Trace a 512x512 image and the odd 500x375 one through MiT-B0. Forward hooks record what
# each stage really sees: the token map, the number of queries and of keys/values.

# %% tags=["hide-input"]
def trace(encoder, height, width):
    kv_tokens = {}
    hooks = [
        blocks[0].attn.kv.register_forward_hook(lambda mod, args, out, i=i: kv_tokens.__setitem__(i, args[0].shape[1]))
        for i, blocks in enumerate(encoder.blocks)
    ]
    torch.manual_seed(0)
    with torch.no_grad():
        feats = encoder(torch.randn(1, 3, height, width))
    for hook in hooks:
        hook.remove()
    cfg, rows = encoder.config, []
    for i, f in enumerate(feats):
        _, c, h, w = f.shape
        heads, sr = cfg.num_heads[i], cfg.sr_ratios[i]
        rows.append((f"{height}x{width}", i + 1, f"{tuple(f.shape)}", f"1/{2 ** (i + 2)}", h * w, c, heads, c // heads,
                     f"{sr} ({sr * sr})", kv_tokens[i], cfg.depths[i]))
    return rows, feats


rows_512, feats_512 = trace(encoder, 512, 512)
rows_odd, feats_odd = trace(encoder, 500, 375)
print_table(rows_512 + rows_odd, ["image", "stage", "output (B, C, H, W)", "scale", "tokens N", "C", "heads", "head dim",
                                  "sr (R)", "K/V tokens", "blocks"])

# %% [markdown] slideshow={"slide_type": "fragment"}
# Channels grow (32 -> 256) as the map shrinks; the head dimension is 32 everywhere; K/V
# lengths are small in every stage (256, 256, 256, 256 at 512x512 - R keeps them equal).
# Stage 4 uses full attention (R = 1) on 16x16 tokens: that is the "global" view.

# %% [markdown] slideshow={"slide_type": "subslide"} tags=["appendix"]
# ### Q: "Why are the logits H/4, and where do they get upsampled?"
#
# The decoder fuses the four maps at stage 1's size, so it predicts at 1/4 of the image:
# `ceil(H/4) x ceil(W/4)`. The logits are upsampled bilinearly to the label size inside the
# loss during training, and to the image size at test time (notebook 02). Running the
# B0 decoder on the encoder maps traced above:

# %%
with torch.no_grad():
    logits_512, logits_odd = model.decoder(feats_512), model.decoder(feats_odd)
print("512x512 ->", tuple(logits_512.shape), "  500x375 ->", tuple(logits_odd.shape))
assert tuple(logits_odd.shape[-2:]) == (math.ceil(500 / 4), math.ceil(375 / 4)) == (125, 94)
record(NB, "logits of a 500x375 image (B0)", f"{logits_odd.shape[-2]}x{logits_odd.shape[-1]}", "125x94", note="reference: ceil(H/4) x ceil(W/4)")

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Six variants, one recipe
#
# B0-B5 share heads, reductions and patch sizes; they differ in width (B0 is narrower) and
# depth (mostly of stage 3). `VARIANTS` holds their configs:

# %% tags=["hide-input"]
rows = [(name.upper(), c.embed_dims, c.depths, c.num_heads, c.sr_ratios, c.mlp_ratio, c.decoder_dim) for name, c in VARIANTS.items()]
print_table(rows, ["variant", "channels C_i", "blocks L_i", "heads", "sr (R = sr^2)", "E", "decoder C"])

# %% [markdown] slideshow={"slide_type": "subslide"} tags=["appendix"]
# ### Parameters per variant
#
# Counted on the package's models (150 classes) - the models are built on the `meta`
# device, which gives every weight its shape without allocating it. Paper columns are the
# paper's own figures: Table 1a for encoder and decoder, Table 2 for the whole model.

# %% tags=["hide-input"]
param_rows, params = [], {}
for name in VARIANTS:
    m = meta_model(name)
    enc, dec = count_params(m.encoder), count_params(m.decoder)
    params[name] = (enc, dec)
    paper = PAPER_TABLE1A[name]
    param_rows.append((name.upper(), f"{enc:,}", round(enc / 1e6, 2), paper["enc"], f"{dec:,}", round(dec / 1e6, 2), paper["dec"],
                       round((enc + dec) / 1e6, 2), PAPER_TABLE2_PARAMS.get(name, "-")))
print_table(param_rows, ["variant", "encoder", "enc (M)", "paper enc", "decoder", "dec (M)", "paper dec", "total (M)", "paper total (T2)"])
assert all(abs(params[n][0] / 1e6 - PAPER_TABLE1A[n]["enc"]) < 0.1 for n in VARIANTS)
assert all(abs(params[n][1] / 1e6 - PAPER_TABLE1A[n]["dec"]) < 0.05 for n in VARIANTS)

# %% [markdown] slideshow={"slide_type": "fragment"}
# Every count is within 0.1 M of the paper's. The paper's last digit is not consistently
# rounded (B1's 13.15 M is printed 13.1, B2's 24.20 M 24.2, B3's 44.07 M 44.0), and B0's
# encoder is the E = 8 oddity of section 5. Decoders and the Table 2 totals match.

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Where B0 spends its MACs
#
# `macs_by_module` charges every counted operation to the module that ran it (512x512,
# 150 classes). Per stage, and then the encoder split by component:

# %%
b0_meta = meta_model("b0")
by_module = macs_by_module(b0_meta, meta_image(512, 512), depth=3)
print_table(breakdown_rows(by_module), BREAKDOWN_HEADERS)

# %% tags=["hide-input"]
parts = {"patch merging": 0, "attention: reduction conv + norm": 0, "attention: q, kv, proj": 0,
         "attention: Q K^T and A V": 0, "Mix-FFN: fc1 + fc2": 0, "Mix-FFN: 3x3 dwconv": 0}
for path, macs in macs_by_module(b0_meta, meta_image(512, 512), depth=None).items():
    if not path.startswith("encoder"):
        continue
    if "patch_embeds" in path:
        parts["patch merging"] += macs
    elif path.endswith("attn.sr"):
        parts["attention: reduction conv + norm"] += macs
    elif path.endswith("attn"):  # the SDPA call itself runs in the attention module
        parts["attention: Q K^T and A V"] += macs
    elif ".attn." in path:
        parts["attention: q, kv, proj"] += macs
    elif path.endswith("mlp.dwconv"):
        parts["Mix-FFN: 3x3 dwconv"] += macs
    elif ".mlp." in path:
        parts["Mix-FFN: fc1 + fc2"] += macs
enc_total = sum(parts.values())
assert enc_total == sum(v for k, v in by_module.items() if k.startswith("encoder"))
print_table([(k, round(v / 1e9, 3), f"{100 * v / enc_total:.1f}%") for k, v in parts.items()] + [("encoder total", round(enc_total / 1e9, 3), "100.0%")],
            ["MiT-B0 encoder at 512x512", "GMACs", "share"])

# %% [markdown] slideshow={"slide_type": "fragment"}
# Two things to discuss: even with R in place, the attention matmuls are a third of the
# encoder's MACs (Mix-FFN's two Linears are the largest part), and the B0 *decoder's* fuse
# layer (a 1x1 conv from 4·256 to 256 channels at 1/4 resolution) costs more than the whole
# encoder - the "lightweight" decoder is light in parameters, not in FLOPs at B0 scale
# (notebook 02).

# %% [markdown] slideshow={"slide_type": "subslide"} tags=["appendix"]
# ### FLOPs per variant, against Table 1a
#
# The paper's "FLOPs" are MACs of the whole model (150 classes) at 512x512 on ADE20K, but
# B5's ADE20K figure is at 640x640 (its 512x512 count is the COCO-Stuff column).

# %% tags=["hide-input"]
flop_rows, gmacs_ade = [], {}
for name in VARIANTS:
    size = 640 if name == "b5" else 512
    gmacs_ade[name] = count_macs(meta_model(name), meta_image(size, size)) / 1e9
    paper = PAPER_TABLE1A[name]["ade"]
    flop_rows.append((name.upper(), f"{size}x{size}", round(gmacs_ade[name], 2), paper, f"{100 * (gmacs_ade[name] / paper - 1):+.2f}%"))
print_table(flop_rows, ["variant", "input", "GMACs (ours)", "paper GFLOPs (T1a, ADE20K)", "difference"])
assert all(abs(gmacs_ade[n] / PAPER_TABLE1A[n]["ade"] - 1) < 0.005 for n in VARIANTS)

# %% [markdown] slideshow={"slide_type": "subslide"} tags=["appendix"]
# ### Q: "Why do my FLOPs differ from the paper's?"
#
# Four usual reasons, each measured here on B0:
#
# 1. **FLOPs vs MACs.** The paper's "FLOPs" are multiply-accumulates; counters that report
#    FLOPs (`torch.utils.flop_counter`, many papers since) give twice as much.
# 2. **Attention not counted.** Hook-based counters (mmcv, which the authors used) never
#    see a matmul - the authors added attention by hand. PyTorch's own `FlopCounterMode`
#    counts nothing for `F.scaled_dot_product_attention`'s CPU kernel.
# 3. **Input size and classes.** B5's ADE20K figure is at 640x640; the Cityscapes column of
#    Table 1a is reproduced at 1024x2048 with a **150**-class head (with 19 classes it
#    comes out lower).
# 4. **Convention details.** mmcv also counted a conv's bias and ReLU as one operation per
#    output element; `convention="mmcv-segformer"` adds those and lands on the printed decimal.

# %%
torch.manual_seed(0)
with torch.no_grad(), FlopCounterMode(display=False) as flop_counter:
    model(torch.randn(1, 3, 256, 256))  # a real forward on the CPU
fcm_macs = flop_counter.get_total_flops() // 2
ours_256 = macs_by_op(model, meta_image(256, 256))
sdpa_256 = sdpa_macs(ours_256)
rows = [
    ("FlopCounterMode FLOPs / 2 (CPU, 256x256)", round(fcm_macs / 1e9, 4)),
    ("count_macs (256x256)", round(sum(ours_256.values()) / 1e9, 4)),
    ("  of which SDPA (Q K^T, A V)", round(sdpa_256 / 1e9, 4)),
]
print_table(rows, ["B0 counter", "GMACs"])
print("FlopCounterMode misses exactly the attention:", fcm_macs + sdpa_256 == sum(ours_256.values()))
assert fcm_macs + sdpa_256 == sum(ours_256.values())

# %%
b0_512 = gmacs_ade["b0"] * 1e9  # counted above
b0_512_mmcv = count_macs(b0_meta, meta_image(512, 512), convention="mmcv-segformer")
b0_city_150 = count_macs(b0_meta, meta_image(1024, 2048))
b0_city_19 = count_macs(meta_model("b0", num_classes=19), meta_image(1024, 2048))
b5_512 = count_macs(meta_model("b5"), meta_image(512, 512))
rows = [
    ("B0 512x512, GMACs", round(b0_512 / 1e9, 2), PAPER_TABLE1A["b0"]["ade"]),
    ("B0 512x512, GFLOPs = 2 x MACs", round(2 * b0_512 / 1e9, 2), PAPER_TABLE1A["b0"]["ade"]),
    ("B0 512x512, mmcv convention", round(b0_512_mmcv / 1e9, 2), PAPER_TABLE1A["b0"]["ade"]),
    ("B0 1024x2048, 150 classes", round(b0_city_150 / 1e9, 1), PAPER_TABLE1A["b0"]["city"]),
    ("B0 1024x2048, 19 classes", round(b0_city_19 / 1e9, 1), PAPER_TABLE1A["b0"]["city"]),
    ("B5 512x512 (COCO-Stuff column)", round(b5_512 / 1e9, 1), PAPER_TABLE1A["b5"]["coco"]),
    ("B5 640x640 (ADE20K column)", round(gmacs_ade["b5"], 1), PAPER_TABLE1A["b5"]["ade"]),
]
print_table(rows, ["count", "ours", "paper (T1a)"])

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 7. Results: ours vs the paper
#
# Everything in the "ours" columns was computed above from the package's models; the paper
# columns are the paper's literals. Each pair is also logged with `report.record` for
# `make run`'s summary.

# %% tags=["hide-input"]
rows = []
for name in VARIANTS:
    enc, dec = params[name]
    paper = PAPER_TABLE1A[name]
    rows.append((f"MiT-{name.upper()}", round(enc / 1e6, 1), paper["enc"], round(dec / 1e6, 1), paper["dec"], round(gmacs_ade[name], 1), paper["ade"]))
    record(NB, f"{name.upper()} encoder params", round(enc / 1e6, 2), paper["enc"], "M", "Table 1a")
    record(NB, f"{name.upper()} decoder params", round(dec / 1e6, 2), paper["dec"], "M", "Table 1a")
    record(NB, f"{name.upper()} ADE20K GFLOPs", round(gmacs_ade[name], 2), paper["ade"], "GMACs", "Table 1a; B5 at 640x640")
    if name in PAPER_TABLE2_PARAMS:
        record(NB, f"{name.upper()} total params", round((enc + dec) / 1e6, 2), PAPER_TABLE2_PARAMS[name], "M", "Table 2")
print_table(rows, ["model", "enc M", "paper", "dec M", "paper", "ADE GFLOPs", "paper"])
record(NB, "B0 Cityscapes GFLOPs (1024x2048, 150-class head)", round(b0_city_150 / 1e9, 1), PAPER_TABLE1A["b0"]["city"], "GMACs", "Table 1a")
record(NB, "B5 COCO-Stuff GFLOPs (512x512)", round(b5_512 / 1e9, 1), PAPER_TABLE1A["b5"]["coco"], "GMACs", "Table 1a")
record(NB, "B0 params with the paper's E = 8,8,4,4", round(count_params(meta_model("b0", mlp_ratio=PAPER_E)) / 1e6, 2), PAPER_TABLE2_PARAMS["b0"], "M", "Table 2 (total): only E = 4 matches")
record(NB, "conv output size, in 8, K3 S2 P1", conv_out(8, 3, 2, 1), 4, "", "seed deck's worked example")
print("results logged:", NB)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 8. Before notebook 02: pretraining the encoder
#
# SegFormer's encoder is pretrained on ImageNet-1K before it sees a mask. Our stand-in, stage 1 of
# notebook 02's run: MiT-B0 with a pooled linear head learns to name handwritten digits, scored on
# held-out writers. The weights go to `runs/cache/` for notebook 02. The one cell here that trains
# (under a minute): show its outputs when presenting.

# %% tags=["hide-input"]
ENCODER_RECIPE = segformer_recipe()
(crops, crop_labels), _ = digit_task(12, ENCODER_RECIPE.pretrain_size, ENCODER_RECIPE.data_seed,
                                     ENCODER_RECIPE.pretrain_textured, ENCODER_RECIPE.pretrain_plain, test=False)
fig, axes = plt.subplots(1, 12, figsize=(10, 1.2))
for ax, crop, label in zip(axes, crops, crop_labels):
    ax.imshow(crop.permute(1, 2, 0).clamp(0, 1)), ax.set_title(str(int(label)), fontsize=9), ax.axis("off")
fig.suptitle(f"pretraining crops ({ENCODER_RECIPE.pretrain_size} px) and their labels", fontsize=10)
show(fig, "pretraining_crops")

# %% tags=["nbval-ignore-output"]
encoder_model = make_segformer(ENCODER_RECIPE)  # the recipe's B0, from its seed
pretrain = trained_encoder(encoder_model, ENCODER_RECIPE,
                           cache_dir=CACHE_DIR / "segformer", log=print)
digit_acc = float(pretrain.evals[-1]["acc"])

# %% tags=["hide-input", "nbval-ignore-output"]
fig = pretraining_curve(pretrain, f"Encoder pretraining: {len(pretrain.loss)} steps, "
                                  f"held-out accuracy {digit_acc:.3f}")
show(fig, "encoder_pretraining")
record(NB, "encoder pretraining: held-out digit accuracy", round(digit_acc, 3), None, "accuracy",
       note=f"{len(pretrain.loss)} steps at {ENCODER_RECIPE.pretrain_size}px, profile {ENCODER_RECIPE.profile}; "
            "the paper: ImageNet-1K")
if PROFILE != "smoke":
    assert digit_acc > 0.8, digit_acc  # chance is 0.1

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Take-aways
#
# - MiT is a pyramid (1/4 ... 1/32) built by overlapping strided convolutions (K > S), not ViT's one grid.
# - Efficient self-attention shrinks keys and values by R = sr^2 with a strided conv: R times less compute.
# - Mix-FFN's 3x3 depth-wise conv replaces the positional encoding: nothing depends on the training size.

# %% [markdown] slideshow={"slide_type": "fragment"}
# ### Questions to ask the room
#
# 1. Zero padding tells a token it is near the border - but how does a token in the middle of a
#    1024x2048 image know where it is? Does it need to, for segmentation?
# 2. Fused attention kernels remove the memory argument for R. Would you still use R = 64 today, or
#    full attention with flash attention at stage 1? What does the MAC count say?
# 3. At B0 scale the "lightweight" decoder costs more MACs than the encoder. Is it still fair to call
#    it lightweight? (Notebook 02 measures the decoder width C.)

# %% [markdown] slideshow={"slide_type": "subslide"} tags=["appendix"]
# ### More questions
#
# 4. The reduction conv floors: at 500x375 stage 1 drops 5 rows and 6 columns from the keys.
#    Does that matter? How would you avoid it (padding, adaptive pooling as in PVTv2)?
# 5. The paper's Eq. 2 is a 1-D reshape; the code is a 2-D strided conv. Which one would a
#    reader reimplementing from the paper write, and how would they find out?
# 6. Table 1c's PE baseline interpolates a learned PE. Would a relative or sinusoidal
#    encoding have closed the gap without the convolution?
