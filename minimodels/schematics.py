"""Architecture schematics of the three papers, labelled with the numbers of a real model.

One figure per paper, laid out for a slide (12 x 6.5 inches: a 1280x800 reveal.js slide at
about 100 dpi, every font at least 11 pt), and drawn from the package's own models and
configs, so that a notebook shows the numbers of *its* model, not the paper's alone:

- :func:`segformer_schematic` - Figure 2 of SegFormer: the four Mix Transformer stages
  (Overlap Patch Embed / Merging, N x (Efficient Self-Attn, Mix-FFN)) and the All-MLP
  decoder (MLP per stage, upsample to H/4, concatenate, fuse, classify), with the tensor
  shapes that one forward pass of the model on an input of the given size produces. The
  shapes are read by forward hooks (:func:`segformer_shapes`), not computed by a formula.
- :func:`vivit_schematic` - ViViT's four models side by side: which tokens a query token
  attends to in each attention step, and the token counts of a config's clip.
- :func:`videobert_schematic` - VideoBERT's pipeline: frames -> clips -> S3D features ->
  hierarchical k-means -> visual words; ASR text -> word tokens; ``[CLS] text [>] video
  [SEP]`` into BERT, trained by masked token prediction and the linguistic-visual
  alignment head. The paper's numbers by default; a notebook passes its reduced world's.

Each function returns the matplotlib Figure (made by pyplot, so ``report.show`` displays
it), or draws into ``ax`` (scaling its fonts to the axes' size) and returns ``ax.figure``.
Nothing is written to disk.
"""

from __future__ import annotations

import dataclasses
import math

import matplotlib.pyplot as plt
import torch
from matplotlib.axes import Axes
from matplotlib.patches import FancyBboxPatch, Rectangle

from . import segformer, vivit
from .bert import BERT_VOCAB_SIZE
from .layers import is_int, to_pair
from .s3d import REAL_S3D_FEATURE_DIM

DESIGN = (12.0, 6.5)  # inches: every schematic is laid out on this canvas (one slide)
TITLE, HEAD, BODY, SMALL = 16, 14, 12, 11  # font sizes in points at the design size

INK = "#222222"
ARROW = "#444444"
ENCODER = "#dce9f7"  # SegFormer encoder, ViViT panels
ATTENTION = "#fbe3c4"
FFN = "#d9efd5"
DECODER = "#eadff2"
TEXT = "#fff1c9"  # VideoBERT text tokens
VIDEO = "#d6eaf8"  # VideoBERT visual tokens
SPECIAL = "#e6e6e6"
QUERY = "#1f1f1f"  # ViViT: the query token
SPACE = "#4a86c8"  # ViViT: attended within the frame
TIME = "#e8912d"  # ViViT: attended across time
JOINT = "#8e5cc0"  # ViViT: attended by joint space-time attention
IDLE = "#ffffff"


# --------------------------------------------------------------------------------------
# Drawing
# --------------------------------------------------------------------------------------


class Pen:
    """Boxes, text and arrows in the design's inches (x from the left, y from the bottom),
    with fonts and line widths scaled by ``scale`` (1 at the design size)."""

    def __init__(self, ax: Axes, scale: float):
        self.ax, self.scale = ax, scale

    def text(self, x, y, s, size=BODY, ha="center", va="center", **kw):
        self.ax.text(x, y, s, fontsize=size * self.scale, ha=ha, va=va, color=kw.pop("color", INK), **kw)

    def box(self, x, y, w, h, s="", face=IDLE, size=BODY, edge=INK, lw=1.2, **kw):
        rounding = min(0.08, w / 4, h / 4)
        self.ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle=f"round,pad=0,rounding_size={rounding}",
                                         facecolor=face, edgecolor=edge, linewidth=lw * self.scale))
        if s:
            self.text(x + w / 2, y + h / 2, s, size, linespacing=1.25, **kw)

    def cell(self, x, y, size, face, edge="#777777"):
        self.ax.add_patch(Rectangle((x, y), size, size, facecolor=face, edgecolor=edge, linewidth=0.6 * self.scale))

    def arrow(self, x0, y0, x1, y1, color=ARROW, lw=1.6):
        self.ax.annotate("", xy=(x1, y1), xytext=(x0, y0), arrowprops=dict(
            arrowstyle="-|>", color=color, lw=lw * self.scale, mutation_scale=14 * self.scale, shrinkA=0, shrinkB=0))

    def line(self, xs, ys, color=ARROW, lw=1.6):
        self.ax.plot(xs, ys, color=color, linewidth=lw * self.scale, solid_capstyle="butt")


def _canvas(ax, figsize, who: str):
    """(figure, Pen) on a new figure of ``figsize`` (default: the design size) or on ``ax``."""
    if ax is None:
        if figsize is None:
            figsize = DESIGN
        ok = isinstance(figsize, (tuple, list)) and len(figsize) == 2 and all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0 for v in figsize)
        if not ok:
            raise ValueError(f"{who}: figsize must be (width, height) in inches, two positive numbers, got {figsize!r}")
        width, height = float(figsize[0]), float(figsize[1])
        fig = plt.figure(figsize=(width, height))
        ax = fig.add_axes((0, 0, 1, 1))
    else:
        if not isinstance(ax, Axes):
            raise TypeError(f"{who}: ax must be a matplotlib Axes or None, got {type(ax).__name__}")
        if figsize is not None:
            raise ValueError(f"{who}: give ax or figsize, not both (the axes' figure has its size already)")
        fig = ax.figure
        width, height = fig.get_size_inches() * ax.get_position().size
    ax.set_xlim(0, DESIGN[0])
    ax.set_ylim(0, DESIGN[1])
    ax.set_axis_off()
    return fig, Pen(ax, min(width / DESIGN[0], height / DESIGN[1]))


def shape_text(shape) -> str:
    """A shape as a slide writes it: (32, 128, 128) -> '32×128×128'."""
    return "×".join(str(int(n)) for n in shape)


# --------------------------------------------------------------------------------------
# SegFormer (Figure 2)
# --------------------------------------------------------------------------------------


def segformer_shapes(model: segformer.SegFormer, input_size=(512, 512)) -> dict:
    """The tensor shapes of one forward pass of ``model`` on a (1, C, H, W) image of zeros,
    ``input_size`` = (H, W) or one int for a square, read by forward hooks, batch dimension
    dropped, channels first:

    ``input`` (C, H, W); ``stages``: the encoder's maps (C_i, H_i, W_i); ``mlp``: each stage
    after its Linear(C_i, C); ``upsampled``: each at H/4 x W/4; ``concat`` (4C, H/4, W/4), the
    fusing Linear's input (``ConcatLinear`` reads the four maps without building it);
    ``fuse`` (C, H/4, W/4); ``logits`` (N_cls, H/4, W/4).

    The model runs in eval mode without gradients (its BatchNorm statistics do not move) and
    is put back in the mode it was in.
    """
    if not isinstance(model, segformer.SegFormer):
        raise TypeError(f"segformer_shapes expects a minimodels.segformer.SegFormer, got {type(model).__name__}")
    height, width = to_pair(input_size, "segformer_shapes: input_size")
    weight = model.encoder.patch_embeds[0].proj.weight
    image = torch.zeros(1, model.config.in_channels, height, width, dtype=weight.dtype, device=weight.device)
    seen: dict = {}

    def channels_last(t):  # (1, h, w, C) -> (C, h, w)
        return (t.shape[-1], *t.shape[1:-1])

    def on_encoder(module, args, out):
        seen["stages"] = [tuple(f.shape[1:]) for f in out]

    def on_mlp(i):
        def hook(module, args, out):
            seen.setdefault("mlp", {})[i] = channels_last(out)
        return hook

    def on_fuse(module, args, out):
        maps = args[0][::-1]  # the decoder hands [c4, c3, c2, c1]; list them in stage order
        seen["upsampled"] = [channels_last(m) for m in maps]
        seen["concat"] = (sum(m.shape[-1] for m in maps), *maps[0].shape[1:-1])
        seen["fuse"] = channels_last(out)

    hooks = [model.encoder.register_forward_hook(on_encoder), model.decoder.linear_fuse.register_forward_hook(on_fuse)]
    hooks += [linear.register_forward_hook(on_mlp(i)) for i, linear in enumerate(model.decoder.linear_c)]
    training = model.training
    try:
        model.eval()
        with torch.no_grad():
            logits = model(image)
    finally:
        model.train(training)
        for h in hooks:
            h.remove()
    return dict(input=tuple(image.shape[1:]), stages=seen["stages"],
                mlp=[seen["mlp"][i] for i in range(len(seen["mlp"]))], upsampled=seen["upsampled"],
                concat=seen["concat"], fuse=seen["fuse"], logits=tuple(logits.shape[1:]))


def _variant_name(config: segformer.SegFormerConfig) -> str:
    for name, v in segformer.VARIANTS.items():
        same = ("embed_dims", "depths", "num_heads", "sr_ratios", "decoder_dim")
        if all(getattr(v, f) == getattr(config, f) for f in same):
            return f"SegFormer-{name.upper()}"
    return "SegFormer"


def segformer_schematic(model: segformer.SegFormer, input_size=(512, 512), ax=None, figsize=None):
    """SegFormer's Figure 2 drawn for ``model`` (a ``minimodels.segformer.SegFormer``), every
    box labelled with the shape (C x H x W) a ``input_size`` image (default: the paper's
    512x512 ADE20K crop) gives there in a real forward pass (:func:`segformer_shapes`).

    Encoder: per stage an Overlap Patch Embed (stage 1) or Merging (later stages) with its
    kernel and stride, then N_i blocks of Efficient Self-Attn (sequence reduction R = sr^2)
    and Mix-FFN. Decoder: an MLP per stage to width C, upsampling to H/4, the concatenation,
    the fusing MLP and the classifier. Returns the Figure.
    """
    if not isinstance(model, segformer.SegFormer):
        raise TypeError(f"segformer_schematic expects a minimodels.segformer.SegFormer, got {type(model).__name__}")
    shapes = segformer_shapes(model, to_pair(input_size, "segformer_schematic: input_size"))
    c = model.config
    n = c.num_stages
    fig, pen = _canvas(ax, figsize, "segformer_schematic")
    height, width = shapes["input"][1:]
    pen.text(6.0, 6.25, f"{_variant_name(c)}: shapes of one {height}×{width} image (C×H×W), "
                        f"{c.num_classes} classes", TITLE, weight="bold")

    # columns: the image on the left, one per stage
    left, gap, right = 1.5, 0.3, 11.9
    col = (right - left - (n - 1) * gap) / n
    xs = [left + i * (col + gap) for i in range(n)]

    pen.text(0.67, 5.55, "MiT\nencoder", HEAD, weight="bold")
    pen.box(0.07, 4.15, 1.2, 0.8, f"Image\n{shape_text(shapes['input'])}", IDLE, SMALL)
    pen.arrow(1.27, 4.55, xs[0], 4.55)
    pen.text(0.67, 2.1, "All-MLP\ndecoder", HEAD, weight="bold")

    y0, y1 = 3.55, 5.95  # stage boxes
    stride = 1
    for i, x in enumerate(xs):
        stride *= c.strides[i]
        pen.box(x, y0, col, y1 - y0, face="#f4f8fc", edge="#5a7fa8", lw=1.4)
        pen.text(x + col / 2, y1 - 0.2, f"Stage {i + 1}", HEAD, weight="bold")
        inner, bw = x + 0.1, col - 0.55
        k, s = c.patch_sizes[i], c.strides[i]
        kind = "Embed" if i == 0 else "Merging"
        pen.box(inner, 4.9, bw, 0.6, f"Overlap Patch {kind}\n{k}×{k}, stride {s}", ENCODER, SMALL)
        pen.arrow(inner + bw / 2, 4.9, inner + bw / 2, 4.78)
        r = c.sr_ratios[i] ** 2
        pen.box(inner, 4.23, bw, 0.55, f"Efficient Self-Attn\nR={r}, {c.num_heads[i]} "
                                        f"head{'s' if c.num_heads[i] > 1 else ''}", ATTENTION, SMALL)
        pen.arrow(inner + bw / 2, 4.23, inner + bw / 2, 4.11)
        ffn = {"mixffn": "Mix-FFN", "learned": "FFN (+ learned PE)", "none": "FFN (no PE)"}[c.pos_encoding]
        pen.box(inner, 3.68, bw, 0.43, ffn, FFN, SMALL)
        bx = inner + bw + 0.06  # the "x N" bracket around attention and FFN
        pen.line([bx, bx + 0.07, bx + 0.07, bx], [4.76, 4.76, 3.70, 3.70], INK, 1.2)
        pen.text(bx + 0.11, 4.23, f"×{c.depths[i]}", BODY, weight="bold", ha="left")
        if i + 1 < n:
            pen.arrow(x + col, 4.55, x + col + gap, 4.55)
        # the stage's output, then the decoder's column under it
        pen.text(x + col / 2, 3.32, f"1/{stride}: {shape_text(shapes['stages'][i])}", BODY, weight="bold")
        pen.arrow(x + col / 2, 3.15, x + col / 2, 2.8)
        pen.box(x + 0.1, 2.22, col - 0.2, 0.58, f"MLP {c.embed_dims[i]}→{c.decoder_dim}\n"
                                                f"{shape_text(shapes['mlp'][i])}", DECODER, SMALL)
        pen.arrow(x + col / 2, 2.22, x + col / 2, 2.02)
        (_, h0, w0), (_, h1, w1) = shapes["mlp"][i], shapes["upsampled"][i]
        whole = h1 % h0 == 0 and w1 % w0 == 0 and h1 // h0 == w1 // w0
        resize = f"Upsample ×{h1 // h0}" if whole else "Resize to 1/4"
        pen.box(x + 0.1, 1.44, col - 0.2, 0.58, f"{resize}\n"
                                                f"{shape_text(shapes['upsampled'][i])}", DECODER, SMALL)
        pen.arrow(x + col / 2, 1.44, x + col / 2, 1.25)

    # concatenation bar under the columns, then fuse -> classify -> output in a row
    pen.box(xs[0] + 0.1, 0.85, right - xs[0] - 0.2, 0.4, f"Concat → {shape_text(shapes['concat'])}", DECODER, SMALL)
    row = [(f"MLP (fuse) {shapes['concat'][0]}→{shapes['fuse'][0]}\n{shape_text(shapes['fuse'])}", DECODER),
           (f"MLP → {c.num_classes} classes\n{shape_text(shapes['logits'])}", DECODER),
           (f"Mask at H/4, upsampled\nto {height}×{width}", IDLE)]
    x0, x1 = xs[0] + 0.1, right - 0.1
    bw = (x1 - x0 - 2 * 0.5) / 3
    for j, (label, face) in enumerate(row):
        x = x0 + j * (bw + 0.5)
        pen.box(x, 0.08, bw, 0.62, label, face, SMALL)
        if j:
            pen.arrow(x - 0.5, 0.39, x, 0.39)
    pen.arrow(x0 + bw / 2, 0.85, x0 + bw / 2, 0.7)
    return fig


# --------------------------------------------------------------------------------------
# ViViT (Section 3.3, Figures 4-6)
# --------------------------------------------------------------------------------------


def _vivit_config(config) -> vivit.ViViTConfig:
    if isinstance(config, vivit.ViViT):
        config = config.config
    if not isinstance(config, vivit.ViViTConfig):
        raise TypeError(f"vivit_schematic expects a minimodels.vivit.ViViTConfig (or a ViViT), "
                        f"got {type(config).__name__}")
    if config.model not in vivit.MODELS:
        raise ValueError(f"vivit_schematic: unknown model {config.model!r}; expected one of {list(vivit.MODELS)}")
    if config.model == 4 and config.num_heads % 2:
        raise ValueError(f"vivit_schematic: Model 4 splits the heads in two halves (time, space); num_heads must be "
                         f"even, got {config.num_heads}")
    t, h, w = config.tubelet
    (T, H, W) = (config.num_frames, *config.image_size)
    if T % t or H % h or W % w or T < t:
        raise ValueError(f"vivit_schematic: a clip of {T} frames × {H}×{W} must be divisible by the tubelet "
                         f"(t, h, w) = {config.tubelet}")
    return config


def vivit_token_counts(config) -> dict[int, list[tuple[str, int, int, int]]]:
    """The attention steps of each of the four models for ``config``'s clip (a ViViTConfig or
    a ViViT): model -> list of (step, sequences, tokens per sequence, heads), in order.

    The config's own model uses its fields; the others the same clip and transformer with
    their default readout (a CLS token for Models 1-2, none for 3-4). Model 2's spatial
    sequences carry a CLS token when ``spatial_pooling="cls"``; with ``temporal_layers=0``
    it has no temporal step (the frame tokens are averaged). Model 4 needs an even head
    count: with an odd one its list is empty.
    """
    config = _vivit_config(config)
    n_t, n_h, n_w = config.grid
    S, heads = n_h * n_w, config.num_heads
    counts = {}
    for m in vivit.MODELS:
        cm = config if m == config.model else dataclasses.replace(config, model=m, classifier=None)
        cls = int(cm.classifier == "token")
        if m == 1:
            counts[m] = [("joint", 1, n_t * S + cls, heads)]
        elif m == 2:
            counts[m] = [("spatial", n_t, S + int(cm.spatial_pooling == "cls"), heads)]
            if cm.temporal_layers > 0:
                counts[m].append(("temporal", 1, n_t + cls, heads))
        elif m == 3:
            counts[m] = [("spatial", n_t, S, heads), ("temporal", S, n_t, heads)]
        else:
            counts[m] = [] if heads % 2 else [("temporal", S, n_t, heads // 2), ("spatial", n_t, S, heads - heads // 2)]
    return counts


def _drawn_frames(n_t: int) -> list[int]:
    """The frames a drawing shows: all of up to 4, else the first three and the last."""
    return list(range(n_t)) if n_t <= 4 else [0, 1, 2, n_t - 1]


def _count(n: int, unit: str) -> str:
    return f"{n:,} {unit}{'' if n == 1 else 's'}"


def _frames_width(config, cell=0.11) -> float:
    n_t, _, n_w = config.grid
    shown = len(_drawn_frames(n_t))
    return shown * max(min(n_w, 4) * cell, 0.36) + (shown - 1) * 0.14 + (0.3 if n_t > 4 else 0.0)


def _frames(pen: Pen, mid, y, config, colour, cell=0.11):
    """A row of frames of token cells centred at ``mid`` (at most 4 frames of 4x4 drawn, '…'
    for the rest); ``colour(frame, row, col)`` gives each cell's face."""
    n_t, n_h, n_w = config.grid
    rows, cols = min(n_h, 4), min(n_w, 4)
    slot = max(cols * cell, 0.36)  # room for the frame's label under it
    x = mid - _frames_width(config, cell) / 2
    for j, f in enumerate(_drawn_frames(n_t)):
        if j == 3 and n_t > 4:
            pen.text(x + 0.08, y + rows * cell / 2, "…", BODY)
            x += 0.3
        left = x + (slot - cols * cell) / 2
        for r in range(rows):
            for q in range(cols):
                pen.cell(left + q * cell, y + (rows - 1 - r) * cell, cell, colour(f, r, q))
        pen.text(x + slot / 2, y - 0.13, f"t={f + 1}", SMALL)
        x += slot + 0.14


def _summaries(pen: Pen, mid, y, n_t: int, cls: bool, cell=0.2):
    """Model 2's temporal step centred at ``mid``: one token per frame (and a CLS), all
    attending to each other."""
    frames = list(range(n_t)) if n_t <= 6 else [0, 1, 2, 3, n_t - 1]
    width = len(frames) * (cell + 0.12) - 0.12 + (cell + 0.2 if cls else 0.0) + (0.3 if n_t > 6 else 0.0)
    x = mid - width / 2
    if cls:
        pen.cell(x, y, cell, TIME)
        pen.text(x + cell / 2, y - 0.15, "CLS", SMALL)
        x += cell + 0.2
    for j, f in enumerate(frames):
        if j == 4 and n_t > 6:
            pen.text(x + 0.08, y + cell / 2, "…", BODY)
            x += 0.3
        pen.cell(x, y, cell, QUERY if f == 0 else TIME)
        pen.text(x + cell / 2, y - 0.15, f"{f + 1}", SMALL)
        x += cell + 0.12


def vivit_schematic(config=None, ax=None, figsize=None):
    """ViViT's four models side by side for ``config`` (a ``minimodels.vivit.ViViTConfig`` or
    a ``ViViT``; default ViViT-B/16x2 on 32 frames of 224x224, the paper's Table 2): per
    model, which tokens one query token (black) attends to in each attention step - within
    its frame (blue), across time at its position (orange), or everywhere (purple) - and
    the real counts :func:`vivit_token_counts` gives for the clip. Drawn frames stand for
    all n_t frames of n_h x n_w tokens. The config's own model is outlined. Returns the Figure.
    """
    config = _vivit_config(vivit.ViViTConfig() if config is None else config)
    counts = vivit_token_counts(config)
    n_t, n_h, n_w = config.grid
    S, N = n_h * n_w, n_t * n_h * n_w
    t, h, w = config.tubelet
    fig, pen = _canvas(ax, figsize, "vivit_schematic")
    pen.text(6.0, 6.25, f"ViViT: {config.num_frames} frames of {config.image_size[0]}×{config.image_size[1]}, "
                        f"tubelet {t}×{h}×{w} → {n_t}×{n_h}×{n_w} = {N:,} tokens", TITLE, weight="bold")
    drawn = f"; a frame drawn as {min(n_h, 4)}×{min(n_w, 4)} of its {n_h}×{n_w} tokens" if max(n_h, n_w) > 4 else ""
    pen.text(6.0, 5.88, f"d = {config.hidden_dim}, {config.num_heads} heads, L = {config.depth} layers{drawn}; "
                        f"outlined: the config's model", SMALL)
    q_row, q_col = min(1, n_h - 1), min(1, n_w - 1)  # the query token: frame 1, row 2, column 2

    def pattern(kind):
        def colour(f, r, q):
            if (f, r, q) == (0, q_row, q_col):
                return QUERY
            if kind == "joint":
                return JOINT
            if kind == "spatial":
                return SPACE if f == 0 else IDLE
            return TIME if (r, q) == (q_row, q_col) else IDLE
        return colour

    pw, gap = 2.85, 0.1
    for m in vivit.MODELS:
        x = 0.1 + (m - 1) * (pw + gap)
        mid = x + pw / 2
        own = m == config.model
        pen.box(x, 0.55, pw, 5.0, face="#f7f9fc", edge="#c0392b" if own else "#9aa7b5", lw=2.6 if own else 1.2)
        pen.text(mid, 5.27, f"Model {m}", HEAD, weight="bold")
        pen.text(mid, 4.95, vivit.MODELS[m].replace("attention", "attn"), BODY)
        steps = counts[m]
        if not steps:
            pen.text(mid, 3.2, f"splits the heads in two halves:\nneeds an even count,\nnot {config.num_heads}", BODY)
            continue
        tops = (3.9, 2.25)
        for j, (kind, seqs, tokens, heads) in enumerate(steps):
            top = tops[j]
            if m == 2 and kind == "temporal":
                _summaries(pen, mid, top + 0.1, n_t, tokens == n_t + 1)
            else:
                _frames(pen, mid, top, config, pattern(kind))
            unit = "sequence" if kind == "joint" or m == 2 and kind == "temporal" else \
                "frame" if kind == "spatial" else "position"
            pen.text(mid, top - 0.42, f"{_count(seqs, unit)} × {_count(tokens, 'token')}", SMALL)
            if m == 4:
                first = "heads 1–" if kind == "temporal" else f"heads {config.num_heads - heads + 1}–"
                last = heads if kind == "temporal" else config.num_heads
                pen.text(mid, top - 0.7, f"{first}{last}: {'time' if kind == 'temporal' else 'space'}", SMALL)
            elif kind == "joint":
                pen.text(mid, top - 0.7, f"({N:,} + CLS)" if tokens > N else "(no CLS)", SMALL)
            elif m == 2 and kind == "spatial":
                pen.text(mid, top - 0.7, f"spatial encoder, L = {config.depth}", SMALL)
            elif m == 2:
                pen.text(mid, top - 0.7, f"temporal encoder, L = {config.temporal_layers}", SMALL)
            if j == 0 and len(steps) > 1:
                pen.text(mid, 2.88, "+ in parallel (one MSA)" if m == 4 else "then", BODY, style="italic")
        if m == 1:
            pen.text(mid, 2.6, "every token attends\nto every token", BODY, style="italic")
        if m == 2 and len(steps) == 1:
            pen.text(mid, 2.6, f"then the mean of\nthe {n_t} frame tokens\n(no temporal encoder)", BODY,
                     style="italic")
        reach = {1: f"{steps[0][2]:,}", 2: " then ".join(f"{s[2]:,}" for s in steps),
                 3: f"{S:,} then {n_t:,}", 4: f"{n_t:,} or {S:,}"}[m]
        pen.text(mid, 0.98, f"a token attends to\n{reach} tokens", BODY, weight="bold")

    legend = [(QUERY, "query token"), (SPACE, "same frame"), (TIME, "same position, other times"),
              (JOINT, "all tokens")]
    x = 1.4
    for face, label in legend:
        pen.cell(x, 0.13, 0.2, face)
        pen.text(x + 0.3, 0.23, label, SMALL, ha="left")
        x += 0.3 + 0.078 * len(label) + 0.5
    return fig


# --------------------------------------------------------------------------------------
# VideoBERT (Section 3)
# --------------------------------------------------------------------------------------


def _positive(value, name: str, kind=int, low=1) -> None:
    if kind is int:
        ok, what = is_int(value) and value >= low, f"an int >= {low}"
    else:
        real = isinstance(value, (int, float)) and not isinstance(value, bool)
        ok, what = real and math.isfinite(value) and value > 0, "a positive number"
    if not ok:
        raise ValueError(f"videobert_schematic: {name} must be {what}, got {value!r}")


def videobert_schematic(levels: int = 4, branching: int = 12, feature_dim: int = REAL_S3D_FEATURE_DIM,
                        fps: float = 20, clip_frames: int = 30, text_vocab_size: int = BERT_VOCAB_SIZE,
                        text_tokens: str = "WordPiece", bert_layers: int = 24, bert_hidden: int = 1024,
                        ax=None, figsize=None):
    """VideoBERT's pipeline, frames to visual words to BERT. The defaults are the paper's:
    20 fps video cut into 30-frame (1.5 s) clips, a 1024-d S3D feature per clip,
    hierarchical k-means of ``levels`` = 4 levels x ``branching`` = 12 (12^4 = 20,736 visual
    words), BERT-large's WordPiece vocabulary (30,522) and size (24 layers, 1024 wide).
    A notebook passes its reduced world's values (e.g. ``levels=2, branching=12,
    feature_dim=64, fps=4, clip_frames=8, text_tokens="word"``). Returns the Figure.
    """
    _positive(levels, "levels")
    _positive(branching, "branching", low=2)
    _positive(feature_dim, "feature_dim")
    _positive(fps, "fps", kind=float)
    _positive(clip_frames, "clip_frames")
    _positive(text_vocab_size, "text_vocab_size")
    _positive(bert_layers, "bert_layers")
    _positive(bert_hidden, "bert_hidden")
    if not isinstance(text_tokens, str) or not text_tokens.strip():
        raise ValueError(f"videobert_schematic: text_tokens must name the text tokens (e.g. 'WordPiece'), "
                         f"got {text_tokens!r}")
    words = branching**levels
    fig, pen = _canvas(ax, figsize, "videobert_schematic")
    pen.text(6.0, 6.25, "VideoBERT: video becomes words, text and video one sequence for BERT", TITLE, weight="bold")

    # video path (top row)
    seconds = clip_frames / fps
    row = [("Video", f"{fps:g} fps", IDLE),
           ("Clips", f"{clip_frames} frames = {seconds:.3g} s", VIDEO),
           ("S3D", f"{feature_dim:,}-d per clip", VIDEO),
           ("Hierarchical k-means", f"{levels} levels of {branching}: {branching}$^{{{levels}}}$ = {words:,}", VIDEO),
           ("Visual words", "one token per clip", VIDEO)]
    widths = [1.2, 2.1, 1.85, 2.95, 2.1]
    gap = (11.8 - 0.2 - sum(widths)) / (len(row) - 1)
    x, ys = 0.2, (4.85, 5.75)
    centers = []
    for (name, detail, face), bw in zip(row, widths):
        pen.box(x, ys[0], bw, ys[1] - ys[0], "", face)
        pen.text(x + bw / 2, 5.48, name, BODY, weight="bold")
        pen.text(x + bw / 2, 5.1, detail, SMALL)
        if centers:
            pen.arrow(x - gap, 5.3, x, 5.3)
        centers.append(x + bw / 2)
        x += bw + gap
    pen.text(centers[3], 4.62, "a clip's word: the leaf reached down the tree", SMALL, style="italic")

    # text path (second row)
    pen.box(0.2, 3.45, 4.4, 0.8, "", TEXT)
    pen.text(2.4, 4.0, "ASR speech", BODY, weight="bold")
    pen.text(2.4, 3.67, "“orange chicken with lemon sauce”", SMALL, style="italic")
    pen.arrow(4.6, 3.85, 5.2, 3.85)
    pen.box(5.2, 3.45, 3.0, 0.8, "", TEXT)
    pen.text(6.7, 4.0, f"{text_tokens} tokens", BODY, weight="bold")
    pen.text(6.7, 3.67, f"vocabulary of {text_vocab_size:,}", SMALL)

    # the input sequence
    ids = sorted({(words * f) // 97 for f in (9, 41, 70)})
    tokens = [("[CLS]", SPECIAL), ("orange", TEXT), ("chicken", TEXT), ("with", TEXT), ("[MASK]", TEXT),
              ("sauce", TEXT), ("[>]", SPECIAL), (f"v{ids[0]}", VIDEO), ("[MASK]", VIDEO)]
    tokens += [(f"v{i}", VIDEO) for i in ids[1:]] + [("[SEP]", SPECIAL)]
    tw = [0.22 + 0.1 * len(s) for s, _ in tokens]
    tgap = 0.08
    x = 6.0 - (sum(tw) + tgap * (len(tw) - 1)) / 2
    ty = (2.4, 2.85)
    slots = []
    for (s, face), bw in zip(tokens, tw):
        pen.box(x, ty[0], bw, ty[1] - ty[0], s, face, SMALL, va="center_baseline")
        slots.append(x + bw / 2)
        x += bw + tgap
    text_mid = (slots[1] + slots[5]) / 2
    video_mid = (slots[7] + slots[-2]) / 2
    pen.arrow(6.7, 3.45, text_mid, ty[1])
    pen.arrow(centers[4], ys[0], video_mid, ty[1])
    pen.text(slots[6], 3.05, "[>] joins text → video", SMALL, ha="left")
    pen.text(11.85, 3.75, "the clips within the\nsentence's time span", SMALL, ha="right", style="italic")

    # BERT and its two heads
    bx0, bx1 = slots[0] - 0.4, slots[-1] + 0.4
    pen.box(bx0, 1.3, bx1 - bx0, 0.65, f"BERT: {bert_layers} layers, d = {bert_hidden:,}; vocabulary "
                                        f"{text_vocab_size:,} + {words:,} visual words", "#e9e4f5", BODY)
    for s in slots:
        pen.line([s, s], [ty[0], 1.95], "#999999", 1.0)
    pen.arrow(slots[0], 1.3, slots[0], 0.95)
    pen.text(slots[0], 0.58, "linguistic-visual alignment:\ndoes the text fit the video?", SMALL)
    for i, label in ((4, "“lemon”"), (8, "its visual word")):
        pen.arrow(slots[i], 1.3, slots[i], 0.95)
        pen.text(slots[i], 0.76, label, SMALL)
    pen.line([slots[4], slots[4], slots[8], slots[8]], [0.5, 0.42, 0.42, 0.5], INK, 1.0)
    pen.text((slots[4] + slots[8]) / 2, 0.22, "masked token prediction", SMALL)
    return fig
