"""DigitWorld: a small procedural world built on real handwritten digits.

Every task in minimodels runs on data generated here, without any download: the
glyphs are scikit-learn's bundled copy of the UCI handwritten digits (1797 images of
8x8 pixels, 16 grey levels, written by 43 people). Using real handwriting rather
than a font means the tasks need real recognition: the class of a digit is in its
shape, never in its colour or position.

This module holds

* the digit pools: a fixed, stratified split of the 1797 instances into disjoint
  ``train`` and ``test`` pools, so held-out scenes show digits never seen in training;
* reusable drawing helpers: per-item random generators, textured canvases,
  contrasting colours, glyph rendering (8x8 glyphs at any size, aspect and rotation,
  upscaled bilinearly into soft alpha masks), non-digit shapes, and sprites (shapes
  rendered into small patches, to be painted onto a canvas);
* segmentation scenes (:func:`make_scenes`): 2-5 digits composited on a textured
  canvas with a few non-digit distractor shapes; the mask gives every pixel its class
  (``SEG_CLASSES``: background plus the ten digits). SegFormer's notebooks train on them.

Randomness is *per item*: scene ``i`` draws all its parameters from its own generator,
seeded by ``(seed, stream, split, i)`` (pixel noise: a tile shared by ``(seed, split)``,
read at a per-scene offset). Scene ``i`` is therefore the same whatever ``n`` is, and
a dataset can render any item on demand. The drawing itself is vectorised with torch
over a chunk of scenes; shapes are rendered into small patches and painted in order.
"""

from __future__ import annotations

import functools
import math
import zlib
from typing import NamedTuple

import torch
import torch.nn.functional as F

from minimodels.layers import is_int

SEG_CLASSES = ["background", "0", "1", "2", "3", "4", "5", "6", "7", "8", "9"]
NUM_SEG_CLASSES = len(SEG_CLASSES)
SPLITS = ("train", "test")
TEST_FRACTION = 0.25  # share of each digit class held out for the test pool
POOL_SEED = 1797  # fixes the train/test split of the digit instances once and for all

MAX_DIGITS = 8  # digit slots per scene (how many are used is an argument)
MAX_DISTRACTORS = 4  # distractor slots per scene
LUMA = (0.299, 0.587, 0.114)  # Rec. 601 luma weights

_MASK64 = (1 << 64) - 1


# ----------------------------------------------------------------------------------
# Digit pools
# ----------------------------------------------------------------------------------


class DigitPool(NamedTuple):
    """The handwritten digit instances of one split.

    glyphs: float32 (M, 8, 8) in [0, 1] (ink intensity); labels: int64 (M,) 0..9;
    ids: int64 (M,) indices into scikit-learn's ``load_digits()`` (sorted).
    """

    glyphs: torch.Tensor
    labels: torch.Tensor
    ids: torch.Tensor


@functools.lru_cache(maxsize=1)
def load_digit_images() -> tuple[torch.Tensor, torch.Tensor]:
    """All 1797 UCI digits: (glyphs float32 (1797, 8, 8) in [0, 1], labels int64 (1797,)).

    The data ship inside scikit-learn (``sklearn.datasets.load_digits``), so nothing is
    downloaded. The tensors are cached and shared: do not modify them in place.
    """
    from sklearn.datasets import load_digits

    digits = load_digits()
    glyphs = torch.as_tensor(digits.images, dtype=torch.float32) / 16.0
    labels = torch.as_tensor(digits.target, dtype=torch.int64)
    return glyphs, labels


@functools.lru_cache(maxsize=None)
def digit_pool(split: str = "train") -> DigitPool:
    """The digit instances of ``split`` ("train" or "test").

    Each class is shuffled with a fixed generator (``POOL_SEED``) and its first
    ``TEST_FRACTION`` goes to the test pool, the rest to the train pool: the pools are
    disjoint, stratified by class, and the same on every machine.
    """
    check_split(split)
    glyphs, labels = load_digit_images()
    g = torch.Generator().manual_seed(POOL_SEED)
    test_ids = []
    for c in range(10):
        ids = (labels == c).nonzero().flatten()
        perm = torch.randperm(len(ids), generator=g)
        n_test = round(len(ids) * TEST_FRACTION)
        test_ids.append(ids[perm[:n_test]])
    is_test = torch.zeros(len(labels), dtype=torch.bool)
    is_test[torch.cat(test_ids)] = True
    ids = (is_test if split == "test" else ~is_test).nonzero().flatten()
    return DigitPool(glyphs[ids], labels[ids], ids)


# ----------------------------------------------------------------------------------
# Per-item randomness
# ----------------------------------------------------------------------------------


def _splitmix64(x: int) -> int:
    x = (x + 0x9E3779B97F4A7C15) & _MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK64
    return x ^ (x >> 31)


def item_seed(seed: int, stream: str, split: str, index: int) -> int:
    """A 63-bit seed for item ``index`` of ``(seed, stream, split)``.

    ``stream`` names the generator ("seg", later "motion", ...), so different tasks with
    the same user seed never share random numbers. Pure Python integer hashing
    (SplitMix64), identical on every platform.
    """
    x = _splitmix64(seed & _MASK64)
    x = _splitmix64(x ^ zlib.crc32(stream.encode()))
    x = _splitmix64(x ^ zlib.crc32(split.encode()))
    x = _splitmix64(x ^ (index & _MASK64))
    return x >> 1


def item_generator(seed: int, stream: str, split: str, index: int) -> torch.Generator:
    """A CPU ``torch.Generator`` seeded for one item (see :func:`item_seed`)."""
    return torch.Generator().manual_seed(item_seed(seed, stream, split, index))


# ----------------------------------------------------------------------------------
# Drawing helpers (all batched over a leading dimension n)
# ----------------------------------------------------------------------------------


def pixel_grid(height: int, width: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Pixel-centre coordinates in pixels: (y (H, 1), x (1, W)), y pointing down."""
    y = torch.arange(height, dtype=torch.float32).add_(0.5).view(height, 1)
    x = torch.arange(width, dtype=torch.float32).add_(0.5).view(1, width)
    return y, x


def luminance(rgb: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """Rec. 601 luma of RGB values in [0, 1] along ``dim``."""
    w = torch.tensor(LUMA, dtype=rgb.dtype, device=rgb.device)
    shape = [1] * rgb.dim()
    shape[dim] = 3
    return (rgb * w.view(shape)).sum(dim)


def with_luminance(rgb: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Move colours ``rgb`` (n, 3) towards black or white until their luma is ``target`` (n,).

    Darkening scales towards black, brightening mixes towards white; both keep every
    channel in [0, 1] and keep the hue.
    """
    lum = luminance(rgb).clamp(1e-4, 1 - 1e-4)
    t = target.unsqueeze(1)
    darker = rgb * (t / lum.unsqueeze(1))
    brighter = 1 - (1 - rgb) * ((1 - t) / (1 - lum.unsqueeze(1)))
    return torch.where(t <= lum.unsqueeze(1), darker, brighter).clamp(0, 1)


def contrasting_colours(
    u_rgb: torch.Tensor, u_lum: torch.Tensor, background: torch.Tensor, min_contrast: float = 0.3
) -> torch.Tensor:
    """Random colours whose luma differs from ``background``'s by at least ``min_contrast``.

    u_rgb (n, 3) and u_lum (n,) are uniforms in [0, 1); background (n, 3) is the mean
    colour behind each shape. The hue comes from ``u_rgb`` alone, so it carries no
    information about what is drawn; the luma is drawn uniformly from the allowed
    range, darker or brighter than the background.
    """
    if not 0 < min_contrast < 0.5:
        raise ValueError(f"min_contrast must be in (0, 0.5), got {min_contrast}")
    bg = luminance(background)
    below = (bg - min_contrast).clamp(min=0)  # length of [0, bg - c]
    above = (1 - bg - min_contrast).clamp(min=0)  # length of [bg + c, 1]
    t = u_lum * (below + above)
    target = torch.where(t < below, t, bg + min_contrast + (t - below))
    return with_luminance(u_rgb, target)


CANVAS_PARAMS = 12  # uniforms consumed by textured_canvas per item
CANVAS_KINDS = ("gradient", "stripes", "checks", "blobs")


def textured_canvas(
    u: torch.Tensor, field: torch.Tensor, size: tuple[int, int], out: torch.Tensor | None = None
) -> torch.Tensor:
    """Textured backgrounds (n, 3, H, W) in [0, 1] from uniforms.

    u: (n, CANVAS_PARAMS) uniforms; field: (n, 3, h, w) uniforms, a coarse colour field
    upsampled into soft colour blobs (:func:`smooth_field`). Each canvas mixes two
    colours c1, c2 with a pattern t(x, y) in [0, 1]: a linear gradient (plus faint blobs),
    stripes or checks at a random angle, period and sharpness, or the blob field alone.
    Lengths are relative to the short side, so a canvas looks alike at 64 and 512 px.
    ``out`` (n, 3, H, W), if given, receives the result.
    """
    H, W = size
    n = u.shape[0]
    m = float(min(H, W))
    kind = (u[:, 0] * len(CANVAS_KINDS)).long().clamp(max=len(CANVAS_KINDS) - 1)
    c1 = u[:, 1:4]
    dc = (c1 + (u[:, 4:7] - 0.5) * 0.8).clamp(0, 1) - c1  # c2 - c1: a moderate texture contrast
    angle = u[:, 7] * 2 * math.pi
    period = (0.06 + 0.24 * u[:, 8]) * m  # pixels
    phase = u[:, 9] * 2 * math.pi
    sharp = 1.0 + 7.0 * u[:, 10]  # 1: soft sinusoid, 8: nearly hard edges
    blob_gain = torch.where(kind == 3, 0.6 + 0.6 * u[:, 11], 0.35 * u[:, 11])

    y, x = pixel_grid(H, W)
    y, x = y - H / 2, x - W / 2
    out = torch.empty(n, 3, H, W) if out is None else out
    t = torch.empty(n, H, W)
    for k in range(len(CANVAS_KINDS)):
        rows = (kind == k).nonzero().flatten()
        if len(rows) == 0:
            continue
        if k == 3:  # blobs only: the pattern is flat
            t[rows] = 0.5
            continue
        cos, sin = angle[rows].cos().view(-1, 1, 1), angle[rows].sin().view(-1, 1, 1)
        along = x * cos + y * sin
        if k == 0:  # linear gradient across the whole canvas
            t[rows] = along.div_(math.hypot(H, W)).add_(0.5)
            continue
        p, ph = (2 * math.pi / period[rows]).view(-1, 1, 1), phase[rows].view(-1, 1, 1)
        wave = torch.sin(along * p + ph)
        if k == 2:  # checks: product of two perpendicular waves
            wave *= torch.sin((y * cos - x * sin) * p + ph)
        t[rows] = wave.mul_(0.5 * sharp[rows].view(-1, 1, 1)).add_(0.5).clamp_(0, 1)
    torch.mul(t.unsqueeze(1), dc.view(n, 3, 1, 1), out=out).add_(c1.view(n, 3, 1, 1))
    rows = (kind % 3 == 0).nonzero().flatten()  # gradients and blobs get the colour field
    if len(rows):
        gain = blob_gain[rows].view(-1, 1, 1, 1)
        out.index_add_(0, rows, smooth_field(field[rows] - 0.5, (H, W)).mul_(gain))
    return out.clamp_(0, 1)


def _smooth_basis(length: int, cells: int) -> torch.Tensor:
    """(length, cells) weights: Gaussian bumps at the cell centres, each row summing to 1."""
    x = (torch.arange(length, dtype=torch.float32) + 0.5) * (cells / length) - 0.5
    w = torch.exp(-0.5 * ((x[:, None] - torch.arange(cells, dtype=torch.float32)) / 0.6) ** 2)
    return w / w.sum(1, keepdim=True)


def smooth_field(coarse: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Upsample a coarse grid (..., h, w) smoothly to (..., H, W): two small matrix products.

    Each output value is a Gaussian-weighted average of the grid values (weights summing
    to one), i.e. soft colour blobs - and much cheaper than bicubic interpolation.
    """
    h, w = coarse.shape[-2:]
    return _smooth_basis(size[0], h) @ coarse @ _smooth_basis(size[1], w).T


def rotated_extent(extents: torch.Tensor, angles: torch.Tensor) -> torch.Tensor:
    """Axis-aligned (width, height) (n, 2) of boxes ``extents`` (n, 2) rotated by ``angles``."""
    c, s = angles.cos().abs(), angles.sin().abs()
    w, h = extents[:, 0], extents[:, 1]
    return torch.stack([w * c + h * s, w * s + h * c], dim=1)


def shape_frame_grid(
    size: tuple[int, int], centers: torch.Tensor, half_extents: torch.Tensor, angles: torch.Tensor
) -> torch.Tensor:
    """Coordinates (n, H, W, 2) of every output pixel in each shape's own frame.

    A shape centred at ``centers`` (n, 2) (x, y pixels), rotated by ``angles`` (n,)
    (radians, counter-clockwise on screen) with half-extents ``half_extents`` (n, 2)
    (pixels along its own x and y axes) covers [-1, 1]^2 in its frame - the convention
    of ``grid_sample(align_corners=False)``.
    """
    H, W = size
    n = centers.shape[0]
    y, x = pixel_grid(H, W)
    cos, sin = angles.cos().view(n, 1, 1), angles.sin().view(n, 1, 1)
    sx, sy = (1 / half_extents[:, 0]).view(n, 1, 1), (1 / half_extents[:, 1]).view(n, 1, 1)
    dx, dy = x - centers[:, 0].view(n, 1, 1), y - centers[:, 1].view(n, 1, 1)  # (n, 1, W), (n, H, 1)
    grid = torch.empty(n, H, W, 2)
    torch.add(dx * (cos * sx), dy * (-sin * sx), out=grid[..., 0])  # undo the rotation, then the scale
    torch.add(dx * (sin * sy), dy * (cos * sy), out=grid[..., 1])
    return grid


def render_glyphs(
    glyphs: torch.Tensor,
    size: tuple[int, int],
    centers: torch.Tensor,
    extents: torch.Tensor,
    angles: torch.Tensor,
) -> torch.Tensor:
    """Render 8x8 glyphs into soft alpha masks (n, H, W) in [0, 1].

    glyphs: (n, 8, 8) ink in [0, 1]; size: the output (H, W) - a whole canvas or a patch
    of it; centers: (n, 2) glyph centre (x, y) in output pixels; extents: (n, 2) the
    glyph box's (width, height) in pixels; angles: (n,) rotation in radians
    (counter-clockwise on screen). Every output pixel is mapped back into the glyph box
    and the glyph is sampled bilinearly (``grid_sample``, zeros outside), so edges are
    soft; ``alpha > 0.5`` is the digit's shape.
    """
    n = glyphs.shape[0]
    grid = shape_frame_grid(size, centers, extents / 2, angles)
    alpha = F.grid_sample(glyphs.unsqueeze(1), grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return alpha.squeeze(1)


SHAPE_KINDS = ("ellipse", "box", "cross")  # distractors: shapes that are no digit


def render_shapes(
    kinds: torch.Tensor, size: tuple[int, int], centers: torch.Tensor, radii: torch.Tensor, angles: torch.Tensor
) -> torch.Tensor:
    """Soft alpha masks (n, H, W) of simple non-digit shapes, with about 1 px of soft edge.

    kinds: (n,) index into ``SHAPE_KINDS``: a filled ellipse with semi-axes ``radii``
    (n, 2); a filled box with half-sides ``radii``; or a plus-shaped cross of two bars
    with half-length radii[:, 0] and half-thickness radii[:, 1]. centers (n, 2) (x, y)
    and radii in output pixels, angles in radians.
    """
    n = kinds.shape[0]
    grid = shape_frame_grid(size, centers, radii, angles)  # (n, H, W, 2), radii -> 1
    ra, rb = radii[:, 0].view(n, 1, 1), radii[:, 1].view(n, 1, 1)
    alpha = torch.empty(grid.shape[:3])
    sel = (kinds == 0).nonzero().flatten()
    if len(sel):  # ellipse: (1 - r) is about the distance to the edge in units of the short radius
        r = grid[sel].square().sum(-1).sqrt_()
        alpha[sel] = r.neg_().add_(1).mul_(torch.minimum(ra[sel], rb[sel])).add_(0.5).clamp_(0, 1)
    for kind in (1, 2):
        sel = (kinds == kind).nonzero().flatten()
        if len(sel) == 0:
            continue
        a, b = grid[sel, ..., 0].abs() * ra[sel], grid[sel, ..., 1].abs() * rb[sel]  # pixels from the centre lines
        box = (ra[sel] + 0.5 - a).clamp_(0, 1) * (rb[sel] + 0.5 - b).clamp_(0, 1)
        if kind == 2:  # cross: the same bar turned by 90 degrees on top
            box = torch.maximum(box, (rb[sel] + 0.5 - a).clamp_(0, 1) * (ra[sel] + 0.5 - b).clamp_(0, 1))
        alpha[sel] = box
    return alpha


def sharpen_alpha(alpha: torch.Tensor, width: float = 0.25) -> torch.Tensor:
    """Linear ramp of ``width`` around 0.5: crisper edges, the same ``> 0.5`` shape."""
    return ((alpha - 0.5) / width + 0.5).clamp(0, 1)


def window_means(images: torch.Tensor, rows: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
    """Mean colour (d, 3) of ``images`` (n, 3, H, W) inside pixel boxes, all at once.

    rows: (d,) which image; boxes: (d, 4) (x0, y0, x1, y1) in pixels. The images are
    first subsampled to blocks of about 1/32 of the short side, and the block-level
    boxes (clipped to the image, at least one block) are summed with an integral image
    (summed-area table): cheap, and accurate enough to choose a contrasting colour.
    """
    n, _, H, W = images.shape
    f = max(1, min(H, W) // 32)
    small = images[:, :, f // 2 :: f, f // 2 :: f]  # one pixel per block is plenty
    h, w = small.shape[-2:]
    sat = F.pad(small.cumsum(2).cumsum(3), (1, 0, 1, 0))  # (n, 3, h + 1, w + 1)
    b = torch.div(boxes, f, rounding_mode="floor")
    x0, y0 = b[:, 0].clamp(0, w - 1), b[:, 1].clamp(0, h - 1)
    x1, y1 = torch.maximum(b[:, 2].clamp(1, w), x0 + 1), torch.maximum(b[:, 3].clamp(1, h), y0 + 1)
    total = sat[rows, :, y1, x1] - sat[rows, :, y0, x1] - sat[rows, :, y1, x0] + sat[rows, :, y0, x0]
    return total / ((x1 - x0) * (y1 - y0)).unsqueeze(1)


class Sprites(NamedTuple):
    """Rendered shapes ready to paint: one soft alpha patch per item and where it goes."""

    alpha: list  # (ph, pw) float tensors, the patch of each item
    y0: list  # int top row of each patch on the canvas
    x0: list  # int left column


def render_sprites(
    render, centers: torch.Tensor, bbox: torch.Tensor, size: tuple[int, int], group: int = 16
) -> Sprites:
    """Render d items into small patches instead of whole canvases.

    ``render(idx, patch_size, local_centers) -> (len(idx), ph, pw)`` draws items ``idx``
    into patches of ``patch_size`` with their centres at ``local_centers`` (patch pixels).
    Items are sorted by the area of their bounding boxes ``bbox`` (d, 2) (w, h) and drawn
    in groups of ``group`` sharing one patch size, so small items cost little. Each patch
    lies inside the canvas (shifted there when an item crosses the border; the item is
    drawn at its true position within it).
    """
    H, W = size
    d = len(centers)
    order = (bbox[:, 0] * bbox[:, 1]).argsort()
    alpha, y0s, x0s = [None] * d, [0] * d, [0] * d
    for g in range(0, d, group):
        idx = order[g : g + group]
        pw = min(W, int(bbox[idx, 0].max().ceil()) + 2)
        ph = min(H, int(bbox[idx, 1].max().ceil()) + 2)
        x0 = (centers[idx, 0] - pw / 2).round().clamp(0, W - pw)
        y0 = (centers[idx, 1] - ph / 2).round().clamp(0, H - ph)
        patches = render(idx, (ph, pw), centers[idx] - torch.stack([x0, y0], dim=1))
        for j, (i, a, b) in enumerate(zip(idx.tolist(), y0.long().tolist(), x0.long().tolist())):
            alpha[i], y0s[i], x0s[i] = patches[j], a, b
    return Sprites(alpha, y0s, x0s)


# ----------------------------------------------------------------------------------
# Segmentation scenes
# ----------------------------------------------------------------------------------

# layout of one scene's uniforms:
# [canvas | noise amplitude, offsets | digit count | digits | distractor count | distractors]
_DIGIT_PARAMS = 12  # instance, cell, jitter x2, scale, aspect, angle, rgb x3, luma, (spare)
_SHAPE_PARAMS = 11  # kind, x, y, size x2, angle, rgb x3, luma, (spare)
_U_NOISE = CANVAS_PARAMS
_U_NDIGITS = _U_NOISE + 3
_U_DIGITS = _U_NDIGITS + 1
_U_NSHAPES = _U_DIGITS + MAX_DIGITS * _DIGIT_PARAMS
_U_SHAPES = _U_NSHAPES + 1
_U_TOTAL = _U_SHAPES + MAX_DISTRACTORS * _SHAPE_PARAMS
_FIELD = (3, 4, 4)  # coarse blob field per scene
_CELLS = 3  # digits sit in distinct cells of a jittered 3x3 grid


def check_split(split) -> None:
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")


def check_size(size) -> tuple[int, int]:
    if is_int(size):
        size = (size, size)
    if not (isinstance(size, (tuple, list)) and len(size) == 2 and all(is_int(s) for s in size)):
        raise TypeError(f"size must be an int or a (height, width) pair of ints, got {size!r}")
    if size[0] <= 0 or size[1] <= 0:
        raise ValueError(f"size must be positive, got (height, width) = {tuple(size)}")
    return int(size[0]), int(size[1])


def _check_range(name, value, lo, hi, integer=True):
    ok = isinstance(value, (tuple, list)) and len(value) == 2
    ok = ok and all((is_int(v) if integer else isinstance(v, (int, float)) and not isinstance(v, bool)) for v in value)
    if not ok or not lo <= value[0] <= value[1] <= hi:
        kind = "int" if integer else "float"
        raise ValueError(f"{name} must be a ({kind} low, high) pair with {lo} <= low <= high <= {hi}, got {value!r}")
    return tuple(value)


def _scene_randomness(seed: int, split: str, indices: range):
    """Per-scene uniforms and coarse blob fields, each from the scene's own generator."""
    n = len(indices)
    u = torch.empty(n, _U_TOTAL)
    field = torch.empty(n, *_FIELD)
    for row, i in enumerate(indices):
        g = item_generator(seed, "seg", split, i)
        torch.rand(_U_TOTAL, generator=g, out=u[row])
        torch.rand(_FIELD, generator=g, out=field[row])
    return u, field


@functools.lru_cache(maxsize=4)
def noise_tile(seed: int, stream: str, split: str, size: tuple[int, int]) -> torch.Tensor:
    """Uniform noise (2H, 2W) in [-1, 1] shared by all items of ``(seed, stream, split)``.

    Each item reads an (H, W) window at its own random offset (:func:`noise_windows`):
    per-pixel noise that stays index-stable, for the price of one copy.
    """
    g = item_generator(seed, stream + "/noise", split, 0)
    return torch.rand(2 * size[0], 2 * size[1], generator=g).mul_(2).sub_(1)


def noise_windows(tile: torch.Tensor, offsets: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """(n, H, W) windows of ``tile`` at ``offsets`` (n, 2) uniforms in [0, 1) (y, x)."""
    H, W = size
    ys = (offsets[:, 0] * (tile.shape[0] - H)).long().tolist()
    xs = (offsets[:, 1] * (tile.shape[1] - W)).long().tolist()
    return torch.stack([tile[y : y + H, x : x + W] for y, x in zip(ys, xs)])


def _counts(u: torch.Tensor, lo: int, hi: int) -> torch.Tensor:
    return lo + (u * (hi - lo + 1)).long().clamp(max=hi - lo)


def _render_scene_chunk(
    images, masks, indices, seed, split, digits, scale, max_rotation, distractors, min_contrast, noise_max
):
    """Draw scenes ``indices`` into ``images`` (n, 3, H, W) and ``masks`` (n, H, W), in place."""
    n, _, H, W = images.shape
    m = float(min(H, W))
    u, field = _scene_randomness(seed, split, indices)
    pool = digit_pool(split)
    textured_canvas(u[:, :CANVAS_PARAMS], field, (H, W), out=images)
    masks.zero_()

    # distractors: ellipses, boxes and crosses (drawn first, under the digits)
    n_shapes = _counts(u[:, _U_NSHAPES], *distractors)
    s_scene, s_slot = (torch.arange(distractors[1]) < n_shapes.unsqueeze(1)).nonzero().unbind(1)
    p = u[s_scene, _U_SHAPES:].view(-1, MAX_DISTRACTORS, _SHAPE_PARAMS)[torch.arange(len(s_scene)), s_slot]
    s_kind = (p[:, 0] * len(SHAPE_KINDS)).long().clamp(max=len(SHAPE_KINDS) - 1)
    s_centers = torch.stack([p[:, 1] * W, p[:, 2] * H], dim=1)
    r1 = 0.04 + 0.08 * p[:, 3]  # ellipses: dots and small discs, smaller than the digits
    r1 = torch.where(s_kind == 0, 0.03 + 0.05 * p[:, 3], r1)
    r2 = torch.stack([0.03 + 0.05 * p[:, 4], r1 * (0.5 + 0.5 * p[:, 4]), 0.015 + 0.015 * p[:, 4]], dim=1)
    s_radii = (torch.stack([r1, r2[torch.arange(len(p)), s_kind]], dim=1) * m).clamp(min=0.75)
    s_angle = p[:, 5] * math.pi
    s_bbox = rotated_extent(2 * torch.where(s_kind.view(-1, 1) == 2, s_radii[:, :1], s_radii), s_angle)
    s_colour_u = p[:, 6:10]

    # digits: each in its own cell of a 3x3 grid (jittered); later digits drawn on top
    n_digits = _counts(u[:, _U_NDIGITS], *digits)
    cells = u[:, _U_DIGITS + 1 : _U_DIGITS + MAX_DIGITS * _DIGIT_PARAMS : _DIGIT_PARAMS]
    cells = torch.cat([cells, torch.ones(n, _CELLS * _CELLS - MAX_DIGITS)], dim=1).argsort(dim=1)
    d_scene, d_slot = (torch.arange(digits[1]) < n_digits.unsqueeze(1)).nonzero().unbind(1)
    p = u[d_scene, _U_DIGITS:_U_NSHAPES].view(-1, MAX_DIGITS, _DIGIT_PARAMS)[torch.arange(len(d_scene)), d_slot]
    inst = (p[:, 0] * len(pool.ids)).long().clamp(max=len(pool.ids) - 1)
    cell = cells[d_scene, d_slot]
    d_centers = torch.stack(
        [
            ((cell % _CELLS).float() + 0.5 + 0.6 * (p[:, 2] - 0.5)) * (W / _CELLS),
            ((cell // _CELLS).float() + 0.5 + 0.6 * (p[:, 3] - 0.5)) * (H / _CELLS),
        ],
        dim=1,
    )
    h = (scale[0] + (scale[1] - scale[0]) * p[:, 4]) * m
    d_extent = torch.stack([h * (0.8 + 0.35 * p[:, 5]), h], dim=1)
    d_angle = (2 * p[:, 6] - 1) * math.radians(max_rotation)
    d_bbox = rotated_extent(d_extent, d_angle)
    # keep about 90% of every digit's box on the canvas or more: a sliver is no longer a digit
    d_centers = torch.minimum(torch.maximum(d_centers, 0.4 * d_bbox), torch.tensor([W, H]) - 0.4 * d_bbox)
    d_colour_u = p[:, 7:11]
    d_label = pool.labels[inst]

    # colours: random hue, luma at least min_contrast away from the canvas around the shape
    scene = torch.cat([s_scene, d_scene])
    centers, bbox = torch.cat([s_centers, d_centers]), torch.cat([s_bbox, d_bbox])
    boxes = torch.cat([centers - bbox / 2, centers + bbox / 2], dim=1).round().long()
    cu = torch.cat([s_colour_u, d_colour_u])
    colours = contrasting_colours(cu[:, :3], cu[:, 3], window_means(images, scene, boxes), min_contrast)

    shapes = render_sprites(
        lambda i, sz, c: render_shapes(s_kind[i], sz, c, s_radii[i], s_angle[i]), s_centers, s_bbox, (H, W)
    )
    glyphs = render_sprites(
        lambda i, sz, c: sharpen_alpha(render_glyphs(pool.glyphs[inst[i]], sz, c, d_extent[i], d_angle[i])),
        d_centers,
        d_bbox,
        (H, W),
    )

    # paint scene by scene, distractors then digits in slot order
    ns = len(s_scene)
    order = torch.cat([s_scene * 2 * MAX_DIGITS + s_slot, d_scene * 2 * MAX_DIGITS + MAX_DIGITS + d_slot]).argsort()
    scene_l, labels_l, colours_v = scene.tolist(), (d_label + 1).tolist(), colours.view(-1, 3, 1, 1)
    for k in order.tolist():
        r = scene_l[k]
        if k < ns:
            a, y0, x0 = shapes.alpha[k], shapes.y0[k], shapes.x0[k]
        else:
            a, y0, x0 = glyphs.alpha[k - ns], glyphs.y0[k - ns], glyphs.x0[k - ns]
            # glyph alphas are sharpened around 0.5, which keeps the "alpha > 0.5" shape
            masks[r, y0 : y0 + a.shape[0], x0 : x0 + a.shape[1]].masked_fill_(a > 0.5, labels_l[k - ns])
        images[r, :, y0 : y0 + a.shape[0], x0 : x0 + a.shape[1]].lerp_(colours_v[k], a)

    # sensor noise over everything
    noise = noise_windows(noise_tile(seed, "seg", split, (H, W)), u[:, _U_NOISE + 1 : _U_NOISE + 3], (H, W))
    images.add_(noise.mul_(noise_max * u[:, _U_NOISE].view(n, 1, 1)).unsqueeze(1)).clamp_(0, 1)

    info_ids = torch.full((n, digits[1]), -1, dtype=torch.int64)
    info_cls = torch.full((n, digits[1]), -1, dtype=torch.int64)
    info_ids[d_scene, d_slot] = pool.ids[inst]
    info_cls[d_scene, d_slot] = d_label
    kind = (u[:, 0] * len(CANVAS_KINDS)).long().clamp(max=len(CANVAS_KINDS) - 1)
    return {"digit_ids": info_ids, "digit_classes": info_cls, "canvas_kind": kind}


def make_scenes(
    n: int,
    size,
    seed: int = 0,
    split: str = "train",
    *,
    start: int = 0,
    digits: tuple[int, int] = (2, 5),
    scale: tuple[float, float] = (0.22, 0.42),
    max_rotation: float = 25.0,
    distractors: tuple[int, int] = (0, 2),
    min_contrast: float = 0.3,
    noise: float = 0.06,
    return_info: bool = False,
):
    """Segmentation scenes: images float32 (n, 3, H, W) in [0, 1], masks int64 (n, H, W) in 0..10.

    Scene ``start + i`` of ``(seed, split)`` is drawn from its own generator, so it is the
    same whatever ``n`` is. Each scene is a textured canvas (gradient, stripes, checks
    or colour blobs, plus pixel noise) with ``distractors`` non-digit shapes (ellipses,
    boxes, crosses) and ``digits`` handwritten digits from the split's pool. A digit's glyph box
    is ``scale`` times the canvas' short side tall (so scenes look alike at any
    resolution), up to ``max_rotation`` degrees rotated, placed in its own cell of a
    jittered 3x3 grid (neighbours may overlap; a later digit wins in the mask). Colours
    of digits and distractors are random hues whose luma differs from the canvas around
    them by at least ``min_contrast``: colour says nothing about the class, shape does.

    Mask values index ``SEG_CLASSES``: 0 background, d + 1 for digit d (alpha > 0.5 of
    the bilinearly upscaled glyph). ``size`` is an int or (height, width), any positive
    values. With ``return_info`` a third value is a dict of int64 tensors: per digit
    slot ``digit_ids`` (indices into ``load_digit_images()``, -1 for unused slots) and
    ``digit_classes``, and per scene ``canvas_kind`` (index into ``CANVAS_KINDS``).
    """
    if not is_int(n) or n < 0:
        raise ValueError(f"n must be a non-negative int, got {n!r}")
    if not is_int(seed):
        raise TypeError(f"seed must be an int, got {seed!r}")
    if not is_int(start) or start < 0:
        raise ValueError(f"start must be a non-negative int, got {start!r}")
    H, W = check_size(size)
    check_split(split)
    digits = _check_range("digits", digits, 0, MAX_DIGITS)
    distractors = _check_range("distractors", distractors, 0, MAX_DISTRACTORS)
    scale = _check_range("scale", scale, 0.01, 1.0, integer=False)
    if not 0 <= max_rotation <= 180:
        raise ValueError(f"max_rotation must be in [0, 180] degrees, got {max_rotation}")
    if not 0 < min_contrast < 0.5:
        raise ValueError(f"min_contrast must be in (0, 0.5), got {min_contrast}")
    if not 0 <= noise <= 1:
        raise ValueError(f"noise must be in [0, 1], got {noise}")
    images = torch.empty(n, 3, H, W)
    masks = torch.empty(n, H, W, dtype=torch.int64)
    info = {"digit_ids": [], "digit_classes": [], "canvas_kind": []}
    chunk = max(1, (1 << 19) // (H * W))  # about half a million pixels per chunk stays in cache
    threads = torch.get_num_threads()
    # The drawing is many small tensor ops: intra-op threads cost more than they give here
    # (on a busy machine several times more), so render on one thread and restore after.
    torch.set_num_threads(1)
    try:
        with torch.no_grad():
            for a in range(0, n, chunk):
                b = min(n, a + chunk)
                idx = range(start + a, start + b)
                inf = _render_scene_chunk(
                    images[a:b], masks[a:b], idx, seed, split, digits, scale, max_rotation, distractors, min_contrast, noise
                )
                for key in info:
                    info[key].append(inf[key])
    finally:
        torch.set_num_threads(threads)
    if not return_info:
        return images, masks
    if n == 0:
        return images, masks, {"digit_ids": torch.empty(0, digits[1], dtype=torch.int64),
                               "digit_classes": torch.empty(0, digits[1], dtype=torch.int64),
                               "canvas_kind": torch.empty(0, dtype=torch.int64)}
    return images, masks, {k: torch.cat(v) for k, v in info.items()}


class DigitScenes(torch.utils.data.Dataset):
    """DigitWorld segmentation scenes as a ``Dataset`` of (image (3, H, W), mask (H, W)).

    ``precompute=True`` renders all ``length`` scenes up front (fast, but
    ``length * 20 * H * W`` bytes); ``False`` renders each item on demand - item ``i`` is
    the same either way. ``transform(image, mask) -> (image, mask)`` is applied per item
    (e.g. :class:`minimodels.data.transforms.SegTrainTransform`). Extra keyword arguments go
    to :func:`make_scenes`.
    """

    classes = SEG_CLASSES

    def __init__(
        self, length: int, size, seed: int = 0, split: str = "train", transform=None, precompute: bool = True, **scene_kwargs
    ):
        if not is_int(length) or length < 0:
            raise ValueError(f"length must be a non-negative int, got {length!r}")
        self.length, self.size, self.seed, self.split = length, check_size(size), seed, split
        self.transform, self.scene_kwargs = transform, scene_kwargs
        self.images = self.masks = None
        if precompute:
            self.images, self.masks = make_scenes(length, self.size, seed, split, **scene_kwargs)
        else:
            make_scenes(0, self.size, seed, split, **scene_kwargs)  # check the arguments now

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int):
        if not -self.length <= index < self.length:
            raise IndexError(f"index {index} out of range for {self.length} scenes")
        index %= self.length
        if self.images is not None:
            image, mask = self.images[index], self.masks[index]
        else:
            image, mask = make_scenes(1, self.size, self.seed, self.split, start=index, **self.scene_kwargs)
            image, mask = image[0], mask[0]
        if self.transform is not None:
            image, mask = self.transform(image, mask)
        return image, mask


def digit_crops(n: int, size: int = 32, seed: int = 0, split: str = "train", textured: float = 0.0,
                plain: float = 0.0, max_rotation: float = 15.0, noise: float = 0.0, glyphs: int | None = None,
                return_instances: bool = False):
    """Single handwritten digits for encoder pretraining: images (n, 3, size, size) in [0, 1],
    labels (n,) int64 in 0..9 (and, with ``return_instances``, which glyph of the split's pool
    each crop shows: int64 (n,) row indices into ``digit_pool(split)``). ``glyphs``: draw only
    the pool's first ``glyphs`` glyphs (default: all of them).

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
    if glyphs is not None and not (is_int(glyphs) and 1 <= glyphs <= len(pool.labels)):
        raise ValueError(f"glyphs must be an int in 1..{len(pool.labels)} (the {split} pool's size), got {glyphs!r}")
    idx = torch.randint(0, len(pool.labels) if glyphs is None else glyphs, (n,), generator=g)
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
    return (images, pool.labels[idx], idx) if return_instances else (images, pool.labels[idx])
