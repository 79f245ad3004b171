"""Segmentation transforms: SegFormer's (mmsegmentation's) ADE20K pipeline on torch tensors.

Training, in the order of the official config::

    Resize(img_scale=(2048, 512), ratio_range=(0.5, 2.0))   -> random_resize
    RandomCrop(crop_size=(512, 512), cat_max_ratio=0.75)   -> random_crop
    RandomFlip(prob=0.5)                                    -> random_hflip
    PhotoMetricDistortion()                                 -> photometric_distortion
    Normalize(ImageNet mean / std)                          -> normalize
    Pad(size=crop_size, pad_val=0, seg_pad_val=255)         -> pad_to

Testing: resize keeping the aspect ratio to fit (2048, 512) (optionally rounded up to a
multiple of 32, as SegFormer's ``AlignedResize`` does), normalise; the label keeps its
original size, because predictions are upsampled to it for evaluation.

Images are (3, H, W) tensors, uint8 in 0..255 or float in [0, 1] (converted to float
[0, 1] on the way in); labels are (H, W) integer tensors (returned as int64), resized with
nearest-neighbour interpolation so they never get new values. Randomness comes from an
optional ``torch.Generator`` (the global generator when it is None, which DataLoader
workers seed).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from minimodels.layers import to_pair

IMAGENET_MEAN = (0.485, 0.456, 0.406)  # mmseg: (123.675, 116.28, 103.53) / 255
IMAGENET_STD = (0.229, 0.224, 0.225)  # mmseg: (58.395, 57.12, 57.375) / 255
IGNORE_INDEX = 255


# ----------------------------------------------------------------------------------
# Checks and small utilities
# ----------------------------------------------------------------------------------


def to_float_image(image: torch.Tensor) -> torch.Tensor:
    """(3, H, W) uint8 0..255 or float [0, 1] -> float32 (3, H, W) in [0, 1].

    A float image with values outside [0, 1] (beyond rounding), e.g. 0..255 or already
    normalised, or with NaN, is an error: the pipeline's clipping would silently flatten it.
    """
    if not isinstance(image, torch.Tensor):
        raise TypeError(f"image must be a torch.Tensor (3, H, W), got {type(image).__name__}")
    if image.dim() != 3 or image.shape[0] != 3 or 0 in image.shape:
        raise ValueError(f"image must have shape (3, H, W) with H, W >= 1, got {tuple(image.shape)}")
    if image.dtype == torch.uint8:
        return image.float().div_(255)
    if not image.is_floating_point():
        raise TypeError(f"image must be uint8 or floating point, got {image.dtype}")
    lo, hi = image.aminmax()
    if not (lo >= -1e-3 and hi <= 1 + 1e-3):  # False for NaN too
        raise ValueError(f"a float image must hold values in [0, 1], got min {lo.item():.4g}, max {hi.item():.4g} "
                         "(0..255 values? pass uint8 or divide by 255; normalised already? pass it before normalising)")
    return image.float()


def check_label(label: torch.Tensor, image: torch.Tensor | None = None) -> torch.Tensor:
    """An integer (H, W) label map of class ids >= 0 as int64, matching ``image``'s size if given."""
    if not isinstance(label, torch.Tensor):
        raise TypeError(f"label must be a torch.Tensor (H, W), got {type(label).__name__}")
    if label.dim() != 2:
        raise ValueError(f"label must have shape (H, W), got {tuple(label.shape)}")
    if label.is_floating_point() or label.dtype == torch.bool:
        raise TypeError(f"label must be an integer tensor, got {label.dtype}")
    if label.numel() and label.min() < 0:
        raise ValueError(f"label values must be class ids >= 0 ({IGNORE_INDEX} = ignore), got min {label.min().item()}")
    if image is not None and tuple(label.shape) != tuple(image.shape[-2:]):
        raise ValueError(f"label size {tuple(label.shape)} differs from image size {tuple(image.shape[-2:])}")
    return label.long()


def _uniform(lo: float, hi: float, generator: torch.Generator | None) -> float:
    return lo + (hi - lo) * torch.rand((), generator=generator).item()


def _randint(lo: int, hi: int, generator: torch.Generator | None) -> int:
    """An int in [lo, hi] (both included)."""
    return int(torch.randint(lo, hi + 1, (), generator=generator))


def _coin(p: float, generator: torch.Generator | None) -> bool:
    return torch.rand((), generator=generator).item() < p


# ----------------------------------------------------------------------------------
# Geometry
# ----------------------------------------------------------------------------------


def rescale_size(height: int, width: int, scale: tuple[int, int]) -> tuple[int, int]:
    """New (height, width) fitting an image into ``scale`` = (long side, short side), aspect kept.

    mmcv's ``imrescale``: the factor is min(long / max(h, w), short / min(h, w)), sizes
    rounded to the nearest int. With scale (2048, 512) a 683x512 ADE image stays 683x512 and
    a 256x256 one becomes 512x512.
    """
    if min(height, width) < 1 or min(scale) < 1:
        raise ValueError(f"rescale_size: sizes must be >= 1, got (height, width) = ({height}, {width}), scale {scale}")
    long_edge, short_edge = max(scale), min(scale)
    factor = min(long_edge / max(height, width), short_edge / min(height, width))
    return max(1, int(height * factor + 0.5)), max(1, int(width * factor + 0.5))


def resize(image: torch.Tensor, label: torch.Tensor | None, size: tuple[int, int]):
    """Resize a float image bilinearly and its label (if any) by nearest neighbour to ``size``."""
    size = (int(size[0]), int(size[1]))
    if tuple(image.shape[-2:]) != size:
        image = F.interpolate(image[None], size=size, mode="bilinear", align_corners=False)[0]
        if label is not None:
            label = F.interpolate(label[None, None].float(), size=size, mode="nearest")[0, 0].long()
    return image, label


def random_resize(
    image: torch.Tensor,
    label: torch.Tensor,
    base_scale: tuple[int, int] = (2048, 512),
    ratio_range: tuple[float, float] = (0.5, 2.0),
    generator: torch.Generator | None = None,
):
    """mmseg ``Resize(img_scale, ratio_range)``: scale = base_scale * U(ratio_range), aspect kept."""
    lo, hi = ratio_range
    if not 0 < lo <= hi:
        raise ValueError(f"ratio_range must satisfy 0 < low <= high, got {ratio_range}")
    ratio = _uniform(lo, hi, generator)
    scale = (int(base_scale[0] * ratio), int(base_scale[1] * ratio))
    return resize(image, label, rescale_size(image.shape[-2], image.shape[-1], scale))


def random_crop(
    image: torch.Tensor,
    label: torch.Tensor,
    crop_size,
    cat_max_ratio: float = 1.0,
    ignore_index: int = IGNORE_INDEX,
    generator: torch.Generator | None = None,
    max_tries: int = 10,
):
    """mmseg ``RandomCrop``: a random window of at most ``crop_size`` (h, w).

    With ``cat_max_ratio < 1`` the window is drawn again (up to ``max_tries`` times in
    all) while a single class covers more than that share of its labelled pixels, or the
    window holds fewer than two classes; the last window is used if none passes. An
    image smaller than the crop keeps its size in that dimension (``pad_to`` fills it).
    """
    ch, cw = to_pair(crop_size, "crop_size")
    H, W = image.shape[-2:]

    def window():
        return _randint(0, max(H - ch, 0), generator), _randint(0, max(W - cw, 0), generator)

    y0, x0 = window()
    if cat_max_ratio < 1.0:
        for _ in range(max_tries - 1):
            crop = label[y0 : y0 + ch, x0 : x0 + cw]
            counts = torch.bincount(crop[crop != ignore_index].flatten())
            counts = counts[counts > 0]
            if len(counts) > 1 and counts.max().item() / counts.sum().item() < cat_max_ratio:
                break
            y0, x0 = window()
    return image[:, y0 : y0 + ch, x0 : x0 + cw], label[y0 : y0 + ch, x0 : x0 + cw]


def random_hflip(image: torch.Tensor, label: torch.Tensor, prob: float = 0.5, generator: torch.Generator | None = None):
    """Flip image and label left-right together with probability ``prob``."""
    if _coin(prob, generator):
        return image.flip(-1), label.flip(-1)
    return image, label


def pad_to(
    image: torch.Tensor, label: torch.Tensor | None, size, pad_value: float = 0.0, ignore_index: int = IGNORE_INDEX
):
    """Pad bottom and right up to ``size`` (h, w): image with ``pad_value``, label with ``ignore_index``."""
    h, w = to_pair(size, "size")
    ph, pw = max(h - image.shape[-2], 0), max(w - image.shape[-1], 0)
    if ph or pw:
        image = F.pad(image, (0, pw, 0, ph), value=pad_value)
        if label is not None:
            label = F.pad(label, (0, pw, 0, ph), value=ignore_index)
    return image, label


# ----------------------------------------------------------------------------------
# Colour
# ----------------------------------------------------------------------------------


def rgb_to_hsv(image: torch.Tensor) -> torch.Tensor:
    """(3, H, W) RGB in [0, 1] -> HSV, every channel in [0, 1] (hue as a fraction of a turn)."""
    r, g, b = image.unbind(0)
    maxc, _ = image.max(0)
    minc, _ = image.min(0)
    delta = maxc - minc
    s = torch.where(maxc > 0, delta / maxc.clamp(min=1e-12), torch.zeros_like(maxc))
    d = delta.clamp(min=1e-12)
    h = torch.where(maxc == r, (g - b) / d, torch.where(maxc == g, 2 + (b - r) / d, 4 + (r - g) / d))
    h = torch.where(delta > 0, (h / 6) % 1.0, torch.zeros_like(h))
    return torch.stack([h, s, maxc])


def hsv_to_rgb(hsv: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`rgb_to_hsv`."""
    h, s, v = hsv.unbind(0)
    h6 = (h % 1.0) * 6
    i = h6.floor()
    f = h6 - i
    p, q, t = v * (1 - s), v * (1 - s * f), v * (1 - s * (1 - f))
    i = i.long() % 6
    # the six sectors of the hue circle, (r, g, b) each
    table = torch.stack([torch.stack(c) for c in ((v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q))])
    return table.gather(0, i.expand(1, 3, *i.shape)).squeeze(0)


def photometric_distortion(
    image: torch.Tensor,
    generator: torch.Generator | None = None,
    brightness_delta: float = 32 / 255,
    contrast_range: tuple[float, float] = (0.5, 1.5),
    saturation_range: tuple[float, float] = (0.5, 1.5),
    hue_delta: float = 36.0,
) -> torch.Tensor:
    """mmseg ``PhotoMetricDistortion`` on a float image in [0, 1].

    Each step happens with probability 1/2, in this order: brightness (add
    U(-delta, delta)); contrast (multiply by U(contrast_range)) either here or last, by a
    coin flip; saturation (scale HSV saturation by U(saturation_range)); hue (shift by
    up to ``hue_delta`` degrees - mmseg's 18 in OpenCV's 0..180 hue units). The result is
    clipped to [0, 1] after every step, as mmseg clips to 0..255.
    """
    g = generator
    if _coin(0.5, g):
        image = (image + _uniform(-brightness_delta, brightness_delta, g)).clamp(0, 1)
    contrast_first = _coin(0.5, g)

    def contrast(img):
        return (img * _uniform(*contrast_range, g)).clamp(0, 1) if _coin(0.5, g) else img

    if contrast_first:
        image = contrast(image)
    if _coin(0.5, g):
        hsv = rgb_to_hsv(image)
        hsv[1] = (hsv[1] * _uniform(*saturation_range, g)).clamp(0, 1)
        image = hsv_to_rgb(hsv).clamp(0, 1)
    if _coin(0.5, g):
        hsv = rgb_to_hsv(image)
        hsv[0] = (hsv[0] + _uniform(-hue_delta, hue_delta, g) / 360) % 1.0
        image = hsv_to_rgb(hsv).clamp(0, 1)
    if not contrast_first:
        image = contrast(image)
    return image


def normalize(image: torch.Tensor, mean=IMAGENET_MEAN, std=IMAGENET_STD) -> torch.Tensor:
    """(image - mean) / std per channel; mean and std on the [0, 1] scale.

    Works on one image (3, H, W) or a batch (B, 3, H, W), on any device.
    """
    m, s = _channel_stats(image, mean, std)
    return (image - m) / s


def denormalize(image: torch.Tensor, mean=IMAGENET_MEAN, std=IMAGENET_STD) -> torch.Tensor:
    """Undo :func:`normalize` (for showing a transformed image); works on (..., 3, H, W)."""
    m, s = _channel_stats(image, mean, std)
    return image * s + m


def _channel_stats(image: torch.Tensor, mean, std) -> tuple[torch.Tensor, torch.Tensor]:
    """``mean`` and ``std`` as (C, 1, 1) tensors for an image (..., C, H, W): one value, or one per channel."""
    m = torch.as_tensor(mean, dtype=image.dtype, device=image.device).view(-1, 1, 1)
    s = torch.as_tensor(std, dtype=image.dtype, device=image.device).view(-1, 1, 1)
    if image.dim() < 3 or {len(m), len(s)} - {1, image.shape[-3]}:
        raise ValueError(f"mean and std need one value, or one per channel of the image (..., C, H, W), "
                         f"got {len(m)} and {len(s)} values for shape {tuple(image.shape)}")
    return m, s


# ----------------------------------------------------------------------------------
# Pipelines
# ----------------------------------------------------------------------------------


class SegTrainTransform:
    """SegFormer's training pipeline (see the module docstring), as one callable.

    ``transform(image, label, generator=None) -> (image float32 (3, ch, cw) normalised,
    label int64 (ch, cw) with ``ignore_index`` in the padding)``. For ADE20K the paper uses
    the defaults: base scale (2048, 512), ratios 0.5-2.0, 512x512 crops. For small
    DigitWorld scenes scale them down, e.g. base_scale=(512, 128), crop_size=128.
    """

    def __init__(
        self,
        crop_size=512,
        base_scale: tuple[int, int] = (2048, 512),
        ratio_range: tuple[float, float] = (0.5, 2.0),
        cat_max_ratio: float = 0.75,
        flip_prob: float = 0.5,
        photometric: bool = True,
        mean=IMAGENET_MEAN,
        std=IMAGENET_STD,
        ignore_index: int = IGNORE_INDEX,
    ):
        self.crop_size = to_pair(crop_size, "crop_size")
        self.base_scale = to_pair(base_scale, "base_scale")
        if not 0 < ratio_range[0] <= ratio_range[1]:
            raise ValueError(f"ratio_range must satisfy 0 < low <= high, got {ratio_range}")
        if not 0 < cat_max_ratio <= 1:
            raise ValueError(f"cat_max_ratio must be in (0, 1], got {cat_max_ratio}")
        self.ratio_range, self.cat_max_ratio, self.flip_prob = tuple(ratio_range), cat_max_ratio, flip_prob
        self.photometric, self.mean, self.std, self.ignore_index = photometric, mean, std, ignore_index

    def __call__(self, image: torch.Tensor, label: torch.Tensor, generator: torch.Generator | None = None):
        image = to_float_image(image)
        label = check_label(label, image)
        g = generator
        image, label = random_resize(image, label, self.base_scale, self.ratio_range, g)
        image, label = random_crop(image, label, self.crop_size, self.cat_max_ratio, self.ignore_index, g)
        image, label = random_hflip(image, label, self.flip_prob, g)
        if self.photometric:
            image = photometric_distortion(image, g)
        image = normalize(image, self.mean, self.std)
        image, label = pad_to(image, label, self.crop_size, 0.0, self.ignore_index)
        return image.contiguous(), label.contiguous()

    def __repr__(self) -> str:
        return (
            f"SegTrainTransform(crop_size={self.crop_size}, base_scale={self.base_scale}, "
            f"ratio_range={self.ratio_range}, "
            f"cat_max_ratio={self.cat_max_ratio}, flip_prob={self.flip_prob}, photometric={self.photometric})"
        )


class SegTestTransform:
    """SegFormer's test pipeline: resize keeping the aspect ratio, normalise.

    ``transform(image, label=None) -> (image float32 (3, h, w) normalised, label)``. The
    image is rescaled to fit ``base_scale`` = (long, short) like mmcv's ``imrescale``;
    with ``size_divisor`` (SegFormer's ``AlignedResize`` uses 32) each side is then rounded
    up to a multiple of it. The label, if given, is returned unchanged (int64, original
    size): evaluation upsamples the logits to it. ``base_scale=None`` keeps the size.
    """

    def __init__(
        self,
        base_scale: tuple[int, int] | None = (2048, 512),
        size_divisor: int | None = None,
        mean=IMAGENET_MEAN,
        std=IMAGENET_STD,
    ):
        self.base_scale = None if base_scale is None else to_pair(base_scale, "base_scale")
        if size_divisor is not None and (not isinstance(size_divisor, int) or size_divisor <= 0):
            raise ValueError(f"size_divisor must be a positive int or None, got {size_divisor!r}")
        self.size_divisor, self.mean, self.std = size_divisor, mean, std

    def output_size(self, height: int, width: int) -> tuple[int, int]:
        """The (h, w) an input of (height, width) is resized to."""
        h, w = (height, width) if self.base_scale is None else rescale_size(height, width, self.base_scale)
        if self.size_divisor:
            d = self.size_divisor
            h, w = math.ceil(h / d) * d, math.ceil(w / d) * d
        return h, w

    def __call__(self, image: torch.Tensor, label: torch.Tensor | None = None):
        image = to_float_image(image)
        if label is not None:
            label = check_label(label, image)
        image, _ = resize(image, None, self.output_size(*image.shape[-2:]))
        return normalize(image, self.mean, self.std).contiguous(), label

    def __repr__(self) -> str:
        return f"SegTestTransform(base_scale={self.base_scale}, size_divisor={self.size_divisor})"
