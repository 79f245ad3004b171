"""minimodels.schematics: the three architecture figures draw, carry a real model's numbers,
fit their canvas, and refuse bad arguments with a clear message."""

import ast
import dataclasses
import itertools
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pytest
import torch
from matplotlib.text import Text

import minimodels
from minimodels import schematics, vivit
from minimodels.schematics import segformer_schematic, segformer_shapes, videobert_schematic, vivit_schematic
from minimodels.segformer import SegFormer, SegFormerConfig

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def b0():
    torch.manual_seed(0)
    return SegFormer.from_variant("b0", num_classes=19)


def texts(fig) -> list[str]:
    return [t.get_text() for t in fig.findobj(Text) if t.get_text()]


def shapes_in(fig) -> set[str]:
    """Every 'AxBxC'-like label on the figure (the figure writes shapes with '×')."""
    return {s for t in texts(fig) for s in re.findall(r"\d+(?:×\d+)+", t)}


def layout_problems(fig) -> list[str]:
    """Text that leaves the figure, and pairs of texts that overlap, once rendered."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    W, H = fig.bbox.width, fig.bbox.height
    boxes, problems = [], []
    for t in fig.findobj(Text):
        if not t.get_text():
            continue
        b = t.get_window_extent(renderer)
        if b.x0 < 0 or b.y0 < 0 or b.x1 > W or b.y1 > H:
            problems.append(f"outside the figure: {t.get_text()!r}")
        boxes.append((t.get_text(), b))
    for (a, ba), (c, bc) in itertools.combinations(boxes, 2):
        if ba.overlaps(bc):
            problems.append(f"overlap: {a!r} and {c!r}")
    return problems


def tiny_vivit_config(**fields):
    """2 x 2 x 2 tokens (4 frames of 8x8, tubelet 2x4x4), one block per encoder, two heads."""
    base = dict(hidden_dim=16, depth=1, num_heads=2, mlp_dim=32, num_classes=3, num_frames=4, image_size=8,
                tubelet=(2, 4, 4), temporal_layers=1)
    return vivit.ViViTConfig(**{**base, **fields})


# ------------------------------------------------------------------------------ SegFormer


@pytest.mark.parametrize("size", [(64, 64), (96, 128)])
def test_segformer_labels_are_the_shapes_of_a_forward_pass(b0, size):
    fig = segformer_schematic(b0, size)
    labels = shapes_in(fig)
    b0.eval()
    with torch.no_grad():
        x = torch.zeros(1, 3, *size)
        features = b0.encoder(x)
        logits = b0(x)
    b0.train()
    expected = [schematics.shape_text(f.shape[1:]) for f in features] + [schematics.shape_text(logits.shape[1:])]
    expected.append(f"3×{size[0]}×{size[1]}")
    h4, w4 = logits.shape[-2:]
    expected += [f"256×{h4}×{w4}", f"1024×{h4}×{w4}"]  # decoder width C, and the 4C concatenation
    assert set(expected) <= labels, f"missing {set(expected) - labels}"
    assert f"{size[0]}×{size[1]} image" in " ".join(texts(fig))


def test_segformer_labels_change_with_the_input_size(b0):
    small = shapes_in(segformer_schematic(b0, (64, 64)))
    large = shapes_in(segformer_schematic(b0, 96))
    assert "32×16×16" in small and "256×2×2" in small and "19×16×16" in small
    assert "32×24×24" in large and "256×3×3" in large and "19×24×24" in large
    assert not {"32×16×16", "256×2×2", "19×16×16"} & large


def test_segformer_shapes_read_by_hooks_leave_the_model_as_it_was(b0):
    before = {k: v.clone() for k, v in b0.state_dict().items()}
    b0.train()
    shapes = segformer_shapes(b0, (64, 96))
    assert b0.training
    assert all(torch.equal(before[k], v) for k, v in b0.state_dict().items()), "the BatchNorm statistics moved"
    assert not any(m._forward_hooks for m in b0.modules()), "a hook was left behind"
    assert shapes["stages"] == [(32, 16, 24), (64, 8, 12), (160, 4, 6), (256, 2, 3)]
    assert shapes["mlp"] == [(256, 16, 24), (256, 8, 12), (256, 4, 6), (256, 2, 3)]
    assert shapes["upsampled"] == [(256, 16, 24)] * 4
    assert shapes["concat"] == (1024, 16, 24) and shapes["fuse"] == (256, 16, 24)
    assert shapes["logits"] == (19, 16, 24) and shapes["input"] == (3, 64, 96)


def test_segformer_schematic_follows_the_config():
    model = SegFormer(SegFormerConfig(embed_dims=(8, 16, 24, 32), depths=(1, 3, 1, 2), num_heads=(1, 2, 3, 4),
                                      decoder_dim=12, num_classes=5))
    words = " ".join(texts(segformer_schematic(model, 64)))
    assert "SegFormer-B" not in words  # not a named variant
    for label in ("×1", "×3", "MLP 24→12", "Concat → 48×16×16", "MLP → 5 classes", "R=64, 1 head", "R=4, 3 heads"):
        assert label in words


@pytest.mark.parametrize("call, error, message", [
    (lambda m: segformer_schematic("b0"), TypeError, "expects a minimodels.segformer.SegFormer, got str"),
    (lambda m: segformer_schematic(m, (64, "64")), ValueError, r"input_size must be a positive int or an \(height"),
    (lambda m: segformer_schematic(m, 0), ValueError, r"segformer_schematic: input_size .* got \(0, 0\)"),
    (lambda m: segformer_schematic(m, 16), ValueError, "too small"),
    (lambda m: segformer_shapes(torch.nn.Linear(2, 2)), TypeError, "SegFormer, got Linear"),
])
def test_segformer_bad_arguments(b0, call, error, message):
    with pytest.raises(error, match=message):
        call(b0)


# ------------------------------------------------------------------------------ ViViT


def test_vivit_counts_of_the_paper_config():
    """ViViT-B/16x2, 32 frames of 224x224: n_t = 16, n_h = n_w = 14."""
    counts = schematics.vivit_token_counts(vivit.ViViTConfig())
    assert counts == {
        1: [("joint", 1, 16 * 196 + 1, 12)],
        2: [("spatial", 16, 196 + 1, 12), ("temporal", 1, 16 + 1, 12)],
        3: [("spatial", 16, 196, 12), ("temporal", 196, 16, 12)],
        4: [("temporal", 196, 16, 6), ("spatial", 16, 196, 6)],
    }
    words = " ".join(texts(vivit_schematic()))
    for label in ("16×14×14 = 3,136 tokens", "1 sequence × 3,137 tokens", "16 frames × 197 tokens",
                  "1 sequence × 17 tokens", "196 positions × 16 tokens", "16 frames × 196 tokens", "heads 1–6: time",
                  "heads 7–12: space"):
        assert label in words, label


@pytest.mark.parametrize("fields", [
    dict(),
    dict(spatial_pooling="mean", temporal_layers=2),
    dict(num_frames=8, image_size=(8, 12), num_heads=4),
])
def test_vivit_counts_are_the_sequences_a_forward_pass_attends_over(fields):
    """For each model, the (sequences, tokens, heads) of every attention call of a real forward."""
    config = tiny_vivit_config(**fields)
    counts = schematics.vivit_token_counts(config)
    for m in vivit.MODELS:
        model = vivit.ViViT(dataclasses.replace(config, model=m, classifier=None)).eval()
        calls = []
        for module in model.modules():
            if isinstance(module, vivit.Attention):
                module.attend = lambda q, k, v, f=module.attend: calls.append(tuple(q.shape[:3])) or f(q, k, v)
        with torch.no_grad():
            model(torch.zeros(1, 3, config.num_frames, *config.image_size))
        steps = [(seqs, heads, tokens) for _, seqs, tokens, heads in counts[m]]
        if m == 2:
            assert calls == [steps[0]] * config.depth + [steps[1]] * config.temporal_layers
        else:
            assert calls == steps * config.depth, m


def test_vivit_figure_changes_with_the_config():
    config = vivit.variant_config("Ti/8x2", model=3, num_frames=16, image_size=64, num_heads=4)
    n_t, n_h, n_w = 16 // 2, 64 // 8, 64 // 8
    words = " ".join(texts(vivit_schematic(config)))
    assert f"{n_t}×{n_h}×{n_w} = {n_t * n_h * n_w:,} tokens" in words
    assert f"1 sequence × {n_t * n_h * n_w + 1:,} tokens" in words
    assert f"{n_h * n_w} positions × {n_t} tokens" in words
    assert f"{n_t} frames × {n_h * n_w + 1} tokens" in words
    assert "3,137" not in words
    # Model 2 without temporal layers: the frame tokens are averaged, no temporal step
    words = " ".join(texts(vivit_schematic(dataclasses.replace(config, model=2, temporal_layers=0))))
    assert f"the {n_t} frame tokens" in words and "1 sequence × 9 tokens" not in words


def test_vivit_model_4_panel_with_an_odd_head_count():
    counts = schematics.vivit_token_counts(tiny_vivit_config(num_heads=1))
    assert counts[4] == [] and counts[3]
    assert "needs an even count" in " ".join(texts(vivit_schematic(tiny_vivit_config(num_heads=1))))


def test_vivit_accepts_a_model():
    config = tiny_vivit_config(model=3, classifier=None)
    assert schematics.vivit_token_counts(vivit.ViViT(config)) == schematics.vivit_token_counts(config)


@pytest.mark.parametrize("arg, error, message", [
    (SegFormerConfig(), TypeError, "expects a minimodels.vivit.ViViTConfig .* got SegFormerConfig"),
    (vivit.ViViTConfig(num_frames=31), ValueError, r"31 frames × 224×224 must be divisible by the tubelet"),
    (vivit.ViViTConfig(image_size=200), ValueError, "must be divisible by the tubelet"),
    (vivit.ViViTConfig(model=5), ValueError, r"unknown model 5; expected one of \[1, 2, 3, 4\]"),
    (vivit.ViViTConfig(model=4, num_heads=3, hidden_dim=48), ValueError, "num_heads must be even, got 3"),
])
def test_vivit_bad_arguments(arg, error, message):
    with pytest.raises(error, match=message):
        vivit_schematic(arg)


# ------------------------------------------------------------------------------ VideoBERT


def test_videobert_paper_numbers_by_default():
    words = " ".join(texts(videobert_schematic()))
    for label in ("20 fps", "30 frames = 1.5 s", "1,024-d", "4 levels of 12", "= 20,736", "WordPiece",
                  "30,522 + 20,736 visual words", "24 layers", "[>]", "[CLS]", "[SEP]", "[MASK]", "alignment"):
        assert label in words, label


def test_videobert_numbers_come_from_the_arguments():
    fig = videobert_schematic(levels=2, branching=3, feature_dim=64, fps=2.5, clip_frames=8, text_vocab_size=120,
                              text_tokens="word", bert_layers=2, bert_hidden=32)
    words = " ".join(texts(fig))
    for label in ("2.5 fps", "8 frames = 3.2 s", "64-d", "2 levels of 3", "= 9", "word tokens", "120 + 9 visual words",
                  "2 layers, d = 32"):
        assert label in words, label
    assert "20,736" not in words and "1.5 s" not in words
    visual = [int(w[1:]) for w in words.split() if re.fullmatch(r"v\d+", w)]
    assert visual and all(0 <= v < 9 for v in visual), "example visual words must exist in the vocabulary"


@pytest.mark.parametrize("kwargs, message", [
    (dict(levels=0), "levels must be an int >= 1, got 0"),
    (dict(branching=1), "branching must be an int >= 2, got 1"),
    (dict(feature_dim=10.5), "feature_dim must be an int >= 1, got 10.5"),
    (dict(fps=0), "fps must be a positive number, got 0"),
    (dict(fps=float("nan")), "fps must be a positive number, got nan"),
    (dict(clip_frames=True), "clip_frames must be an int >= 1, got True"),
    (dict(text_tokens=""), "text_tokens must name the text tokens"),
])
def test_videobert_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        videobert_schematic(**kwargs)


# ------------------------------------------------------------------------------ all three


@pytest.fixture(scope="module")
def figures(b0):
    return {
        "segformer": lambda **kw: segformer_schematic(b0, **kw),
        "segformer_odd_size": lambda **kw: segformer_schematic(b0, (100, 75), **kw),
        "vivit": lambda **kw: vivit_schematic(**kw),
        "vivit_small": lambda **kw: vivit_schematic(tiny_vivit_config(num_frames=2, tubelet=(1, 8, 8)), **kw),
        "videobert": lambda **kw: videobert_schematic(**kw),
        "videobert_reduced": lambda **kw: videobert_schematic(levels=2, branching=3, fps=4, clip_frames=8, **kw),
    }


def test_every_figure_fits_a_slide_readably(figures):
    for name, draw in figures.items():
        fig = draw()
        assert tuple(fig.get_size_inches()) == schematics.DESIGN
        sizes = [t.get_fontsize() for t in fig.findobj(Text) if t.get_text()]
        assert min(sizes) >= 11, f"{name}: a font of {min(sizes)} pt"
        assert layout_problems(fig) == [], name


def test_drawing_into_given_axes_scales_the_fonts(figures):
    for name, draw in figures.items():
        fig = plt.figure(figsize=(6, 3.25))
        ax = fig.add_axes((0, 0, 1, 1))
        assert draw(ax=ax) is fig
        sizes = [t.get_fontsize() for t in fig.findobj(Text) if t.get_text()]
        assert min(sizes) == pytest.approx(5.5), name


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(figsize=(12,)), ValueError, r"figsize must be \(width, height\) in inches, two positive numbers, got \(12,\)"),
    (dict(figsize=(12, -1)), ValueError, "two positive numbers"),
    (dict(ax="left"), TypeError, "ax must be a matplotlib Axes or None, got str"),
])
def test_bad_canvas_arguments(figures, kwargs, error, message):
    for draw in figures.values():
        with pytest.raises(error, match=message):
            draw(**kwargs)


def test_ax_and_figsize_together_are_refused():
    fig, ax = plt.subplots()
    with pytest.raises(ValueError, match="give ax or figsize, not both"):
        videobert_schematic(ax=ax, figsize=(12, 6.5))


def test_no_model_module_imports_the_schematics():
    package = Path(minimodels.__file__).parent
    for name in ("segformer", "vivit", "videobert", "bert", "s3d", "captioner"):
        tree = ast.parse((package / f"{name}.py").read_text())
        imported = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
        imported += [f"{n.module or ''}.{a.name}" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)
                     for a in n.names]
        assert not any("schematics" in i for i in imported), f"{name}.py imports the schematics"
