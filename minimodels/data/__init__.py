"""Data for minimodels: the procedural DigitWorld and loaders for the real dataset formats.

``digitworld``  scenes (and later videos) built on real handwritten digits, no download;
``transforms``  SegFormer's mmseg augmentation pipeline on torch tensors;
``ade20k``      the ADEChallengeData2016 folder layout as a Dataset.
"""

from minimodels.data.ade20k import ADE20K_CLASSES, ADE20KSegmentation
from minimodels.data.digitworld import SEG_CLASSES, DigitScenes, digit_pool, make_scenes
from minimodels.data.transforms import IGNORE_INDEX, IMAGENET_MEAN, IMAGENET_STD, SegTestTransform, SegTrainTransform

__all__ = [
    "ADE20K_CLASSES",
    "ADE20KSegmentation",
    "DigitScenes",
    "IGNORE_INDEX",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "SEG_CLASSES",
    "SegTestTransform",
    "SegTrainTransform",
    "digit_pool",
    "make_scenes",
]
