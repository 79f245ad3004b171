"""ADE20K (the SceneParsing release ADEChallengeData2016) as a torch Dataset.

Layout, as distributed::

    ADEChallengeData2016/
        images/training/ADE_train_00000001.jpg ...       (20,210 images)
        images/validation/ADE_val_00000001.jpg ...       (2,000 images)
        annotations/training/ADE_train_00000001.png ...  (one 8-bit label map per image)
        annotations/validation/...

Annotation values: 0 = "other" (unlabelled, not one of the 150 classes), 1..150 = the
classes of ``ADE20K_CLASSES``. SegFormer (via mmseg) trains with ``reduce_zero_label``:
0 becomes the ignore index 255 and every other value drops by one, giving classes
0..149. ``data_samples/ade20k`` holds a tiny copy in this layout for tests and demos.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

IGNORE_INDEX = 255
SPLITS = ("training", "validation")
IMAGE_SUFFIX, LABEL_SUFFIX = ".jpg", ".png"

# objectInfo150 order (mmseg's ADE20KDataset.CLASSES); index = reduced label
ADE20K_CLASSES = (
    "wall", "building", "sky", "floor", "tree", "ceiling", "road", "bed", "windowpane", "grass",
    "cabinet", "sidewalk", "person", "earth", "door", "table", "mountain", "plant", "curtain", "chair",
    "car", "water", "painting", "sofa", "shelf", "house", "sea", "mirror", "rug", "field",
    "armchair", "seat", "fence", "desk", "rock", "wardrobe", "lamp", "bathtub", "railing", "cushion",
    "base", "box", "column", "signboard", "chest of drawers", "counter", "sand", "sink", "skyscraper", "fireplace",
    "refrigerator", "grandstand", "path", "stairs", "runway", "case", "pool table", "pillow", "screen door", "stairway",
    "river", "bridge", "bookcase", "blind", "coffee table", "toilet", "flower", "book", "hill", "bench",
    "countertop", "stove", "palm", "kitchen island", "computer", "swivel chair", "boat", "bar", "arcade machine", "hovel",
    "bus", "towel", "light", "truck", "tower", "chandelier", "awning", "streetlight", "booth", "television receiver",
    "airplane", "dirt track", "apparel", "pole", "land", "bannister", "escalator", "ottoman", "bottle", "buffet",
    "poster", "stage", "van", "ship", "fountain", "conveyer belt", "canopy", "washer", "plaything", "swimming pool",
    "stool", "barrel", "basket", "waterfall", "tent", "bag", "minibike", "cradle", "oven", "ball",
    "food", "step", "tank", "trade name", "microwave", "pot", "animal", "bicycle", "lake", "dishwasher",
    "screen", "blanket", "sculpture", "hood", "sconce", "vase", "traffic light", "tray", "ashcan", "fan",
    "pier", "crt screen", "plate", "monitor", "bulletin board", "shower", "radiator", "glass", "clock", "flag",
)  # fmt: skip


def reduce_zero_label(label: torch.Tensor) -> torch.Tensor:
    """mmseg's ``reduce_zero_label``: 0 -> 255 (ignored), v -> v - 1 otherwise (255 stays 255)."""
    out = label.long() - 1
    out[(label == 0) | (label == IGNORE_INDEX)] = IGNORE_INDEX
    return out


def load_image(path) -> torch.Tensor:
    """An RGB image file -> float32 (3, H, W) in [0, 1]. Errors name the file."""
    try:
        with Image.open(path) as im:
            array = np.asarray(im.convert("RGB"))
    except (UnidentifiedImageError, OSError, SyntaxError) as err:
        raise OSError(f"cannot read image {path}: {err}") from err
    return torch.from_numpy(array.copy()).permute(2, 0, 1).float().div_(255)


def load_label(path) -> torch.Tensor:
    """A single-channel label PNG (mode L or P) -> int64 (H, W), raw values. Errors name the file."""
    try:
        with Image.open(path) as im:
            if im.mode not in ("L", "P"):
                raise ValueError(f"label map {path} must be a single-channel (mode L or P) PNG, got mode {im.mode}")
            array = np.asarray(im)
    except (UnidentifiedImageError, OSError, SyntaxError) as err:
        raise OSError(f"cannot read label map {path}: {err}") from err
    return torch.from_numpy(array.astype(np.int64))


class ADE20KSegmentation(torch.utils.data.Dataset):
    """ADE20K scene parsing: items are (image float32 (3, H, W) in [0, 1], label int64 (H, W)).

    root: the ``ADEChallengeData2016`` folder (holding ``images/`` and ``annotations/``);
    split: "training" or "validation". With ``reduce_zero_label`` (SegFormer's setting)
    labels are 0..149 with 255 = ignore; without it they are the raw 0..150 (0 = other).
    ``transform(image, label) -> (image, label)`` runs last (see
    :mod:`minimodels.data.transforms`). Every image must have its annotation (same name,
    ``.png``); the folders are checked when the dataset is built, files when read: an
    annotation of another size than its image, or with values that are no class (above
    150 and not 255), is an error naming the file and the values.
    """

    def __init__(self, root, split: str = "training", reduce_zero_label: bool = True, transform=None):
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        self.root = Path(root)
        if not self.root.is_dir():
            raise FileNotFoundError(
                f"ADE20K root {self.root} does not exist (expected ADEChallengeData2016/ with images/ and annotations/)"
            )
        self.image_dir = self.root / "images" / split
        self.label_dir = self.root / "annotations" / split
        for d in (self.image_dir, self.label_dir):
            if not d.is_dir():
                raise FileNotFoundError(
                    f"ADE20K split folder {d} is missing (expected {self.root}/{{images,annotations}}/{split}/)"
                )
        self.images = sorted(p for p in self.image_dir.iterdir() if p.suffix.lower() == IMAGE_SUFFIX)
        if not self.images:
            raise FileNotFoundError(f"no {IMAGE_SUFFIX} images in {self.image_dir}")
        self.labels = [self.label_dir / (p.stem + LABEL_SUFFIX) for p in self.images]
        missing = [img.name for img, lab in zip(self.images, self.labels) if not lab.is_file()]
        if missing:
            more = f" and {len(missing) - 1} more" if len(missing) > 1 else ""
            raise FileNotFoundError(
                f"image {missing[0]}{more} in {self.image_dir} has no annotation "
                f"{Path(missing[0]).stem}{LABEL_SUFFIX} in {self.label_dir}"
            )
        self.split, self.reduce_zero_label, self.transform = split, reduce_zero_label, transform
        self.classes = ADE20K_CLASSES if reduce_zero_label else ("other",) + ADE20K_CLASSES

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int):
        image = load_image(self.images[index])
        label = load_label(self.labels[index])
        if tuple(label.shape) != tuple(image.shape[-2:]):
            raise ValueError(
                f"annotation {self.labels[index]} is {tuple(label.shape)} "
                f"but image {self.images[index].name} is {tuple(image.shape[-2:])}"
            )
        top = len(ADE20K_CLASSES)  # raw values: 0 = other, 1..150 the classes, 255 = ignore
        if int(label.max()) > top:
            values = label.unique()
            bad = values[(values > top) & (values != IGNORE_INDEX)].tolist()
            if bad:
                raise ValueError(
                    f"annotation {self.labels[index]} has values {bad} outside the {top} classes "
                    f"(expected 0 = other, 1..{top}, or {IGNORE_INDEX} = ignore)"
                )
        if self.reduce_zero_label:
            label = reduce_zero_label(label)
        if self.transform is not None:
            image, label = self.transform(image, label)
        return image, label

    def __repr__(self) -> str:
        return (
            f"ADE20KSegmentation(root={str(self.root)!r}, split={self.split!r}, n={len(self)}, "
            f"reduce_zero_label={self.reduce_zero_label})"
        )
