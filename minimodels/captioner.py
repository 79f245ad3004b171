"""A small video captioning transformer: VideoBERT's captioning experiment (Section 4.3).

VideoBERT does not caption by itself. The paper uses it as a *feature extractor* for
the captioning model of Zhou et al. (2018), a transformer encoder-decoder: the encoder
reads a sequence of video features, the decoder writes the sentence word by word.
Two inputs are compared on YouCook2:

* **S3D** - the clip features alone;
* **VideoBERT + S3D** - the same clip features, each concatenated with VideoBERT's
  features of the segment: the video tokens are fed with the template "now let's
  [MASK] the [MASK] to the [MASK], and then [MASK] the [MASK]", and the final hidden
  states at the video tokens and at the masked text positions are averaged and
  concatenated (:func:`minimodels.videobert.caption_features`).

This file is the captioner: ``Captioner(CaptionerConfig(feature_dim, vocab_size))``,
``forward(features, feature_mask, tokens) -> logits`` with teacher forcing, and
``generate`` (greedy decoding). Everything else - which features, BLEU-4 - lives with
the recipe (:mod:`minimodels.recipes.videobert`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass
class CaptionerConfig:
    feature_dim: int  # F: size of one input feature vector
    vocab_size: int  # output words (the text vocabulary, special tokens included)
    dim: int = 128  # model width
    depth: int = 2  # encoder layers = decoder layers
    num_heads: int = 4
    mlp_dim: int = 256
    max_features: int = 32  # longest feature sequence (position table of the encoder)
    max_len: int = 24  # longest caption, [CLS] and [SEP] included (position table of the decoder)
    dropout: float = 0.1
    # sizes of the feature sources concatenated in one feature vector, each LayerNorm-ed on its own
    # before the shared projection (None: one source). VideoBERT + S3D is (D_s3d, 2 H_videobert).
    feature_groups: tuple | None = None

    def __post_init__(self):
        for name in ("feature_dim", "vocab_size", "dim", "depth", "num_heads", "mlp_dim", "max_features", "max_len"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"CaptionerConfig: {name} must be a positive int, got {value!r}")
        if self.dim % self.num_heads:
            raise ValueError(f"CaptionerConfig: dim {self.dim} is not divisible by num_heads {self.num_heads}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"CaptionerConfig: dropout must be in [0, 1), got {self.dropout}")
        if self.feature_groups is None:
            self.feature_groups = (self.feature_dim,)
        groups = tuple(self.feature_groups)
        if (not groups or any(isinstance(g, bool) or not isinstance(g, int) or g < 1 for g in groups)
                or sum(groups) != self.feature_dim):
            raise ValueError(f"CaptionerConfig: feature_groups must be positive ints summing to feature_dim "
                             f"{self.feature_dim}, got {self.feature_groups!r}")
        self.feature_groups = groups


class Captioner(nn.Module):
    """Transformer encoder over video features, transformer decoder over words.

    forward(features (B, M, F) float, feature_mask (B, M) bool - True where a feature is
    real, tokens (B, L) long - the caption so far, starting with the start token) ->
    logits (B, L, vocab_size) for the next word at every position (causal).
    """

    def __init__(self, config: CaptionerConfig):
        super().__init__()
        c = self.config = config
        # one LayerNorm per feature source: in a single one over the concatenation, the larger source
        # (VideoBERT's 2H dims next to S3D's D) would set the scale the smaller one is divided by
        self.feature_norms = nn.ModuleList(nn.LayerNorm(g) for g in c.feature_groups)
        self.feature_proj = nn.Linear(c.feature_dim, c.dim)
        self.feature_pos = nn.Parameter(torch.zeros(c.max_features, c.dim))
        self.word = nn.Embedding(c.vocab_size, c.dim)
        self.word_pos = nn.Parameter(torch.zeros(c.max_len, c.dim))
        layer = dict(d_model=c.dim, nhead=c.num_heads, dim_feedforward=c.mlp_dim, dropout=c.dropout,
                     activation="gelu", batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(nn.TransformerEncoderLayer(**layer), c.depth, norm=nn.LayerNorm(c.dim),
                                             enable_nested_tensor=False)
        self.decoder = nn.TransformerDecoder(nn.TransformerDecoderLayer(**layer), c.depth, norm=nn.LayerNorm(c.dim))
        self.head = nn.Linear(c.dim, c.vocab_size)
        nn.init.normal_(self.feature_pos, std=0.02)
        nn.init.normal_(self.word_pos, std=0.02)
        nn.init.normal_(self.word.weight, std=0.02)

    def _check(self, features, feature_mask, tokens=None) -> None:
        c = self.config
        if not isinstance(features, torch.Tensor) or features.ndim != 3 or features.shape[-1] != c.feature_dim:
            got = tuple(features.shape) if isinstance(features, torch.Tensor) else type(features).__name__
            raise ValueError(f"Captioner: features must be (B, M, {c.feature_dim}), got {got}")
        if features.shape[1] > c.max_features:
            raise ValueError(f"Captioner: {features.shape[1]} features per example but max_features is {c.max_features}")
        if feature_mask is not None and (feature_mask.shape != features.shape[:2] or feature_mask.dtype != torch.bool):
            raise ValueError(f"Captioner: feature_mask must be a bool tensor {tuple(features.shape[:2])}, got "
                             f"{feature_mask.dtype} {tuple(feature_mask.shape)}")
        if tokens is not None:
            if tokens.ndim != 2 or tokens.shape[0] != features.shape[0] or tokens.is_floating_point():
                raise ValueError(f"Captioner: tokens must be integer ids (B={features.shape[0]}, L), got "
                                 f"{tokens.dtype} {tuple(tokens.shape)}")
            if tokens.shape[1] > c.max_len:
                raise ValueError(f"Captioner: captions of {tokens.shape[1]} tokens but max_len is {c.max_len}")
            if tokens.numel() and (tokens.min() < 0 or tokens.max() >= c.vocab_size):
                raise ValueError(f"Captioner: token ids must be in [0, {c.vocab_size}), got "
                                 f"[{int(tokens.min())}, {int(tokens.max())}]")

    def encode(self, features: torch.Tensor, feature_mask: torch.Tensor | None = None) -> torch.Tensor:
        self._check(features, feature_mask)
        parts = features.split(self.config.feature_groups, dim=-1)
        x = torch.cat([norm(p) for norm, p in zip(self.feature_norms, parts)], dim=-1)
        x = self.feature_proj(x) + self.feature_pos[: features.shape[1]]
        pad = None if feature_mask is None else ~feature_mask
        return self.encoder(x, src_key_padding_mask=pad)

    def decode(self, memory, feature_mask, tokens) -> torch.Tensor:
        L = tokens.shape[1]
        y = self.word(tokens) + self.word_pos[:L]
        causal = torch.triu(torch.full((L, L), float("-inf"), device=tokens.device), diagonal=1)
        pad = None if feature_mask is None else ~feature_mask
        h = self.decoder(y, memory, tgt_mask=causal, memory_key_padding_mask=pad)
        return self.head(h)

    def forward(self, features, feature_mask, tokens) -> torch.Tensor:
        self._check(features, feature_mask, tokens)
        return self.decode(self.encode(features, feature_mask), feature_mask, tokens)

    @torch.no_grad()
    def generate(self, features, feature_mask, start_id: int, end_id: int, max_len: int | None = None) -> list:
        """Greedy decoding: a list of B id lists (without the start and end tokens)."""
        was_training = self.training
        self.eval()
        try:
            max_len = min(max_len or self.config.max_len, self.config.max_len)
            memory = self.encode(features, feature_mask)
            B = features.shape[0]
            tokens = torch.full((B, 1), start_id, dtype=torch.long, device=features.device)
            done = torch.zeros(B, dtype=torch.bool, device=features.device)
            for _ in range(max_len - 1):
                nxt = self.decode(memory, feature_mask, tokens)[:, -1].argmax(-1)
                nxt = torch.where(done, torch.full_like(nxt, end_id), nxt)
                tokens = torch.cat([tokens, nxt[:, None]], 1)
                done |= nxt == end_id
                if done.all():
                    break
        finally:
            self.train(was_training)
        out = []
        for row in tokens[:, 1:].tolist():
            out.append(row[: row.index(end_id)] if end_id in row else row)
        return out


__all__ = ["CaptionerConfig", "Captioner"]
