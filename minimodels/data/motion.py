"""DigitWorld motion videos: classes that only the order of the frames can tell apart.

A video is one real handwritten digit (from DigitWorld's digit pools: train and test
videos use disjoint sets of instances) on a static textured canvas, moving in one of
ten ways (``MOTION_CLASSES``)::

    0 move left              1 move right             the digit crosses the canvas
    2 move up                3 move down
    4 rotate clockwise       5 rotate anticlockwise   it turns about a pivot below its
                                                      centre, like a clock hand
    6 zoom in                7 zoom out               it grows or shrinks in place
    8 bounce to rest         9 bounce from rest       dropped from high up it bounces,
                                                      lower each time, until it lies on
                                                      the floor - or the film run
                                                      backwards: it jumps ever higher

The classes come in pairs (``DIRECTION_PAIRS``): the two classes of a pair are each
other's film run backwards. Every random choice of a video - canvas, digit, colour,
where the path lies, how far it goes - is drawn from the same distribution for both
classes of a pair, and class b's path is class a's path with time reversed
(``s -> 1 - s``). So :func:`reverse_time` turns a video of class a into a valid video
of class b, drawn with the right probability, and the *set* of frames of a video (a
frame picked at random, or the average of all frames) has the same distribution for
both classes. A model that pools over time without looking at the order - an image
model applied per frame and averaged, say - cannot do better than chance within a
pair; it can still tell the motion *type* (sideways, up-down, turn, zoom, bounce)
from the smear the motion leaves in the frame average. Frames in their places do tell
(a digit moving left starts on the right: the first and last frames side by side
separate every pair), so order - temporal modelling - is what separates the pairs:
the point of ViViT's spatio-temporal attention. ``tests/test_motion.py`` measures both
baselines.

Horizontal flips (a common augmentation, on by default in
:class:`minimodels.data.video.VideoTrainTransform`) swap left and right and turn
clockwise into anticlockwise: flip the labels too (:func:`mirror_labels`) or switch
flipping off.

Randomness is per video, as in :mod:`minimodels.data.digitworld`: video ``i`` draws
everything from its own generator, seeded by ``(seed, "motion", split, i)``, so it is
the same whatever ``n`` is and whatever chunk it is rendered in. Lengths are relative
to the canvas, so any number of frames and any (height, width) works; the drawing is
vectorised over all frames of a chunk of videos.
"""

from __future__ import annotations

import math

import torch

from minimodels.data.digitworld import (
    CANVAS_PARAMS,
    CANVAS_KINDS,
    check_size,
    check_split,
    contrasting_colours,
    digit_pool,
    item_generator,
    noise_tile,
    render_glyphs,
    rotated_extent,
    sharpen_alpha,
    textured_canvas,
)
from minimodels.layers import is_int

MOTION_CLASSES = (
    "move left",
    "move right",
    "move up",
    "move down",
    "rotate clockwise",
    "rotate anticlockwise",
    "zoom in",
    "zoom out",
    "bounce to rest",
    "bounce from rest",
)
NUM_MOTION_CLASSES = len(MOTION_CLASSES)
# (a, b): the video of class a played backwards is a video of class b (and vice versa)
DIRECTION_PAIRS = [(0, 1), (2, 3), (4, 5), (6, 7), (8, 9)]
MOTION_TYPES = ("move sideways", "move up-down", "rotate", "zoom", "bounce")  # one per pair
# class of the horizontally mirrored video: left <-> right, clockwise <-> anticlockwise
MIRROR_CLASS = (1, 0, 2, 3, 5, 4, 6, 7, 8, 9)

MAX_STATIC = 2  # static distractor digits per video (how many is an argument)

# layout of one video's uniforms:
# [canvas | class | noise amplitude | moving digit | static digits], then per frame 2 noise offsets
_MOVER_PARAMS = 12  # instance, scale, aspect, angle, rgb x3, luma, path x4
_STATIC_PARAMS = 10  # instance, x, y, scale, aspect, angle, rgb x3, luma
_U_CLASS = CANVAS_PARAMS
_U_NOISE = _U_CLASS + 1
_U_MOVER = _U_NOISE + 1
_U_STATIC = _U_MOVER + _MOVER_PARAMS
_U_TOTAL = _U_STATIC + MAX_STATIC * _STATIC_PARAMS
_FIELD = (3, 4, 4)  # coarse blob field of the canvas
_KEEP = 0.45  # a digit's centre stays this many bounding boxes from the border: ~95% of it on screen
_PIVOT = 0.3  # a turning digit's pivot lies this many glyph heights below the glyph's centre


def reverse_time(videos: torch.Tensor) -> torch.Tensor:
    """The videos played backwards: frames in reverse order along the time axis.

    Works on one clip (C, T, H, W) or a batch (N, C, T, H, W) - time is dimension -3
    in both layouts. Returns a new tensor. For DigitWorld motion videos, reversing a
    video of class a of a pair in ``DIRECTION_PAIRS`` gives a video of class b.
    """
    if not isinstance(videos, torch.Tensor) or videos.dim() not in (4, 5):
        got = tuple(videos.shape) if isinstance(videos, torch.Tensor) else type(videos).__name__
        raise ValueError(f"videos must be a tensor (C, T, H, W) or (N, C, T, H, W), got {got}")
    return videos.flip(-3)


def ink_maps(videos: torch.Tensor) -> torch.Tensor:
    """Where each frame differs from its own median colour: (N, T, H, W) from (N, C, T, H, W).

    |pixel - median colour of its frame|, summed over the channels. Digits are random
    hues, darker or brighter than the canvas, so in raw pixels a digit is visible only
    up to a sign, and a linear model on raw pixels sees almost nothing (chance level
    even on first + last frame within a pair); this per-frame map removes the sign. It
    treats every frame alike, so it serves both baselines: apply it to the frame average
    (``videos.mean(2, keepdim=True)``: blind to order) or to frames kept apart (sees order).
    """
    if not isinstance(videos, torch.Tensor) or videos.dim() != 5:
        got = tuple(videos.shape) if isinstance(videos, torch.Tensor) else type(videos).__name__
        raise ValueError(f"videos must be a tensor (N, C, T, H, W), got {got}")
    median = videos.flatten(3).median(dim=3).values  # (N, C, T)
    return (videos - median[..., None, None]).abs().sum(1)


def mirror_labels(labels: torch.Tensor) -> torch.Tensor:
    """Labels of the horizontally flipped videos (``MIRROR_CLASS``): left <-> right, cw <-> acw."""
    labels = torch.as_tensor(labels)
    if labels.is_floating_point() or (labels.numel() and not (0 <= labels.min() and labels.max() < NUM_MOTION_CLASSES)):
        raise ValueError(f"labels must be integer class indices in 0..{NUM_MOTION_CLASSES - 1}, got {labels!r}")
    return torch.tensor(MIRROR_CLASS, dtype=torch.int64)[labels.long()]


def frame_times(num_frames: int) -> torch.Tensor:
    """Normalised times s (T,) of the frames: 0 for the first, 1 for the last (0.5 if T = 1).

    Frame t and frame T-1-t sit at s and 1 - s, which is what makes a time-reversed path
    the same as the partner class's path.
    """
    if num_frames == 1:
        return torch.full((1,), 0.5)
    return torch.arange(num_frames, dtype=torch.float32) / (num_frames - 1)


def bounce_height(u: torch.Tensor, restitution: torch.Tensor, max_bounces: int = 16) -> torch.Tensor:
    """Height above the floor of a dropped ball, relative to the drop height, at times ``u``.

    u: (n, T) time in units of the time it takes to come to rest (0: released at height
    1 with no speed; >= 1: lying on the floor); restitution: (n,) in (0, 1), the share
    of its speed the ball keeps at each bounce. Under constant gravity the fall takes
    tau0 = (1 - e) / (1 + e) of the time to rest; bounce k (k >= 1) then lasts
    2 tau0 e^k and peaks at height e^(2k). Bounces after ``max_bounces`` are too small
    to see and count as resting.
    """
    e = restitution.view(-1, 1)
    tau0 = (1 - e) / (1 + e)
    height = (1 - (u / tau0).square()).clamp(min=0)  # the first fall
    start = tau0.clone()
    for k in range(1, max_bounces + 1):
        ek = e**k
        v = (u - start) / (tau0 * ek)  # 0..2 during bounce k
        inside = (v >= 0) & (v < 2)
        height = torch.where(inside, ek.square() * (1 - (v - 1).square()), height)
        start = start + 2 * tau0 * ek
    return torch.where(u >= 1, torch.zeros_like(height), height)


def _video_randomness(seed: int, split: str, indices: range, num_frames: int):
    """Per-video uniforms, coarse canvas fields and per-frame noise offsets, from each video's generator."""
    n = len(indices)
    u = torch.empty(n, _U_TOTAL)
    field = torch.empty(n, *_FIELD)
    offsets = torch.empty(n, num_frames, 2)
    for row, i in enumerate(indices):
        g = item_generator(seed, "motion", split, i)
        torch.rand(_U_TOTAL, generator=g, out=u[row])
        torch.rand(_FIELD, generator=g, out=field[row])
        torch.rand(num_frames, 2, generator=g, out=offsets[row])  # drawn last: T changes nothing above
    return u, field, offsets


def _trajectories(p: torch.Tensor, labels: torch.Tensor, size, num_frames: int, extent: torch.Tensor, angle0):
    """Centres (n, T, 2), glyph box sizes (n, T, 2) and angles (n, T) of the moving digit.

    p: (n, 4) path uniforms; extent: (n, 2) the glyph box (w, h) at rest; angle0 (n,)
    its resting angle. The path parameters never depend on the direction within a pair.
    """
    H, W = size
    n = len(labels)
    s = frame_times(num_frames).expand(n, num_frames)
    kind = labels // 2
    direction = torch.where(labels % 2 == 0, -1.0, 1.0).view(n, 1)  # classes a: -1, classes b: +1
    centres = torch.empty(n, num_frames, 2)
    extents = extent.view(n, 1, 2).expand(n, num_frames, 2).clone()
    angles = angle0.view(n, 1).expand(n, num_frames).clone()
    limit = torch.tensor([W, H], dtype=torch.float32)

    def box_range(bbox):  # where the centre may go: (lo, hi) (n, 2) each, x and y
        lo = _KEEP * bbox
        return lo, torch.maximum(limit - lo, lo)

    # moving sideways / up-down: a straight path of length d through the canvas, traversed
    # at constant speed; d is at least 35% of that side (less only when the digit is huge)
    for k, axis in ((0, 0), (1, 1)):
        rows = (kind == k).nonzero().flatten()
        if len(rows) == 0:
            continue
        lo, hi = box_range(rotated_extent(extent[rows], angle0[rows]))
        room = hi[:, axis] - lo[:, axis]
        d = torch.minimum((0.35 + 0.3 * p[rows, 0]) * limit[axis], room)
        mid = lo[:, axis] + d / 2 + p[rows, 1] * (room - d)  # uniform where the path fits: symmetric
        other = lo[:, 1 - axis] + p[rows, 2] * (hi[:, 1 - axis] - lo[:, 1 - axis])
        centres[rows, :, axis] = mid.view(-1, 1) + direction[rows] * d.view(-1, 1) * (s[rows] - 0.5)
        centres[rows, :, 1 - axis] = other.view(-1, 1)

    # turning by 120-240 degrees about a fixed pivot a little below the glyph's centre, like a
    # clock hand about its hub (angles: anticlockwise on screen is positive, so class 4
    # "clockwise" has direction -1). The off-centre pivot makes the digit sweep sideways too.
    rows = (kind == 2).nonzero().flatten()
    if len(rows):
        w, h = extent[rows, 0], extent[rows, 1]
        hub = _PIVOT * h  # glyph centre to pivot distance
        reach = torch.sqrt((w / 2).square() + (h / 2 + hub).square())  # farthest glyph corner from the pivot
        lo, hi = box_range(2 * reach.view(-1, 1).expand(-1, 2))
        pivot = lo + p[rows, 1:3] * (hi - lo)
        span = math.radians(120) + math.radians(120) * p[rows, 0].view(-1, 1)
        angles[rows] = angle0[rows].view(-1, 1) + direction[rows] * span * (s[rows] - 0.5)
        # the glyph's "up" (0, -1) turned by the angle: (-sin, -cos) on screen (y down)
        offset = torch.stack([-angles[rows].sin(), -angles[rows].cos()], -1) * hub.view(-1, 1, 1)
        centres[rows] = pivot.view(-1, 1, 2) + offset

    # zooming in place by a factor r of 2-3.5 over the clip, geometric in time (steady zoom)
    rows = (kind == 3).nonzero().flatten()
    if len(rows):
        r = 2.0 + 1.5 * p[rows, 0].view(-1, 1)
        factor = r.pow(-direction[rows] * (s[rows] - 0.5))  # (n, T); zoom in (a) grows 1/sqrt(r) -> sqrt(r)
        extents[rows] = extent[rows].view(-1, 1, 2) * factor.unsqueeze(-1)
        lo, hi = box_range(rotated_extent(extent[rows] * r.sqrt(), angle0[rows]))
        centres[rows] = (lo + p[rows, 1:3] * (hi - lo)).view(-1, 1, 2)

    # bouncing: dropped from 70-100% of the free height, restitution 0.45-0.7, at rest after
    # 75-95% of the clip; "bounce from rest" is the same motion with time reversed
    rows = (kind == 4).nonzero().flatten()
    if len(rows):
        lo, hi = box_range(rotated_extent(extent[rows], angle0[rows]))
        floor = limit[1] - 0.5 * rotated_extent(extent[rows], angle0[rows])[:, 1]  # resting on the bottom edge
        top = torch.minimum(lo[:, 1], floor)
        drop = (0.7 + 0.3 * p[rows, 0]) * (floor - top)
        t = torch.where(direction[rows] < 0, s[rows], 1 - s[rows])
        u = t / (0.75 + 0.2 * p[rows, 2]).view(-1, 1)
        height = bounce_height(u, 0.45 + 0.25 * p[rows, 1])
        centres[rows, :, 1] = floor.view(-1, 1) - drop.view(-1, 1) * height
        centres[rows, :, 0] = (lo[:, 0] + p[rows, 3] * (hi[:, 0] - lo[:, 0])).view(-1, 1)
    return centres, extents, angles


def _render_chunk(videos, indices, seed, split, classes, scale, distractors, min_contrast, noise_max):
    """Draw videos ``indices`` into ``videos`` (n, 3, T, H, W), in place; return labels and info."""
    n, _, T, H, W = videos.shape
    m = float(min(H, W))
    u, field, offsets = _video_randomness(seed, split, indices, T)
    pool = digit_pool(split)
    n_pool = len(pool.ids)
    canvas = textured_canvas(u[:, :CANVAS_PARAMS], field, (H, W))
    canvas_mean = canvas.mean((2, 3))
    labels = classes[(u[:, _U_CLASS] * len(classes)).long().clamp(max=len(classes) - 1)]

    # static distractor digits, painted onto the canvas (the moving digit passes over them)
    static_ids = torch.full((n, MAX_STATIC), -1, dtype=torch.int64)
    if distractors:
        q = u[:, _U_STATIC : _U_STATIC + distractors * _STATIC_PARAMS].reshape(n * distractors, _STATIC_PARAMS)
        inst = (q[:, 0] * n_pool).long().clamp(max=n_pool - 1)
        h = (scale[0] + (scale[1] - scale[0]) * q[:, 3]) * m
        ext = torch.stack([h * (0.8 + 0.35 * q[:, 4]), h], dim=1)
        ang = (2 * q[:, 5] - 1) * math.radians(25)
        lo = _KEEP * rotated_extent(ext, ang)
        hi = torch.maximum(torch.tensor([W, H]) - lo, lo)
        centre = lo + q[:, 1:3] * (hi - lo)
        alpha = sharpen_alpha(render_glyphs(pool.glyphs[inst], (H, W), centre, ext, ang))
        rows = torch.arange(n).repeat_interleave(distractors)
        colour = contrasting_colours(q[:, 6:9], q[:, 9], canvas_mean[rows], min_contrast)
        for j in range(distractors):
            sel = torch.arange(n) * distractors + j
            canvas.lerp_(colour[sel].view(n, 3, 1, 1), alpha[sel].unsqueeze(1))
        static_ids[:, :distractors] = pool.ids[inst].view(n, distractors)

    # the moving digit
    p = u[:, _U_MOVER : _U_MOVER + _MOVER_PARAMS]
    inst = (p[:, 0] * n_pool).long().clamp(max=n_pool - 1)
    h = (scale[0] + (scale[1] - scale[0]) * p[:, 1]) * m
    extent = torch.stack([h * (0.8 + 0.35 * p[:, 2]), h], dim=1)
    angle0 = (2 * p[:, 3] - 1) * math.radians(15)
    colour = contrasting_colours(p[:, 4:7], p[:, 7], canvas_mean, min_contrast)
    centres, extents, angles = _trajectories(p[:, 8:12], labels, (H, W), T, extent, angle0)
    glyphs = pool.glyphs[inst].repeat_interleave(T, dim=0)
    alpha = render_glyphs(glyphs, (H, W), centres.view(-1, 2), extents.view(-1, 2), angles.view(-1))
    alpha = sharpen_alpha(alpha).view(n, 1, T, H, W)
    # frame = canvas + alpha * (colour - canvas), all frames at once
    torch.mul(alpha, (colour.view(n, 3, 1, 1) - canvas).unsqueeze(2), out=videos).add_(canvas.unsqueeze(2))

    # sensor noise: a fresh window of the shared noise tile for every frame, grey
    if noise_max > 0:
        tile = noise_tile(seed, "motion", split, (H, W))
        ys = (offsets[..., 0] * (tile.shape[0] - H)).long().view(-1, 1, 1) + torch.arange(H).view(1, H, 1)
        xs = (offsets[..., 1] * (tile.shape[1] - W)).long().view(-1, 1, 1) + torch.arange(W).view(1, 1, W)
        windows = tile[ys, xs].view(n, 1, T, H, W)  # (n*T, H, W) windows in one gather
        videos.add_(windows.mul_(noise_max * u[:, _U_NOISE].view(n, 1, 1, 1, 1)))
    videos.clamp_(0, 1)
    kind = (u[:, 0] * len(CANVAS_KINDS)).long().clamp(max=len(CANVAS_KINDS) - 1)
    info = {
        "digit_ids": pool.ids[inst],
        "digit_classes": pool.labels[inst],
        "static_ids": static_ids,
        "canvas_kind": kind,
        "centres": centres,
        "heights": extents[..., 1].contiguous(),
        "angles": angles,
    }
    return labels, info


def _check_classes(classes) -> torch.Tensor:
    if classes is None:
        return torch.arange(NUM_MOTION_CLASSES)
    try:
        values = [int(c) if is_int(c) else MOTION_CLASSES.index(c) for c in classes]
    except (TypeError, ValueError):
        values = None
    if not values or any(not 0 <= c < NUM_MOTION_CLASSES for c in values):
        raise ValueError(
            f"classes must be a non-empty sequence of class indices 0..{NUM_MOTION_CLASSES - 1} "
            f"or names from MOTION_CLASSES, got {classes!r}"
        )
    return torch.tensor(values, dtype=torch.int64)


def make_motion_videos(
    n: int,
    num_frames: int = 16,
    size=32,
    seed: int = 0,
    split: str = "train",
    *,
    start: int = 0,
    classes=None,
    scale: tuple[float, float] = (0.35, 0.5),
    distractors: int = 0,
    min_contrast: float = 0.3,
    noise: float = 0.05,
    return_info: bool = False,
):
    """Motion videos: (videos float32 (n, 3, T, H, W) in [0, 1], labels int64 (n,)).

    Video ``start + i`` of ``(seed, split)`` comes from its own generator, so it is the
    same whatever ``n`` is (and the same at any ``num_frames`` or ``size``, up to how
    it is sampled). Each video is a static textured canvas with one handwritten digit
    from the split's pool moving as its class says (``MOTION_CLASSES``; see the module
    docstring), the class drawn uniformly from ``classes`` (default: all ten; indices or
    names). Changing ``classes`` changes only the label: with ``classes=[a]`` and
    ``classes=[b]`` video i is the same canvas, digit and path, played one way or the
    other when (a, b) is a pair. The digit's glyph box is ``scale`` times the canvas'
    short side tall (a zooming digit spans 1/sqrt(r)..sqrt(r) of that, r in 2-3.5); its
    colour is a random hue whose luma differs from the canvas' mean luma by at least
    ``min_contrast``. ``distractors`` (0..2) static digits sit on the canvas, under the
    moving one; ``noise`` is the largest amplitude of the grey pixel noise, fresh in
    every frame (each video draws its own amplitude up to it).

    ``size`` is an int or (height, width). With ``return_info`` a third value is a dict:
    int64 ``digit_ids`` (n,) (indices into ``load_digit_images()``) and ``digit_classes``
    (n,) of the moving digit, ``static_ids`` (n, 2) (-1 for unused slots),
    ``canvas_kind`` (n,) (index into ``CANVAS_KINDS``); and the moving digit's path,
    float32 per frame: ``centres`` (n, T, 2) (x, y) pixels of its glyph box's centre (y
    down), ``heights`` (n, T) of the box in pixels, ``angles`` (n, T) in radians,
    anticlockwise on screen.
    """
    if not is_int(n) or n < 0:
        raise ValueError(f"n must be a non-negative int, got {n!r}")
    if not is_int(num_frames) or num_frames < 1:
        raise ValueError(f"num_frames must be a positive int, got {num_frames!r}")
    if not is_int(seed):
        raise TypeError(f"seed must be an int, got {seed!r}")
    if not is_int(start) or start < 0:
        raise ValueError(f"start must be a non-negative int, got {start!r}")
    H, W = check_size(size)
    check_split(split)
    classes = _check_classes(classes)
    ok = isinstance(scale, (tuple, list)) and len(scale) == 2 and all(isinstance(v, (int, float)) for v in scale)
    if not ok or not 0.05 <= scale[0] <= scale[1] <= 0.8:
        raise ValueError(f"scale must be a (low, high) pair with 0.05 <= low <= high <= 0.8, got {scale!r}")
    if not is_int(distractors) or not 0 <= distractors <= MAX_STATIC:
        raise ValueError(f"distractors must be an int in 0..{MAX_STATIC}, got {distractors!r}")
    if not 0 < min_contrast < 0.5:
        raise ValueError(f"min_contrast must be in (0, 0.5), got {min_contrast}")
    if not 0 <= noise <= 1:
        raise ValueError(f"noise must be in [0, 1], got {noise}")

    videos = torch.empty(n, 3, num_frames, H, W)
    labels = torch.empty(n, dtype=torch.int64)
    infos = []
    chunk = max(1, (1 << 20) // (num_frames * H * W))  # about a million pixels per chunk
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # many small ops: intra-op threads cost more than they give (see make_scenes)
    try:
        with torch.no_grad():
            for a in range(0, n, chunk):
                b = min(n, a + chunk)
                lab, info = _render_chunk(
                    videos[a:b], range(start + a, start + b), seed, split, classes, scale, distractors, min_contrast,
                    noise,
                )
                labels[a:b] = lab
                infos.append(info)
    finally:
        torch.set_num_threads(threads)
    if not return_info:
        return videos, labels
    if n == 0:
        empty = {k: torch.empty(0, dtype=torch.int64) for k in ("digit_ids", "digit_classes", "canvas_kind")}
        empty["static_ids"] = torch.empty(0, MAX_STATIC, dtype=torch.int64)
        empty["centres"] = torch.empty(0, num_frames, 2)
        empty["heights"], empty["angles"] = torch.empty(0, num_frames), torch.empty(0, num_frames)
        return videos, labels, empty
    return videos, labels, {k: torch.cat([inf[k] for inf in infos]) for k in infos[0]}


class MotionVideos(torch.utils.data.Dataset):
    """DigitWorld motion videos as a ``Dataset`` of (video float32 (3, T, H, W) in [0, 1], label).

    ``precompute=True`` renders all ``length`` videos up front (``length * 12 * T * H * W``
    bytes); ``False`` renders each on demand - item ``i`` is the same either way.
    ``transform(video) -> video`` runs per item. Note that a horizontal flip changes the
    class of sideways and rotating videos (:func:`mirror_labels`). Extra keyword
    arguments go to :func:`make_motion_videos`.
    """

    classes = MOTION_CLASSES

    def __init__(
        self,
        length: int,
        num_frames: int = 16,
        size=32,
        seed: int = 0,
        split: str = "train",
        transform=None,
        precompute: bool = True,
        **video_kwargs,
    ):
        if not is_int(length) or length < 0:
            raise ValueError(f"length must be a non-negative int, got {length!r}")
        self.length, self.num_frames, self.size = length, num_frames, check_size(size)
        self.seed, self.split, self.transform, self.video_kwargs = seed, split, transform, video_kwargs
        self.videos = self.labels = None
        if precompute:
            self.videos, self.labels = make_motion_videos(length, num_frames, self.size, seed, split, **video_kwargs)
        else:
            make_motion_videos(0, num_frames, self.size, seed, split, **video_kwargs)  # check the arguments now

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int):
        if not -self.length <= index < self.length:
            raise IndexError(f"index {index} out of range for {self.length} videos")
        index %= self.length
        if self.videos is not None:
            video, label = self.videos[index], self.labels[index]
        else:
            video, label = make_motion_videos(
                1, self.num_frames, self.size, self.seed, self.split, start=index, **self.video_kwargs
            )
            video, label = video[0], label[0]
        if self.transform is not None:
            video = self.transform(video)
        return video, label

    def __repr__(self) -> str:
        return (
            f"MotionVideos(length={self.length}, num_frames={self.num_frames}, size={self.size}, "
            f"seed={self.seed}, split={self.split!r})"
        )
