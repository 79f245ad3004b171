"""YouCook2 annotations: the format VideoBERT's zero-shot and captioning evaluations read.

YouCook2 (Zhou, Xu and Corso, AAAI 2018) is 2000 YouTube cooking videos from 89 recipes,
each cut into 3-16 procedure steps with a start and end time and a sentence written by
an annotator. The annotations ship as one JSON file,
``youcookii_annotations_trainval.json``::

    {"database": {
        "<video id>": {
            "duration": 241.62,               # seconds
            "subset": "training",             # or "validation" ("testing" in the test file)
            "recipe_type": "113",
            "video_url": "https://www.youtube.com/watch?v=<video id>",
            "annotations": [
                {"id": 0, "segment": [90, 102], "sentence": "spread margarine on two slices of white bread"},
                ...]},
        ...}}

:func:`load_youcook2` reads and checks it; :func:`segments_to_clips` maps the sentences
onto the non-overlapping clips a video is cut into, which is how VideoBERT pairs a
sentence with its video tokens.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

SUBSETS = ("training", "validation", "testing")
_VIDEO_KEYS = ("duration", "subset", "recipe_type", "annotations")
_SEGMENT_KEYS = ("id", "segment", "sentence")


@dataclass
class YouCook2Video:
    """One annotated video: segments are (start s, end s, sentence), in the file's order."""

    video_id: str
    duration: float
    subset: str
    recipe_type: str
    segments: list
    video_url: str = ""
    segment_ids: tuple = ()

    @property
    def sentences(self) -> list:
        return [s for _, _, s in self.segments]


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _parse_video(video_id, entry, where) -> YouCook2Video:
    if not isinstance(entry, dict):
        raise ValueError(f"{where}: video {video_id!r} must be an object, got {type(entry).__name__}")
    missing = [k for k in _VIDEO_KEYS if k not in entry]
    if missing:
        raise ValueError(f"{where}: video {video_id!r} lacks the keys {missing} (expected {list(_VIDEO_KEYS)})")
    duration, subset = entry["duration"], entry["subset"]
    if not _is_number(duration) or duration <= 0:
        raise ValueError(f"{where}: video {video_id!r} has duration {duration!r}, expected a positive number (s)")
    if subset not in SUBSETS:
        raise ValueError(f"{where}: video {video_id!r} has subset {subset!r}, expected one of {SUBSETS}")
    if not isinstance(entry["annotations"], list):
        got = type(entry["annotations"]).__name__
        raise ValueError(f"{where}: video {video_id!r}: annotations must be a list, got {got}")
    segments, ids = [], []
    for k, ann in enumerate(entry["annotations"]):
        if not isinstance(ann, dict):
            raise ValueError(f"{where}: video {video_id!r} annotation {k} must be an object, got {type(ann).__name__}")
        missing = [key for key in _SEGMENT_KEYS if key not in ann]
        if missing:
            raise ValueError(
                f"{where}: video {video_id!r} annotation {k} lacks the keys {missing} (expected {list(_SEGMENT_KEYS)})"
            )
        seg_id, seg, sentence = ann["id"], ann["segment"], ann["sentence"]
        name = f"video {video_id!r} segment id {seg_id!r}"
        if not (isinstance(seg, list) and len(seg) == 2 and all(_is_number(t) for t in seg)):
            raise ValueError(f"{where}: {name}: segment must be [start, end] in seconds, got {seg!r}")
        start, end = float(seg[0]), float(seg[1])
        if end < start:
            raise ValueError(f"{where}: {name}: segment [{start}, {end}] ends before it starts")
        if start < 0 or end > duration:
            raise ValueError(f"{where}: {name}: segment [{start}, {end}] lies outside the video's duration {duration}")
        if not isinstance(sentence, str) or not sentence.strip():
            raise ValueError(f"{where}: {name}: sentence must be a non-empty string, got {sentence!r}")
        segments.append((start, end, sentence))
        ids.append(seg_id)
    return YouCook2Video(
        video_id=str(video_id),
        duration=float(duration),
        subset=subset,
        recipe_type=str(entry["recipe_type"]),
        segments=segments,
        video_url=str(entry.get("video_url", "")),
        segment_ids=tuple(ids),
    )


_BOMS = ((b"\xff\xfe\x00\x00", "UTF-32 (little-endian)"), (b"\x00\x00\xfe\xff", "UTF-32 (big-endian)"),
         (b"\xff\xfe", "UTF-16 (little-endian)"), (b"\xfe\xff", "UTF-16 (big-endian)"))


def _utf8_text(path: Path) -> str:
    """The file as UTF-8 text (JSON's encoding, RFC 8259), a leading UTF-8 byte-order mark
    dropped; other encodings are errors naming the file and the encoding found."""
    data = path.read_bytes().removeprefix(b"\xef\xbb\xbf")
    for bom, name in _BOMS:
        if data.startswith(bom):
            raise ValueError(f"{path} is {name} text (byte-order mark {bom.hex(' ')}); expected UTF-8 JSON "
                             "(re-save it as UTF-8)")
    if b"\x00" in data[:4]:
        raise ValueError(f"{path} has NUL bytes at its start, as UTF-16 or UTF-32 text without a byte-order mark "
                         "does; expected UTF-8 JSON (re-save it as UTF-8)")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ValueError(
            f"{path} is not UTF-8 text: byte {data[err.start]:#04x} at offset {err.start} is invalid in UTF-8 "
            "(Latin-1 or Windows-1252 text?); expected UTF-8 JSON (re-save it as UTF-8)"
        ) from err


def load_youcook2(path, subset: str | None = None) -> list[YouCook2Video]:
    """Read a YouCook2 annotation file: a list of :class:`YouCook2Video`, in the file's order.

    ``subset`` keeps only "training", "validation" or "testing" videos (None: all).
    Errors name the file, the video id and the segment id: a missing key, a segment
    that ends before it starts or lies outside the video's duration, an unknown subset;
    and a file that is not UTF-8 JSON (JSON's encoding; a UTF-8 byte-order mark is fine).
    """
    if subset is not None and subset not in SUBSETS:
        raise ValueError(f"subset must be None or one of {SUBSETS}, got {subset!r}")
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"YouCook2 annotation file {path} does not exist (e.g. youcookii_annotations_trainval.json)"
        )
    try:
        data = json.loads(_utf8_text(path))
    except json.JSONDecodeError as err:
        raise ValueError(f"{path} is not valid JSON: {err}") from err
    if not isinstance(data, dict) or not isinstance(data.get("database"), dict):
        raise ValueError(f'{path}: expected an object {{"database": {{video_id: {{...}}}}}} at the top level')
    videos = [_parse_video(vid, entry, path) for vid, entry in data["database"].items()]
    return [v for v in videos if subset is None or v.subset == subset]


def segments_to_clips(segments, clip_seconds: float, duration: float) -> list[list[int]]:
    """The clips that go with each segment: one list of clip indices per segment.

    A video of ``duration`` seconds is cut into ``floor(duration / clip_seconds)``
    non-overlapping clips (clip k covers [k c, (k + 1) c); a last partial clip is
    dropped, as when a video is cut into fixed windows). A clip belongs to a segment when
    its centre lies in the segment's [start, end); a segment too short to hold a clip
    centre gets the clip that holds its midpoint (if that clip exists), so every sentence
    has video. ``segments``: (start, end, ...) tuples in seconds (e.g.
    :attr:`YouCook2Video.segments`).
    """
    if not _is_number(clip_seconds) or clip_seconds <= 0:
        raise ValueError(f"clip_seconds must be a positive number, got {clip_seconds!r}")
    if not _is_number(duration) or duration <= 0:
        raise ValueError(f"duration must be a positive number of seconds, got {duration!r}")
    n_clips = int(math.floor(duration / clip_seconds + 1e-9))
    out = []
    for k, seg in enumerate(segments):
        if not (isinstance(seg, (tuple, list)) and len(seg) >= 2 and _is_number(seg[0]) and _is_number(seg[1])):
            raise ValueError(f"segment {k} must be (start, end, ...) in seconds, got {seg!r}")
        start, end = float(seg[0]), float(seg[1])
        if end < start or start < 0 or end > duration + 1e-9:
            raise ValueError(f"segment {k} [{start}, {end}] must satisfy 0 <= start <= end <= duration ({duration} s)")
        first = max(0, math.ceil(start / clip_seconds - 0.5 - 1e-9))  # first clip with centre >= start
        last = min(n_clips, math.ceil(end / clip_seconds - 0.5 - 1e-9))  # clips with centre < end
        idx = list(range(first, last))
        if not idx:
            mid = int((start + end) / 2 // clip_seconds)
            idx = [mid] if mid < n_clips else []
        out.append(idx)
    return out
