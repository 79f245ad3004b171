"""DigitWorld how-to videos: shapes, determinism, labels vs pixels, narration faults, the vocabulary."""

import pytest
import torch

from minimodels.data.digitworld import digit_pool, load_digit_images
from minimodels.data.howto import (
    CAPTION_TEMPLATE,
    NOUNS,
    INSTRUCTION_TEMPLATES,
    OFFTOPIC_SENTENCES,
    PROBE_FREE_TEMPLATE,
    REVERSAL_PAIRS,
    VERBS,
    ZERO_SHOT_TEMPLATE,
    HowToVideo,
    clips,
    make_howto_videos,
    make_vocab,
    narration_stats,
    step_seconds,
    template_words,
)
from minimodels.tokens import SPECIAL_TOKENS, tokenize


@pytest.fixture(scope="module")
def held_out():
    """200 held-out videos of 4 steps of 2 clips, no pixel noise: ~800 steps to measure."""
    return make_howto_videos(200, steps=(4, 4), clips_per_step=(2, 2), size=32, seed=1, split="test", noise=0.0)


def test_vocabularies():
    assert len(VERBS) == 9 and len(set(VERBS)) == 9 and len(NOUNS) == 10 and len(set(NOUNS)) == 10
    assert all(len(tokenize(w)) == 1 for w in VERBS + NOUNS)  # one [MASK] each in the templates
    assert sorted(i for pair in REVERSAL_PAIRS for i in pair) == list(range(6))


# ----------------------------------------------------------------------------------
# Shapes, determinism
# ----------------------------------------------------------------------------------


@pytest.mark.parametrize("clip_frames, size, steps, per_step", [(8, 32, (3, 5), (2, 4)), (4, (24, 40), (1, 2), (1, 1))])
def test_shapes_and_structure(clip_frames, size, steps, per_step):
    H, W = (size, size) if isinstance(size, int) else size
    videos = make_howto_videos(6, steps=steps, clip_frames=clip_frames, clips_per_step=per_step, size=size, seed=3)
    assert len(videos) == 6 and all(isinstance(v, HowToVideo) for v in videos)
    for v in videos:
        C, T, h, w = v.frames.shape
        assert (C, h, w) == (3, H, W) and v.frames.dtype == torch.float32
        assert v.frames.min() >= 0 and v.frames.max() <= 1
        assert steps[0] <= len(v.steps) <= steps[1] and T % clip_frames == 0
        assert v.steps[0][2] == 0 and v.steps[-1][3] == T
        for (_, _, _, end), (_, _, start, _) in zip(v.steps, v.steps[1:]):
            assert end == start  # steps tile the video
        for verb, noun, a, b in v.steps:
            assert per_step[0] * clip_frames <= b - a <= per_step[1] * clip_frames and (b - a) % clip_frames == 0
        c = clips(v)
        assert c.shape == (v.num_clips, 3, clip_frames, H, W)
        assert torch.equal(c[-1], v.frames[:, T - clip_frames :])
        assert v.clip_verbs.shape == v.clip_nouns.shape == (v.num_clips,)
        assert v.duration == T / v.fps and len(v.step_sentences) == len(v.steps)


def test_deterministic_and_index_stable():
    a = make_howto_videos(5, seed=7)
    b = make_howto_videos(2, seed=7)
    c = make_howto_videos(2, seed=7, start=3)
    for x, y in zip(a[:2] + a[3:], b + c):
        assert torch.equal(x.frames, y.frames) and x.steps == y.steps and x.narration == y.narration
    assert [v.index for v in c] == [3, 4]
    again = make_howto_videos(5, seed=7)
    assert all(torch.equal(x.frames, y.frames) and x.narration == y.narration for x, y in zip(a, again))
    assert not torch.equal(make_howto_videos(1, seed=8)[0].frames[:, :8], a[0].frames[:, :8])
    assert not torch.equal(make_howto_videos(1, seed=7, split="test")[0].frames[:, :8], a[0].frames[:, :8])


def test_narration_knobs_change_no_pixel():
    a = make_howto_videos(4, seed=2)
    b = make_howto_videos(4, seed=2, misalignment=0, offtopic=1.0, fillers=0.0, remarks=1.0)
    for x, y in zip(a, b):
        assert torch.equal(x.frames, y.frames) and x.steps == y.steps and x.narration != y.narration


def test_a_probe_free_narration_never_says_the_probe_and_changes_nothing_else():
    from minimodels.recipes.videobert import probe_overlap

    a = make_howto_videos(60, size=8, clip_frames=2, seed=3)
    b = make_howto_videos(60, size=8, clip_frames=2, seed=3, probe_in_narration=False)
    said = lambda videos: [s for v in videos for _, _, s in v.narration]  # noqa: E731
    with_probe, without = probe_overlap(said(a)), probe_overlap(said(b))
    assert with_probe["containing"] > 0 and with_probe["longest"] == ZERO_SHOT_TEMPLATE
    assert without["containing"] == 0 and without["longest"] == "to [MASK] the [MASK]"
    assert all(without["word_counts"][w] > 0 for w in without["word_counts"])  # every probe word is still heard
    swapped = 0
    for x, y in zip(a, b):
        assert torch.equal(x.frames, y.frames) and x.narration_shifts == y.narration_shifts
        for (s0, e0, t0), (s1, e1, t1) in zip(x.narration, y.narration):
            assert (s0, e0) == (s1, e1)
            probe_frame = INSTRUCTION_TEMPLATES[0].split("{verb}")[0]
            if t0 != t1:  # only the probe's frame is replaced, by PROBE_FREE_TEMPLATE with the same verb and noun
                assert probe_frame in t0 and PROBE_FREE_TEMPLATE.split("{verb}")[0] in t1
                assert t0.split()[-2:] == t1.split()[-2:]
                swapped += 1
    assert swapped == with_probe["containing"]
    with pytest.raises(TypeError, match="probe_in_narration must be a bool, got 'no'"):
        make_howto_videos(1, size=8, clip_frames=2, probe_in_narration="no")


def test_playback_speed_presses_each_step_into_fewer_clips():
    base = make_howto_videos(12, size=8, clip_frames=2, clips_per_step=(2, 4), seed=5)
    fast = make_howto_videos(12, size=8, clip_frames=2, clips_per_step=(2, 4), seed=5, speed=(2.0, 2.0))
    mixed = make_howto_videos(12, size=8, clip_frames=2, clips_per_step=(2, 4), seed=5, speed=(0.5, 2.0))
    for b, f in zip(base, fast):
        assert [(v, n) for v, n, _, _ in b.steps] == [(v, n) for v, n, _, _ in f.steps]
        assert [max(1, round((e - s) / 2 / 2)) for _, _, s, e in b.steps] == [(e - s) // 2 for _, _, s, e in f.steps]
        assert f.step_sentences == b.step_sentences and f.narration_steps == b.narration_steps
    paces = {round(m.num_clips / b.num_clips, 1) for b, m in zip(base, mixed)}
    assert len(paces) > 3  # the videos of one set no longer share one pace
    same = make_howto_videos(12, size=8, clip_frames=2, clips_per_step=(2, 4), seed=5, speed=(1, 1))
    assert all(torch.equal(a.frames, b.frames) for a, b in zip(base, same))
    with pytest.raises(ValueError, match=r"speed must be a \(low, high\) pair of playback speeds"):
        make_howto_videos(1, size=8, clip_frames=2, speed=(2.0, 1.0))


def test_narration_stats_measure_the_two_problems():
    clean = narration_stats(make_howto_videos(40, size=8, clip_frames=2, misalignment=0, offtopic=0.0))
    assert clean["offtopic"] == 0 and clean["offtopic_example"] is None
    assert clean["mean_abs_shift_s"] == 0 and clean["outside_step"] == 0
    noisy = narration_stats(make_howto_videos(40, size=8, clip_frames=2, misalignment=8.0, offtopic=1.0))
    assert noisy["offtopic_example"] in OFFTOPIC_SENTENCES and 0.2 < noisy["offtopic"] < 0.6
    assert noisy["mean_abs_shift_s"] > 1.5 and noisy["outside_step"] > 0.2
    with pytest.raises(ValueError, match="non-empty sequence of HowToVideo"):
        narration_stats([])


def test_step_seconds_measure_the_pace():
    kw = dict(size=8, clip_frames=2, clips_per_step=(4, 4), seed=3)
    one = step_seconds(make_howto_videos(20, **kw))
    assert len(one) == 20 and max(one) == min(one)  # steps of one length, one pace
    slow, fast = (step_seconds(make_howto_videos(20, speed=(s, s), **kw)) for s in (0.5, 2.0))
    assert slow == [2 * x for x in one] and fast == [x / 2 for x in one]
    varied = step_seconds(make_howto_videos(60, speed=(0.5, 2.0), **kw))
    assert min(varied) < 0.75 * one[0] and max(varied) > 1.5 * one[0]
    with pytest.raises(ValueError, match="non-empty sequence of HowToVideo"):
        step_seconds([])


# ----------------------------------------------------------------------------------
# Labels vs what is drawn
# ----------------------------------------------------------------------------------


def test_labels_follow_the_steps_and_glyphs():
    _, digit_labels = load_digit_images()
    for split in ("train", "test"):
        pool = set(digit_pool(split).ids.tolist())
        other = set(digit_pool("test" if split == "train" else "train").ids.tolist())
        for v in make_howto_videos(20, seed=4, split=split):
            clip_of_step = []
            for j, (verb, noun, a, b) in enumerate(v.steps):
                clip_of_step += [j] * ((b - a) // v.clip_frames)
                assert v.step_sentences[j] == f"{VERBS[verb]} the {NOUNS[noun]}"
            assert v.clip_verbs.tolist() == [v.steps[j][0] for j in clip_of_step]
            assert v.clip_nouns.tolist() == [v.steps[j][1] for j in clip_of_step]
            # the object of a step is a handwritten digit of the noun's class, from the split's own writers
            assert [int(digit_labels[i]) for i in v.digit_ids] == [noun for _, noun, _, _ in v.steps]
            assert set(v.digit_ids) <= pool and not set(v.digit_ids) & other


def test_verbs_and_nouns_can_be_restricted():
    for v in make_howto_videos(5, seed=5, verbs=["spin", 8], nouns=["three"]):
        assert {verb for verb, _, _, _ in v.steps} <= {6, 8} and {n for _, n, _, _ in v.steps} == {3}


def step_statistics(video: HowToVideo) -> torch.Tensor:
    """Per step, from the pixels alone: ink centroid travel (dx, dy), log area change, x jitter,
    colour change of the ink and churn (how much of the ink mask changes from frame to frame).

    Ink: |frame - per-pixel median over the video| > 0.3 (summed over channels). With four steps
    at different spots, the median is the canvas nearly everywhere.
    """
    canvas = video.frames.median(dim=1).values
    ink = (video.frames - canvas[:, None]).abs().sum(0)
    H, W = ink.shape[-2:]
    out = []
    for _, _, a, b in video.steps:
        m = (ink[a:b] > 0.3).float()
        tot = m.sum((1, 2)).clamp(min=1)
        x = (m * (torch.arange(W) + 0.5)).sum((1, 2)) / tot
        y = (m * (torch.arange(H) + 0.5).view(H, 1)).sum((1, 2)) / tot
        dx, dy = x[-1] - x[0], y[-1] - y[0]
        jitter = x.diff().abs().mean() - dx.abs() / (b - a - 1)
        colour = (video.frames[:, a:b] * m).sum((2, 3)) / tot
        inter = (m[1:] * m[:-1]).sum((1, 2))
        union = (m[1:] + m[:-1]).clamp(max=1).sum((1, 2)).clamp(min=1)
        churn = (1 - inter / union).mean()
        area = (tot[-1] / tot[0]).log()
        out.append(torch.stack([dx, dy, area, jitter, (colour[:, -1] - colour[:, 0]).abs().sum(), churn]))
    return torch.stack(out)


def rule_verbs(s: torch.Tensor) -> torch.Tensor:
    """The verb a hand-written rule reads off the step statistics (-1: none fits)."""
    dx, dy, area, jitter, dcol, churn = s.unbind(1)
    still = (dx.abs() < 2) & (dy.abs() < 2)
    rules = [
        dx > 5, dx < -5, dy < -5, dy > 5, area > 0.7, area < -0.7,
        still & (area.abs() < 0.3) & (jitter < 1) & (churn > 0.25),
        jitter > 1.5,
        still & (churn < 0.08) & (dcol > 0.2),
    ]
    fits = torch.stack(rules, 1)
    return torch.where(fits.sum(1) == 1, fits.float().argmax(1), torch.full_like(dx, -1).long())


def test_verbs_are_visible_in_the_pixels(held_out):
    """Simple pixel statistics tell the nine verbs apart: per verb, a rule on them finds the verb."""
    stats = torch.cat([step_statistics(v) for v in held_out])
    verbs = torch.tensor([verb for v in held_out for verb, _, _, _ in v.steps])
    pred = rule_verbs(stats)
    for k, name in enumerate(VERBS):
        acc = (pred[verbs == k] == k).float().mean().item()
        false = (pred[verbs != k] == k).float().mean().item()
        assert (verbs == k).sum() > 50
        assert acc > 0.85, (name, acc)  # measured 0.93-0.95 for paint, 0.99-1.0 for the others (three seeds)
        assert false < 0.03, (name, false)  # measured 0.0


@pytest.mark.parametrize("a, b", REVERSAL_PAIRS)
def test_reversal_pairs_share_every_frame(a, b):
    """A step of verb a played backwards is the same step drawn with verb b: the frames of a step,
    taken as a set (one at random, or their average), cannot tell a from b; their order can."""
    va = make_howto_videos(4, seed=9, verbs=[a], noise=0.0)
    vb = make_howto_videos(4, seed=9, verbs=[b], noise=0.0)
    for x, y in zip(va, vb):
        assert [s[1:] for s in x.steps] == [s[1:] for s in y.steps]
        for _, _, s, e in x.steps:
            fa, fb = x.frames[:, s:e], y.frames[:, s:e]
            assert (fa.flip(1) - fb).abs().max() < 1e-4
            assert (fa.mean(1) - fb.mean(1)).abs().max() < 1e-5
            assert (fa - fb).abs().max() > 0.2


# ----------------------------------------------------------------------------------
# Narration: shifted in time, sometimes off-topic
# ----------------------------------------------------------------------------------


def _aligned(video):
    """The unshifted narration of the same video (misalignment 0)."""
    (ref,) = make_howto_videos(1, seed=11, start=video.index, misalignment=0, offtopic=0.5)
    return ref


def test_aligned_narration_sits_inside_its_step():
    for v in make_howto_videos(10, seed=11, misalignment=0, offtopic=0.5):
        assert v.narration_shifts == [0.0] * len(v.narration)
        spans = v.step_times()
        steps_seen = set()
        for (start, end, _), step in zip(v.narration, v.narration_steps):
            owner = step if step >= 0 else max(j for j, (a, _) in enumerate(spans) if a <= start)
            a, b = spans[owner]
            assert a <= start < end <= b
            steps_seen.add(step)
        assert steps_seen - {-1} == set(range(len(v.steps)))  # every step is narrated


def test_misalignment_is_exactly_the_configured_shift():
    for v in make_howto_videos(10, seed=11, misalignment=2.0, offtopic=0.5):
        ref = _aligned(v)
        assert [s for _, _, s in v.narration] == [s for _, _, s in ref.narration]
        for (s0, e0, _), (s1, e1, _), shift in zip(ref.narration, v.narration, v.narration_shifts):
            assert abs((s1 - s0) - shift) < 1e-9 and abs((e1 - e0) - shift) < 1e-9
            assert abs(shift) <= 2.0 and 0 <= s1 and e1 <= v.duration
    shifts = torch.tensor([s for v in make_howto_videos(40, seed=11, misalignment=2.0) for s in v.narration_shifts])
    assert shifts.min() < -1.5 and shifts.max() > 1.5 and shifts.abs().mean() > 0.6  # spread over [-2, 2]
    # a constant shift: every segment moves by it, unless it would leave the video
    for v in make_howto_videos(10, seed=11, misalignment=(1.5, 1.5), offtopic=0.5):
        for (s0, e0, _), (s1, e1, _), shift in zip(_aligned(v).narration, v.narration, v.narration_shifts):
            assert shift == pytest.approx(1.5) or (e1 == pytest.approx(v.duration) and shift < 1.5)
            assert abs((s1 - s0) - shift) < 1e-9


def test_offtopic_sentences_name_nothing_visible():
    videos = make_howto_videos(30, seed=12, offtopic=1.0)
    for v in videos:
        assert v.narration_steps.count(-1) == len(v.steps)  # one per step with offtopic=1
        for (_, _, sentence), step in zip(v.narration, v.narration_steps):
            words = set(tokenize(sentence))
            if step < 0:
                assert sentence in OFFTOPIC_SENTENCES and not words & set(NOUNS)
            else:  # on-topic sentences name the step's object
                assert NOUNS[v.steps[step][1]] in words
        pairs = zip(v.narration, v.narration_steps)
        instructions = [s for (_, _, s), st in pairs if st >= 0 and VERBS[v.steps[st][0]] in tokenize(s)]
        assert len(instructions) == len(v.steps)
    for v in make_howto_videos(30, seed=12, offtopic=0.0):
        assert -1 not in v.narration_steps


# ----------------------------------------------------------------------------------
# Words
# ----------------------------------------------------------------------------------


def test_vocab_round_trip_and_specials():
    vocab = make_vocab()
    assert vocab.itos == list(SPECIAL_TOKENS) + template_words()  # the special tokens, then the sorted words
    assert len(vocab) == 117
    assert (vocab.pad_id, vocab.mask_id, vocab.join_id) == (0, 3, 5)
    assert all(w in vocab for w in VERBS + NOUNS)
    ids = vocab.encode(ZERO_SHOT_TEMPLATE, strict=True)
    assert ids.count(vocab.mask_id) == 2 and vocab.decode(ids) == ZERO_SHOT_TEMPLATE
    assert vocab.decode(vocab.encode(CAPTION_TEMPLATE, strict=True)) == CAPTION_TEMPLATE
    for v in make_howto_videos(20, seed=13, offtopic=1.0, fillers=1.0, remarks=1.0):
        for _, _, sentence in v.narration:
            ids = vocab.encode(sentence, strict=True)
            assert vocab.unk_id not in ids and vocab.decode(ids) == sentence
    assert vocab.encode("Now LIFT the [MASK]!") == vocab.encode("now lift the [MASK] !")
    assert vocab.encode("whisk the eggs") == [vocab.unk_id, vocab.stoi["the"], vocab.unk_id]
    assert vocab.decode([vocab.cls_id, vocab.stoi["lift"], vocab.sep_id], skip_special=True) == "lift"


def test_errors():
    with pytest.raises(KeyError, match="'whisk'"):
        make_vocab().encode("whisk the eggs", strict=True)
    with pytest.raises(ValueError, match="steps"):
        make_howto_videos(1, steps=(0, 3))
    with pytest.raises(ValueError, match="clips_per_step"):
        make_howto_videos(1, clips_per_step=(3, 2))
    with pytest.raises(ValueError, match="misalignment"):
        make_howto_videos(1, misalignment=-1)
    with pytest.raises(ValueError, match="misalignment"):
        make_howto_videos(1, misalignment=(2, 1))
    with pytest.raises(ValueError, match="offtopic"):
        make_howto_videos(1, offtopic=1.5)
    with pytest.raises(ValueError, match="verbs"):
        make_howto_videos(1, verbs=["whisk"])
    with pytest.raises(ValueError, match="split"):
        make_howto_videos(1, split="val")
    with pytest.raises(ValueError, match="do not split into clips of 5"):
        clips(torch.zeros(3, 16, 8, 8), 5)
    with pytest.raises(ValueError, match=r"tensor \(C, T, H, W\)"):
        clips(torch.zeros(16, 8, 8), 4)


def test_flat_counters():
    textured = make_howto_videos(6, size=24, seed=3)
    flat = make_howto_videos(6, size=24, seed=3, textured=0.0)
    some = make_howto_videos(6, size=24, seed=3, textured=0.5)
    assert all(torch.equal(a.frames, b.frames) for a, b in zip(textured, make_howto_videos(6, size=24, seed=3, textured=1.0)))
    for t, f in zip(textured, flat):
        assert t.steps == f.steps and t.narration == f.narration and t.digit_ids == f.digit_ids
        # a flat counter is one colour: most pixels (all but the digit) lie within the noise of the median
        frame = f.frames[:, 0]
        near = ((frame - frame.flatten(1).median(1).values.view(3, 1, 1)).abs().amax(0) < 0.05).float().mean()
        assert near > 0.6
    kinds = [any(torch.equal(s.frames, t.frames) for t in textured) for s in some]
    assert 0 < sum(kinds) < len(kinds) or len(set(kinds)) == 1  # drawn per video
    with pytest.raises(ValueError, match="textured"):
        make_howto_videos(1, textured=2.0)


def test_thread_setting_is_restored():
    before = torch.get_num_threads()
    make_howto_videos(1, size=16)
    assert torch.get_num_threads() == before
