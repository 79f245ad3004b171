"""ViViT (Arnab et al., ICCV 2021, arXiv 2103.15691), readable top to bottom.

A video ``(B, C, T, H, W)`` becomes a grid of ``n_t x n_h x n_w`` tokens, and a
transformer classifies it. The paper's boxes, in this file's order:

- **Embedding** (Section 3.2): ``TubeletEmbedding`` - a Conv3d with kernel = stride =
  tubelet ``(t, h, w)``, so ``n_t = T / t``, ``n_h = H / h``, ``n_w = W / w``. With
  ``t = 1`` it is *uniform frame sampling*: every frame is cut into 2D patches by the
  same ViT patch embedding. ``PositionEmbedding`` adds learned positions, resized
  (linearly over t, h and w) when a clip has another frame count or resolution than
  the one the model was built for.
- **The four models** (Section 3.3), all built from pre-LN transformer blocks (``BLOCKS``
  maps a model to the block its ``Encoder`` stacks):

  ===========  ===================================  ================================
  Model 1      spatio-temporal attention            ``Encoder`` over all N tokens,
                                                    every token attends to every one
  Model 2      factorised encoder                   ``FactorisedEncoder``: a spatial
                                                    ``Encoder`` per frame (shared
                                                    weights) -> one token per frame
                                                    -> a temporal ``Encoder``
  Model 3      factorised self-attention            ``Encoder`` of
                                                    ``FactorisedSelfAttentionBlock``s:
                                                    spatial MSA, temporal MSA, MLP
  Model 4      factorised dot-product attention     ``Encoder`` of ``Block``s whose
                                                    attention is
                                                    ``FactorisedDotProductAttention``:
                                                    half the heads in space, half in
                                                    time
  ===========  ===================================  ================================

- **Initialisation from an image model** (Section 3.4): ``ViT`` (the image classifier)
  and ``init_from_image`` (positions tiled over time, tubelet kernel by filter
  inflation or central frame, Model 3's temporal attention starting as a residual
  connection: its output projection zeroed).

Details follow the official code (google-research/scenic, ``projects/vivit``): a
learned 1D position embedding per encoder, a CLS token (zeros at initialisation)
for Models 1-2, global average pooling for Models 3-4 (which have no CLS), LayerNorm
eps 1e-6, a LayerNorm at the end of every encoder. Where the official code and the
paper's text differ, a comment says so. Parameter counts: ViViT-B/16x2 Model 1 with
400 classes has 88,954,000, the same as Hugging Face's ``VivitForVideoClassification``
(``minimodels.hf.load_vivit`` loads its checkpoints).

Token layout: tokens are flattened in (t, h, w) order - token ``i`` sits at frame
``i // (n_h n_w)``, row ``(i // n_w) % n_h``, column ``i % n_w`` - the order of a
Conv3d output flattened, and of Hugging Face's position table.

The configs (``ViViTConfig``, ``ViTConfig`` and the ``TransformerConfig`` they share) come
just before the models that read them; the named variants (``"B/16x2"``, ...) after them.
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass
from functools import partial
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from .flops import check_fits
from .layers import DropPath, Mlp, check_batch, check_fields, drop_path_rates, is_int, to_pair

# --------------------------------------------------------------------------------------
# Embedding: tubelets and positions
# --------------------------------------------------------------------------------------


class TubeletEmbedding(nn.Module):
    """Tubelet embedding (Section 3.2, Figure 3): a Conv3d with kernel = stride = (t, h, w).

    Every non-overlapping t x h x w tube of the video becomes one d-dimensional token, so
    spatio-temporal information is fused already while tokenising. With t = 1 each frame
    is embedded on its own by the same 2D patch embedding - *uniform frame sampling*
    (Figure 2; the frames themselves are sampled from the video beforehand).
    (B, C, T, H, W) -> tokens on their grid (B, n_t, n_h, n_w, d).
    """

    def __init__(self, in_channels: int, dim: int, tubelet: tuple[int, int, int]):
        super().__init__()
        self.tubelet = tuple(tubelet)
        if len(self.tubelet) != 3 or min(self.tubelet) < 1:
            raise ValueError(f"TubeletEmbedding: tubelet must be three positive ints (t, h, w), got {self.tubelet}")
        self.proj = nn.Conv3d(in_channels, dim, kernel_size=self.tubelet, stride=self.tubelet)

    def forward(self, video: torch.Tensor) -> torch.Tensor:
        return self.proj(video).permute(0, 2, 3, 4, 1)  # (B, d, n_t, n_h, n_w) -> (B, n_t, n_h, n_w, d)


class PatchEmbedding(nn.Module):
    """ViT's patch embedding: a Conv2d with kernel = stride = patch.
    (B, C, H, W) -> tokens on their grid (B, n_h, n_w, d)."""

    def __init__(self, in_channels: int, dim: int, patch_size: tuple[int, int]):
        super().__init__()
        self.patch_size = tuple(patch_size)
        self.proj = nn.Conv2d(in_channels, dim, kernel_size=self.patch_size, stride=self.patch_size)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.proj(images).permute(0, 2, 3, 1)


_RESIZE_MODES = {1: "linear", 2: "bilinear", 3: "trilinear"}


def resize_grid(table: torch.Tensor, grid: tuple[int, ...]) -> torch.Tensor:
    """Resize a grid of embeddings (1, *old_grid, d) to (1, *grid, d) by linear interpolation
    along every axis (linear / bilinear / trilinear for 1-3 axes, ``align_corners=False``).
    The identity when the grid is unchanged."""
    if tuple(table.shape[1:-1]) == tuple(grid):
        return table
    x = table.movedim(-1, 1)  # (1, d, *old_grid): channels first for F.interpolate
    x = F.interpolate(x, size=tuple(grid), mode=_RESIZE_MODES[len(grid)], align_corners=False)
    return x.movedim(1, -1)


class PositionEmbedding(nn.Module):
    """Learned absolute position embeddings for a grid of tokens plus ``num_prefix`` CLS slots.

    ``weight`` is (1, num_prefix + prod(grid), d), the grid flattened in row-major order
    (t, h, w for a video). ``forward(grid)`` returns the table for a clip whose token
    grid is ``grid``: the stored one when it is the grid it was built for, otherwise the
    grid part resized linearly along every axis (``resize_grid``: trilinear over
    (n_t, n_h, n_w) for Models 1, 3, 4) and the CLS position kept as it is. So a model
    built for 32 frames of 224x224 runs on 16 frames of 320x320 too.
    """

    def __init__(self, grid: tuple[int, ...], dim: int, num_prefix: int = 0):
        super().__init__()
        self.grid = tuple(int(g) for g in grid)
        self.num_prefix = num_prefix
        self.weight = nn.Parameter(torch.zeros(1, num_prefix + math.prod(self.grid), dim))

    def forward(self, grid: tuple[int, ...]) -> torch.Tensor:
        grid = tuple(grid)
        if grid == self.grid:
            return self.weight
        if len(grid) != len(self.grid):
            raise ValueError(f"PositionEmbedding: a grid of {len(self.grid)} axes {self.grid}, asked for {grid}")
        prefix, table = self.weight[:, : self.num_prefix], self.weight[:, self.num_prefix :]
        table = resize_grid(table.reshape(1, *self.grid, -1), grid)
        return torch.cat([prefix, table.reshape(1, math.prod(grid), -1)], dim=1)

    def extra_repr(self) -> str:
        return f"grid={self.grid}, num_prefix={self.num_prefix}"


# --------------------------------------------------------------------------------------
# Attention and transformer blocks
# --------------------------------------------------------------------------------------


class Attention(nn.Module):
    """Multi-head self-attention (MSA): softmax(Q K^T / sqrt(d_h)) V per head, heads
    concatenated, then the output projection W_O.

    Q, K and V come from one fused Linear (``qkv``; rows [0:d] query, [d:2d] key,
    [2d:3d] value) - one matrix product instead of three. The attention itself is
    ``F.scaled_dot_product_attention`` (a fused kernel; same numbers as the formula).
    forward(x (B, N, d), grid) -> (B, N, d). Every token attends to every token, so the
    token grid is not read: it is an argument so that every attention here has one
    signature (Model 4's ``FactorisedDotProductAttention`` reads it).
    """

    def __init__(self, dim: int, num_heads: int, qkv_bias: bool = True, attention_dropout: float = 0.0,
                 dropout: float = 0.0):
        super().__init__()
        if not is_int(num_heads) or num_heads < 1:
            raise ValueError(f"Attention: num_heads must be an int >= 1, got {num_heads!r}")
        if dim % num_heads:
            raise ValueError(f"Attention: hidden_dim {dim} is not divisible by num_heads {num_heads}")
        self.num_heads = num_heads
        self.qkv = nn.Linear(dim, 3 * dim, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)
        self.attention_dropout = attention_dropout
        self.proj_drop = nn.Dropout(dropout)

    def qkv_heads(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Queries, keys, values of (B, N, d) tokens as (B, heads, N, d_h) each."""
        B, N, C = x.shape
        qkv = self.qkv(x).view(B, N, 3, self.num_heads, C // self.num_heads)
        # One copy into (3, B, heads, N, d_h) order: the attention kernel reads each head's
        # rows contiguously instead of with a stride of 3d (about 20% faster on a CPU).
        return qkv.permute(2, 0, 3, 1, 4).contiguous().unbind(0)

    def attend(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        dropout = self.attention_dropout if self.training else 0.0
        return F.scaled_dot_product_attention(q, k, v, dropout_p=dropout)

    def forward(self, x: torch.Tensor, grid: tuple[int, ...] | None = None) -> torch.Tensor:
        B, N, C = x.shape
        q, k, v = self.qkv_heads(x)
        x = self.attend(q, k, v)  # (B, heads, N, d_h)
        x = x.transpose(1, 2).reshape(B, N, C)  # concatenate the heads
        return self.proj_drop(self.proj(x))


class FactorisedDotProductAttention(Attention):
    """Model 4's attention (Section 3.3): Model 1's parameters, with the heads
    split in two halves.

    Half of the heads attend *temporally*: a token's keys are the n_t tokens at its own
    spatial position, one per frame. The other half attend *spatially*: its keys are the
    n_h x n_w tokens of its own frame. The outputs of all heads are concatenated and
    projected by W_O as in ordinary MSA, so the layer has exactly Model 1's weights and
    each token attends to n_t + n_h n_w tokens instead of n_t n_h n_w.

    Which half does what follows the official code (scenic's
    ``factorized_dot_product_attention`` splits the heads in order over the axes
    (time, space)): heads [0, h/2) are temporal, heads [h/2, h) spatial.
    forward(x (B, N, d), grid (n_t, n_h, n_w)) -> (B, N, d); no CLS token.
    """

    def __init__(self, dim: int, num_heads: int, **kwargs):
        if num_heads % 2:
            raise ValueError(
                f"Model 4 splits the heads in two halves (space, time); num_heads must be even, got {num_heads}"
            )
        super().__init__(dim, num_heads, **kwargs)

    def forward(self, x: torch.Tensor, grid: tuple[int, int, int]) -> torch.Tensor:
        B, N, C = x.shape
        n_t, n_h, n_w = grid
        S, h = n_h * n_w, self.num_heads
        half, d_h = h // 2, C // h
        qkv = self.qkv(x).view(B, n_t, S, 3, h, d_h)
        # temporal heads: batch over (B, position), sequence over time -> (3, B*S, h/2, n_t, d_h)
        q, k, v = qkv[..., :half, :].permute(3, 0, 2, 4, 1, 5).reshape(3, B * S, half, n_t, d_h)
        temporal = self.attend(q, k, v).view(B, S, half, n_t, d_h).permute(0, 3, 1, 2, 4)  # (B, n_t, S, h/2, d_h)
        # spatial heads: batch over (B, frame), sequence over positions -> (3, B*n_t, h/2, S, d_h)
        q, k, v = qkv[..., half:, :].permute(3, 0, 1, 4, 2, 5).reshape(3, B * n_t, h - half, S, d_h)
        spatial = self.attend(q, k, v).view(B, n_t, h - half, S, d_h).transpose(2, 3)  # (B, n_t, S, h/2, d_h)
        x = torch.cat([temporal, spatial], dim=3).reshape(B, N, C)  # heads in order 0..h-1
        return self.proj_drop(self.proj(x))


class Block(nn.Module):
    """Transformer encoder block (pre-LN, Figure 1 of the paper):

        x = x + DropPath(MSA(LN(x)))
        x = x + DropPath(MLP(LN(x)))

    The MLP is Linear -> GELU -> Linear (``minimodels.layers.Mlp``). The MSA is an
    ``attn_layer``: ``Attention``, or Model 4's ``FactorisedDotProductAttention``.
    forward(x (B, N, d), grid) -> (B, N, d); ``grid`` goes to the attention.
    """

    def __init__(self, dim: int, num_heads: int, mlp_dim: int, *, qkv_bias: bool = True, dropout: float = 0.0,
                 attention_dropout: float = 0.0, drop_path: float = 0.0, eps: float = 1e-6,
                 gelu_approximate: str = "none", attn_layer: type[Attention] = Attention):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=eps)
        self.attn = attn_layer(dim, num_heads, qkv_bias=qkv_bias, attention_dropout=attention_dropout,
                               dropout=dropout)
        self.norm2 = nn.LayerNorm(dim, eps=eps)
        self.mlp = Mlp(dim, mlp_dim, dropout, approximate=gelu_approximate)
        self.drop_path = DropPath(drop_path)

    def forward(self, x: torch.Tensor, grid: tuple[int, ...] | None = None) -> torch.Tensor:
        x = x + self.drop_path(self.attn(self.norm1(x), grid))
        return x + self.drop_path(self.mlp(self.norm2(x)))


ATTENTION_ORDERS = ("space_first", "time_first")  # Model 3's two steps per block (claim T13)


class FactorisedSelfAttentionBlock(nn.Module):
    """Model 3's block (Section 3.3, Figure 5): self-attention factorised into a
    spatial and a temporal step, each with its own LayerNorm and residual, then the MLP:

        y = x + DropPath(MSA_s(LN_s(x)))     within each frame: n_h n_w tokens attend
        z = y + DropPath(MSA_t(LN_t(y)))     at each spatial position: n_t tokens attend
        out = z + DropPath(MLP(LN(z)))

    It has one MSA more than a ``Block`` (the temporal one, ``temporal_attn``) and one
    LayerNorm more: ViViT-B Model 3 has 117.3M parameters against Model 1's 88.9M. The
    spatial parts keep ``Block``'s names (``norm1``, ``attn``, ``norm2``, ``mlp``), which
    is what ``init_from_image`` copies an image model into. ``order="space_first"`` as in
    the paper's equations; ``"time_first"`` swaps the two steps (the official code's
    default; the paper reports the order makes no difference, Section 3.3), with the
    same parameters. forward(x (B, N, d), grid (n_t, n_h, n_w)) -> (B, N, d); no CLS token.
    """

    def __init__(self, dim: int, num_heads: int, mlp_dim: int, *, qkv_bias: bool = True, dropout: float = 0.0,
                 attention_dropout: float = 0.0, drop_path: float = 0.0, eps: float = 1e-6,
                 gelu_approximate: str = "none", order: str = "space_first"):
        super().__init__()
        if order not in ATTENTION_ORDERS:
            raise ValueError(f"FactorisedSelfAttentionBlock: order must be one of {ATTENTION_ORDERS}, got {order!r}")
        self.order = order
        self.norm1 = nn.LayerNorm(dim, eps=eps)  # LN_s
        self.attn = Attention(dim, num_heads, qkv_bias, attention_dropout, dropout)  # MSA_s
        self.temporal_norm = nn.LayerNorm(dim, eps=eps)  # LN_t
        self.temporal_attn = Attention(dim, num_heads, qkv_bias, attention_dropout, dropout)  # MSA_t
        self.norm2 = nn.LayerNorm(dim, eps=eps)
        self.mlp = Mlp(dim, mlp_dim, dropout, approximate=gelu_approximate)
        self.drop_path = DropPath(drop_path)

    def spatial_attention(self, x: torch.Tensor, grid: tuple[int, int, int]) -> torch.Tensor:
        """x + MSA_s(LN_s(x)): the n_t frames are separate sequences of n_h n_w tokens."""
        B, N, C = x.shape
        n_t = grid[0]
        y = self.attn(self.norm1(x.reshape(B * n_t, N // n_t, C)))
        return x + self.drop_path(y.view(B, N, C))

    def temporal_attention(self, x: torch.Tensor, grid: tuple[int, int, int]) -> torch.Tensor:
        """x + MSA_t(LN_t(x)): the n_h n_w positions are separate sequences of n_t tokens."""
        B, N, C = x.shape
        n_t, S = grid[0], N // grid[0]
        y = x.reshape(B, n_t, S, C).transpose(1, 2).reshape(B * S, n_t, C)  # (B*S, n_t, d)
        y = self.temporal_attn(self.temporal_norm(y))
        y = y.view(B, S, n_t, C).transpose(1, 2).reshape(B, N, C)  # back to (t, h, w) order
        return x + self.drop_path(y)

    def forward(self, x: torch.Tensor, grid: tuple[int, int, int]) -> torch.Tensor:
        if self.order == "space_first":
            x = self.temporal_attention(self.spatial_attention(x, grid), grid)
        else:
            x = self.spatial_attention(self.temporal_attention(x, grid), grid)
        return x + self.drop_path(self.mlp(self.norm2(x)))

    def extra_repr(self) -> str:
        return f"order={self.order}"


# --------------------------------------------------------------------------------------
# Encoders
# --------------------------------------------------------------------------------------


class Encoder(nn.Module):
    """A transformer encoder over a grid of tokens (the official code's ``Encoder``):

        [CLS] + tokens  ->  + position embedding  ->  L blocks  ->  LayerNorm

    One class serves every encoder here; ``block_layer`` is the block it stacks (``BLOCKS``):
    ``Block`` for Model 1 (grid (n_t, n_h, n_w)), for the spatial (grid (n_h, n_w)) and
    temporal (grid (n_t,)) encoders of Model 2 and for the image ViT;
    ``FactorisedSelfAttentionBlock`` for Model 3 and ``Block`` with
    ``FactorisedDotProductAttention`` for Model 4 (Model 1's grid, no CLS).
    forward(tokens (B, *grid, d)) -> (B, num_prefix + prod(grid), d), CLS first if any.
    """

    def __init__(self, grid: tuple[int, ...], dim: int, depth: int, num_heads: int, mlp_dim: int, *,
                 cls_token: bool = True, block_layer: Callable[..., nn.Module] = Block, qkv_bias: bool = True,
                 dropout: float = 0.0, attention_dropout: float = 0.0, drop_path_rate: float = 0.0,
                 eps: float = 1e-6, gelu_approximate: str = "none"):
        super().__init__()
        for name, value, low in (("hidden_dim", dim, 1), ("depth", depth, 0), ("mlp_dim", mlp_dim, 1)):
            if not is_int(value) or value < low:
                raise ValueError(f"Encoder: {name} must be an int >= {low}, got {value!r}")
        self.num_prefix = 1 if cls_token else 0
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim)) if cls_token else None
        self.pos_embed = PositionEmbedding(grid, dim, self.num_prefix)
        self.dropout = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(
            block_layer(dim, num_heads, mlp_dim, qkv_bias=qkv_bias, dropout=dropout,
                        attention_dropout=attention_dropout, drop_path=rate, eps=eps,
                        gelu_approximate=gelu_approximate)
            for rate in drop_path_rates(drop_path_rate, depth)
        )
        self.norm = nn.LayerNorm(dim, eps=eps)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        B, *grid, C = tokens.shape
        grid = tuple(grid)
        x = tokens.reshape(B, -1, C)
        if self.cls_token is not None:
            x = torch.cat([self.cls_token.expand(B, -1, -1), x], dim=1)
        x = self.dropout(x + self.pos_embed(grid))
        for block in self.blocks:
            x = block(x, grid)
        return self.norm(x)


def _encoder(config: TransformerConfig, grid, depth: int, cls_token: bool,
             block_layer: Callable[..., nn.Module] = Block) -> Encoder:
    return Encoder(
        grid, config.hidden_dim, depth, config.num_heads, config.mlp_dim, cls_token=cls_token,
        block_layer=block_layer, qkv_bias=config.qkv_bias, dropout=config.dropout,
        attention_dropout=config.attention_dropout, drop_path_rate=config.drop_path_rate, eps=config.layer_norm_eps,
        gelu_approximate=config.gelu_approximate,
    )


def _pool(tokens: torch.Tensor, num_prefix: int) -> torch.Tensor:
    """The CLS token's output if there is one, else the mean of all tokens."""
    return tokens[:, 0] if num_prefix else tokens.mean(dim=1)


class FactorisedEncoder(nn.Module):
    """Model 2 (Section 3.3, Figure 4): two transformers in sequence, "late fusion".

    1. ``spatial``: an Encoder over the n_h x n_w tokens of one temporal index, the same
       weights for every index (the frames are a batch). Each index is summarised by one
       token: the output of its CLS token (``spatial_pooling="cls"``) or the mean of its
       tokens (``"mean"``) - h_i in the paper.
    2. ``temporal``: an Encoder of L_t layers over the n_t summaries, with its own CLS
       token and 1D position embedding. With L_t = 0 there is none: the summaries are
       averaged - the paper's "average-pool baseline" (Table 2, last row).

    Attention cost: n_t (n_h n_w)^2 + n_t^2 instead of (n_t n_h n_w)^2.
    forward(tokens (B, n_t, n_h, n_w, d)) -> (B, num_prefix + n_t, d) temporal tokens.
    """

    def __init__(self, config: ViViTConfig):
        super().__init__()
        if config.spatial_pooling not in ("cls", "mean"):
            raise ValueError(
                f"FactorisedEncoder: spatial_pooling must be 'cls' or 'mean', got {config.spatial_pooling!r}"
            )
        if config.temporal_layers < 0:
            raise ValueError(f"FactorisedEncoder: temporal_layers must be >= 0, got {config.temporal_layers}")
        n_t, n_h, n_w = config.grid
        self.spatial = _encoder(config, (n_h, n_w), config.depth, cls_token=config.spatial_pooling == "cls")
        self.temporal = None
        self.num_prefix = 0
        if config.temporal_layers > 0:
            self.temporal = _encoder(config, (n_t,), config.temporal_layers, cls_token=config.classifier == "token")
            self.num_prefix = self.temporal.num_prefix

    def frame_tokens(self, tokens: torch.Tensor) -> torch.Tensor:
        """The spatial encoder's summary of every temporal index: (B, n_t, n_h, n_w, d) -> (B, n_t, d)."""
        B, n_t = tokens.shape[:2]
        frames = self.spatial(tokens.flatten(0, 1))  # (B*n_t, [1 +] n_h*n_w, d)
        return _pool(frames, self.spatial.num_prefix).view(B, n_t, -1)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        h = self.frame_tokens(tokens)
        return h if self.temporal is None else self.temporal(h)


# --------------------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------------------


@dataclass
class TransformerConfig:
    """What ViT and ViViT share: the transformer (defaults: ViT-B), its input and its classes."""

    image_size: int | tuple[int, int] = 224  # (H, W) the position embedding is sized for
    in_channels: int = 3
    hidden_dim: int = 768  # d, the width of every token
    depth: int = 12  # L, the blocks (ViViT Model 2: L_s, the spatial encoder's)
    num_heads: int = 12  # heads of every MSA, a divisor of d (Model 4: an even number)
    mlp_dim: int = 3072  # the MLP's hidden width
    num_classes: int = 1000  # 0: no head, forward returns the (B, d) representation
    dropout: float = 0.0  # after the position embedding, attention output and MLP
    attention_dropout: float = 0.0  # on the attention weights
    drop_path_rate: float = 0.0  # stochastic depth, rising linearly over the blocks
    layer_norm_eps: float = 1e-6
    gelu_approximate: str = "none"  # "none": exact; "tanh": the official JAX code's (flax's default, HF's gelu_fast)
    qkv_bias: bool = True
    init_std: float = 0.02  # std of the initial Linear and patch/tubelet weights but the head's (_init_weights)
    class_names: tuple[str, ...] | None = None  # optional, one name per class (id order)

    def __post_init__(self):
        self.image_size = to_pair(self.image_size, "image_size")
        if self.class_names is not None:
            self.class_names = tuple(str(c) for c in self.class_names)
            if len(self.class_names) != self.num_classes:
                raise ValueError(
                    f"{type(self).__name__}: class_names has {len(self.class_names)} names, "
                    f"expected num_classes={self.num_classes}"
                )


@dataclass
class ViViTConfig(TransformerConfig):
    """A ViViT. Defaults: ViViT-B/16x2 Model 1, 32 frames of 224x224, Kinetics-400 (Table 2's first row)."""

    num_classes: int = 400  # Kinetics-400; 0: no head, forward returns the (B, d) representation
    num_frames: int = 32  # T the position embedding is sized for
    tubelet: tuple[int, int, int] = (2, 16, 16)  # (t, h, w): kernel = stride of the Conv3d
    model: int = 1  # 1..4, see MODELS
    temporal_layers: int = 4  # Model 2: L_t, the temporal encoder's blocks; 0: the average-pool baseline
    spatial_pooling: str = "cls"  # Model 2: what stands for a frame, its CLS output ("cls") or its mean ("mean")
    classifier: str | None = None  # readout: "token" (CLS) or "gap" (mean); None: "token" for Models 1-2, else "gap"
    attention_order: str = "space_first"  # Model 3: "space_first" (the paper's equations) or "time_first"

    def __post_init__(self):
        super().__post_init__()
        self.tubelet = tuple(int(v) for v in self.tubelet)
        if self.classifier is None:
            self.classifier = "token" if self.model in (1, 2) else "gap"

    @property
    def grid(self) -> tuple[int, int, int]:
        """(n_t, n_h, n_w): the token grid of a clip of the configured size."""
        t, h, w = self.tubelet
        return (self.num_frames // t, self.image_size[0] // h, self.image_size[1] // w)

    @property
    def num_tokens(self) -> int:
        """N = n_t * n_h * n_w (without any CLS token)."""
        return math.prod(self.grid)


@dataclass
class ViTConfig(TransformerConfig):
    """An image ViT (the initialisation source of Section 3.4). Defaults: ViT-B/16, 224x224, 1000 classes."""

    patch_size: int | tuple[int, int] = 16  # (h, w): kernel = stride of the Conv2d

    def __post_init__(self):
        super().__post_init__()
        self.patch_size = to_pair(self.patch_size, "patch_size")

    @property
    def grid(self) -> tuple[int, int]:
        """(n_h, n_w): the patch grid of an image of the configured size."""
        return (self.image_size[0] // self.patch_size[0], self.image_size[1] // self.patch_size[1])


# --------------------------------------------------------------------------------------
# The video model
# --------------------------------------------------------------------------------------

MODELS = {
    1: "spatio-temporal attention",
    2: "factorised encoder",
    3: "factorised self-attention",
    4: "factorised dot-product attention",
}

# The block each model's encoder stacks. Model 2 is a FactorisedEncoder: two encoders of Blocks.
BLOCKS = {
    1: Block,
    3: FactorisedSelfAttentionBlock,
    4: partial(Block, attn_layer=FactorisedDotProductAttention),
}


class ViViT(nn.Module):
    """ViViT: TubeletEmbedding -> encoder (Model 1, 2, 3 or 4) -> pooled token -> Linear head.

    forward(video (B, C, T, H, W) float) -> logits (B, num_classes). T, H and W must be
    multiples of the tubelet; other sizes than the configured ones work (the position
    embeddings are resized). The representation before the head is the CLS token's
    output (``classifier="token"``) or the mean of the output tokens (``"gap"``, Models
    3-4 always); ``forward_features`` returns it. The video has the weights' dtype (another
    one only under ``torch.autocast``); a batch whose attention scores would not fit in the
    device's memory is refused (``MemoryError``) before anything is computed.
    """

    def __init__(self, config: ViViTConfig):
        super().__init__()
        self.config = config
        c = config
        self.tubelet_embed = TubeletEmbedding(c.in_channels, c.hidden_dim, c.tubelet)
        self._check_config()
        if c.model == 2:
            self.encoder = FactorisedEncoder(c)
        else:
            block = BLOCKS[c.model]
            if c.model == 3:
                block = partial(block, order=c.attention_order)
            self.encoder = _encoder(c, c.grid, c.depth, cls_token=c.classifier == "token", block_layer=block)
        self.head = _head(c, "ViViT")
        _init_weights(self, c.init_std)

    @classmethod
    def from_variant(cls, name: str, model: int = 1, num_classes: int = 400, num_frames: int = 32,
                     image_size=224, **overrides) -> "ViViT":
        """ViViT ``"SIZE/PxT"`` (e.g. ``"B/16x2"``) as Model ``model`` (1..4) for clips of
        ``num_frames`` x ``image_size``; ``overrides`` replace config fields, e.g.
        ``temporal_layers=0`` (Model 2's average-pool baseline), ``drop_path_rate=0.1``."""
        return cls(variant_config(name, model, num_classes, num_frames, image_size, **overrides))

    def token_grid(self, video_shape) -> tuple[int, int, int]:
        """(n_t, n_h, n_w) for a video of shape (B, C, T, H, W)."""
        t, h, w = self.config.tubelet
        T, H, W = video_shape[-3:]
        return (T // t, H // h, W // w)

    def forward_features(self, video: torch.Tensor) -> torch.Tensor:
        """The (B, d) video representation the head classifies."""
        self._check_input(video)
        tokens = self.encoder(self.tubelet_embed(video))
        return _pool(tokens, self.encoder.num_prefix)

    def forward(self, video: torch.Tensor) -> torch.Tensor:
        return self.head(self.forward_features(video))

    def _check_config(self) -> None:
        c = self.config
        if c.model not in MODELS:
            names = ", ".join(f"{k} ({v})" for k, v in MODELS.items())
            raise ValueError(f"ViViT: unknown model {c.model!r}; expected one of {names}")
        if c.classifier not in ("token", "gap"):
            raise ValueError(f"ViViT: classifier must be 'token' or 'gap', got {c.classifier!r}")
        if c.attention_order not in ATTENTION_ORDERS:
            raise ValueError(f"ViViT: attention_order must be one of {ATTENTION_ORDERS}, got {c.attention_order!r}")
        if c.attention_order != "space_first" and c.model != 3:
            raise ValueError(f"ViViT: attention_order={c.attention_order!r} is Model 3's option (its factorised "
                             f"self-attention); Model {c.model} has no spatial and temporal steps to reorder")
        if c.model in (3, 4) and c.classifier == "token":
            raise ValueError(
                f"ViViT: Model {c.model} has no CLS token (its factorised attention has no place for one); "
                "use classifier='gap' (global average pooling), as the official code does"
            )
        if not is_int(c.num_frames) or c.num_frames < 1:
            raise ValueError(f"ViViT: num_frames must be an int >= 1, got {c.num_frames!r}")
        t, h, w = c.tubelet
        if c.num_frames % t or c.image_size[0] % h or c.image_size[1] % w:
            raise ValueError(
                f"ViViT: num_frames x image_size = {c.num_frames} x {c.image_size[0]}x{c.image_size[1]} "
                f"must be divisible by the tubelet (t, h, w) = {c.tubelet}"
            )

    def _check_input(self, x) -> None:
        c = self.config
        C = c.in_channels
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"ViViT expects a torch.Tensor (B, {C}, T, H, W), got {type(x).__name__}")
        if x.ndim != 5:
            hint = " - one clip without a batch dimension? use video.unsqueeze(0)" if x.ndim == 4 else ""
            raise ValueError(f"ViViT expects videos of shape (B, {C}, T, H, W), got {tuple(x.shape)}{hint}")
        if x.shape[1] != C:
            if x.shape[2] == C:
                raise ValueError(
                    f"ViViT expects (B, C, T, H, W) with C = {C} in dim 1, got {tuple(x.shape)}: "
                    f"got (B, T, C, H, W)? permute(0, 2, 1, 3, 4)"
                )
            raise ValueError(
                f"ViViT expects {C} input channels (B, {C}, T, H, W), got {x.shape[1]} in {tuple(x.shape)}"
            )
        if not x.is_floating_point():
            raise ValueError(f"ViViT expects a floating-point video (e.g. float32), got dtype {x.dtype}")
        T, H, W = x.shape[2:]
        t, h, w = c.tubelet
        if T % t:
            raise ValueError(
                f"ViViT: the frame count T = {T} is not divisible by the tubelet's temporal size t = {t} "
                f"(tubelet {c.tubelet}); use a multiple of {t} frames, e.g. {max(t, T // t * t)}"
            )
        if H % h or W % w:
            raise ValueError(
                f"ViViT: frame size H x W = {H}x{W} is not divisible by the tubelet's spatial size {h}x{w} "
                f"(tubelet {c.tubelet}); resize or crop to multiples of it, "
                f"e.g. {max(h, H // h * h)}x{max(w, W // w * w)}"
            )
        if T == 0 or H == 0 or W == 0:
            raise ValueError(f"ViViT: empty video of shape {tuple(x.shape)}")
        check_batch(x, self.tubelet_embed.proj.weight, "ViViT")
        B, (n_t, n_h, n_w) = x.shape[0], self.token_grid(x.shape)
        check_fits(_largest_attention(c, B, n_t, n_h * n_w)[0] * x.element_size(), x.device, lambda: (
            f"ViViT: {B} videos of {T}x{H}x{W} give attention scores of "
            f"{_largest_attention(c, B, n_t, n_h * n_w)[1]} in {x.dtype}"), "use a smaller batch or video")


def _largest_attention(config: ViViTConfig, batch: int, n_t: int, S: int) -> tuple[int, str]:
    """(entries, description) of the largest attention-score tensor of one forward on ``batch``
    clips of ``n_t`` x ``S`` tokens (S = n_h n_w): what the math attention kernel stores."""
    h, cls = config.num_heads, int(config.classifier == "token")
    spatial_cls = int(config.model == 2 and config.spatial_pooling == "cls")
    shapes = {  # (sequences, heads, tokens per sequence) of each kind of attention
        1: [(batch, h, n_t * S + cls)],
        2: [(batch * n_t, h, S + spatial_cls), (batch, h, n_t + cls)],
        3: [(batch * n_t, h, S), (batch * S, h, n_t)],
        4: [(batch * n_t, h - h // 2, S), (batch * S, h // 2, n_t)],
    }[config.model]
    b, heads, n = max(shapes, key=lambda s: s[0] * s[1] * s[2] ** 2)
    return b * heads * n * n, f"{b:,} sequences x {heads} heads x {n:,} x {n:,} tokens"


# --------------------------------------------------------------------------------------
# The image model (initialisation source)
# --------------------------------------------------------------------------------------


class ViT(nn.Module):
    """The image Vision Transformer (Dosovitskiy et al. 2021) ViViT starts from:
    PatchEmbedding -> Encoder (CLS + position embedding, ``Block``s, LayerNorm) -> CLS -> head.

    Same ``Block`` and ``Encoder`` as ViViT, so its weights map one to one onto a video
    model (``init_from_image``). forward(images (B, C, H, W) float) -> logits (B, classes).
    """

    def __init__(self, config: ViTConfig):
        super().__init__()
        self.config = config
        c = config
        if c.image_size[0] % c.patch_size[0] or c.image_size[1] % c.patch_size[1]:
            raise ValueError(f"ViT: image_size {c.image_size} must be divisible by patch_size {c.patch_size}")
        self.patch_embed = PatchEmbedding(c.in_channels, c.hidden_dim, c.patch_size)
        self.encoder = _encoder(c, c.grid, c.depth, cls_token=True)
        self.head = _head(c, "ViT")
        _init_weights(self, c.init_std)

    @classmethod
    def from_variant(cls, name: str, num_classes: int = 1000, image_size=224, **overrides) -> "ViT":
        """ViT ``"SIZE/P"`` (e.g. ``"B/16"``, ``"Ti/4"``) for ``image_size`` images."""
        return cls(vit_variant_config(name, num_classes, image_size, **overrides))

    def forward_features(self, images: torch.Tensor) -> torch.Tensor:
        """The CLS token's output (B, d), after the final LayerNorm."""
        self._check_input(images)
        return self.encoder(self.patch_embed(images))[:, 0]

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.forward_features(images))

    def _check_input(self, x) -> None:
        C, (ph, pw) = self.config.in_channels, self.config.patch_size
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"ViT expects a torch.Tensor (B, {C}, H, W), got {type(x).__name__}")
        if x.ndim != 4:
            raise ValueError(f"ViT expects images of shape (B, {C}, H, W), got {tuple(x.shape)}")
        if x.shape[1] != C:
            raise ValueError(f"ViT expects {C} input channels (B, {C}, H, W), got {x.shape[1]} in {tuple(x.shape)}")
        if not x.is_floating_point():
            raise ValueError(f"ViT expects floating-point images (e.g. float32), got dtype {x.dtype}")
        H, W = x.shape[2:]
        if H % ph or W % pw or H == 0 or W == 0:
            raise ValueError(f"ViT: image size {H}x{W} is not divisible by the patch size {ph}x{pw}")
        check_batch(x, self.patch_embed.proj.weight, "ViT")


def _head(config: TransformerConfig, who: str) -> nn.Module:
    """The classifier: Linear(d, num_classes), or the identity for ``num_classes == 0``."""
    if not is_int(config.num_classes) or config.num_classes < 0:
        raise ValueError(f"{who}: num_classes must be an int >= 0 (0: no head), got {config.num_classes!r}")
    return nn.Linear(config.hidden_dim, config.num_classes) if config.num_classes else nn.Identity()


def _init_weights(model: nn.Module, std: float) -> None:
    """The official code's initialisation, with the scale of the random weights a config field
    (``init_std``): a normal of std ``std`` for every Linear and
    the patch/tubelet projection, zero biases; ones/zeros for LayerNorm; normal (std 0.02)
    positions; zero CLS tokens. The head always gets std 0.02, so the first logits are near 0
    and the first loss near ln(classes) (the official code zero-initialises it, which would make
    every freshly built model predict all-equal logits).

    The default 0.02 is made for ViT-B (about 0.55 / sqrt(768)); in a much narrower model every
    block then starts as an almost exact identity, and a larger std such as 1 / sqrt(d) trains
    sooner. Like the official code (and timm) the normal is "truncated" at +-2 - an absolute cut,
    in effect none at these scales."""
    if not std > 0:
        raise ValueError(f"init_std must be positive, got {std!r}")
    for m in model.modules():
        if isinstance(m, (nn.Linear, nn.Conv2d, nn.Conv3d)):
            nn.init.trunc_normal_(m.weight, std=0.02 if m is model.head else std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.LayerNorm):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, PositionEmbedding):
            nn.init.trunc_normal_(m.weight, std=0.02)
        elif isinstance(m, Encoder) and m.cls_token is not None:
            nn.init.zeros_(m.cls_token)


# --------------------------------------------------------------------------------------
# Named variants
# --------------------------------------------------------------------------------------

# ViT backbone sizes (Dosovitskiy et al. 2021; Ti and S from DeiT): width d, layers L,
# heads, MLP width. ViViT uses B, L and H; Ti and S are the small ones for experiments.
VARIANTS: dict[str, dict[str, int]] = {
    "Ti": dict(hidden_dim=192, depth=12, num_heads=3, mlp_dim=768),
    "S": dict(hidden_dim=384, depth=12, num_heads=6, mlp_dim=1536),
    "B": dict(hidden_dim=768, depth=12, num_heads=12, mlp_dim=3072),
    "L": dict(hidden_dim=1024, depth=24, num_heads=16, mlp_dim=4096),
    "H": dict(hidden_dim=1280, depth=32, num_heads=16, mlp_dim=5120),
}


def parse_variant(name: str, video: bool = True) -> tuple[str, int, int | None]:
    """``"B/16x2"`` -> ``("B", 16, 2)``: backbone size, patch side, temporal tubelet size.

    A video variant is ``SIZE/PxT`` (ViT-SIZE, P x P patches, tubelets of T frames; T = 1
    is uniform frame sampling); an image variant (``video=False``) is ``SIZE/P``.
    Sizes are case-insensitive.
    """
    pattern = r"(\w+)/(\d+)x(\d+)" if video else r"(\w+)/(\d+)"
    example = "'B/16x2' (ViT-B, 16x16 patches, tubelets of 2 frames)" if video else "'B/16' (ViT-B, 16x16 patches)"
    m = re.fullmatch(pattern, name.strip()) if isinstance(name, str) else None
    if m is None:
        raise ValueError(
            f"unknown {'ViViT' if video else 'ViT'} variant {name!r}: expected "
            f"'{'SIZE/PxT' if video else 'SIZE/P'}' like {example}, SIZE one of {list(VARIANTS)}"
        )
    sizes = {k.lower(): k for k in VARIANTS}
    size = sizes.get(m.group(1).lower())
    if size is None:
        raise ValueError(f"unknown backbone size {m.group(1)!r} in variant {name!r}; valid sizes: {list(VARIANTS)}")
    patch, t = int(m.group(2)), (int(m.group(3)) if video else None)
    if patch < 1 or (t is not None and t < 1):
        raise ValueError(f"variant {name!r}: patch and tubelet sizes must be positive")
    return size, patch, t


def variant_config(
    name: str, model: int = 1, num_classes: int = 400, num_frames: int = 32, image_size=224, **overrides
) -> ViViTConfig:
    """The config of ``"SIZE/PxT"`` (e.g. ``"B/16x2"``, ``"Ti/8x2"``, ``"S/4x1"``) as ViViT
    Model ``model``; ``overrides`` replace any other config field."""
    return _variant(ViViTConfig, name, model=model, num_classes=num_classes, num_frames=num_frames,
                    image_size=image_size, **overrides)


def vit_variant_config(name: str, num_classes: int = 1000, image_size=224, **overrides) -> ViTConfig:
    """The config of the image ViT ``"SIZE/P"`` (e.g. ``"B/16"``, ``"Ti/4"``)."""
    return _variant(ViTConfig, name, num_classes=num_classes, image_size=image_size, **overrides)


def _variant(config_cls: type[TransformerConfig], name: str, **fields) -> TransformerConfig:
    """``config_cls`` (ViViTConfig or ViTConfig) with the sizes of variant ``name``, then ``fields``."""
    video = config_cls is ViViTConfig
    size, patch, t = parse_variant(name, video=video)
    check_fields(config_cls, fields)
    patches = dict(tubelet=(t, patch, patch)) if video else dict(patch_size=patch)
    return config_cls(**{**VARIANTS[size], **patches, **fields})


def image_config(config: ViViTConfig, num_classes: int = 1000) -> ViTConfig:
    """The image ViT a ViViT of ``config`` is initialised from (``init_from_image``): the same
    transformer (every ``TransformerConfig`` field: width, depth, heads, dropouts, ``init_std``,
    ...), patches of the tubelet's spatial size, images of the clip's frame size, and
    ``num_classes`` classes."""
    shared = {f.name: getattr(config, f.name) for f in dataclasses.fields(TransformerConfig)}
    shared.update(num_classes=num_classes, class_names=None)
    return ViTConfig(**shared, patch_size=config.tubelet[1:])


# --------------------------------------------------------------------------------------
# Attention patterns (for drawing)
# --------------------------------------------------------------------------------------


def attention_pattern(model: int, n_t: int, n_h: int, n_w: int) -> dict[str, torch.Tensor]:
    """Which token attends to which, per kind of attention layer of ViViT Model ``model``.

    Tokens are the N = n_t n_h n_w tubelet tokens in (t, h, w) order (no CLS). Each value is
    an (N, N) bool matrix, entry [i, j] True when token i attends to token j:

    - Model 1: ``{"joint": all True}``.
    - Model 3: ``{"spatial": same frame, "temporal": same spatial position}`` - the two
      MSAs of every block. Model 4: the same two patterns, for its two halves of heads.
    - Model 2: ``"spatial"`` as above (the spatial encoder); ``"temporal"`` is the
      temporal encoder seen at token level: all True, because every frame's summary
      attends to every other frame's - but token i reaches token j only through the
      single summary token of j's frame, after the spatial encoder has finished.
    """
    if model not in MODELS:
        raise ValueError(f"unknown ViViT model {model!r}; expected one of {list(MODELS)}")
    if not all(is_int(n) and n >= 1 for n in (n_t, n_h, n_w)):
        raise ValueError(f"attention_pattern: n_t, n_h, n_w must be ints >= 1, got {(n_t, n_h, n_w)}")
    N = n_t * n_h * n_w
    check_fits(2 * N * N, "cpu", lambda: f"attention_pattern: two {N:,} x {N:,} bool matrices", "draw a smaller grid")
    idx = torch.arange(N)
    frame, position = idx // (n_h * n_w), idx % (n_h * n_w)
    same_frame = frame[:, None] == frame[None, :]
    same_position = position[:, None] == position[None, :]
    everything = torch.ones_like(same_frame)
    if model == 1:
        return {"joint": everything}
    if model == 2:
        return {"spatial": same_frame, "temporal": everything}
    return {"spatial": same_frame, "temporal": same_position}


# --------------------------------------------------------------------------------------
# Initialisation from an image model (Section 3.4)
# --------------------------------------------------------------------------------------

TUBELET_INITS = ("central", "inflate", "random")


TEMPORAL_ATTENTION_INITS = ("zero_output", "zero", "copy")


def init_from_image(vivit: ViViT, image_vit, tubelet_init: str = "central",
                    temporal_attention_init: str = "zero_output") -> ViViT:
    """Initialise ``vivit`` in place from an image ViT; returns it.

    ``image_vit``: a minimodels ``ViT`` or its state dict. A Hugging Face checkpoint is
    converted first: ``init_from_image(vivit, minimodels.hf.load_vit(path))``, or
    ``minimodels.hf.convert_vit_state_dict(state_dict)[0]`` for a state dict in memory. The
    two models must have the same width, depth, heads and spatial patch size. What is copied
    (Section 3.4 and the official code's ``initialise_from_train_state``):

    - every transformer block (norms, MSA, MLP), the final LayerNorm and the CLS token
      (Models 1-2: the CLS of Model 2's spatial encoder). Model 2: the whole image
      encoder becomes the spatial encoder; the temporal encoder keeps its random
      initialisation. (The official code leaves Model 2's spatial CLS at its zero
      initialisation - its parameter name differs from the image model's - so there the
      spatial encoder starts close to, not exactly as, the image model.)
    - positions: the image's (n_h' x n_w') table, resized bilinearly if the video's
      n_h x n_w differs, *tiled* over the n_t temporal indices (every frame starts with
      the image's positions). The CLS position is kept for Models 1-2 and dropped for
      Models 3-4 (they have no CLS). Model 2's spatial encoder takes it untiled.
    - the tubelet kernel E (d, C, t, h, w) from the patch kernel E_img (d, C, h, w):
      ``"inflate"``: E = (1/t) [E_img, ..., E_img] - filter inflation; a clip of t equal
      frames gives exactly the image's patch embedding. ``"central"``: E = [0, .., E_img,
      .., 0], E_img at index floor(t/2) (the official code's ``central_time_index = t // 2``:
      for t = 2 the second frame) - each tubelet sees only its central frame, i.e. the
      model starts as uniform frame sampling. ``"random"``: kernel and bias are left as
      they are. The paper's Table 1: central frame 79.2, inflation 77.6, random 73.2.
    - Model 3: the spatial MSA and its LayerNorm come from the image model; the temporal
      MSA starts as a residual connection (it outputs 0), the paper's intent, and the
      temporal LayerNorm is the identity (ones, zeros). ``temporal_attention_init``:
      ``"zero_output"`` (default): Q, K, V copied from the image MSA, the output projection
      (weight and bias) zero - it outputs 0, and its first gradient step makes it nonzero.
      ``"zero"``: *all* its weights and biases 0, the paper's words taken literally (the
      official code's ``attention_kernel_init_method="zero"``). Then it never learns:
      with W_V = 0 the values are 0, so the output projection gets no gradient, and with
      W_O = 0 nothing behind it does; only the output bias moves, and each temporal index
      stays on its own (a spatial model over tubelets). ``"copy"``: the image MSA copied whole, output projection included
      (the official code's default); the block does not start as a residual connection.
    - Model 4: it has Model 1's parameters; everything copies.
    - the head: copied when its shape fits (same number of classes, e.g. continuing from
      a Kinetics-pretrained image model); otherwise it keeps its initialisation - fine-tuning
      to a new label set trains it from scratch (the official code always re-initialises
      it, to zeros, unless told to restore it).
    """
    if tubelet_init not in TUBELET_INITS:
        raise ValueError(f"tubelet_init must be one of {TUBELET_INITS}, got {tubelet_init!r}")
    if temporal_attention_init not in TEMPORAL_ATTENTION_INITS:
        raise ValueError(f"temporal_attention_init must be one of {TEMPORAL_ATTENTION_INITS}, "
                         f"got {temporal_attention_init!r}")
    image = _image_state_dict(image_vit)
    c = vivit.config
    model = c.model

    # --- shapes that must agree
    patch_w = image["patch_embed.proj.weight"]
    tub_w = vivit.tubelet_embed.proj.weight
    if patch_w.shape[:2] != tub_w.shape[:2] or patch_w.shape[2:] != tub_w.shape[3:]:
        raise ValueError(
            f"init_from_image: the image patch kernel (d, C, h, w) = {tuple(patch_w.shape)} does not fit the "
            f"tubelet kernel (d, C, t, h, w) = {tuple(tub_w.shape)}: width, channels and patch size must agree"
        )
    image_depth = len({k.split(".")[2] for k in image if k.startswith("encoder.blocks.")})
    if image_depth != c.depth:
        raise ValueError(f"init_from_image: the image model has {image_depth} blocks, the video model {c.depth}")

    target = vivit.encoder.spatial if model == 2 else vivit.encoder
    new = {}
    # --- transformer blocks and final norm
    for key, value in image.items():
        if key.startswith("encoder.blocks.") or key.startswith("encoder.norm."):
            new["encoder." + key[len("encoder."):]] = value
    # --- CLS token and positions
    cls_pos, grid_pos = image["encoder.pos_embed.weight"][:, :1], image["encoder.pos_embed.weight"][:, 1:]
    d = grid_pos.shape[-1]
    if isinstance(image_vit, ViT):
        n_h0, n_w0 = image_vit.encoder.pos_embed.grid
    else:
        n_h0, n_w0 = _square_grid(grid_pos.shape[1])
    n_t, n_h, n_w = c.grid
    grid_pos = resize_grid(grid_pos.reshape(1, n_h0, n_w0, d), (n_h, n_w)).reshape(1, n_h * n_w, d)
    if model == 2:
        pos = grid_pos
    else:
        pos = grid_pos.repeat(1, n_t, 1)  # tile over time: frame i gets the image's table
    if target.cls_token is not None:
        new["encoder.cls_token"] = image["encoder.cls_token"]
        pos = torch.cat([cls_pos, pos], dim=1)
    new["encoder.pos_embed.weight"] = pos
    # Model 2: the image encoder is the spatial encoder
    state = {}
    prefix = "encoder.spatial." if model == 2 else "encoder."
    for key, value in new.items():
        state[prefix + key[len("encoder."):]] = value
    # --- tubelet kernel
    if tubelet_init != "random":
        t = c.tubelet[0]
        kernel = torch.zeros_like(tub_w, device=patch_w.device, dtype=patch_w.dtype)
        if tubelet_init == "inflate":
            kernel[:] = (patch_w / t).unsqueeze(2)
        else:
            kernel[:, :, t // 2] = patch_w
        state["tubelet_embed.proj.weight"] = kernel
        state["tubelet_embed.proj.bias"] = image["patch_embed.proj.bias"]
    # --- head
    head, image_head = vivit.head, image.get("head.weight")
    if isinstance(head, nn.Linear) and image_head is not None and image_head.shape == head.weight.shape:
        state["head.weight"], state["head.bias"] = image["head.weight"], image["head.bias"]

    own = vivit.state_dict()
    unknown = [k for k in state if k not in own]
    if unknown:
        raise KeyError(f"init_from_image: no place in the video model for {unknown[:5]}")
    for key, value in state.items():
        if own[key].shape != value.shape:
            raise ValueError(
                f"init_from_image: {key} has shape {tuple(own[key].shape)} in the video model, "
                f"{tuple(value.shape)} from the image model"
            )
    with torch.no_grad():
        for key, value in state.items():
            own[key].copy_(value)
        if model == 3:
            for block in vivit.encoder.blocks:
                nn.init.ones_(block.temporal_norm.weight)
                nn.init.zeros_(block.temporal_norm.bias)
                if temporal_attention_init == "zero":
                    for p in block.temporal_attn.parameters():
                        p.zero_()
                else:
                    block.temporal_attn.load_state_dict(block.attn.state_dict())
                    if temporal_attention_init == "zero_output":
                        block.temporal_attn.proj.weight.zero_()
                        block.temporal_attn.proj.bias.zero_()
    return vivit


def _image_state_dict(image_vit) -> dict[str, torch.Tensor]:
    if isinstance(image_vit, ViT):
        return {k: v.detach() for k, v in image_vit.state_dict().items()}
    if not isinstance(image_vit, dict):
        raise TypeError(f"init_from_image needs a minimodels ViT or its state dict, got {type(image_vit).__name__}")
    if any("patch_embeddings.projection" in k for k in image_vit):
        raise ValueError(
            "init_from_image: this is a Hugging Face ViT state dict; convert it first: "
            "init_from_image(vivit, minimodels.hf.load_vit(path)) for a checkpoint directory, or "
            "minimodels.hf.convert_vit_state_dict(state_dict)[0] for the dict"
        )
    needed = ("patch_embed.proj.weight", "encoder.pos_embed.weight", "encoder.cls_token")
    missing = [k for k in needed if k not in image_vit]
    if missing:
        raise KeyError(f"init_from_image: the image state dict lacks {missing}; expected a minimodels ViT state dict")
    return image_vit


def _square_grid(n: int) -> tuple[int, int]:
    """The patch grid of an image state dict's n positions: a square (a ViT knows its own grid)."""
    side = math.isqrt(n)
    if side * side != n:
        raise ValueError(
            f"init_from_image: the image position table has {n} patch positions, not a square grid; "
            "pass the ViT itself (its config knows the grid)"
        )
    return side, side
