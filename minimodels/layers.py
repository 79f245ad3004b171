"""Layers shared by the three models (SegFormer, ViViT, VideoBERT).

Only what more than one model uses lives here; everything specific to a paper
stays in that paper's module, next to the figure box it implements.

- ``DropPath``: stochastic depth (Huang et al. 2016), the residual-branch dropout
  every transformer block here uses during training.
- ``drop_path_rates``: the linear "stochastic depth decay rule" that spreads a
  maximum rate over all blocks of a network.
- ``Mlp``: the plain transformer feed-forward network Linear -> GELU -> Linear
  (SegFormer's positional-encoding ablation; the ViT-style blocks of ViViT and
  VideoBERT).

And the small helpers that the models and the data share: ``is_int``, ``to_pair`` (an int
or (H, W) as (H, W)), ``check_fields`` (the "unknown config field(s)" error of every
``variant_config``), ``check_batch`` (a model's input dtype and batch) and ``count_params``.
"""

from __future__ import annotations

import dataclasses

import torch
from torch import nn


class DropPath(nn.Module):
    """Stochastic depth: drop a whole residual branch, per sample, while training.

    During training each sample's branch output is zeroed with probability
    ``drop_prob`` and the survivors are scaled by ``1 / (1 - drop_prob)`` so the
    expected value is unchanged. In eval mode (or with ``drop_prob == 0``) it is the
    identity. Used as ``x = x + drop_path(branch(x))``.
    """

    def __init__(self, drop_prob: float = 0.0):
        super().__init__()
        if not 0.0 <= drop_prob < 1.0:
            raise ValueError(f"DropPath: drop_prob must be in [0, 1), got {drop_prob}")
        self.drop_prob = float(drop_prob)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.drop_prob == 0.0 or not self.training:
            return x
        keep_prob = 1.0 - self.drop_prob
        # one Bernoulli draw per sample, broadcast over every other dimension
        mask_shape = (x.shape[0],) + (1,) * (x.ndim - 1)
        mask = x.new_empty(mask_shape).bernoulli_(keep_prob)
        return x * mask.div_(keep_prob)

    def extra_repr(self) -> str:
        return f"drop_prob={self.drop_prob}"


def drop_path_rates(max_rate: float, num_blocks: int) -> list[float]:
    """Per-block drop-path rates rising linearly from 0 to ``max_rate`` (the usual rule).

    >>> drop_path_rates(0.1, 3)
    [0.0, 0.05, 0.1]
    """
    if num_blocks <= 0:
        return []
    if num_blocks == 1:
        return [0.0]
    return [max_rate * i / (num_blocks - 1) for i in range(num_blocks)]


class Mlp(nn.Module):
    """Transformer feed-forward network: Linear(dim, hidden) -> GELU -> Dropout -> Linear(hidden, dim) -> Dropout.

    Works on the last dimension, so any (..., dim) tensor goes in.
    ``approximate="tanh"`` gives the tanh form of GELU some checkpoints were trained with.
    """

    def __init__(self, dim: int, hidden_dim: int, dropout: float = 0.0, approximate: str = "none"):
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"Mlp: GELU approximate (gelu_approximate) must be 'none' or 'tanh', got {approximate!r}")
        self.fc1 = nn.Linear(dim, hidden_dim)
        self.act = nn.GELU(approximate=approximate)
        self.fc2 = nn.Linear(hidden_dim, dim)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(self.fc2(self.drop(self.act(self.fc1(x)))))


def is_int(value) -> bool:
    """An int, and not a bool (``True`` is an int to Python, never a size or a count here)."""
    return isinstance(value, int) and not isinstance(value, bool)


def to_pair(value, name: str) -> tuple[int, int]:
    """``value`` (a positive int, or a pair of them such as (H, W)) as a pair of ints;
    ``name`` is for the error."""
    if is_int(value):
        value = (value, value)
    if not (isinstance(value, (tuple, list)) and len(value) == 2 and all(is_int(v) and v > 0 for v in value)):
        raise ValueError(f"{name} must be a positive int or an (height, width) pair of positive ints, got {value!r}")
    return int(value[0]), int(value[1])


class UnknownFieldError(TypeError, ValueError):
    """A config field that does not exist. A TypeError, as for any unexpected keyword
    argument, and a ValueError, which is what some callers have always caught."""


def check_fields(config_cls, fields) -> None:
    """Raise ``UnknownFieldError`` if ``fields`` (names, e.g. a dict of overrides) has one
    that the dataclass ``config_cls`` does not, naming the valid ones."""
    valid = {f.name for f in dataclasses.fields(config_cls)}
    unknown = sorted(set(fields) - valid)
    if unknown:
        raise UnknownFieldError(f"unknown {config_cls.__name__} field(s) {unknown}; valid: {sorted(valid)}")


def check_batch(x: torch.Tensor, weight: torch.Tensor, who: str, what: str = "input") -> None:
    """A model's input: in its weights' dtype (another one only under ``torch.autocast``, which
    casts it), and not an empty batch. ``who`` names the model and ``what`` its input in the errors."""
    if x.dtype != weight.dtype and (x.device.type == "meta" or not torch.is_autocast_enabled(x.device.type)):
        raise TypeError(f"{who} expects {weight.dtype} {what} like its weights, got {x.dtype}: convert them "
                        f"({what}.to({weight.dtype})) or run under torch.autocast")
    if x.shape[0] == 0:
        raise ValueError(f"{who}: empty batch (B = 0) in {what} of shape {tuple(x.shape)}")


def count_params(module: nn.Module) -> int:
    """Number of parameters of ``module``, each shared tensor (e.g. a tied decoder) counted
    once. Works on meta tensors (shapes only)."""
    return sum(p.numel() for p in module.parameters())
