"""DigitWorld how-to videos: narrated step-by-step "recipes" for VideoBERT.

A how-to video is a sequence of steps. Each step is an action (a verb, ``VERBS``) done
to an object (a noun, ``NOUNS``): the objects are real handwritten digits from
DigitWorld's pools, named by their class ("zero" .. "nine"), and the verbs are
motions a short clip shows::

    push     the object slides to the right      pull     ... to the left
    lift     it rises                            lower    it sinks
    inflate  it grows in place                   shrink   it shrinks in place
    spin     it turns (half a turn per clip, either way round)
    shake    it jiggles left and right (a period of 4 frames)
    paint    its colour changes into another hue (same brightness)

A step lasts several clips of ``clip_frames`` frames; its motion runs once over the
whole step. Between steps the object changes, on the same static textured canvas (the
"kitchen counter"). As in :mod:`minimodels.data.motion`, the pairs in
``REVERSAL_PAIRS`` are each other's film run backwards, drawn with the same
randomness: a single frame, or the average of a step's frames, cannot tell push from
pull, lift from lower or inflate from shrink - only the order of the frames can.

The narration is what an ASR system would return for a cooking show: a list of
``(start, end, sentence)`` segments in seconds. Every step gets an instruction from
templates ("now let me show you how to lift the three", "and then we spin the
seven"), sometimes after a filler ("okay so", "um") and sometimes followed by a remark
about the object ("be careful with the seven here"). The two problems that VideoBERT
had to live with are built in and can each be switched off:

* speech is not where its picture is: every sentence is shifted in time by its own
  offset (``misalignment``: seconds, drawn per sentence; 0 switches it off);
* speakers talk about things that are not visible: with probability ``offtopic`` a
  step's narration also holds a sentence that names no object of the video ("this is
  my favourite part", "don't forget to like and subscribe").

The true step descriptions ("lift the three"), with the steps' exact spans, are kept
apart (``HowToVideo.step_sentences``): they play the role of YouCook2's human
annotations (:mod:`minimodels.data.youcook2`).

Randomness is per video: video ``i`` draws everything from its own generator, seeded
by ``(seed, "howto", split, i)``, with a fixed layout of random numbers - so a video is
the same whatever ``n`` is, and the narration knobs change no pixel. Held-out videos
(``split="test"``) show digits from DigitWorld's held-out pool (writers' instances
never seen in training).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from minimodels.data.digitworld import (
    CANVAS_PARAMS,
    check_size,
    check_split,
    contrasting_colours,
    digit_pool,
    item_generator,
    luminance,
    noise_tile,
    render_glyphs,
    rotated_extent,
    sharpen_alpha,
    textured_canvas,
    with_luminance,
)
from minimodels.layers import is_int
from minimodels.tokens import Vocab, tokenize

VERBS = ("push", "pull", "lift", "lower", "inflate", "shrink", "spin", "shake", "paint")
NOUNS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")  # noun d is digit d
# (a, b): a step of verb a played backwards is a step of verb b, drawn with the same probability
REVERSAL_PAIRS = ((0, 1), (2, 3), (4, 5))

ZERO_SHOT_TEMPLATE = "now let me show you how to [MASK] the [MASK]"
CAPTION_TEMPLATE = "now let's [MASK] the [MASK] to the [MASK], and then [MASK] the [MASK]."

INSTRUCTION_TEMPLATES = (
    "now let me show you how to {verb} the {noun}",
    "and then we {verb} the {noun}",
    "next you want to {verb} the {noun}",
    "so now we're going to {verb} the {noun}",
    "let's {verb} the {noun}",
    "you just {verb} the {noun} like this",
    "go ahead and {verb} the {noun}",
    "now we {verb} the {noun} nice and slow",
)
# the narration's first template is the zero-shot probe's frame; a world whose narration must never
# contain the probe (``probe_in_narration=False``) says this instead: every word of the probe still
# occurs in the narration, the probe's frame never does (longest shared run: "to [verb] the [noun]")
PROBE_FREE_TEMPLATE = "let me see, here i show you how we {verb} the {noun}"
REMARK_TEMPLATES = (  # about the step's object, no verb
    "see how nice the {noun} looks",
    "make sure your {noun} is nice and clean",
    "you can use any {noun} you like",
    "the {noun} should look like this",
    "be careful with the {noun} here",
)
FILLERS = ("okay so", "um", "alright", "so yeah", "and uh")
OFFTOPIC_SENTENCES = (  # about nothing visible: no noun of NOUNS in any of them
    "this is my favourite part",
    "don't forget to like and subscribe",
    "my grandmother used to make this every sunday",
    "you can find the full list in the description below",
    "i got this board from a little shop downtown",
    "sorry the light is a bit weird today",
    "let me know in the comments what you think",
    "my kids love this so much",
    "it smells really good in here",
    "we will talk about that later",
)

MAX_STEPS = 8
MAX_CLIPS_PER_STEP = 8
DEFAULT_FPS = 4.0  # 8-frame clips last 2 s (VideoBERT: 30 frames at 20 fps, 1.5 s)

# layout of one video's uniforms: [canvas | noise amplitude | step count | steps (visual) | steps (text)],
# then the coarse canvas field, then per frame 2 noise offsets
# per step: verb, noun, clips, instance, scale, aspect, angle, rgb x3, luma, paint hue, (spare x2), path x4, (spare)
_STEP_PARAMS = 20
_TEXT_PARAMS = 11  # template, filler?, filler, remark?, remark, offtopic?, offtopic, position, offset x3
_U_NOISE = CANVAS_PARAMS
_U_NSTEPS = _U_NOISE + 1
_U_STEPS = _U_NSTEPS + 1
_U_TEXT = _U_STEPS + MAX_STEPS * _STEP_PARAMS
_U_TOTAL = _U_TEXT + MAX_STEPS * _TEXT_PARAMS
_U_FLAT = _U_STEPS + 12  # a spare slot of step 0: textured or flat counter
_U_SPEED = _U_STEPS + 13  # another: the video's playback speed
_FIELD = (3, 4, 4)
_KEEP = 0.45  # a digit's centre stays this many bounding boxes from the border
_SHAKE_PERIOD = 4  # frames


@dataclass
class HowToVideo:
    """One narrated how-to video.

    frames: float32 (3, T, H, W) in [0, 1]; T = clip_frames * number of clips.
    steps: (verb index, noun index, start frame, end frame) per step, end exclusive;
    consecutive steps tile the video. clip_verbs, clip_nouns: int64 (n_clips,), the step
    of every clip. step_sentences: the true description of each step ("lift the
    three"), exactly at the step's span. narration: ASR-like ``(start s, end s,
    sentence)`` segments, with the shifts applied; narration_steps: the step each
    segment talks about (-1: off-topic); narration_shifts: the time shift (s) applied to
    each segment (after keeping it inside the video). digit_ids: the drawn glyph of each
    step (index into ``load_digit_images()``).
    """

    index: int
    split: str
    frames: torch.Tensor
    fps: float
    clip_frames: int
    steps: list
    clip_verbs: torch.Tensor
    clip_nouns: torch.Tensor
    step_sentences: list
    narration: list
    narration_steps: list
    narration_shifts: list
    digit_ids: list = field(default_factory=list)

    @property
    def num_frames(self) -> int:
        return self.frames.shape[1]

    @property
    def num_clips(self) -> int:
        return self.num_frames // self.clip_frames

    @property
    def duration(self) -> float:
        """Length in seconds: T / fps."""
        return self.num_frames / self.fps

    @property
    def clip_seconds(self) -> float:
        return self.clip_frames / self.fps

    def step_times(self) -> list:
        """(start s, end s) of every step."""
        return [(a / self.fps, b / self.fps) for _, _, a, b in self.steps]

    def step_segments(self) -> list:
        """The true annotation: (start s, end s, sentence) per step (YouCook2's form)."""
        return [(a, b, s) for (a, b), s in zip(self.step_times(), self.step_sentences)]


# ----------------------------------------------------------------------------------
# Generation
# ----------------------------------------------------------------------------------


def _check_choice(name, values, names) -> list:
    if values is None:
        return list(range(len(names)))
    try:
        out = [int(v) if is_int(v) else names.index(v) for v in values]
    except (TypeError, ValueError):
        out = None
    if not out or any(not 0 <= v < len(names) for v in out):
        raise ValueError(
            f"{name} must be a non-empty sequence of indices 0..{len(names) - 1} or names from {names}, got {values!r}"
        )
    return out


def _check_pair(name, value, lo, hi):
    ok = isinstance(value, (tuple, list)) and len(value) == 2 and all(is_int(v) for v in value)
    if not ok or not lo <= value[0] <= value[1] <= hi:
        raise ValueError(f"{name} must be an (int low, int high) pair with {lo} <= low <= high <= {hi}, got {value!r}")
    return int(value[0]), int(value[1])


def _check_misalignment(value) -> tuple[float, float]:
    def num(v):
        return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)

    if num(value):
        if value < 0:
            raise ValueError(f"misalignment as one number is the largest shift in seconds, >= 0; got {value!r}")
        return -float(value), float(value)
    if isinstance(value, (tuple, list)) and len(value) == 2 and all(num(v) for v in value) and value[0] <= value[1]:
        return float(value[0]), float(value[1])
    raise ValueError(
        f"misalignment must be a number m >= 0 (shifts in [-m, m] s) or a (low, high) pair of seconds, got {value!r}"
    )


def _check_prob(name, value) -> float:
    if not (isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value <= 1):
        raise ValueError(f"{name} must be a probability in [0, 1], got {value!r}")
    return float(value)


def _pick(u: float, k: int) -> int:
    return min(int(u * k), k - 1)


def _video_layout(u, verbs, nouns, steps, clips_per_step, clip_frames, speed=(1.0, 1.0)):
    """Steps of one video from its uniforms: list of (verb, noun, first frame, end frame)."""
    n_steps = steps[0] + _pick(float(u[_U_NSTEPS]), steps[1] - steps[0] + 1)
    rate = speed[0] + (speed[1] - speed[0]) * float(u[_U_SPEED])
    out, f = [], 0
    for j in range(n_steps):
        p = u[_U_STEPS + j * _STEP_PARAMS :].tolist()
        verb, noun = verbs[_pick(p[0], len(verbs))], nouns[_pick(p[1], len(nouns))]
        k = clips_per_step[0] + _pick(p[2], clips_per_step[1] - clips_per_step[0] + 1)
        if rate != 1.0:  # played faster, the same step takes fewer clips (its motion runs once over them all)
            k = max(1, round(k / rate))
        out.append((verb, noun, f, f + k * clip_frames))
        f += k * clip_frames
    return out


def _step_path(verb, p, L, clip_frames, extent, angle0, size):
    """Per-frame centres (L, 2), box sizes (L, 2) and angles (L,) of one step's object.

    p: 4 path uniforms; extent: (2,) glyph box (w, h) at rest; angle0: resting angle.
    The path parameters never depend on the direction within a reversal pair.
    """
    H, W = size
    limit = torch.tensor([W, H], dtype=torch.float32)
    s = torch.arange(L, dtype=torch.float32) / max(L - 1, 1)
    centres = torch.empty(L, 2)
    extents = extent.view(1, 2).expand(L, 2).clone()
    angles = torch.full((L,), float(angle0))
    bbox = rotated_extent(extent.view(1, 2), torch.tensor([float(angle0)]))[0]
    name = VERBS[verb]

    def place(box):  # a fixed spot where a box of this size stays on screen
        lo = _KEEP * box
        hi = torch.maximum(limit - lo, lo)
        return lo + torch.tensor(p[1:3]) * (hi - lo), lo, hi

    if name in ("push", "pull", "lift", "lower"):
        axis = 0 if name in ("push", "pull") else 1
        direction = 1.0 if name in ("push", "lower") else -1.0  # y points down: lift goes to smaller y
        centre, lo, hi = place(bbox)
        room = hi[axis] - lo[axis]
        d = torch.minimum((0.35 + 0.25 * p[0]) * limit[axis], room)
        mid = lo[axis] + d / 2 + p[1 + axis] * (room - d)
        centres[:] = centre
        centres[:, axis] = mid + direction * d * (s - 0.5)
    elif name in ("inflate", "shrink"):
        r = 2.0 + p[0]
        direction = 1.0 if name == "inflate" else -1.0
        extents = extent.view(1, 2) * (r ** (direction * (s - 0.5))).view(L, 1)
        centres[:] = place(bbox * math.sqrt(r))[0]
    elif name == "spin":
        direction = 1.0 if p[3] < 0.5 else -1.0
        angles = angle0 + direction * math.pi * torch.arange(L, dtype=torch.float32) / clip_frames
        centres[:] = place(extent.norm().expand(2))[0]
    elif name == "shake":
        amp = (0.08 + 0.04 * p[0]) * W
        centres[:] = place(bbox + torch.tensor([2 * amp, 0.0]))[0]
        centres[:, 0] += amp * torch.sin(2 * math.pi * torch.arange(L, dtype=torch.float32) / _SHAKE_PERIOD)
    else:  # paint: still, the colour changes
        centres[:] = place(bbox)[0]
    return centres, extents, angles


def _saturated(rgb: torch.Tensor) -> torch.Tensor:
    lo, hi = rgb.min(-1, keepdim=True).values, rgb.max(-1, keepdim=True).values
    return (rgb - lo) / (hi - lo).clamp(min=1e-3)


def instruction_templates(probe_in_narration: bool = True) -> tuple[str, ...]:
    """The narration's instruction templates: ``INSTRUCTION_TEMPLATES``, or with
    ``probe_in_narration=False`` the same with the probe's frame (the first) replaced by
    ``PROBE_FREE_TEMPLATE``, so that the zero-shot probe never occurs in pre-training text."""
    if not isinstance(probe_in_narration, bool):
        raise TypeError(f"probe_in_narration must be a bool, got {probe_in_narration!r}")
    return INSTRUCTION_TEMPLATES if probe_in_narration else (PROBE_FREE_TEMPLATE,) + INSTRUCTION_TEMPLATES[1:]


def _narrate(u, layout, fps, misalignment, offtopic, fillers, remarks, duration, templates=INSTRUCTION_TEMPLATES):
    """ASR-like narration of one video: segments, the step each talks about, the applied shifts."""
    segments, seg_steps, shifts = [], [], []
    lo, hi = misalignment
    for j, (verb, noun, a, b) in enumerate(layout):
        q = u[_U_TEXT + j * _TEXT_PARAMS : _U_TEXT + (j + 1) * _TEXT_PARAMS].tolist()
        v, n = VERBS[verb], NOUNS[noun]
        text = templates[_pick(q[0], len(templates))].format(verb=v, noun=n)
        if q[1] < fillers:
            text = FILLERS[_pick(q[2], len(FILLERS))] + " " + text
        sentences = [(text, j)]
        if q[3] < remarks:
            sentences.append((REMARK_TEMPLATES[_pick(q[4], len(REMARK_TEMPLATES))].format(noun=n), j))
        if q[5] < offtopic:
            pos = _pick(q[7], len(sentences) + 1)
            sentences.insert(pos, (OFFTOPIC_SENTENCES[_pick(q[6], len(OFFTOPIC_SENTENCES))], -1))
        t0, t1 = a / fps, b / fps
        slot = (t1 - t0) / len(sentences)
        for k, (sentence, step) in enumerate(sentences):
            start, end = t0 + k * slot, t0 + (k + 1) * slot
            shift = lo + q[8 + k] * (hi - lo) if hi > lo else lo
            shift = min(max(shift, -start), duration - end)  # ASR segments stay inside the video
            segments.append((start + shift, end + shift, sentence))
            seg_steps.append(step)
            shifts.append(shift)
    return segments, seg_steps, shifts


def _render_chunk(indices, seed, split, size, clip_frames, verbs, nouns, steps, clips_per_step, scale, min_contrast,
                  noise_max, textured=1.0, speed=(1.0, 1.0)):
    """Frames of videos ``indices``: list of (frames (3, T, H, W), uniforms, layout, digit ids)."""
    H, W = size
    m = float(min(H, W))
    pool = digit_pool(split)
    by_class = [(pool.labels == c).nonzero().flatten() for c in range(10)]
    n = len(indices)
    u = torch.empty(n, _U_TOTAL)
    fields = torch.empty(n, *_FIELD)
    gens = []
    for row, i in enumerate(indices):
        g = item_generator(seed, "howto", split, i)
        torch.rand(_U_TOTAL, generator=g, out=u[row])
        torch.rand(_FIELD, generator=g, out=fields[row])
        gens.append(g)
    canvas = textured_canvas(u[:, :CANVAS_PARAMS], fields, (H, W))
    flat = u[:, _U_FLAT] >= textured  # these videos get a flat counter: the texture's mean colour
    if flat.any():
        canvas[flat] = canvas[flat].mean((2, 3), keepdim=True).expand(-1, -1, H, W)
    canvas_mean = canvas.mean((2, 3))

    layouts = [_video_layout(u[r], verbs, nouns, steps, clips_per_step, clip_frames, speed) for r in range(n)]
    # per step: glyph, size, colours; then per frame: where and how it is drawn
    step_rows, step_p = [], []
    for r, lay in enumerate(layouts):
        for j in range(len(lay)):
            step_rows.append(r)
            step_p.append(u[r, _U_STEPS + j * _STEP_PARAMS : _U_STEPS + (j + 1) * _STEP_PARAMS])
    step_rows_t = torch.tensor(step_rows, dtype=torch.int64)
    p = torch.stack(step_p)
    noun_of = torch.tensor([noun for lay in layouts for _, noun, _, _ in lay], dtype=torch.int64)
    inst = torch.stack([by_class[c][_pick(float(q), len(by_class[c]))] for c, q in zip(noun_of.tolist(), p[:, 3])])
    h = (scale[0] + (scale[1] - scale[0]) * p[:, 4]) * m
    extent = torch.stack([h * (0.8 + 0.35 * p[:, 5]), h], dim=1)
    angle0 = (2 * p[:, 6] - 1) * math.radians(15)
    bg = canvas_mean[step_rows_t]
    colour1 = contrasting_colours(_saturated(p[:, 7:10]), p[:, 10], bg, min_contrast)
    # pull the luma into [0.2, 0.8] where the contrast allows: near black or white no hue shows ("paint")
    lum, bg_lum = luminance(colour1), luminance(bg)
    moderate = lum.clamp(0.2, 0.8)
    colour1 = with_luminance(colour1, torch.where((moderate - bg_lum).abs() >= min_contrast, moderate, lum))

    # paint: the hue turns by 120 or 240 degrees (a cyclic swap of the channels), the luma stays
    hue = _saturated(p[:, 7:10])
    turned = torch.where(p[:, 11:12] < 0.5, hue[:, [1, 2, 0]], hue[:, [2, 0, 1]])
    colour2 = with_luminance(turned, luminance(colour1))

    centres, extents, angles, colours, glyph_of, frame_rows = [], [], [], [], [], []
    k = 0
    for r, lay in enumerate(layouts):
        for verb, _, a, b in lay:
            L = b - a
            c, e, ang = _step_path(verb, p[k, 14:18].tolist(), L, clip_frames, extent[k], float(angle0[k]), (H, W))
            centres.append(c), extents.append(e), angles.append(ang)
            if VERBS[verb] == "paint":
                s = (torch.arange(L, dtype=torch.float32) / max(L - 1, 1)).view(L, 1)
                colours.append(colour1[k] + s * (colour2[k] - colour1[k]))
            else:
                colours.append(colour1[k].expand(L, 3))
            glyph_of.append(torch.full((L,), int(inst[k])))
            frame_rows.append(torch.full((L,), r))
            k += 1
    glyph_of = torch.cat(glyph_of)
    alpha = render_glyphs(pool.glyphs[glyph_of], (H, W), torch.cat(centres), torch.cat(extents), torch.cat(angles))
    alpha = sharpen_alpha(alpha).unsqueeze(1)  # (F, 1, H, W)
    frame_rows = torch.cat(frame_rows)
    back = canvas[frame_rows]
    frames = back.add_(alpha * (torch.cat(colours).view(-1, 3, 1, 1) - back))  # (F, 3, H, W)

    out, f0 = [], 0
    tile = noise_tile(seed, "howto", split, (H, W)) if noise_max > 0 else None
    k = 0
    for r, lay in enumerate(layouts):
        T = lay[-1][3]
        video = frames[f0 : f0 + T]
        if tile is not None:
            offsets = torch.rand(T, 2, generator=gens[r])  # drawn last: the length changes nothing above
            ys = (offsets[:, 0] * (tile.shape[0] - H)).long().view(-1, 1, 1) + torch.arange(H).view(1, H, 1)
            xs = (offsets[:, 1] * (tile.shape[1] - W)).long().view(-1, 1, 1) + torch.arange(W).view(1, 1, W)
            video.add_(tile[ys, xs].mul_(noise_max * float(u[r, _U_NOISE])).unsqueeze(1))
        video.clamp_(0, 1)
        ids = pool.ids[inst[k : k + len(lay)]].tolist()
        out.append((video.permute(1, 0, 2, 3).contiguous(), u[r], lay, ids))
        f0 += T
        k += len(lay)
    return out


def make_howto_videos(
    n: int,
    steps: tuple[int, int] = (3, 5),
    clip_frames: int = 8,
    clips_per_step: tuple[int, int] = (2, 4),
    size=32,
    seed: int = 0,
    split: str = "train",
    misalignment=2.0,
    offtopic: float = 0.3,
    *,
    start: int = 0,
    fps: float = DEFAULT_FPS,
    fillers: float = 0.3,
    remarks: float = 0.4,
    verbs=None,
    nouns=None,
    scale: tuple[float, float] = (0.35, 0.5),
    min_contrast: float = 0.3,
    noise: float = 0.04,
    textured: float = 1.0,
    probe_in_narration: bool = True,
    speed: tuple[float, float] = (1.0, 1.0),
) -> list[HowToVideo]:
    """Narrated how-to videos ``start .. start + n - 1`` of ``(seed, split)``: a list of :class:`HowToVideo`.

    Each video has ``steps`` (low, high) steps, each ``clips_per_step`` clips of
    ``clip_frames`` frames at ``fps`` frames per second; verbs and nouns are drawn
    uniformly from ``verbs`` / ``nouns`` (indices or names; default all). ``size`` is an
    int or (height, width). Narration knobs (they change no pixel):

    * ``misalignment``: a number m shifts every narration sentence by its own offset,
      uniform in [-m, m] seconds; a (low, high) pair draws from [low, high] (low == high:
      the same shift for all); 0 switches it off. Segments are kept inside the video, so
      a shift may be cut short at the ends (``narration_shifts`` holds what was applied).
    * ``offtopic``: probability that a step's narration holds a sentence about nothing
      visible (no noun); 0 switches it off.
    * ``fillers``: probability of a filler ("okay so", "um") before an instruction;
      ``remarks``: probability of a second sentence about the step's object.
    * ``probe_in_narration``: False replaces the instruction template that is the zero-shot
      probe's frame ("now let me show you how to {verb} the {noun}") by
      ``PROBE_FREE_TEMPLATE`` (:func:`instruction_templates`), so that zero-shot
      classification with ``ZERO_SHOT_TEMPLATE`` is zero-shot: the probe never occurs in
      pre-training text.

    ``speed``: (low, high) playback speed, drawn per video: a step of k clips at speed 1 lasts
    ``max(1, round(k / speed))`` clips, its motion (and its narration) pressed into them - the
    videos of one set no longer share one pace. (1, 1), the default, leaves every video as it is.

    Pixels: the object's glyph box is ``scale`` times the short side tall, its colour a
    random saturated hue whose luma differs from the canvas' mean by at least
    ``min_contrast`` (and lies in [0.2, 0.8] where that contrast allows, so that a hue
    change shows); ``noise`` is the largest amplitude of the grey pixel noise (fresh
    every frame). ``textured``: the share of videos drawn on a textured counter; the
    others get a flat one of the texture's mean colour (drawn per video; the rest of the
    video is unchanged).
    """
    if not is_int(n) or n < 0:
        raise ValueError(f"n must be a non-negative int, got {n!r}")
    if not is_int(seed):
        raise TypeError(f"seed must be an int, got {seed!r}")
    if not is_int(start) or start < 0:
        raise ValueError(f"start must be a non-negative int, got {start!r}")
    if not is_int(clip_frames) or clip_frames < 2:
        raise ValueError(f"clip_frames must be an int >= 2, got {clip_frames!r}")
    H, W = check_size(size)
    check_split(split)
    steps = _check_pair("steps", steps, 1, MAX_STEPS)
    clips_per_step = _check_pair("clips_per_step", clips_per_step, 1, MAX_CLIPS_PER_STEP)
    misalignment = _check_misalignment(misalignment)
    offtopic = _check_prob("offtopic", offtopic)
    fillers, remarks = _check_prob("fillers", fillers), _check_prob("remarks", remarks)
    verbs = _check_choice("verbs", verbs, VERBS)
    nouns = _check_choice("nouns", nouns, NOUNS)
    if not (isinstance(fps, (int, float)) and not isinstance(fps, bool) and fps > 0):
        raise ValueError(f"fps must be a positive number, got {fps!r}")
    ok = isinstance(scale, (tuple, list)) and len(scale) == 2 and all(isinstance(v, (int, float)) for v in scale)
    if not ok or not 0.05 <= scale[0] <= scale[1] <= 0.8:
        raise ValueError(f"scale must be a (low, high) pair with 0.05 <= low <= high <= 0.8, got {scale!r}")
    if not 0 < min_contrast < 0.5:
        raise ValueError(f"min_contrast must be in (0, 0.5), got {min_contrast}")
    if not 0 <= noise <= 1:
        raise ValueError(f"noise must be in [0, 1], got {noise}")
    textured = _check_prob("textured", textured)
    templates = instruction_templates(probe_in_narration)
    ok = isinstance(speed, (tuple, list)) and len(speed) == 2 and all(
        isinstance(v, (int, float)) and not isinstance(v, bool) for v in speed)
    if not ok or not 0.25 <= speed[0] <= speed[1] <= 4:
        raise ValueError(f"speed must be a (low, high) pair of playback speeds with 0.25 <= low <= high <= 4, "
                         f"got {speed!r}")
    speed = (float(speed[0]), float(speed[1]))

    fps = float(fps)
    frames_per_video = steps[1] * max(1, round(clips_per_step[1] / speed[0])) * clip_frames
    chunk = max(1, (1 << 22) // (frames_per_video * H * W))  # about four million pixels per chunk
    videos = []
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # many small ops: intra-op threads cost more than they give (see make_scenes)
    try:
        with torch.no_grad():
            for a in range(0, n, chunk):
                idx = range(start + a, start + min(n, a + chunk))
                rendered = _render_chunk(
                    idx, seed, split, (H, W), clip_frames, verbs, nouns, steps, clips_per_step, scale, min_contrast,
                    noise, textured, speed,
                )
                for i, (frames, u, lay, ids) in zip(idx, rendered):
                    clip_verbs = torch.tensor([v for v, _, a0, b0 in lay for _ in range(a0, b0, clip_frames)])
                    clip_nouns = torch.tensor([o for _, o, a0, b0 in lay for _ in range(a0, b0, clip_frames)])
                    duration = frames.shape[1] / fps
                    narration, nsteps, shifts = _narrate(
                        u, lay, fps, misalignment, offtopic, fillers, remarks, duration, templates
                    )
                    videos.append(
                        HowToVideo(
                            index=i,
                            split=split,
                            frames=frames,
                            fps=fps,
                            clip_frames=clip_frames,
                            steps=list(lay),
                            clip_verbs=clip_verbs,
                            clip_nouns=clip_nouns,
                            step_sentences=[f"{VERBS[v]} the {NOUNS[o]}" for v, o, _, _ in lay],
                            narration=narration,
                            narration_steps=nsteps,
                            narration_shifts=shifts,
                            digit_ids=ids,
                        )
                    )
    finally:
        torch.set_num_threads(threads)
    return videos


def clips(video, clip_frames: int | None = None) -> torch.Tensor:
    """Cut a video into non-overlapping clips: (n_clips, 3, clip_frames, H, W).

    ``video``: a :class:`HowToVideo` (``clip_frames`` defaults to its own) or a tensor
    (3, T, H, W). T must be a multiple of ``clip_frames``.
    """
    if isinstance(video, HowToVideo):
        frames = video.frames
        clip_frames = video.clip_frames if clip_frames is None else clip_frames
    else:
        frames = video
    if not isinstance(frames, torch.Tensor) or frames.dim() != 4:
        got = tuple(frames.shape) if isinstance(frames, torch.Tensor) else type(frames).__name__
        raise ValueError(f"video must be a HowToVideo or a tensor (C, T, H, W), got {got}")
    if not is_int(clip_frames) or clip_frames < 1:
        raise ValueError(f"clip_frames must be a positive int, got {clip_frames!r}")
    C, T, H, W = frames.shape
    if T % clip_frames:
        raise ValueError(f"the video's {T} frames do not split into clips of {clip_frames} frames")
    return frames.view(C, T // clip_frames, clip_frames, H, W).transpose(0, 1)


def narration_stats(videos) -> dict:
    """What the narration of ``videos`` gets wrong, measured (the paper's two problems): "sentences";
    "offtopic" - the share of sentences about nothing visible, with "offtopic_example" the first;
    "mean_abs_shift_s" - the mean time shift of a sentence; "outside_step" - the share of on-topic
    sentences whose middle falls outside the step they talk about (under another step's pictures)."""
    videos = list(videos)
    if not videos or not all(isinstance(v, HowToVideo) for v in videos):
        raise ValueError(f"videos must be a non-empty sequence of HowToVideo, got {type(videos).__name__}")
    n = off = outside = on = 0
    shift = 0.0
    example = None
    for v in videos:
        spans = v.step_times()
        for (start, end, sentence), step, dt in zip(v.narration, v.narration_steps, v.narration_shifts):
            n += 1
            shift += abs(dt)
            if step < 0:
                off += 1
                example = example or sentence
                continue
            on += 1
            a, b = spans[step]
            outside += not a <= (start + end) / 2 < b
    return {"sentences": n, "offtopic": off / n, "offtopic_example": example, "mean_abs_shift_s": shift / n,
            "outside_step": outside / max(on, 1)}


def step_seconds(videos) -> list[float]:
    """Each video's mean step length in seconds: the pace at which its steps go by (what the
    paper's video subsampling is for - people cook at different speeds). One pace for every video
    (``speed=(1, 1)``) leaves only the spread of the step lengths themselves."""
    videos = list(videos)
    if not videos or not all(isinstance(v, HowToVideo) for v in videos):
        raise ValueError(f"videos must be a non-empty sequence of HowToVideo, got {type(videos).__name__}")
    return [sum(b - a for a, b in v.step_times()) / len(v.steps) for v in videos]


# ----------------------------------------------------------------------------------
# Words
# ----------------------------------------------------------------------------------

def template_words() -> list[str]:
    """Every word of the how-to language: templates, fillers, remarks, off-topic lines, verbs, nouns."""
    texts = list(INSTRUCTION_TEMPLATES + (PROBE_FREE_TEMPLATE,) + REMARK_TEMPLATES + FILLERS + OFFTOPIC_SENTENCES)
    texts += [ZERO_SHOT_TEMPLATE, CAPTION_TEMPLATE, " ".join(VERBS), " ".join(NOUNS)]
    words = set()
    for t in texts:
        words.update(w for w in tokenize(t.replace("{verb}", " ").replace("{noun}", " ")) if not w.startswith("["))
    return sorted(words)


def make_vocab() -> Vocab:
    """The how-to world's vocabulary: the special tokens, then :func:`template_words` (sorted)."""
    return Vocab(template_words())


assert not any(set(tokenize(s)) & set(NOUNS) for s in OFFTOPIC_SENTENCES + FILLERS), "off-topic lines name no object"
