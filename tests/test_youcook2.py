"""YouCook2 annotations: the loader and clip mapping, on the sample in data_samples/youcook2."""

import importlib.util
import json
from pathlib import Path

import pytest

from minimodels.data.howto import NOUNS, VERBS
from minimodels.data.video import read_video
from minimodels.data.youcook2 import YouCook2Video, load_youcook2, segments_to_clips

REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO / "data_samples"
ROOT = SAMPLES / "youcook2"
ANNOTATIONS = ROOT / "youcookii_annotations_trainval.json"


@pytest.fixture(scope="module")
def make_samples():
    spec = importlib.util.spec_from_file_location("make_samples", SAMPLES / "make_samples.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def howto(make_samples):
    return make_samples.youcook2_videos()


def test_load_sample():
    videos = load_youcook2(ANNOTATIONS)
    assert [v.video_id for v in videos] == ["digitworld0", "digitworld1", "digitworld2"]
    assert all(isinstance(v, YouCook2Video) for v in videos)
    assert [v.subset for v in videos] == ["training", "training", "validation"]
    assert [v.video_id for v in load_youcook2(ANNOTATIONS, subset="validation")] == ["digitworld2"]
    assert load_youcook2(ANNOTATIONS, subset="testing") == []
    for v in videos:
        assert v.recipe_type == "000" and 3 <= len(v.segments) <= 4 and v.segment_ids == tuple(range(len(v.segments)))
        assert v.segments[0][0] == 0 and v.segments[-1][1] == v.duration
        for (_, end, _), (start, _, _) in zip(v.segments, v.segments[1:]):
            assert end == start  # the steps tile the video
        for sentence in v.sentences:
            verb, the, noun = sentence.split()
            assert verb in VERBS and the == "the" and noun in NOUNS


def test_sample_matches_the_howto_world(howto):
    """The sample's ids, durations and segments are those of the how-to videos it was made from."""
    for v, h in zip(load_youcook2(ANNOTATIONS), howto):
        assert v.duration == h.duration
        assert v.segments == h.step_segments()
        # sentence -> clips: every clip a sentence gets shows that sentence's verb and noun
        mapping = segments_to_clips(v.segments, h.clip_seconds, v.duration)
        assert sorted(c for idx in mapping for c in idx) == list(range(h.num_clips))
        for (verb, noun, _, _), idx in zip(h.steps, mapping):
            assert idx and all(h.clip_verbs[c] == verb and h.clip_nouns[c] == noun for c in idx)


def test_sample_videos_decode_to_the_rendered_frames(howto):
    for v, h in zip(load_youcook2(ANNOTATIONS), howto):
        path = ROOT / v.video_url
        assert path.is_file(), path
        frames, fps = read_video(path)
        assert fps == h.fps and frames.shape == (h.num_frames, 48, 48, 3)
        assert frames.shape[0] / fps == v.duration
        rendered = h.frames.permute(1, 2, 3, 0) * 255
        assert (frames.float() - rendered).abs().mean() < 12  # lossy codec at 40 kbit/s (measured 4.0-9.9)
    total = sum(p.stat().st_size for p in ROOT.rglob("*") if p.is_file())
    assert total < 300_000


def test_sample_script_regenerates_the_same_annotations(make_samples, tmp_path):
    written = make_samples.make_youcook2(tmp_path)
    assert written[0].read_bytes() == ANNOTATIONS.read_bytes()
    for path in written[1:]:
        committed = ROOT / path.relative_to(tmp_path / "youcook2")
        new, old = read_video(path)[0].float(), read_video(committed)[0].float()
        assert new.shape == old.shape and (new - old).abs().mean() < 1.0, path.name


def test_segments_to_clips():
    # clips of 2 s: a clip belongs to the segment that holds its centre (1, 3, 5, ... s)
    segs = [(0, 4, "a"), (4, 5, "b"), (5, 9.5, "c"), (9.2, 9.4, "d")]
    # "b" holds no centre (5 s belongs to "c"): it gets the clip of its midpoint, shared with "c"
    assert segments_to_clips(segs, 2.0, 10.0) == [[0, 1], [2], [2, 3, 4], [4]]
    assert segments_to_clips([(8.5, 9.0)], 2.0, 9.0) == [[]]  # the last, partial clip is dropped
    assert segments_to_clips([(0.0, 10.0)], 2.5, 10.0) == [[0, 1, 2, 3]]
    with pytest.raises(ValueError, match="clip_seconds"):
        segments_to_clips(segs, 0, 10.0)
    with pytest.raises(ValueError, match=r"segment 1 \[5.0, 4.0\]"):
        segments_to_clips([(0, 1), (5, 4)], 1.0, 10.0)
    with pytest.raises(ValueError, match="duration"):
        segments_to_clips([(0, 11)], 1.0, 10.0)


def _write(tmp_path, edit):
    data = json.loads(ANNOTATIONS.read_text())
    edit(data["database"])
    path = tmp_path / "ann.json"
    path.write_text(json.dumps(data))
    return path


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda db: db["digitworld1"].pop("duration"), r"video 'digitworld1' lacks the keys \['duration'\]"),
        (lambda db: db["digitworld0"]["annotations"][2].pop("sentence"), "video 'digitworld0' annotation 2 lacks"),
        (lambda db: db["digitworld1"]["annotations"][1].update(segment=[8, 4]), "'digitworld1' segment id 1.*ends before"),
        (lambda db: db["digitworld2"]["annotations"][2].update(segment=[12, 30]), "'digitworld2' segment id 2.*duration 18"),
        (lambda db: db["digitworld2"]["annotations"][0].update(segment=[-1, 3]), "'digitworld2' segment id 0.*outside"),
        (lambda db: db["digitworld0"].update(subset="train"), "subset 'train'"),
        (lambda db: db["digitworld0"]["annotations"][0].update(segment="0-4"), r"segment must be \[start, end\]"),
    ],
)
def test_validation_errors_name_the_video_and_segment(tmp_path, edit, message):
    with pytest.raises(ValueError, match=message):
        load_youcook2(_write(tmp_path, edit))


def test_file_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_youcook2(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        load_youcook2(bad)
    bad.write_text('{"videos": {}}')
    with pytest.raises(ValueError, match="database"):
        load_youcook2(bad)
    with pytest.raises(ValueError, match="subset"):
        load_youcook2(ANNOTATIONS, subset="val")


def test_a_file_that_is_not_utf8_names_the_file_and_the_encoding(tmp_path):
    text = ANNOTATIONS.read_text(encoding="utf-8").replace("spin the five", "sauté the five")  # a non-ASCII letter
    assert "é" in text
    for encoding, found in (("utf-16", r"UTF-16 \(little-endian\) text \(byte-order mark ff fe\)"),
                            ("utf-32", r"UTF-32 \(little-endian\) text"),
                            ("utf-16-be", "NUL bytes at its start")):
        other = tmp_path / f"{encoding}.json"
        other.write_text(text, encoding=encoding)
        with pytest.raises(ValueError, match=rf"{encoding}.json (is|has) {found}.*expected UTF-8 JSON"):
            load_youcook2(other)
    latin = tmp_path / "latin1.json"
    latin.write_text(text, encoding="latin-1")
    offset = text.encode("latin-1").index("é".encode("latin-1"))
    with pytest.raises(ValueError, match=rf"latin1.json is not UTF-8 text: byte 0xe9 at offset {offset} is invalid "
                                         r"in UTF-8 \(Latin-1 or Windows-1252 text\?\); expected UTF-8 JSON"):
        load_youcook2(latin)
    bom = tmp_path / "bom.json"  # a UTF-8 byte-order mark (as Windows editors write) is read as UTF-8
    bom.write_text(text, encoding="utf-8-sig")
    assert load_youcook2(bom)[0].sentences[0] == "sauté the five"
