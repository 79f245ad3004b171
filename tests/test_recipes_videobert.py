"""The reduced VideoBERT pipeline: profiles, each stage's wiring, the metrics, the captioner, the CLI."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from minimodels.captioner import Captioner, CaptionerConfig
from minimodels.data.howto import make_howto_videos, make_vocab
from minimodels.metrics import bleu4, ranking_metrics
from minimodels.data.motion import NUM_MOTION_CLASSES
from minimodels.recipes.videobert import (
    DATA_SHARES,
    EXEMPLARS,
    MOTION_CLIPS_PER_VIDEO,
    NUM_NOUNS,
    NUM_VERBS,
    ZERO_SHOT_ARMS,
    caption_dataset,
    caption_segments,
    clip_features,
    data_size_recipe,
    fit_visual_words,
    howto_data,
    make_s3d,
    make_videobert,
    motion_clips,
    pretrain_s3d_on_digits,
    pretraining_examples,
    run,
    run_pipeline,
    step_tokens,
    supervised_eval,
    tokenize_videos,
    trained_s3d,
    train_s3d,
    trained_videobert,
    videobert_recipe,
    word_labels,
    word_purity,
    zero_shot_recipe,
)
from minimodels.train import load_checkpoint

REPO = Path(__file__).resolve().parent.parent


pytestmark = pytest.mark.usefixtures("one_thread")


def test_recipe_profiles_and_overrides():
    smoke, cpu, gpu = videobert_recipe("smoke"), videobert_recipe("cpu"), videobert_recipe("gpu")
    assert gpu.n_train > cpu.n_train > smoke.n_train
    assert gpu.num_visual_words > cpu.num_visual_words > smoke.num_visual_words
    assert cpu.num_visual_words == 12**2 and gpu.num_visual_words == 12**3
    r = videobert_recipe("cpu", train={"steps": 5}, howto={"misalignment": 0.0}, bert_overrides={"depth": 1})
    assert r.train.steps == 5 and r.howto == {**cpu.howto, "misalignment": 0.0}  # merged, not replaced
    assert r.bert_overrides["depth"] == 1 and r.train.lr == cpu.train.lr
    assert gpu.text_bert.lr == gpu.train.lr < cpu.train.lr  # each stage's knobs are its own, set per profile
    with pytest.raises(ValueError, match="unknown profile"):
        videobert_recipe("tpu")
    with pytest.raises(TypeError, match="unknown VideoBertRecipe field"):
        videobert_recipe("cpu", stepz=3)
    with pytest.raises(ValueError, match="part must be one of"):
        howto_data(smoke, "val")


def test_parts_are_disjoint_and_deterministic():
    r = videobert_recipe("smoke")
    s3d, train, test = howto_data(r, "s3d"), howto_data(r, "train"), howto_data(r, "test")
    assert len(s3d) == r.n_s3d and len(train) == r.n_train and len(test) == r.n_test
    assert not torch.equal(s3d[0].frames, train[0].frames)  # the clip network's videos are others
    assert all(v.split == "test" for v in test)
    assert torch.equal(howto_data(r, "train")[1].frames, train[1].frames)


def test_step_tokens_follow_the_true_spans():
    v = make_howto_videos(1, size=16, clip_frames=4, seed=2)[0]
    tokens = torch.arange(v.num_clips)
    steps = step_tokens(v, tokens)
    assert [s[1:] for s in steps] == [(verb, noun) for verb, noun, _, _ in v.steps]
    assert sum(len(s[0]) for s in steps) == v.num_clips
    assert [t for s in steps for t in s[0]] == tokens.tolist()


def test_ranking_metrics():
    scores = torch.tensor([[3.0, 2.0, 1.0, 0.0, -1.0, -2.0], [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]])
    m = ranking_metrics(scores, scores, torch.tensor([0, 0]), torch.tensor([1, 5]))
    assert m["verb_top1"] == 0.5 and m["verb_top5"] == 0.5  # the second ranks class 0 last
    assert m["noun_top1"] == 0.5 and m["noun_top5"] == 1.0


def test_image_pretraining_touches_only_centre_taps_of_time():
    """A one-frame clip uses only the centre tap of every temporal kernel: the image
    pretraining trains the spatial convolutions as a 2D CNN's and leaves the other taps."""
    r = videobert_recipe("smoke", s3d_pretrain={"steps": 3})
    model = make_s3d(r)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    pretrain_s3d_on_digits(model, r, log=None)
    after = model.state_dict()
    blk = "blocks.0"
    assert not torch.equal(before[f"{blk}.conv_s.weight"], after[f"{blk}.conv_s.weight"])
    t_before, t_after = before[f"{blk}.conv_t.weight"], after[f"{blk}.conv_t.weight"]
    centre = t_before.shape[2] // 2
    assert not torch.equal(t_before[:, :, centre], t_after[:, :, centre])
    # AdamW's weight decay still shrinks the unused taps a little, but no gradient moves them
    ratio = t_after[:, :, 0] / t_before[:, :, 0]
    assert torch.allclose(ratio, ratio.flatten()[0].expand_as(ratio), atol=1e-6)


def test_the_smoke_pipeline_runs_end_to_end():
    r = videobert_recipe("smoke")
    res = run_pipeline(r, log=None)
    assert 0 <= res.zero_shot["verb_top1"] <= res.zero_shot["verb_top5"] <= 1
    assert res.zero_shot["steps"] == sum(len(v.steps) for v in res.test_videos)
    assert r.clip_labels == "motion" and res.supervised is None  # no verb or noun label: no supervised row
    assert all(0 <= int(t.min()) and int(t.max()) < r.num_visual_words for t in res.train_tokens)
    assert len(res.history.loss) == r.train.steps
    pct = res.percentages()
    assert pct["zero_shot_verb_top1"] == pytest.approx(100 * res.zero_shot["verb_top1"])
    assert {"word_purity_verb", "word_purity_noun", "language_prior_noun_top5"} <= set(pct) and "zero_shot_steps" not in pct
    assert all(0 <= v <= 100 for v in pct.values())
    m = res.metrics()
    json.dumps(m)  # plain values only
    assert m["num_visual_words"] == r.num_visual_words


def test_features_words_and_examples_line_up():
    r = videobert_recipe("smoke")
    videos = howto_data(r, "train")
    s3d = make_s3d(r).eval()
    feats = clip_features(s3d, videos)
    assert [f.shape for f in feats] == [(v.num_clips, s3d.feature_dim) for v in videos]
    km = fit_visual_words(r, feats)
    tokens = tokenize_videos(km, feats)
    examples = pretraining_examples(videos, tokens, make_vocab())
    assert [len(e) for e in examples] == [len(v.narration) for v in videos]
    assert all(set(vid) <= set(t.tolist()) for e, t in zip(examples, tokens) for _, vid in e)


def test_captioner_shapes_causality_and_errors():
    torch.manual_seed(0)
    c = Captioner(CaptionerConfig(feature_dim=6, vocab_size=20, dim=16, depth=1, num_heads=2, mlp_dim=32,
                                  max_features=5, max_len=7, dropout=0.0)).eval()
    feats, mask = torch.randn(2, 4, 6), torch.tensor([[True] * 4, [True, True, False, False]])
    tokens = torch.randint(0, 20, (2, 6))
    logits = c(feats, mask, tokens)
    assert logits.shape == (2, 6, 20)
    changed = tokens.clone()
    changed[:, 4] = (changed[:, 4] + 1) % 20
    # causal: position 3 cannot see token 4
    assert torch.allclose(c(feats, mask, changed)[:, :4], logits[:, :4], atol=1e-5)
    # padded features are ignored
    noisy = feats.clone()
    noisy[1, 2:] = 100.0
    assert torch.allclose(c(noisy, mask, tokens)[1], logits[1], atol=1e-5)
    out = c.generate(feats, mask, start_id=1, end_id=2, max_len=7)
    assert len(out) == 2 and all(len(o) <= 6 and 2 not in o for o in out)
    with pytest.raises(ValueError, match=r"features must be \(B, M, 6\)"):
        c(torch.randn(2, 4, 5), mask, tokens)
    with pytest.raises(ValueError, match="max_len"):
        c(feats, mask, torch.zeros(2, 8, dtype=torch.long))
    with pytest.raises(ValueError, match=r"token ids must be in \[0, 20\)"):
        c(feats, mask, torch.full((2, 3), 20))
    with pytest.raises(ValueError, match="divisible"):
        CaptionerConfig(feature_dim=4, vocab_size=5, dim=10, num_heads=3)


def test_captioner_normalises_each_feature_source_on_its_own():
    torch.manual_seed(0)
    kw = dict(vocab_size=20, dim=16, depth=1, num_heads=2, mlp_dim=32, max_features=5, max_len=7, dropout=0.0)
    grouped = Captioner(CaptionerConfig(feature_dim=6, feature_groups=(2, 4), **kw)).eval()
    single = Captioner(CaptionerConfig(feature_dim=6, **kw)).eval()
    feats, tokens = torch.randn(2, 4, 6), torch.randint(0, 20, (2, 5))
    louder = feats.clone()
    louder[..., 2:] = 50 * louder[..., 2:] + 3  # the second source on another scale
    # per source, a rescaled source is the same input; over the concatenation it is not
    assert torch.allclose(grouped(louder, None, tokens), grouped(feats, None, tokens), atol=1e-3)  # (LayerNorm eps)
    assert not torch.allclose(single(louder, None, tokens), single(feats, None, tokens), atol=1e-2)
    assert single.config.feature_groups == (6,)
    for bad in ((2, 3), (6, 0), (2.0, 4)):
        with pytest.raises(ValueError, match="feature_groups must be positive ints summing to feature_dim 6"):
            CaptionerConfig(feature_dim=6, vocab_size=5, feature_groups=bad)


def test_captioner_learns_to_copy_a_feature_into_words():
    torch.manual_seed(0)
    V, n = 12, 256
    labels = torch.randint(3, V, (n, 2))
    feats = torch.nn.functional.one_hot(labels, V).float()  # two features, one per word to say
    tokens = torch.cat([torch.ones(n, 1, dtype=torch.long), labels, torch.full((n, 1), 2)], 1)  # [CLS] a b [SEP]
    c = Captioner(CaptionerConfig(feature_dim=V, vocab_size=V, dim=32, depth=1, num_heads=2, mlp_dim=64,
                                  max_features=2, max_len=4, dropout=0.0))
    opt = torch.optim.Adam(c.parameters(), lr=3e-3)
    for _ in range(150):
        logits = c(feats, None, tokens[:, :-1])
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, V), tokens[:, 1:].reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
    out = c.generate(feats[:32], None, start_id=1, end_id=2)
    assert sum(o == l.tolist() for o, l in zip(out, labels[:32])) >= 28


def test_cli_runs_the_smoke_pipeline(tmp_path):
    out = tmp_path / "run"
    proc = subprocess.run([sys.executable, "-m", "minimodels.recipes", "videobert", "--profile", "smoke",
                           "--out", str(out), "--no-progress"], capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-2000:]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["model"] == "videobert" and "verb_top5" in metrics["zero_shot"]
    ckpt = torch.load(out / "checkpoint.pt", weights_only=True)
    assert {"videobert", "s3d", "kmeans_centroids"} <= set(ckpt)


class _Crash(Exception):
    pass


def _crash_at(line_start: str):
    """A log function that stops the run (as a crash would) when it logs a line starting with ``line_start``."""
    def log(line):
        if line.startswith(line_start):
            raise _Crash(line)
    return log


def test_an_interrupted_pipeline_resumes_to_the_same_end(tmp_path):
    """Crash inside the clip network's training, resume, crash inside VideoBERT's, resume again:
    the models, the histories and the metrics equal an uninterrupted run's."""
    # "step 3/4": only the clip network; "step 4/6": only VideoBERT
    kw = dict(train=dict(steps=6, log_every=1), s3d=dict(steps=4, log_every=1), s3d_pretrain=dict(log_every=1),
              text_bert=dict(log_every=1))
    whole = run("smoke", out_dir=tmp_path / "whole", log=None, **kw)
    out = tmp_path / "crashed"
    with pytest.raises(_Crash, match="step 3/4"):
        run("smoke", out_dir=out, log=_crash_at("step 3/4"), **kw)
    assert load_checkpoint(out / "stages" / "s3d.pt")["step"] == 2
    assert not (out / "stages" / "videobert.pt").exists()
    with pytest.raises(_Crash, match="step 4/6"):
        run("smoke", out_dir=out, resume=True, log=_crash_at("step 4/6"), **kw)
    assert load_checkpoint(out / "stages" / "videobert.pt")["step"] == 3
    resumed = run("smoke", out_dir=out, resume=True, log=None, **kw)

    assert sorted(p.name for p in (out / "stages").iterdir()) == \
        ["s3d.pt", "s3d_pretrain.pt", "text_bert.pt", "videobert.pt"]
    assert resumed["history"]["loss"] == whole["history"]["loss"] and len(whole["history"]["loss"]) == 6
    for key in ("zero_shot", "language_prior", "supervised", "bert_language_prior"):
        assert resumed[key] == whole[key], key
    a, b = (load_checkpoint(d / "checkpoint.pt") for d in (tmp_path / "whole", out))
    for part in ("videobert", "s3d"):
        for name, t in a[part].items():
            assert torch.equal(t, b[part][name]), (part, name)
    # without resume, the same directory starts again from scratch (and ends in the same place)
    again = run("smoke", out_dir=out, log=None, **kw)
    assert again["history"]["loss"] == whole["history"]["loss"]


def test_num_classes_of_the_clip_network():
    assert make_s3d(videobert_recipe("smoke", clip_labels="verb_noun")).config.num_classes == NUM_VERBS + NUM_NOUNS
    assert make_s3d(videobert_recipe("smoke")).config.num_classes == NUM_MOTION_CLASSES + EXEMPLARS


def test_caption_segments_and_bleu():
    v = make_howto_videos(1, size=16, clip_frames=4, seed=5, steps=(3, 3))[0]
    segs = caption_segments(v)
    assert len(segs) == 2
    (a0, b0, c0), (a1, b1, c1) = segs
    assert a0 == 0 and b1 == v.num_clips and a1 < b0  # overlapping pairs of steps
    assert c0 == f"{v.step_sentences[0]} and then {v.step_sentences[1]}"
    refs = ["lift the three and then spin the seven", "push the one and then paint the two"]
    assert bleu4(refs, refs) == pytest.approx(100.0)
    assert bleu4(["seven spin the then and three the lift", "two the paint then and one the push"], refs) < 20
    with pytest.raises(ValueError, match="2 references"):
        bleu4(["a"], refs)


def test_caption_dataset_concatenates_videobert_features():
    r = videobert_recipe("smoke")
    videos = howto_data(r, "train")
    s3d = make_s3d(r).eval()
    feats = clip_features(s3d, videos)
    km = fit_visual_words(r, feats)
    tokens = tokenize_videos(km, feats)
    X, mask, caps = caption_dataset(videos, feats)
    assert X.shape[0] == len(caps) == sum(len(v.steps) - 1 for v in videos) and X.shape[2] == s3d.feature_dim
    assert mask.sum(1).min() >= 2
    vocab = make_vocab()
    vb = make_videobert(r, vocab, km)
    X2, mask2, caps2 = caption_dataset(videos, feats, tokens, vb, vocab)
    assert caps2 == caps and torch.equal(mask2, mask)
    assert X2.shape[2] == s3d.feature_dim + 2 * vb.config.hidden_dim
    assert torch.equal(X2[..., : s3d.feature_dim], X)


def test_trained_models_are_cached_and_reloaded(tmp_path):
    r = videobert_recipe("smoke")
    s3d, hist = trained_s3d(r, cache_dir=tmp_path, log=None)
    assert hist is not None and len(list(tmp_path.glob("s3d-smoke-*.pt"))) == 1
    again, hist2 = trained_s3d(r, cache_dir=tmp_path, log=None)
    assert hist2 is None
    assert all(torch.equal(a, b) for a, b in zip(s3d.state_dict().values(), again.state_dict().values()))
    # another clip-network recipe does not pick up these weights
    _, hist3 = trained_s3d(videobert_recipe("smoke", s3d={"steps": 3}), cache_dir=tmp_path, log=None)
    assert hist3 is not None

    videos = howto_data(r, "train")
    feats = clip_features(s3d, videos)
    km = fit_visual_words(r, feats)
    vocab = make_vocab()
    examples = pretraining_examples(videos, tokenize_videos(km, feats), vocab)
    tb, th, vb, h = trained_videobert(r, examples, vocab, km, cache_dir=tmp_path, log=None)
    assert th is not None and h is not None
    tb2, th2, vb2, h2 = trained_videobert(r, examples, vocab, km, cache_dir=tmp_path, log=None)
    assert th2 is None and h2 is None
    assert all(torch.equal(a, b) for a, b in zip(vb.state_dict().values(), vb2.state_dict().values()))
    assert vb2.num_visual_words == r.num_visual_words and tb2.config.vocab_size == len(vocab)
    _, th3, _, _ = trained_videobert(r, examples, vocab, km, cache_dir=tmp_path, reuse=False, log=None)
    assert th3 is not None  # reuse=False trains (and overwrites)


# -----------------------------------------------------------------------------------------------
# Zero-shot without shortcuts: a clip network that never sees a verb or noun label
# -----------------------------------------------------------------------------------------------


def test_clip_labels_choose_the_clip_networks_task():
    main = videobert_recipe("cpu")
    assert main.clip_labels == "motion" and main.howto["probe_in_narration"] is False  # zero-shot as in the paper
    # the image pretraining follows the task: telling 200 glyphs apart takes longer than naming ten digits
    shortcut = videobert_recipe("cpu", clip_labels="verb_noun")
    assert (main.s3d_pretrain.steps, shortcut.s3d_pretrain.steps) == (1500, 300)
    assert videobert_recipe("cpu", s3d_pretrain=dict(steps=700)).s3d_pretrain.steps == 700  # a given schedule wins
    with pytest.raises(ValueError, match="unknown profile 'laptop'"):
        videobert_recipe("laptop")
    with pytest.raises(ValueError, match=r"clip_labels must be one of \('verb_noun', 'motion'\), got 'nouns'"):
        videobert_recipe("smoke", clip_labels="nouns")
    r = videobert_recipe("smoke", clip_labels="motion")
    assert make_s3d(r).head.out_features == NUM_MOTION_CLASSES + EXEMPLARS
    x, motion, glyph = motion_clips(r)
    assert x.shape == (r.n_s3d * MOTION_CLIPS_PER_VIDEO, 3, r.howto["clip_frames"], r.howto["size"], r.howto["size"])
    assert int(motion.max()) < NUM_MOTION_CLASSES
    known = glyph != -100
    assert known.any() and int(glyph[known].max()) < EXEMPLARS  # the exemplars' glyphs, the rest ignored
    assert (motion_clips(r, "test", 8)[2] == -100).all()  # held-out glyphs are no exemplars
    with pytest.raises(ValueError, match="trains and scores on motion clips; pass videos=None"):
        train_s3d(r, videos=howto_data(r, "s3d"), log=None)
    with pytest.raises(ValueError, match="supervised_eval scores a clip network trained on the verbs and nouns"):
        supervised_eval(make_s3d(r), howto_data(r, "test"))


def test_the_motion_clip_network_never_sees_a_verb_or_noun_label(monkeypatch):
    """Its image pretraining names glyphs, not digits, and its clips come from the motion videos: the
    how-to world's labelled clips and the digit names are never read."""
    import minimodels.recipes.videobert as vb

    def forbidden(*args, **kwargs):
        raise AssertionError("the motion clip network read verb / noun labels")

    monkeypatch.setattr(vb, "labelled_clips", forbidden)
    monkeypatch.setattr(vb, "digit_task", forbidden)
    r = videobert_recipe("smoke", clip_labels="motion")
    model, hist = train_s3d(r, test_clips=20, log=None)
    assert hist["train"].evals and "motion_acc" in hist["train"].evals[-1]
    assert len(hist["pretrain"].loss) == r.s3d_pretrain.steps
    with pytest.raises(ValueError, match="pass videos=None and test_videos=None"):
        train_s3d(r, test_videos=howto_data(r, "test"), log=None)
    with pytest.raises(ValueError, match="test_clips scores held-out motion clips"):
        train_s3d(videobert_recipe("smoke", clip_labels="verb_noun"), test_clips=20, log=None)


def test_zero_shot_arms_switch_exactly_the_two_shortcuts():
    with pytest.raises(ValueError, match="unknown profile 'laptop'"):
        zero_shot_recipe("laptop")
    arms = {name: zero_shot_recipe("cpu", *how) for name, how in ZERO_SHOT_ARMS.items()}
    assert {(r.howto["probe_in_narration"], r.clip_labels) for r in arms.values()} == {
        (True, "verb_noun"), (False, "verb_noun"), (True, "motion"), (False, "motion")}
    base = videobert_recipe("cpu")
    assert arms["zero-shot: neither shortcut"] == base  # the main recipe takes neither shortcut
    shortcut = videobert_recipe("cpu", clip_labels="verb_noun")
    for r in arms.values():
        assert r.train == base.train and r.kmeans_k == base.kmeans_k and r.n_train == base.n_train
        assert r.s3d_pretrain == (base if r.clip_labels == "motion" else shortcut).s3d_pretrain


def test_word_purity_scores_words_by_the_training_majority():
    videos = make_howto_videos(6, size=8, clip_frames=2, seed=4)
    verbs = [v.clip_verbs for v in videos]
    perfect = word_purity(videos, verbs, videos, verbs, NUM_VERBS)  # the verb itself as the word
    assert perfect["verb"] == 1.0 and perfect["noun"] < 1.0
    one_word = [torch.zeros_like(t) for t in verbs]
    assert word_purity(videos, one_word, videos, one_word, 1)["verb"] < 0.5
    with pytest.raises(ValueError, match="one visual word per clip expected"):
        word_purity(videos, verbs[:1], videos, verbs, NUM_VERBS)
    with pytest.raises(ValueError, match="one visual word per clip expected"):
        word_purity(videos, verbs, videos, verbs[:1], NUM_VERBS)
    named = word_labels(videos, verbs, NUM_VERBS)  # each verb its own word: every word names its verb
    used = torch.cat(verbs).unique()
    assert torch.equal(named["verb"][used], used) and named["noun"].shape == (NUM_VERBS,)
    with pytest.raises(ValueError, match=r"visual words must lie in \[0, 3\)"):
        word_labels(videos, verbs, 3)


def test_data_size_arms_pretrain_on_a_share_of_the_same_videos():
    shares = {s: data_size_recipe("cpu", s) for s in DATA_SHARES}
    assert [r.n_pretrain for r in shares.values()] == [75, 150, 300, None]
    assert len({(r.n_train, r.kmeans_k, r.clip_labels) for r in shares.values()}) == 1  # the same visual words
    with pytest.raises(ValueError, match=r"n_pretrain must be None or in 2..n_train \(600\), got 601"):
        videobert_recipe("cpu", n_pretrain=601)
    with pytest.raises(ValueError, match="unknown share '1/3'"):
        data_size_recipe("cpu", "1/3")


def test_captioning_arms_change_only_the_captioner():
    from minimodels.recipes.videobert import CAPTION_BUDGETS, CAPTION_FEATURES, captioning_recipe

    base = videobert_recipe("cpu")
    arms = {(b, f): captioning_recipe("cpu", b, f) for b in CAPTION_BUDGETS for f in CAPTION_FEATURES}
    for (budget, features), r in arms.items():
        assert r.n_captions == CAPTION_BUDGETS[budget][0] and r.caption_features == features
        # everything before the captioner is the main recipe's: one VideoBERT per seed serves every arm
        assert {k: v for k, v in vars(r).items() if k not in ("n_captions", "caption_features", "caption")} == \
            {k: v for k, v in vars(base).items() if k not in ("n_captions", "caption_features", "caption")}
    assert [arms[b, "S3D"].caption.steps for b in CAPTION_BUDGETS] == [300, 300, 600, base.caption.steps]
    assert [arms[b, "S3D"].caption.warmup_steps for b in CAPTION_BUDGETS] == [30, 30, 60, base.caption.warmup_steps]
    with pytest.raises(ValueError, match="unknown caption budget '10 captions'"):
        captioning_recipe("cpu", "10 captions", "S3D")
    with pytest.raises(ValueError, match=r"caption_features must be one of \('S3D', 'VideoBERT \+ S3D'\), got 'BERT'"):
        captioning_recipe("cpu", "60 captions", "BERT")
    with pytest.raises(ValueError, match="n_captions must be None .* or a positive int, got 0"):
        videobert_recipe("cpu", n_captions=0)


def test_captioning_arms_share_one_videobert_and_score_the_held_out_segments(monkeypatch):
    from minimodels.recipes import videobert as vb

    trained = []
    real = vb.trained_videobert
    monkeypatch.setattr(vb, "trained_videobert", lambda *a, **kw: trained.append(1) or real(*a, **kw))
    cache = {}
    out = {(b, f): vb.run_captioning_arm(vb.captioning_recipe("smoke", b, f), cache)
           for b in ("60 captions", "all captions") for f in vb.CAPTION_FEATURES}
    assert len(trained) == 1  # VideoBERT trained once for both of its arms; S3D's arms need none
    vw = cache["words"][1]
    n_segments = sum(len(vb.caption_segments(v)) for v in vw.train_videos)
    assert all(o["captions"] == min(n_segments, 60) for (b, _), o in out.items() if b == "60 captions")
    assert all(o["captions"] == n_segments for (b, _), o in out.items() if b == "all captions")
    assert all(0 <= o["bleu4"] <= 100 for o in out.values())
    import dataclasses

    few = vb.run_captioning_arm(dataclasses.replace(vb.captioning_recipe("smoke", "60 captions", "S3D"), n_captions=3),
                                cache)
    assert few["captions"] == 3 and len(trained) == 1
