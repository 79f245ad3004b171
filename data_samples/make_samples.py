"""Write the small sample files in data_samples/: real dataset formats, DigitWorld content.

    python data_samples/make_samples.py            # (re)writes data_samples/<dataset>/
    python data_samples/make_samples.py --out DIR  # writes DIR/<dataset>/ instead

Deterministic and offline: every file is rendered from minimodels' DigitWorld (scikit-
learn's bundled handwritten digits) with fixed seeds, so running it again gives the same
pixels. One function per dataset format; each returns the paths it wrote.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

HERE = Path(__file__).resolve().parent
try:
    from minimodels.data.digitworld import make_scenes
except ImportError:  # running from a checkout without `pip install -e .`
    sys.path.insert(0, str(HERE.parent))
    from minimodels.data.digitworld import make_scenes
from minimodels.data.howto import make_howto_videos
from minimodels.data.motion import MOTION_CLASSES, make_motion_videos
from minimodels.data.video import write_video

ADE_SEED = 2016
# (file name, split, (height, width), DigitWorld split); validation images use held-out digits
ADE_SAMPLES = [
    ("ADE_train_00000001", "training", (96, 128), "train"),
    ("ADE_train_00000002", "training", (128, 96), "train"),
    ("ADE_train_00000003", "training", (112, 144), "train"),
    ("ADE_train_00000004", "training", (80, 120), "train"),
    ("ADE_val_00000001", "validation", (96, 128), "test"),
    ("ADE_val_00000002", "validation", (120, 160), "test"),
]
JPEG_QUALITY = 90


def ade20k_label(mask: torch.Tensor) -> np.ndarray:
    """DigitWorld mask (H, W) in 0..10 -> ADE20K-style raw annotation, uint8 (H, W).

    Raw ADE20K values are 0 = "other" (unlabelled) and 1..150 = classes. Here the
    background becomes 1 and digit d becomes d + 2, and the one-pixel ring just outside
    every digit becomes 0, like the unlabelled seams between objects in real ADE20K maps.
    After ``reduce_zero_label`` (0 -> 255, v -> v - 1) the labels are the DigitWorld
    classes again, with 255 on the rings.
    """
    digit = (mask > 0).float()[None, None]
    ring = (F.max_pool2d(digit, 3, stride=1, padding=1)[0, 0] > 0) & (mask == 0)
    raw = mask + 1
    raw[ring] = 0
    return raw.to(torch.uint8).numpy()


def make_ade20k(out_dir: Path) -> list[Path]:
    """ADEChallengeData2016 layout: images/{training,validation}/*.jpg + annotations/.../*.png."""
    root = Path(out_dir) / "ade20k"
    written = []
    for i, (name, split, size, world_split) in enumerate(ADE_SAMPLES):
        images, masks = make_scenes(1, size, seed=ADE_SEED, split=world_split, start=i)
        pixels = (images[0] * 255).round().clamp(0, 255).to(torch.uint8).permute(1, 2, 0).numpy()
        for sub, suffix in (("images", ".jpg"), ("annotations", ".png")):
            (root / sub / split).mkdir(parents=True, exist_ok=True)
        jpg = root / "images" / split / f"{name}.jpg"
        png = root / "annotations" / split / f"{name}.png"
        Image.fromarray(pixels, mode="RGB").save(jpg, quality=JPEG_QUALITY)
        Image.fromarray(ade20k_label(masks[0]), mode="L").save(png)
        written += [jpg, png]
    return written


KINETICS_SEED = 400
KINETICS_SIZE = (96, 128)  # height, width: landscape, so short-side resizing and 3 crops matter
KINETICS_FRAMES = 48  # 1.92 s at 25 fps: one 16x2 clip fits, a 32x2 clip (64 frames) does not
KINETICS_FPS = 25
KINETICS_BIT_RATE = 200_000  # bits per second, an upper bound: at most ~50 KB per file, calm videos take less
# (split, DigitWorld motion class, DigitWorld split); the motion video index is the file's position
KINETICS_SAMPLES = [
    ("train", "zoom in", "train"),
    ("train", "zoom in", "train"),
    ("train", "zoom out", "train"),
    ("train", "zoom out", "train"),
    ("val", "zoom in", "test"),
    ("val", "zoom out", "test"),
]


def kinetics_video(i: int) -> torch.Tensor:
    """The frames uint8 (T, H, W, 3) of sample file ``i``: DigitWorld motion video ``i``, forced to its class."""
    _, motion, world_split = KINETICS_SAMPLES[i]
    videos, _ = make_motion_videos(
        1, KINETICS_FRAMES, KINETICS_SIZE, seed=KINETICS_SEED, split=world_split, start=i, classes=[motion]
    )
    return (videos[0] * 255).round().clamp(0, 255).to(torch.uint8).permute(1, 2, 3, 0).contiguous()


def kinetics_path(i: int) -> Path:
    """Relative path of sample file ``i``: <split>/<class>/<11-char id>_<start s>_<end s>.mp4 (Kinetics' naming)."""
    split, motion, _ = KINETICS_SAMPLES[i]
    seconds = round(KINETICS_FRAMES / KINETICS_FPS)
    return Path(split) / motion.replace(" ", "_") / f"digitworld{i}_{0:06d}_{seconds:06d}.mp4"


def make_kinetics(out_dir: Path) -> list[Path]:
    """Kinetics-style class folders: kinetics/{train,val}/<class>/*.mp4 (MPEG-4 Part 2 video)."""
    assert all(m in MOTION_CLASSES for _, m, _ in KINETICS_SAMPLES)
    root = Path(out_dir) / "kinetics"
    written = []
    for i in range(len(KINETICS_SAMPLES)):
        path = root / kinetics_path(i)
        path.parent.mkdir(parents=True, exist_ok=True)
        written.append(write_video(path, kinetics_video(i), fps=KINETICS_FPS, bit_rate=KINETICS_BIT_RATE))
    return written


YOUCOOK2_SEED = 2018
YOUCOOK2_SIZE = 48  # square frames, even sides (YUV 4:2:0)
YOUCOOK2_BIT_RATE = 40_000  # bits per second, an upper bound; at 4 fps ~10 kbit per frame
YOUCOOK2_RECIPE = "000"  # not a real YouCook2 recipe type: "DigitWorld how-to"
# (video id: 11 characters like a YouTube id, subset, DigitWorld split, how-to video index)
YOUCOOK2_SAMPLES = [
    ("digitworld0", "training", "train", 0),
    ("digitworld1", "training", "train", 1),
    ("digitworld2", "validation", "test", 0),
]


def youcook2_videos() -> list:
    """The DigitWorld how-to videos behind the YouCook2 sample, in ``YOUCOOK2_SAMPLES`` order."""
    return [
        make_howto_videos(1, steps=(3, 4), clips_per_step=(2, 3), size=YOUCOOK2_SIZE, seed=YOUCOOK2_SEED,
                          split=world_split, start=index)[0]
        for _, _, world_split, index in YOUCOOK2_SAMPLES
    ]


def _seconds(t: float):
    """Times as YouCook2 writes them: whole seconds as ints, anything else rounded to 0.01 s."""
    return int(t) if float(t).is_integer() else round(float(t), 2)


def make_youcook2(out_dir: Path) -> list[Path]:
    """youcookii_annotations_trainval.json (the true step annotations) + raw_videos/<subset>/<recipe>/<id>.mp4."""
    root = Path(out_dir) / "youcook2"
    database, written = {}, []
    for (video_id, subset, _, _), video in zip(YOUCOOK2_SAMPLES, youcook2_videos()):
        rel = Path("raw_videos") / subset / YOUCOOK2_RECIPE / f"{video_id}.mp4"
        database[video_id] = {
            "duration": round(video.duration, 2),
            "subset": subset,
            "recipe_type": YOUCOOK2_RECIPE,
            "annotations": [
                {"id": k, "segment": [_seconds(a), _seconds(b)], "sentence": sentence}
                for k, (a, b, sentence) in enumerate(video.step_segments())
            ],
            "video_url": rel.as_posix(),
        }
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        pixels = (video.frames * 255).round().clamp(0, 255).to(torch.uint8).permute(1, 2, 3, 0).contiguous()
        written.append(write_video(root / rel, pixels, fps=video.fps, bit_rate=YOUCOOK2_BIT_RATE))
    path = root / "youcookii_annotations_trainval.json"
    path.write_text(json.dumps({"database": database}, indent=1) + "\n", encoding="utf-8")
    return [path] + written


DATASETS = {"ade20k": make_ade20k, "kinetics": make_kinetics, "youcook2": make_youcook2}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=HERE, help="folder to write <dataset>/ into (default: data_samples/)")
    parser.add_argument("--only", choices=sorted(DATASETS), action="append", help="write only these datasets")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    for name in args.only or DATASETS:
        paths = DATASETS[name](args.out)
        total = sum(p.stat().st_size for p in paths)
        print(f"{name}: {len(paths)} files, {total / 1024:.1f} KiB under {args.out / name}")


if __name__ == "__main__":
    main()
