"""DigitWorld flip-book videos: a new digit every frame or two, labelled by the digit shown most often.

A video is a static textured canvas with one handwritten digit at its centre that is
replaced every ``hold`` frames (a flip-book): ``num_frames // hold`` slots, each a digit
instance of the split's pool, a little rotated, scaled and off-centre, all in one colour
that contrasts with the canvas. The label is the digit shown in the most slots: it fills
``repeats`` slots, the other slots show the other nine digits at most ``repeats - 1``
times each, and the slots are in a random order. So every frame carries evidence and no
single frame decides; a model must recognise the digit on each frame and count.

This is the task where the tubelet size of ViViT's Section 3.1 meets content that changes
faster than a tubelet is long: a tubelet of t frames embeds t frames by one linear map
into one d-dimensional token, so with a new digit every two frames (``hold=2``, the
default: 8 slots of a 16-frame video, the label's digit in 4 of them) a t = 8 tubelet lays
four different digits on top of each other in the same token and must keep them apart
linearly, a t = 4 tubelet two, while a t = 1 or t = 2 token holds one digit
(``minimodels.data.motion``'s videos are the opposite case: one digit that moves smoothly,
where a long tubelet sees a short, easy stretch of motion).

Randomness is per video (:func:`~minimodels.data.digitworld.item_generator`, stream
"flipbook"): video ``i`` is the same whatever ``n`` is. Test videos use the test pool's
digit instances, never seen in training.
"""

from __future__ import annotations

import math

import torch

from minimodels.data.digitworld import (
    CANVAS_PARAMS,
    check_size,
    check_split,
    contrasting_colours,
    digit_pool,
    item_generator,
    render_glyphs,
    sharpen_alpha,
    textured_canvas,
)
from minimodels.layers import is_int

FLIPBOOK_CLASSES = tuple(f"mostly {d}" for d in range(10))  # the digit shown most often


def _check(n, num_frames, hold, repeats, seed, start):
    for name, value, low in (("n", n, 0), ("num_frames", num_frames, 1), ("hold", hold, 1),
                             ("repeats", repeats, 1), ("start", start, 0)):
        if not is_int(value) or value < low:
            raise ValueError(f"make_flipbook_videos: {name} must be an int >= {low}, got {value!r}")
    if not is_int(seed):
        raise TypeError(f"make_flipbook_videos: seed must be an int, got {seed!r}")
    if num_frames % hold:
        raise ValueError(f"make_flipbook_videos: num_frames = {num_frames} must be a multiple of hold = {hold}")
    slots = num_frames // hold
    # the label fills `repeats` slots; the rest hold the 9 other digits at most repeats - 1 times each
    if not repeats <= slots <= repeats + 9 * (repeats - 1) or repeats < 2:
        raise ValueError(f"make_flipbook_videos: {slots} slots (num_frames // hold) cannot hold one digit "
                         f"{repeats} times and the others fewer times; need repeats >= 2 and "
                         f"repeats <= slots <= {repeats + 9 * (repeats - 1)} (10 * repeats - 9)")
    return slots


def make_flipbook_videos(n: int, num_frames: int = 16, size=32, seed: int = 0, split: str = "train", *,
                         hold: int = 2, repeats: int = 4, start: int = 0, return_info: bool = False):
    """Flip-book videos: (videos float32 (n, 3, T, H, W) in [0, 1], labels int64 (n,) in 0..9).

    ``hold``: frames each digit stays (a new digit every ``hold`` frames); ``repeats``: how many
    of the ``num_frames // hold`` slots show the label's digit (every other digit shows fewer
    times). ``size``: an int or (height, width). With ``return_info`` a third value is a dict with
    ``slot_digits`` (n, slots) int64, the digit of each slot in order."""
    slots = _check(n, num_frames, hold, repeats, seed, start)
    H, W = check_size(size)
    check_split(split)
    pool = digit_pool(split)
    by_class = [(pool.labels == c).nonzero().flatten() for c in range(10)]
    m = float(min(H, W))
    labels = torch.empty(n, dtype=torch.int64)
    digits = torch.empty(n, slots, dtype=torch.int64)
    instances = torch.empty(n, slots, dtype=torch.int64)
    u_slot = torch.empty(n, slots, 5)
    u_video = torch.empty(n, CANVAS_PARAMS + 4)
    fields = torch.empty(n, 3, 4, 4)
    for i in range(n):
        g = item_generator(seed, "flipbook", split, start + i)
        label = int(torch.randint(0, 10, (), generator=g))
        others = torch.tensor([d for d in range(10) if d != label]).repeat(repeats - 1)
        others = others[torch.randperm(len(others), generator=g)[:slots - repeats]]
        sequence = torch.cat([torch.full((repeats,), label), others])[torch.randperm(slots, generator=g)]
        labels[i], digits[i] = label, sequence
        pick = torch.rand(slots, generator=g)
        instances[i] = torch.stack([by_class[d][int(p * len(by_class[d]))] for d, p in zip(sequence.tolist(), pick)])
        u_slot[i] = torch.rand(slots, 5, generator=g)
        u_video[i] = torch.rand(CANVAS_PARAMS + 4, generator=g)
        fields[i] = torch.rand(3, 4, 4, generator=g)

    canvas = textured_canvas(u_video[:, :CANVAS_PARAMS], fields, (H, W))  # (n, 3, H, W)
    colour = contrasting_colours(u_video[:, CANVAS_PARAMS:CANVAS_PARAMS + 3], u_video[:, -1], canvas.mean((2, 3)))
    u = u_slot.view(-1, 5)  # as digit_crops draws a crop: 55-85% of the frame tall, off-centre, rotated
    h = m * (0.55 + 0.3 * u[:, 0])
    extent = torch.stack([h * (0.8 + 0.35 * u[:, 1]), h], dim=1)
    centre = torch.tensor([W / 2, H / 2]) + (u[:, 2:4] - 0.5) * (0.2 * m)
    angle = (2 * u[:, 4] - 1) * math.radians(15)
    alpha = sharpen_alpha(render_glyphs(pool.glyphs[instances.view(-1)], (H, W), centre, extent, angle))
    alpha = alpha.view(n, 1, slots, 1, H, W).expand(n, 1, slots, hold, H, W).reshape(n, 1, num_frames, H, W)
    videos = canvas.unsqueeze(2) + alpha * (colour.view(n, 3, 1, 1) - canvas).unsqueeze(2)
    videos = videos.clamp_(0, 1)
    if return_info:
        return videos, labels, {"slot_digits": digits}
    return videos, labels
