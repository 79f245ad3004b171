"""SegFormer (Xie et al., NeurIPS 2021, arXiv 2105.15203), readable top to bottom.

Figure 2 of the paper has two boxes, and so does this file:

- the **Mix Transformer encoder** (MiT): four stages, each an ``OverlapPatchEmbed``
  followed by ``MiTBlock``s (``EfficientSelfAttention`` + ``MixFFN``) and a LayerNorm;
  stage i gives a feature map of 1/4, 1/8, 1/16, 1/32 of the image size;
- the **All-MLP decoder**: one Linear per stage to a common width C, upsample to
  1/4, concatenate, fuse with a Linear (1x1 conv), predict classes with a Linear.

The logits come out at 1/4 of the input size, ``ceil(H / 4) x ceil(W / 4)``; they are
upsampled to label size inside the loss and to image size at test time.

Numbers follow the official code (NVlabs/SegFormer, ``mix_transformer.py`` and
``segformer_head.py``), which is what the released weights were trained with; where
the paper's text differs, a comment says so. Parameter counts equal the official
code's (B0 with 150 classes: 3,752,694).

Memory layout: inside a stage the tokens are a contiguous (B, N, C) tensor, N = H*W in
row-major order. Feature maps handed between stages and to the decoder are
(B, C, H, W) *views* of those tokens (channels-last memory), so going back and forth
between "sequence" and "image" costs no copies.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .flops import check_fits
from .layers import DropPath, Mlp, check_batch, check_fields, drop_path_rates, is_int, to_pair

# --------------------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------------------


@dataclass
class SegFormerConfig:
    """Hyper-parameters of a SegFormer model (Table 6 of the paper, as in the official code).

    Per-stage tuples have one entry per encoder stage (four in every released model).
    """

    embed_dims: tuple[int, ...] = (32, 64, 160, 256)  # C_i, channels of stage i
    depths: tuple[int, ...] = (2, 2, 2, 2)  # L_i, blocks in stage i
    num_heads: tuple[int, ...] = (1, 2, 5, 8)  # N_i, attention heads (head dim 32 in B0, 64 in B1..B5)
    # Spatial-reduction ratio *per side*: keys/values are computed on an (H/sr x W/sr) map,
    # i.e. on N / sr^2 tokens. The paper's R = [64, 16, 4, 1] counts the reduction of the
    # *sequence length* (R = sr^2); the code's 8, 4, 2, 1 counts one side.
    sr_ratios: tuple[int, ...] = (8, 4, 2, 1)
    # Mix-FFN expansion E. The paper's Table 6 says 8, 8, 4, 4; the official code and every
    # released checkpoint use 4 at all stages. An int applies to every stage, a tuple is per stage.
    mlp_ratio: float | tuple[float, ...] = 4
    patch_sizes: tuple[int, ...] = (7, 3, 3, 3)  # K: overlapping patch embedding kernel
    strides: tuple[int, ...] = (4, 2, 2, 2)  # S: its stride (padding P = K // 2)
    decoder_dim: int = 256  # C of the All-MLP decoder (256 for B0/B1, 768 for B2..B5)
    num_classes: int = 150  # N_cls (ADE20K: 150)
    in_channels: int = 3
    drop_path_rate: float = 0.1  # stochastic depth, spread linearly over all blocks
    decoder_dropout: float = 0.1  # Dropout before the classifier
    # eps of the block norms and the stage-end norms: 1e-6 in the official code. Hugging Face
    # uses PyTorch's default 1e-5 everywhere, so ``minimodels.hf`` sets 1e-5 to match it.
    # (The patch-embedding norm and the norm after the spatial reduction use 1e-5 in both.)
    layer_norm_eps: float = 1e-6
    # "mixffn": the paper's positional-encoding-free design (3x3 depthwise conv in the FFN).
    # "learned": the Table 1c ablation, a plain FFN plus a learned absolute positional
    # embedding after each stage's patch embedding, sized for ``pe_size`` and interpolated
    # bilinearly when the input size differs. "none": the plain FFN and no positional information
    # at all (Table 1c's control: what growing the input costs an encoder that has no PE to spoil).
    pos_encoding: str = "mixffn"
    pe_size: tuple[int, int] = (512, 512)  # input (H, W) the learned PE is sized for (training crop)
    # std of the learned PE's init: 0.02 as ViT and PVT draw it. Each stage's tokens leave a
    # LayerNorm (scale ~1), so at 0.02 a position starts as 2% of a token (README: Table 1c).
    pe_init_std: float = 0.02
    # "mit": the Mix Transformer. "cnn": the same four stages with each transformer block replaced
    # by a residual 3x3-conv block (ConvEncoder) - a CNN of similar cost for the receptive-field
    # comparison (the paper's Figure 3 and Table 1d: CNN encoders under the same All-MLP decoder).
    encoder: str = "mit"
    class_names: tuple[str, ...] | None = None  # optional, one name per class (id order)

    def __post_init__(self):
        for name in ("embed_dims", "depths", "num_heads", "sr_ratios", "patch_sizes", "strides"):
            setattr(self, name, tuple(int(v) for v in getattr(self, name)))
        if not isinstance(self.mlp_ratio, (int, float)):
            self.mlp_ratio = tuple(self.mlp_ratio)
        self.pe_size = to_pair(self.pe_size, "pe_size")
        if self.class_names is not None:
            self.class_names = tuple(str(c) for c in self.class_names)
        n = len(self.embed_dims)
        for name in ("depths", "num_heads", "sr_ratios", "patch_sizes", "strides", "mlp_ratios"):
            if len(getattr(self, name)) != n:
                raise ValueError(
                    f"SegFormerConfig: {name} must have one entry per stage ({n}, from embed_dims), "
                    f"got {getattr(self, name)}"
                )
        for name, low in (("embed_dims", 1), ("depths", 0), ("num_heads", 1), ("sr_ratios", 1), ("patch_sizes", 1),
                          ("strides", 1)):
            if any(v < low for v in getattr(self, name)):
                raise ValueError(f"SegFormerConfig: {name} must be ints >= {low}, got {getattr(self, name)}")
        if not all(r > 0 for r in self.mlp_ratios):
            raise ValueError(f"SegFormerConfig: mlp_ratio must be positive, got {self.mlp_ratio}")
        for name in ("in_channels", "num_classes", "decoder_dim"):
            if not is_int(getattr(self, name)) or getattr(self, name) < 1:
                raise ValueError(f"SegFormerConfig: {name} must be an int >= 1, got {getattr(self, name)!r}")
        for i, (c, h) in enumerate(zip(self.embed_dims, self.num_heads)):
            if c % h:
                raise ValueError(f"SegFormerConfig: stage {i + 1} embed_dim {c} is not divisible by num_heads {h}")
        if self.pos_encoding not in ("mixffn", "learned", "none"):
            raise ValueError("SegFormerConfig: pos_encoding must be 'mixffn', 'learned' or 'none', "
                             f"got {self.pos_encoding!r}")
        if self.encoder not in ("mit", "cnn"):
            raise ValueError(f"SegFormerConfig: encoder must be 'mit' or 'cnn', got {self.encoder!r}")
        if self.encoder == "cnn" and self.pos_encoding != "mixffn":
            raise ValueError("SegFormerConfig: encoder='cnn' has no positional encoding; pos_encoding must stay "
                             f"'mixffn' (its default), got {self.pos_encoding!r}")
        if not self.pe_init_std > 0:
            raise ValueError(f"SegFormerConfig: pe_init_std must be positive, got {self.pe_init_std!r}")
        if self.class_names is not None and len(self.class_names) != self.num_classes:
            raise ValueError(
                f"SegFormerConfig: class_names has {len(self.class_names)} names, "
                f"expected num_classes={self.num_classes}"
            )

    @property
    def mlp_ratios(self) -> tuple[float, ...]:
        """The Mix-FFN expansion ratio of every stage."""
        r = self.mlp_ratio
        return (r,) * len(self.embed_dims) if isinstance(r, (int, float)) else tuple(r)

    @property
    def num_stages(self) -> int:
        return len(self.embed_dims)


_MIT_B1_TO_B5_DIMS = (64, 128, 320, 512)

# Table 6 of the paper (MiT-B0..B5) with the decoder width of Section 4.1 (C = 256 for B0/B1, 768 otherwise).
VARIANTS: dict[str, SegFormerConfig] = {
    "b0": SegFormerConfig(embed_dims=(32, 64, 160, 256), depths=(2, 2, 2, 2), decoder_dim=256),
    "b1": SegFormerConfig(embed_dims=_MIT_B1_TO_B5_DIMS, depths=(2, 2, 2, 2), decoder_dim=256),
    "b2": SegFormerConfig(embed_dims=_MIT_B1_TO_B5_DIMS, depths=(3, 4, 6, 3), decoder_dim=768),
    "b3": SegFormerConfig(embed_dims=_MIT_B1_TO_B5_DIMS, depths=(3, 4, 18, 3), decoder_dim=768),
    "b4": SegFormerConfig(embed_dims=_MIT_B1_TO_B5_DIMS, depths=(3, 8, 27, 3), decoder_dim=768),
    "b5": SegFormerConfig(embed_dims=_MIT_B1_TO_B5_DIMS, depths=(3, 6, 40, 3), decoder_dim=768),
}


def stage_sizes(config: SegFormerConfig, height: int, width: int) -> list[tuple[int, int]]:
    """Spatial size of every stage's feature map for an input of ``height x width``.

    Each overlapping patch embedding is a convolution, so out = floor((in + 2P - K) / S) + 1
    with P = K // 2. For K/S/P = 7/4/3 that is ceil(in / 4), and for 3/2/1 ceil(in / 2):
    a 500x375 image gives 125x94, 63x47, 32x24, 16x12.
    """
    sizes = []
    for k, s in zip(config.patch_sizes, config.strides):
        p = k // 2
        height = (height + 2 * p - k) // s + 1
        width = (width + 2 * p - k) // s + 1
        sizes.append((height, width))
    return sizes


# --------------------------------------------------------------------------------------
# Encoder: Mix Transformer (MiT)
# --------------------------------------------------------------------------------------


class OverlapPatchEmbed(nn.Module):
    """Overlapped patch merging (Section 3.1): a strided Conv2d with K > S, then LayerNorm.

    K/S/P = 7/4/3 for stage 1 and 3/2/1 for stages 2-4: neighbouring patches overlap, so
    local continuity survives the merge (ViT's non-overlapping patches would cut it).
    (B, C_in, H, W) -> tokens (B, H'*W', C_out), H', W'.
    """

    def __init__(self, in_channels: int, embed_dim: int, patch_size: int, stride: int):
        super().__init__()
        for name, value in (("in_channels", in_channels), ("embed_dim", embed_dim), ("patch_size", patch_size),
                            ("stride", stride)):
            if not is_int(value) or value < 1:
                raise ValueError(f"OverlapPatchEmbed: {name} must be an int >= 1, got {value!r}")
        self.proj = nn.Conv2d(in_channels, embed_dim, patch_size, stride, padding=patch_size // 2)
        self.norm = nn.LayerNorm(embed_dim)  # eps 1e-5, as in the official code

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, int, int]:
        x = self.proj(x)
        _, _, H, W = x.shape
        x = x.flatten(2).transpose(1, 2)  # (B, C, H, W) -> (B, H*W, C)
        return self.norm(x), H, W


class EfficientSelfAttention(nn.Module):
    """Efficient self-attention (Section 3.1, Eq. 1-2): multi-head attention whose keys
    and values come from a spatially reduced sequence.

    Queries use all N = H*W tokens. For keys/values the token map is shrunk by a Conv2d
    with kernel = stride = sr (then LayerNorm), leaving N / sr^2 tokens, so the cost drops
    from O(N^2) to O(N^2 / R) with the paper's R = sr^2. Keys and values share one Linear
    (``kv``) as in the official code. Attention is ``F.scaled_dot_product_attention`` with
    scale head_dim^-0.5.
    """

    def __init__(self, dim: int, num_heads: int, sr_ratio: int):
        super().__init__()
        for name, value in (("num_heads", num_heads), ("sr_ratio", sr_ratio)):
            if not is_int(value) or value < 1:
                raise ValueError(f"EfficientSelfAttention: {name} must be an int >= 1, got {value!r}")
        if dim % num_heads:
            raise ValueError(f"EfficientSelfAttention: dim {dim} is not divisible by num_heads {num_heads}")
        self.num_heads = num_heads
        self.sr_ratio = sr_ratio
        self.q = nn.Linear(dim, dim)
        self.kv = nn.Linear(dim, 2 * dim)  # rows [:dim] are the key, rows [dim:] the value
        if sr_ratio > 1:
            self.sr = nn.Conv2d(dim, dim, kernel_size=sr_ratio, stride=sr_ratio)
            self.norm = nn.LayerNorm(dim)  # eps 1e-5, as in the official code
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, H: int, W: int) -> torch.Tensor:
        B, N, C = x.shape
        h, d = self.num_heads, C // self.num_heads
        q = self.q(x).view(B, N, h, d).transpose(1, 2)  # (B, h, N, d)
        if self.sr_ratio > 1:
            x = x.reshape(B, H, W, C).permute(0, 3, 1, 2)  # tokens -> map (B, C, H, W), a view
            x = self.sr(x).flatten(2).transpose(1, 2)  # (B, N / sr^2, C)
            x = self.norm(x)
        k, v = self.kv(x).view(B, -1, 2, h, d).permute(2, 0, 3, 1, 4)  # each (B, h, N', d)
        x = F.scaled_dot_product_attention(q, k, v)  # softmax(q k^T / sqrt(d)) v
        x = x.transpose(1, 2).reshape(B, N, C)  # concatenate the heads
        return self.proj(x)


class MixFFN(nn.Module):
    """Mix-FFN (Section 3.1, Eq. 3): x_out = MLP(GELU(Conv3x3(MLP(x_in)))) + x_in.

    A 3x3 depthwise convolution (with bias) between the two Linears leaks enough zero-padding
    information to locate tokens, so the encoder needs no positional encoding. The conv
    comes before the GELU. (The residual is added by ``MiTBlock``.)
    forward(tokens (B, H*W, C), H, W) -> (B, H*W, C).
    """

    def __init__(self, dim: int, hidden_dim: int):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden_dim)
        self.dwconv = nn.Conv2d(hidden_dim, hidden_dim, 3, padding=1, groups=hidden_dim)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden_dim, dim)

    def forward(self, x: torch.Tensor, H: int, W: int) -> torch.Tensor:
        B = x.shape[0]
        x = self.fc1(x)
        x = x.reshape(B, H, W, -1).permute(0, 3, 1, 2)  # tokens -> map (B, 4C, H, W), a view
        x = self.dwconv(x).flatten(2).transpose(1, 2)  # map -> tokens
        return self.fc2(self.act(x))


class FFN(Mlp):
    """The plain FFN of ViT, Linear -> GELU -> Linear: what replaces Mix-FFN in the ablation
    with a learned positional encoding (Table 1c). ``MixFFN``'s signature; H and W are not read.
    """

    def forward(self, x: torch.Tensor, H: int, W: int) -> torch.Tensor:
        return super().forward(x)


class MiTBlock(nn.Module):
    """One transformer block of the MiT encoder (pre-norm, as in Figure 2):

        x = x + DropPath(EfficientSelfAttention(LN(x)))
        x = x + DropPath(MixFFN(LN(x)))

    ``mlp_layer`` is ``MixFFN``, or the plain ``FFN`` with ``pos_encoding="learned"`` (Table 1c)
    or ``"none"``.
    """

    def __init__(
        self,
        dim: int,
        num_heads: int,
        sr_ratio: int,
        mlp_ratio: float,
        drop_path: float = 0.0,
        eps: float = 1e-6,
        mlp_layer: type[MixFFN | FFN] = MixFFN,
    ):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=eps)
        self.attn = EfficientSelfAttention(dim, num_heads, sr_ratio)
        self.norm2 = nn.LayerNorm(dim, eps=eps)
        self.mlp = mlp_layer(dim, int(dim * mlp_ratio))
        self.drop_path = DropPath(drop_path)

    def forward(self, x: torch.Tensor, H: int, W: int) -> torch.Tensor:
        x = x + self.drop_path(self.attn(self.norm1(x), H, W))
        return x + self.drop_path(self.mlp(self.norm2(x), H, W))


class MixTransformer(nn.Module):
    """The hierarchical MiT encoder: per stage, OverlapPatchEmbed -> MiTBlocks -> LayerNorm.

    forward(x (B, C_in, H, W)) -> list of 4 feature maps (B, C_i, H_i, W_i) at 1/4, 1/8,
    1/16, 1/32 of the input (``stage_sizes``). The maps are channels-last views of the
    stage's tokens.
    """

    def __init__(self, config: SegFormerConfig):
        super().__init__()
        self.config = config
        dims, n = config.embed_dims, config.num_stages
        rates = drop_path_rates(config.drop_path_rate, sum(config.depths))
        mix_ffn = config.pos_encoding == "mixffn"
        mlp_layer = MixFFN if mix_ffn else FFN
        self.patch_embeds = nn.ModuleList(
            OverlapPatchEmbed(
                config.in_channels if i == 0 else dims[i - 1], dims[i], config.patch_sizes[i], config.strides[i]
            )
            for i in range(n)
        )
        if config.pos_encoding == "learned":
            # Learned absolute positional embeddings, one grid per stage at the training resolution.
            self.pos_embeds = nn.ParameterList(
                nn.Parameter(torch.zeros(1, dims[i], h, w))
                for i, (h, w) in enumerate(stage_sizes(config, *config.pe_size))
            )
        self.blocks = nn.ModuleList()
        for i in range(n):
            start = sum(config.depths[:i])
            self.blocks.append(
                nn.ModuleList(
                    MiTBlock(
                        dims[i],
                        config.num_heads[i],
                        config.sr_ratios[i],
                        config.mlp_ratios[i],
                        drop_path=rates[start + j],
                        eps=config.layer_norm_eps,
                        mlp_layer=mlp_layer,
                    )
                    for j in range(config.depths[i])
                )
            )
        self.norms = nn.ModuleList(nn.LayerNorm(d, eps=config.layer_norm_eps) for d in dims)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        B = x.shape[0]
        # Channels-last memory: then every (B, C, H, W) map below is a free view of (B, H*W, C) tokens.
        x = x.contiguous(memory_format=torch.channels_last)
        features = []
        for i in range(self.config.num_stages):
            x, H, W = self.patch_embeds[i](x)  # (B, N_i, C_i)
            if self.config.pos_encoding == "learned":
                x = x + self.positional_embedding(i, H, W)
            for block in self.blocks[i]:
                x = block(x, H, W)
            x = self.norms[i](x)
            x = x.reshape(B, H, W, -1).permute(0, 3, 1, 2)  # (B, C_i, H_i, W_i), channels-last view
            features.append(x)
        return features

    @torch.no_grad()
    def resize_positional_embeddings(self, height: int, width: int) -> None:
        """Resample the learned PE grids, in place, to those of a (height, width) input (bilinear)
        and make that the size they are trained at - what a ViT does once when fine-tuned at a
        new resolution. Pretrain with the PE sized for the pretraining crops, then call this:
        training a grid through per-forward *down*-sampling instead would update only the
        entries the bilinear kernel samples and leave the rest at their initial values."""
        if self.config.pos_encoding != "learned":
            raise ValueError("resize_positional_embeddings needs pos_encoding='learned'; "
                             f"this encoder uses {self.config.pos_encoding!r} (Mix-FFN has no grid to resize)")
        for i, (h, w) in enumerate(stage_sizes(self.config, height, width)):
            pe = self.pos_embeds[i]
            if pe.shape[-2:] != (h, w):
                resized = F.interpolate(pe.data, size=(h, w), mode="bilinear", align_corners=False)
                self.pos_embeds[i] = nn.Parameter(resized, requires_grad=pe.requires_grad)
        self.config.pe_size = (height, width)

    def positional_embedding(self, stage: int, H: int, W: int) -> torch.Tensor:
        """The learned PE of ``stage`` as tokens (1, H*W, C), resized bilinearly if (H, W) differs
        from the grid it was trained at - the step Table 1c shows hurts at new resolutions."""
        pe = self.pos_embeds[stage]
        if pe.shape[-2:] != (H, W):
            pe = F.interpolate(pe, size=(H, W), mode="bilinear", align_corners=False)
        return pe.flatten(2).transpose(1, 2)


class ConvBlock(nn.Module):
    """A ResNet basic block: 3x3 conv - BN - ReLU - 3x3 conv - BN, plus the input, then ReLU."""

    def __init__(self, dim: int):
        super().__init__()
        self.conv1 = nn.Conv2d(dim, dim, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(dim)
        self.conv2 = nn.Conv2d(dim, dim, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(dim)

    def forward(self, x):
        return torch.relu(x + self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(x))))))


class ConvEncoder(nn.Module):
    """A CNN with MiT's layout (``encoder="cnn"``): the same overlapping patch embeddings (convs
    K/S 7/4, 3/2, 3/2, 3/2), widths and depths, with each transformer block replaced by a
    :class:`ConvBlock`. Every output pixel then sees only a fixed, local window of the input
    (its theoretical receptive field), where MiT's attention reaches the whole image from
    stage 1: the comparison behind the paper's Figure 3.

    forward(x (B, C_in, H, W)) -> list of 4 feature maps (B, C_i, H_i, W_i), as MixTransformer.
    """

    def __init__(self, config: SegFormerConfig):
        super().__init__()
        self.config = config
        dims = config.embed_dims
        self.patch_embeds = nn.ModuleList(
            nn.Sequential(nn.Conv2d(config.in_channels if i == 0 else dims[i - 1], dims[i], k, s, k // 2, bias=False),
                          nn.BatchNorm2d(dims[i]), nn.ReLU())
            for i, (k, s) in enumerate(zip(config.patch_sizes, config.strides)))
        self.blocks = nn.ModuleList(nn.Sequential(*(ConvBlock(dims[i]) for _ in range(config.depths[i])))
                                    for i in range(config.num_stages))

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        features = []
        for embed, blocks in zip(self.patch_embeds, self.blocks):
            x = blocks(embed(x))
            features.append(x)
        return features


# --------------------------------------------------------------------------------------
# Decoder: All-MLP head
# --------------------------------------------------------------------------------------


class ConcatLinear(nn.Linear):
    """``Linear(sum of input widths, out)`` applied to the concatenation of its inputs
    along the last dimension, without building the concatenated tensor.

    Splitting the weight into column blocks, W [x_1; x_2; ...] = W_1 x_1 + W_2 x_2 + ...:
    the same numbers and the same multiply-adds, but the (B, H/4, W/4, 4C) concatenation -
    the largest tensor of the decoder - is never written to memory. forward(list of
    (..., in_i) tensors) -> (..., out).
    """

    def forward(self, xs: list[torch.Tensor]) -> torch.Tensor:
        widths = [x.shape[-1] for x in xs]
        if sum(widths) != self.in_features:
            raise ValueError(f"ConcatLinear expects inputs of total width {self.in_features}, got widths {widths}")
        blocks = self.weight.split(widths, dim=1)
        out = F.linear(xs[0], blocks[0], self.bias).view(-1, self.out_features)
        for x, w in zip(xs[1:], blocks[1:]):
            out = torch.addmm(out, x.reshape(-1, x.shape[-1]), w.t())  # out + x @ W_i^T
        return out.view(*xs[0].shape[:-1], self.out_features)


class AllMLPDecoder(nn.Module):
    """The lightweight All-MLP decoder (Section 3.2, Eq. 4):

        F_i' = Linear(C_i, C)(F_i)                 for every stage i     (``linear_c``)
        F_i' = Upsample(H/4 x W/4)(F_i')           bilinear, align_corners=False
        F    = Linear(4C, C)(Concat(F_i'))         + BatchNorm + ReLU    (``linear_fuse``, ``bn``)
        M    = Linear(C, N_cls)(F)                 after Dropout 0.1     (``classifier``)

    Every "Linear" acts on each pixel's channel vector. The official code writes the last
    two as 1x1 convolutions - the same map with weights of shape (out, in, 1, 1); here they
    are Linears applied to channels-last pixels, exactly the paper's equations, and the
    fusing Linear reads the four maps directly instead of a concatenated copy
    (``ConcatLinear``). The concatenation order is [c4, c3, c2, c1] as in the official code
    (it matters for loading weights). forward(list of 4 maps (B, C_i, H_i, W_i)) -> logits
    (B, N_cls, H_1, W_1).
    """

    def __init__(self, embed_dims: tuple[int, ...], decoder_dim: int, num_classes: int, dropout: float = 0.1):
        super().__init__()
        self.linear_c = nn.ModuleList(nn.Linear(c, decoder_dim) for c in embed_dims)
        self.linear_fuse = ConcatLinear(len(embed_dims) * decoder_dim, decoder_dim, bias=False)
        self.bn = nn.BatchNorm2d(decoder_dim)
        self.act = nn.ReLU(inplace=True)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(decoder_dim, num_classes)

    def forward(self, features: list[torch.Tensor]) -> torch.Tensor:
        H, W = features[0].shape[-2:]
        outs = []
        for f, linear in zip(features, self.linear_c):
            x = linear(f.permute(0, 2, 3, 1))  # (B, h, w, C_i) -> (B, h, w, C): one Linear per pixel
            if x.shape[1:3] != (H, W):  # stage 1 is already H/4 x W/4 (resizing it is the identity)
                x = F.interpolate(x.permute(0, 3, 1, 2), size=(H, W), mode="bilinear", align_corners=False)
                x = x.permute(0, 2, 3, 1)
            outs.append(x)
        x = self.linear_fuse(outs[::-1])  # Linear(4C, C)(Concat(c4, c3, c2, c1)) -> (B, H, W, C)
        x = self.act(self.bn(x.permute(0, 3, 1, 2)))  # BatchNorm2d normalises dim 1: view as (B, C, H, W)
        x = self.classifier(self.dropout(x).permute(0, 2, 3, 1))  # (B, H, W, N_cls)
        return x.permute(0, 3, 1, 2)  # (B, N_cls, H, W), channels-last memory


# --------------------------------------------------------------------------------------
# The whole model
# --------------------------------------------------------------------------------------


class SegFormer(nn.Module):
    """SegFormer = MixTransformer encoder + AllMLPDecoder (Figure 2).

    forward(images (B, C_in, H, W) float) -> logits (B, num_classes, ceil(H/4), ceil(W/4)).
    The images have the weights' dtype (another one only under ``torch.autocast``); a batch
    whose attention scores would not fit in the device's memory is refused (``MemoryError``)
    before anything is computed.
    """

    def __init__(self, config: SegFormerConfig):
        super().__init__()
        self.config = config
        self.encoder = MixTransformer(config) if config.encoder == "mit" else ConvEncoder(config)
        self.decoder = AllMLPDecoder(config.embed_dims, config.decoder_dim, config.num_classes, config.decoder_dropout)
        self.apply(_init_weights)
        # linear_fuse and the classifier are 1x1 convs in the official code: initialise them as such
        nn.init.normal_(self.decoder.linear_fuse.weight, 0.0, math.sqrt(2.0 / config.decoder_dim))
        nn.init.normal_(self.decoder.classifier.weight, std=0.01)
        if config.pos_encoding == "learned":
            # truncated at +-2 as timm's ViT and PVT draw it (at std 0.02 that cuts nothing), or at
            # +-2 std when the std is above 1, so a larger pe_init_std really gives larger positions
            std = config.pe_init_std
            bound = 2.0 * max(1.0, std)
            for pe in self.encoder.pos_embeds:
                nn.init.trunc_normal_(pe, std=std, a=-bound, b=bound)

    @classmethod
    def from_variant(cls, name: str, num_classes: int = 150, **overrides) -> "SegFormer":
        """SegFormer-B0..B5 with ``num_classes`` outputs; ``overrides`` replace config fields
        (e.g. ``decoder_dim=768``, ``drop_path_rate=0.0``, ``pos_encoding="learned"``)."""
        return cls(variant_config(name, num_classes=num_classes, **overrides))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        self._check_input(images)
        return self.decoder(self.encoder(images))

    def _check_input(self, x) -> None:
        c = self.config
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"SegFormer expects a torch.Tensor (B, {c.in_channels}, H, W), got {type(x).__name__}")
        if x.ndim != 4:
            raise ValueError(f"SegFormer expects images of shape (B, {c.in_channels}, H, W), got {tuple(x.shape)}")
        if x.shape[1] != c.in_channels:
            raise ValueError(
                f"SegFormer expects {c.in_channels} input channels (B, {c.in_channels}, H, W), "
                f"got {x.shape[1]} in shape {tuple(x.shape)}"
            )
        if not x.is_floating_point():
            raise TypeError(f"SegFormer expects floating-point images (e.g. float32), got dtype {x.dtype}")
        check_batch(x, self.decoder.classifier.weight, "SegFormer", "images")
        B, H, W = x.shape[0], x.shape[-2], x.shape[-1]
        sizes = stage_sizes(c, H, W)
        for i, ((h, w), sr) in enumerate(zip(sizes, c.sr_ratios)):
            if min(h, w) < sr:
                raise ValueError(
                    f"SegFormer: input {H}x{W} is too small - stage {i + 1}'s map is {h}x{w}, smaller than its "
                    f"spatial-reduction kernel {sr}x{sr}; use at least {min_input_size(c)}x{min_input_size(c)}"
                )
        # the largest attention scores (stage 1's in every variant), which the math attention kernel stores
        scores = [B * heads * (h * w) * ((h // sr) * (w // sr)) for (h, w), sr, heads in zip(sizes, c.sr_ratios,
                                                                                             c.num_heads)]
        i = max(range(len(scores)), key=scores.__getitem__)
        (h, w), sr = sizes[i], c.sr_ratios[i]
        check_fits(scores[i] * x.element_size(), x.device, lambda: (
            f"SegFormer: {B} images of {H}x{W} give stage-{i + 1} attention scores of {B} x {c.num_heads[i]} heads x "
            f"{h * w:,} queries x {(h // sr) * (w // sr):,} keys in {x.dtype}"), "use a smaller batch or image")


def variant_config(name: str, num_classes: int = 150, **overrides) -> SegFormerConfig:
    """The config of a named variant ("b0".."b5") with ``num_classes`` and field overrides."""
    key = name.lower() if isinstance(name, str) else name
    if key not in VARIANTS:
        raise KeyError(f"unknown SegFormer variant {name!r}; valid: {sorted(VARIANTS)}")
    check_fields(SegFormerConfig, overrides)
    return dataclasses.replace(VARIANTS[key], num_classes=num_classes, **overrides)


def min_input_size(config: SegFormerConfig) -> int:
    """Smallest square input every stage's spatial reduction accepts (29 for B0..B5)."""
    size = 1
    while any(min(hw) < sr for hw, sr in zip(stage_sizes(config, size, size), config.sr_ratios)):
        size += 1
    return size


def _init_weights(m: nn.Module) -> None:
    """Initialisation of the official code: truncated normal (std 0.02) for Linear,
    fan-out normal for convolutions, ones/zeros for the norms."""
    if isinstance(m, nn.Linear):
        nn.init.trunc_normal_(m.weight, std=0.02)
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, nn.Conv2d):
        fan_out = m.kernel_size[0] * m.kernel_size[1] * m.out_channels // m.groups
        nn.init.normal_(m.weight, 0.0, math.sqrt(2.0 / fan_out))
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, (nn.LayerNorm, nn.BatchNorm2d)):
        nn.init.ones_(m.weight)
        nn.init.zeros_(m.bias)
