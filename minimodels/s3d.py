"""S3D (Xie, Sun, Huang, Tu, Murphy, ECCV 2018): the clip network VideoBERT tokenises.

"Rethinking Spatiotemporal Feature Learning" asks which 3D convolutions a video
network needs, and answers with **separable** ones: a full ``k x k x k`` 3D kernel is
replaced by a spatial ``1 x k x k`` convolution followed by a temporal ``k x 1 x 1``
one, each with BatchNorm and ReLU (``SepConv3d``). Fewer parameters and FLOPs, and
better accuracy on Kinetics than the full 3D (I3D) network.

VideoBERT (Sun et al. 2019) cuts a video into 1.5 s clips and describes each clip by
the S3D activations *before the final classifier*, averaged over time and space: a
**1024-d** vector per clip (the channels of the real network's last Inception block,
``Mixed_5c``). Those vectors are what hierarchical k-means turns into visual words
(:mod:`minimodels.kmeans`); :meth:`S3D.features` returns them.

This file is a small S3D-*style* network, not the full one: the real S3D is Inception-v1
(GoogLeNet) with its 3D convolutions made separable - a 7x7x7 stem of stride 2, pools,
and nine Inception blocks ending in 1024 channels, about 8M parameters. Here the
boxes are the paper's, fewer and narrower, so that it trains in seconds on the
32x32, 8-frame DigitWorld clips:

- ``SepConv3d``: Conv3d (1, k, k) -> BN -> ReLU -> Conv3d (k, 1, 1) -> BN -> ReLU. A
  stride ``(s_t, s_s)`` is split the same way: ``s_s`` on the spatial conv, ``s_t`` on
  the temporal one.
- stages: ``depths[i]`` SepConv3d blocks of ``channels[i]`` channels; the first block of
  a stage downsamples by ``(temporal_strides[i], spatial_strides[i])``.
- global average pooling over (T, H, W) -> ``features`` (B, channels[-1]);
- dropout and a Linear classifier -> logits.

``S3D.from_variant("tiny", num_classes=9)`` is the notebooks' model (8 x 32 x 32 clips
-> 2 x 8 x 8 -> 64-d features).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from .layers import check_batch, check_fields

# --------------------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------------------

# Named sizes. The real S3D ends in 1024 channels (VideoBERT's clip features); these are
# small S3D-style networks for the procedural clips (see the module docstring).
VARIANTS: dict[str, dict] = {
    # 8 x 32 x 32 -> (stem) 8 x 32 x 32 -> 4 x 16 x 16 -> 2 x 8 x 8 -> 64-d
    "tiny": dict(channels=(16, 32, 64), depths=(1, 1, 1), temporal_strides=(1, 2, 2), spatial_strides=(1, 2, 2)),
    # 8 x 32 x 32 -> (stem, stride 2) 8 x 16 x 16 -> 4 x 8 x 8 -> 2 x 4 x 4 -> 128-d: deeper and wider than
    # "tiny" at a similar cost (the stem halves the resolution first, as the real S3D's does)
    "mini": dict(channels=(32, 64, 128), depths=(1, 2, 2), temporal_strides=(1, 2, 2), spatial_strides=(2, 2, 2)),
    # 16 x 64 x 64 -> 16 x 32 x 32 -> 8 x 16 x 16 -> 4 x 8 x 8 -> 2 x 4 x 4 -> 256-d
    "small": dict(channels=(32, 64, 128, 256), depths=(1, 2, 2, 1), temporal_strides=(1, 2, 2, 2),
                  spatial_strides=(2, 2, 2, 2)),
}

REAL_S3D_FEATURE_DIM = 1024  # Mixed_5c channels of the real S3D: VideoBERT's clip features


@dataclass
class S3DConfig:
    """Hyper-parameters of an S3D-style clip classifier. Defaults: the "tiny" variant."""

    in_channels: int = 3
    channels: tuple[int, ...] = (16, 32, 64)  # per stage; channels[-1] is the feature size
    depths: tuple[int, ...] = (1, 1, 1)  # SepConv3d blocks per stage
    temporal_strides: tuple[int, ...] = (1, 2, 2)  # first block of each stage
    spatial_strides: tuple[int, ...] = (1, 2, 2)
    kernel_size: int = 3  # k: the (1, k, k) spatial and (k, 1, 1) temporal kernels
    num_classes: int = 400  # 0: no classifier, forward returns the features
    dropout: float = 0.0  # before the classifier
    bn_eps: float = 1e-3  # the official S3D's BatchNorm epsilon

    def __post_init__(self):
        for name in ("channels", "depths", "temporal_strides", "spatial_strides"):
            value = tuple(getattr(self, name))
            if not value or any(isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in value):
                raise ValueError(f"S3DConfig: {name} must be a non-empty tuple of positive ints, got {value!r}")
            setattr(self, name, value)
        lengths = {len(self.channels), len(self.depths), len(self.temporal_strides), len(self.spatial_strides)}
        if len(lengths) != 1:
            raise ValueError(
                "S3DConfig: channels, depths, temporal_strides and spatial_strides need one entry per stage, got "
                f"lengths {len(self.channels)}, {len(self.depths)}, {len(self.temporal_strides)}, "
                f"{len(self.spatial_strides)}"
            )
        for name in ("in_channels", "kernel_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"S3DConfig: {name} must be a positive int, got {value!r}")
        if self.kernel_size % 2 == 0:
            raise ValueError(f"S3DConfig: kernel_size must be odd (same padding), got {self.kernel_size}")
        if isinstance(self.num_classes, bool) or not isinstance(self.num_classes, int) or self.num_classes < 0:
            raise ValueError(f"S3DConfig: num_classes must be an int >= 0, got {self.num_classes!r}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"S3DConfig: dropout must be in [0, 1), got {self.dropout}")

    @property
    def feature_dim(self) -> int:
        """D, the size of the pooled features (``S3D.features``)."""
        return self.channels[-1]

    @property
    def downsampling(self) -> tuple[int, int]:
        """(temporal, spatial) factor from a clip to the last feature map."""
        t = s = 1
        for st, ss in zip(self.temporal_strides, self.spatial_strides):
            t, s = t * st, s * ss
        return t, s


def variant_config(name: str, num_classes: int = 400, **overrides) -> S3DConfig:
    """``S3DConfig`` of a named size (see ``VARIANTS``) with ``overrides`` applied."""
    if name not in VARIANTS:
        raise ValueError(f"unknown S3D variant {name!r}; expected one of {list(VARIANTS)}")
    check_fields(S3DConfig, overrides)
    return S3DConfig(**{**VARIANTS[name], "num_classes": num_classes, **overrides})


# --------------------------------------------------------------------------------------
# Modules
# --------------------------------------------------------------------------------------


class SepConv3d(nn.Module):
    """The separable 3D convolution of S3D: a k x k x k kernel factorised in space and time.

        x -> Conv3d (1, k, k), stride (1, s_s, s_s) -> BN -> ReLU      (spatial)
          -> Conv3d (k, 1, 1), stride (s_t, 1, 1)   -> BN -> ReLU      (temporal)

    Weights: C_in C_out k^2 + C_out^2 k, against C_in C_out k^3 for the full 3D kernel
    (with C_in = C_out = C and k = 3: 12 C^2 instead of 27 C^2). Convolutions have no
    bias (the BatchNorm that follows has one). "Same" padding: the output has
    ceil(T / s_t) x ceil(H / s_s) x ceil(W / s_s) positions.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3, stride: tuple[int, int] = (1, 1),
                 bn_eps: float = 1e-3):
        super().__init__()
        k, (st, ss), p = kernel_size, stride, kernel_size // 2
        self.conv_s = nn.Conv3d(in_channels, out_channels, (1, k, k), stride=(1, ss, ss), padding=(0, p, p),
                                bias=False)
        self.bn_s = nn.BatchNorm3d(out_channels, eps=bn_eps)
        self.conv_t = nn.Conv3d(out_channels, out_channels, (k, 1, 1), stride=(st, 1, 1), padding=(p, 0, 0),
                                bias=False)
        self.bn_t = nn.BatchNorm3d(out_channels, eps=bn_eps)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.bn_s(self.conv_s(x)))
        return self.relu(self.bn_t(self.conv_t(x)))


class S3D(nn.Module):
    """S3D-style clip classifier: stages of ``SepConv3d`` -> global average pool -> Linear.

    forward(clips (B, C, T, H, W) float) -> logits (B, num_classes) (the features when
    ``num_classes == 0``); features(clips) -> (B, feature_dim): the pooled activations
    before the classifier, what VideoBERT quantises into visual words. The clips have the
    weights' dtype (another one only under ``torch.autocast``); in training mode the batch
    must leave BatchNorm more than one value per channel.
    """

    def __init__(self, config: S3DConfig):
        super().__init__()
        self.config = c = config
        blocks, cin = [], c.in_channels
        for cout, depth, st, ss in zip(c.channels, c.depths, c.temporal_strides, c.spatial_strides):
            for j in range(depth):
                stride = (st, ss) if j == 0 else (1, 1)
                blocks.append(SepConv3d(cin, cout, c.kernel_size, stride, c.bn_eps))
                cin = cout
        self.blocks = nn.Sequential(*blocks)
        self.pool = nn.AdaptiveAvgPool3d(1)
        self.drop = nn.Dropout(c.dropout)
        self.head = nn.Linear(c.feature_dim, c.num_classes) if c.num_classes > 0 else nn.Identity()
        for m in self.modules():
            if isinstance(m, nn.Conv3d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, std=0.01)
                nn.init.zeros_(m.bias)

    @classmethod
    def from_variant(cls, name: str, num_classes: int = 400, **overrides) -> "S3D":
        """S3D of a named size (``VARIANTS``: "tiny", "small"); ``overrides`` replace config
        fields (``dropout=0.5``, ``channels=(8, 16, 32)`` ...)."""
        return cls(variant_config(name, num_classes, **overrides))

    @property
    def feature_dim(self) -> int:
        return self.config.feature_dim

    def feature_map(self, clips: torch.Tensor) -> torch.Tensor:
        """The last stage's activations (B, D, T', H', W')."""
        self._check_input(clips)
        return self.blocks(clips)

    def features(self, clips: torch.Tensor) -> torch.Tensor:
        """Pooled clip features (B, D): the activations before the classifier, averaged over
        time and space (the real S3D: D = 1024)."""
        return self.pool(self.feature_map(clips)).flatten(1)

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        return self.head(self.drop(self.features(clips)))

    def _check_input(self, x) -> None:
        C = self.config.in_channels
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"S3D expects a torch.Tensor (B, {C}, T, H, W), got {type(x).__name__}")
        if x.ndim != 5:
            hint = " - one clip without a batch dimension? use clips.unsqueeze(0)" if x.ndim == 4 else ""
            raise ValueError(f"S3D expects clips of shape (B, {C}, T, H, W), got {tuple(x.shape)}{hint}")
        if x.shape[1] != C:
            hint = " - got (B, T, C, H, W)? use clips.permute(0, 2, 1, 3, 4)" if x.shape[2] == C else ""
            raise ValueError(f"S3D expects {C} channels in dim 1 (B, {C}, T, H, W), got {tuple(x.shape)}{hint}")
        if not x.is_floating_point():
            raise ValueError(f"S3D expects floating-point clips (e.g. float32), got dtype {x.dtype}")
        check_batch(x, self.blocks[0].conv_s.weight, "S3D", "clips")
        if 0 in x.shape:
            raise ValueError(f"S3D: empty clips in input of shape {tuple(x.shape)}")
        if self.training:  # BatchNorm needs two values per channel; the last stage's map is the smallest
            (st, ss), (T, H, W) = self.config.downsampling, x.shape[2:]
            last = (-(-T // st), -(-H // ss), -(-W // ss))
            if x.shape[0] * math.prod(last) < 2:
                raise ValueError(
                    f"S3D: in training mode BatchNorm needs more than one value per channel, but a batch of one "
                    f"clip of {T}x{H}x{W} leaves a last-stage map of {last[0]}x{last[1]}x{last[2]}; train on a "
                    "batch of 2 or more (or larger clips), or call model.eval()"
                )


__all__ = ["VARIANTS", "REAL_S3D_FEATURE_DIM", "S3DConfig", "variant_config", "SepConv3d", "S3D"]
