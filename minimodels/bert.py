"""BERT (Devlin et al., NAACL 2019) with its masked-language-model head: VideoBERT's backbone.

VideoBERT (Sun et al., ICCV 2019) is BERT-large with 20,736 visual words appended to
its vocabulary: a video clip becomes a token like any word piece, and the same masked
language modelling objective learns text, video and the two together. This file is the
text model; ``extend_vocab`` adds the visual words. Its boxes, top to bottom:

- ``BertEmbeddings``: word + position + token-type (segment) embeddings, summed, then
  LayerNorm and dropout. Positions are learned, one row per position up to
  ``max_positions``.
- ``BertLayer`` (x ``depth``): **post-LN**, as in the original Transformer and BERT -
  the LayerNorm comes *after* each residual sum (ViT and ViViT normalise before):

      x = LN(x + Dropout(MSA(x, mask)))
      x = LN(x + Dropout(W_2 GELU(W_1 x)))

  ``BertSelfAttention`` is multi-head attention with separate query / key / value
  Linears (as in BERT's checkpoints) through ``F.scaled_dot_product_attention``;
  padding positions are hidden from every query by an additive mask.
- ``BertMLMHead``: Linear -> GELU -> LayerNorm, then the *decoder*: a product with the
  word-embedding matrix itself (weights tied: one table reads tokens in and scores them
  out) plus a per-token bias. Output: logits over the vocabulary at every position.

GELU is the exact (erf) one, BERT's ``hidden_act="gelu"``. ``minimodels.hf.load_bert``
loads Hugging Face ``BertForMaskedLM`` checkpoints (e.g. ``bert-large-uncased``) into
this model with the same logits.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .layers import check_fields

# --------------------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------------------

# BERT sizes: layers L, width H, heads A, MLP width 4H. "base" and "large" are the paper's
# (Devlin et al. 2019); tiny / mini / small / medium are Google's compact BERTs
# (Turc et al. 2019, "Well-Read Students Learn Better"). VideoBERT starts from "large".
VARIANTS: dict[str, dict[str, int]] = {
    "tiny": dict(depth=2, hidden_dim=128, num_heads=2, mlp_dim=512),
    "mini": dict(depth=4, hidden_dim=256, num_heads=4, mlp_dim=1024),
    "small": dict(depth=4, hidden_dim=512, num_heads=8, mlp_dim=2048),
    "medium": dict(depth=8, hidden_dim=512, num_heads=8, mlp_dim=2048),
    "base": dict(depth=12, hidden_dim=768, num_heads=12, mlp_dim=3072),
    "large": dict(depth=24, hidden_dim=1024, num_heads=16, mlp_dim=4096),
}

BERT_VOCAB_SIZE = 30522  # the uncased WordPiece vocabulary of the released English BERTs


@dataclass
class BertConfig:
    """Hyper-parameters of a BERT masked language model. Defaults: BERT-base, uncased vocabulary."""

    vocab_size: int = BERT_VOCAB_SIZE
    hidden_dim: int = 768  # H
    depth: int = 12  # L
    num_heads: int = 12  # A
    mlp_dim: int = 3072  # 4H
    max_positions: int = 512  # rows of the learned position table: the longest sequence
    type_vocab_size: int = 2  # segments (sentence A / B; VideoBERT: text / video)
    dropout: float = 0.1  # embeddings, attention output, MLP output
    attention_dropout: float = 0.1  # on the attention weights
    layer_norm_eps: float = 1e-12
    pad_token_id: int = 0  # its word-embedding row starts at zero

    def __post_init__(self):
        for name in ("vocab_size", "hidden_dim", "depth", "num_heads", "mlp_dim", "max_positions", "type_vocab_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"BertConfig: {name} must be a positive int, got {value!r}")
        if self.hidden_dim % self.num_heads:
            raise ValueError(f"BertConfig: hidden_dim {self.hidden_dim} is not divisible by num_heads {self.num_heads}")
        for name in ("dropout", "attention_dropout"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ValueError(f"BertConfig: {name} must be in [0, 1), got {getattr(self, name)}")
        if self.pad_token_id is not None and not 0 <= self.pad_token_id < self.vocab_size:
            raise ValueError(
                f"BertConfig: pad_token_id must be in [0, vocab_size={self.vocab_size}) or None, "
                f"got {self.pad_token_id}"
            )


def variant_config(name: str, vocab_size: int = BERT_VOCAB_SIZE, **overrides) -> BertConfig:
    """``BertConfig`` of a named size (see ``VARIANTS``) with ``overrides`` applied."""
    if name not in VARIANTS:
        raise ValueError(f"unknown BERT variant {name!r}; expected one of {list(VARIANTS)}")
    check_fields(BertConfig, overrides)
    return BertConfig(**{**VARIANTS[name], "vocab_size": vocab_size, **overrides})


# --------------------------------------------------------------------------------------
# Modules
# --------------------------------------------------------------------------------------


class BertEmbeddings(nn.Module):
    """Token i's input vector: word[id_i] + position[i] + token_type[type_i] -> LayerNorm -> Dropout."""

    def __init__(self, c: BertConfig):
        super().__init__()
        self.word = nn.Embedding(c.vocab_size, c.hidden_dim, padding_idx=c.pad_token_id)
        self.position = nn.Embedding(c.max_positions, c.hidden_dim)
        self.token_type = nn.Embedding(c.type_vocab_size, c.hidden_dim)
        self.norm = nn.LayerNorm(c.hidden_dim, eps=c.layer_norm_eps)
        self.drop = nn.Dropout(c.dropout)

    def forward(self, input_ids: torch.Tensor, token_type_ids: torch.Tensor) -> torch.Tensor:
        positions = torch.arange(input_ids.shape[1], device=input_ids.device)
        x = self.word(input_ids) + self.position(positions) + self.token_type(token_type_ids)
        return self.drop(self.norm(x))


class Packing:
    """The real tokens of a padded batch, for running the per-token layers on them alone.

    ``attention_mask`` (B, L): 1 = token, 0 = padding. ``unpad(x)``: (B, L, ...) -> (N, ...), the N
    real tokens in row order; ``pad(t)``: the inverse, with zeros at the padding. Every layer of
    BERT except attention treats each token on its own, so running them on the N real tokens
    gives the same values there as the padded batch, without spending work on padding - in
    VideoBERT's pre-training batches 60% of the positions are padding.
    """

    def __init__(self, attention_mask: torch.Tensor):
        self.shape = tuple(attention_mask.shape)
        self.index = attention_mask.reshape(-1).nonzero().squeeze(1)

    def unpad(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape(-1, *x.shape[2:]).index_select(0, self.index)

    def pad(self, t: torch.Tensor) -> torch.Tensor:
        out = t.new_zeros(self.shape[0] * self.shape[1], *t.shape[1:])
        return out.index_copy(0, self.index, t).view(*self.shape, *t.shape[1:])


class BertSelfAttention(nn.Module):
    """Multi-head self-attention with a key mask: softmax(Q K^T / sqrt(d_h) + M) V per head,
    heads concatenated, then the output projection. ``mask`` is additive, (B, 1, 1, L): 0 for
    a real token, a very negative number for padding, so no query attends to padding."""

    def __init__(self, dim: int, num_heads: int, attention_dropout: float = 0.0, dropout: float = 0.0):
        super().__init__()
        self.num_heads = num_heads
        self.q = nn.Linear(dim, dim)
        self.k = nn.Linear(dim, dim)
        self.v = nn.Linear(dim, dim)
        self.proj = nn.Linear(dim, dim)
        self.attention_dropout = attention_dropout
        self.proj_drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None,
                tokens: "Packing | None" = None) -> torch.Tensor:
        """x: (B, L, C); or, with ``tokens``, only the real tokens (N, C) of a padded batch: the
        projections run on those alone and attention on them laid out (B, L) again."""
        if tokens is not None:  # q, k, v of the real tokens, padded for attention (padding: masked keys)
            q, k, v = (tokens.pad(f(x)) for f in (self.q, self.k, self.v))
        else:
            q, k, v = self.q(x), self.k(x), self.v(x)
        B, L, C = q.shape
        heads = lambda t: t.view(B, L, self.num_heads, C // self.num_heads).transpose(1, 2)  # noqa: E731
        dropout = self.attention_dropout if self.training else 0.0
        y = F.scaled_dot_product_attention(heads(q), heads(k), heads(v), attn_mask=mask,
                                           dropout_p=dropout).transpose(1, 2).reshape(B, L, C)  # (B, L, C)
        return self.proj_drop(self.proj(tokens.unpad(y) if tokens is not None else y))


class BertLayer(nn.Module):
    """One post-LN encoder layer: x = LN(x + MSA(x)); x = LN(x + MLP(x)), MLP = Linear -> GELU -> Linear."""

    def __init__(self, c: BertConfig):
        super().__init__()
        self.attn = BertSelfAttention(c.hidden_dim, c.num_heads, c.attention_dropout, c.dropout)
        self.norm1 = nn.LayerNorm(c.hidden_dim, eps=c.layer_norm_eps)
        self.fc1 = nn.Linear(c.hidden_dim, c.mlp_dim)  # BERT's "intermediate"
        self.fc2 = nn.Linear(c.mlp_dim, c.hidden_dim)  # BERT's "output"
        self.norm2 = nn.LayerNorm(c.hidden_dim, eps=c.layer_norm_eps)
        self.drop = nn.Dropout(c.dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None,
                tokens: "Packing | None" = None) -> torch.Tensor:
        x = self.norm1(x + self.attn(x, mask, tokens))
        return self.norm2(x + self.drop(self.fc2(F.gelu(self.fc1(x)))))


class BertMLMHead(nn.Module):
    """Masked-LM head: Linear -> GELU -> LayerNorm, then scores against the (tied) word
    embeddings plus a bias: logits = LN(GELU(W h + b)) E^T + bias, one per vocabulary entry."""

    def __init__(self, c: BertConfig):
        super().__init__()
        self.dense = nn.Linear(c.hidden_dim, c.hidden_dim)
        self.norm = nn.LayerNorm(c.hidden_dim, eps=c.layer_norm_eps)
        self.bias = nn.Parameter(torch.zeros(c.vocab_size))

    def forward(self, hidden: torch.Tensor, word_embeddings: torch.Tensor) -> torch.Tensor:
        return F.linear(self.norm(F.gelu(self.dense(hidden))), word_embeddings, self.bias)


class Bert(nn.Module):
    """BERT masked language model: BertEmbeddings -> ``depth`` x BertLayer -> BertMLMHead.

    forward(input_ids (B, L) int, token_type_ids=None (B, L) int, attention_mask=None (B, L)
    1 = token / 0 = padding) -> MLM logits (B, L, vocab_size). ``encode`` returns the
    final hidden states (B, L, hidden_dim) instead (position 0, [CLS], feeds classifiers
    such as VideoBERT's text-video alignment head). token_type_ids default to 0.
    """

    def __init__(self, config: BertConfig):
        super().__init__()
        self.config = config
        self.embeddings = BertEmbeddings(config)
        self.layers = nn.ModuleList(BertLayer(config) for _ in range(config.depth))
        self.mlm_head = BertMLMHead(config)
        self.apply(_init_weights)

    @classmethod
    def from_variant(cls, name: str, vocab_size: int = BERT_VOCAB_SIZE, **overrides) -> "Bert":
        """BERT of a named size (``VARIANTS``: tiny, mini, small, medium, base, large);
        ``overrides`` replace config fields (``max_positions=128``, ``dropout=0.0`` ...)."""
        return cls(variant_config(name, vocab_size, **overrides))

    def encode(self, input_ids: torch.Tensor, token_type_ids: torch.Tensor | None = None,
               attention_mask: torch.Tensor | None = None, skip_padding: bool = False) -> torch.Tensor:
        """Final hidden states (B, L, hidden_dim). ``skip_padding`` (with an ``attention_mask``):
        the per-token layers run on the real tokens only (:class:`Packing`) - the same values at
        every real token, zeros at the padding (which nothing should read) - much faster when
        most of a batch is padding, as in training on short sequences of mixed lengths."""
        input_ids, token_type_ids, attention_mask = self._check_input(input_ids, token_type_ids, attention_mask)
        x = self.embeddings(input_ids, token_type_ids)
        mask, tokens = None, None
        if attention_mask is not None:  # (B, L) 1/0 -> additive (B, 1, 1, L): 0 / most negative
            mask = torch.zeros(attention_mask.shape, dtype=x.dtype, device=x.device)
            mask = mask.masked_fill(~attention_mask.bool(), torch.finfo(x.dtype).min)[:, None, None, :]
            if skip_padding:
                tokens = Packing(attention_mask)
                x = tokens.unpad(x)
        for layer in self.layers:
            x = layer(x, mask, tokens)
        return tokens.pad(x) if tokens is not None else x

    def forward(self, input_ids: torch.Tensor, token_type_ids: torch.Tensor | None = None,
                attention_mask: torch.Tensor | None = None, skip_padding: bool = False) -> torch.Tensor:
        """MLM logits (B, L, vocab_size); ``skip_padding``: see :meth:`encode` (the head too runs
        on the real tokens only; the logits at the padding are zeros)."""
        hidden = self.encode(input_ids, token_type_ids, attention_mask, skip_padding)
        return self.mlm_logits(hidden, attention_mask if skip_padding else None)

    def mlm_logits(self, hidden: torch.Tensor, attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        """The MLM head on hidden states (B, L, hidden_dim); with an ``attention_mask``, on the
        real tokens only (zeros at the padding)."""
        if attention_mask is None:
            return self.mlm_head(hidden, self.embeddings.word.weight)
        tokens = Packing(attention_mask)
        return tokens.pad(self.mlm_head(tokens.unpad(hidden), self.embeddings.word.weight))

    def _check_input(self, input_ids, token_type_ids, attention_mask):
        c = self.config
        if not isinstance(input_ids, torch.Tensor):
            raise TypeError(f"Bert expects input_ids as a torch.Tensor (B, L), got {type(input_ids).__name__}")
        if input_ids.ndim != 2:
            hint = ""
            if input_ids.ndim == 1:
                hint = " - one sequence without a batch dimension? use input_ids.unsqueeze(0)"
            raise ValueError(f"Bert expects input_ids of shape (B, L), got {tuple(input_ids.shape)}{hint}")
        if input_ids.is_floating_point() or input_ids.is_complex() or input_ids.dtype == torch.bool:
            raise TypeError(f"Bert expects integer input_ids (e.g. int64), got dtype {input_ids.dtype}")
        L = input_ids.shape[1]
        if L > c.max_positions:
            raise ValueError(f"Bert: sequence length {L} exceeds max_positions={c.max_positions}")
        if input_ids.numel() and (input_ids.min() < 0 or input_ids.max() >= c.vocab_size):
            raise ValueError(
                f"Bert: input_ids must lie in [0, vocab_size={c.vocab_size}), got min {int(input_ids.min())}, "
                f"max {int(input_ids.max())}"
            )
        if token_type_ids is None:
            token_type_ids = torch.zeros_like(input_ids)
        else:
            _check_companion("token_type_ids", token_type_ids, input_ids.shape)
            if token_type_ids.is_floating_point() or token_type_ids.dtype == torch.bool:
                raise TypeError(f"Bert expects integer token_type_ids, got dtype {token_type_ids.dtype}")
            if token_type_ids.numel() and (token_type_ids.min() < 0 or token_type_ids.max() >= c.type_vocab_size):
                raise ValueError(
                    f"Bert: token_type_ids must lie in [0, type_vocab_size={c.type_vocab_size}), got min "
                    f"{int(token_type_ids.min())}, max {int(token_type_ids.max())}"
                )
        if attention_mask is not None:
            _check_companion("attention_mask", attention_mask, input_ids.shape)
            if attention_mask.dtype != torch.bool and not ((attention_mask == 0) | (attention_mask == 1)).all():
                raise ValueError("Bert: attention_mask must hold 1 (token) and 0 (padding) only, or be a bool tensor")
        return input_ids, token_type_ids, attention_mask


def _check_companion(name: str, t, shape) -> None:
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"Bert expects {name} as a torch.Tensor {tuple(shape)}, got {type(t).__name__}")
    if t.shape != shape:
        raise ValueError(f"Bert: {name} must have the shape of input_ids {tuple(shape)}, got {tuple(t.shape)}")


def _init_weights(m: nn.Module) -> None:
    """BERT's initialisation: normal(0, 0.02) for Linear and Embedding weights, zero biases
    and padding row, LayerNorm ones / zeros."""
    if isinstance(m, nn.Linear):
        nn.init.normal_(m.weight, std=0.02)
        nn.init.zeros_(m.bias)
    elif isinstance(m, nn.Embedding):
        nn.init.normal_(m.weight, std=0.02)
        if m.padding_idx is not None:
            with torch.no_grad():
                m.weight[m.padding_idx].zero_()
    elif isinstance(m, nn.LayerNorm):
        nn.init.ones_(m.weight)
        nn.init.zeros_(m.bias)


# --------------------------------------------------------------------------------------
# Visual words: appending rows to the vocabulary
# --------------------------------------------------------------------------------------


def extend_vocab(model: Bert, n_new: int, init: torch.Tensor | None = None,
                 projection: str | torch.Tensor = "orthogonal", rescale: bool = False,
                 seed: int = 0) -> Bert:
    """Append ``n_new`` tokens to ``model``'s vocabulary (in place; returns the model).

    VideoBERT appends its 20,736 visual words to BERT's word-piece table. New token ``i``
    gets id ``old_vocab_size + i``: a row of the word embeddings (tied to the MLM decoder,
    so it is also the new token's output vector) and a zero MLM bias. Old tokens keep
    their rows and bias, so their logits are unchanged apart from the softmax now running
    over the bigger vocabulary.

    ``init`` (n_new, D'), e.g. ``HierarchicalKMeans.centroids``, gives the new rows:

    - D' == hidden_dim: copied as they are (a given ``projection`` tensor still applies);
    - D' != hidden_dim (S3D's 1024-d centroids into a 768-d BERT-base, say): mapped by a
      linear ``projection`` first - a (D', hidden_dim) tensor you give, ``"orthogonal"``
      (a random matrix with orthonormal rows or columns, seeded by ``seed``: preserves
      distances when D' <= hidden_dim) or ``"pca"`` (the least-squares choice: project
      the centred vectors on their top principal directions, the rank-hidden_dim linear
      map with the smallest reconstruction error; distances are kept as well as any
      linear map into fewer dimensions can).

    ``rescale=True`` then scales the new rows so that their root-mean-square entry equals
    that of the existing word embeddings (features and embeddings rarely share a scale).
    Without ``init`` the rows are drawn like BERT's: normal(0, 0.02).
    """
    if isinstance(n_new, bool) or not isinstance(n_new, int) or n_new < 1:
        raise ValueError(f"extend_vocab: n_new must be a positive int, got {n_new!r}")
    word = model.embeddings.word.weight
    H, old = word.shape[1], word.shape[0]
    gen = torch.Generator().manual_seed(seed)
    if init is None:
        rows = torch.randn(n_new, H, generator=gen) * 0.02
    else:
        if not isinstance(init, torch.Tensor) or not init.is_floating_point() or init.ndim != 2:
            got = type(init).__name__
            if isinstance(init, torch.Tensor):
                got = f"dtype {init.dtype}, shape {tuple(init.shape)}"
            raise ValueError(f"extend_vocab: init must be a float tensor (n_new={n_new}, D), got {got}")
        if init.shape[0] != n_new:
            raise ValueError(f"extend_vocab: init has {init.shape[0]} rows, expected n_new={n_new}")
        rows = init.detach().to("cpu", torch.float32)
        D = rows.shape[1]
        if isinstance(projection, torch.Tensor):
            if tuple(projection.shape) != (D, H):
                raise ValueError(
                    f"extend_vocab: projection must have shape (D'={D}, hidden_dim={H}), got {tuple(projection.shape)}"
                )
            rows = rows @ projection.detach().to("cpu", torch.float32)
        elif D != H:
            if projection == "orthogonal":
                q, _ = torch.linalg.qr(torch.randn(max(D, H), min(D, H), generator=gen))  # orthonormal columns
                rows = rows @ (q if D >= H else q.T)  # (D, H)
            elif projection == "pca":
                centred = rows - rows.mean(0)
                _, _, vh = torch.linalg.svd(centred, full_matrices=False)  # vh: (r, D), r = min(n, D)
                basis = vh[:H].T  # (D, <=H): the top principal directions
                rows = centred @ basis
                if rows.shape[1] < H:  # fewer directions than hidden dims: pad with zeros
                    rows = F.pad(rows, (0, H - rows.shape[1]))
            else:
                raise ValueError(
                    f"extend_vocab: init is {D}-d but the model's hidden_dim is {H}; projection must be "
                    f"'orthogonal', 'pca' or a ({D}, {H}) tensor, got {projection!r}"
                )
        if rescale:
            rows = rows * (word.detach().float().pow(2).mean().sqrt() / rows.pow(2).mean().sqrt().clamp_min(1e-12))
    with torch.no_grad():
        table = torch.cat([word.detach(), rows.to(word.device, word.dtype)])
        bias = model.mlm_head.bias
        new_bias = torch.cat([bias.detach(), bias.new_zeros(n_new)])
    model.embeddings.word = nn.Embedding.from_pretrained(
        table, freeze=not word.requires_grad, padding_idx=model.embeddings.word.padding_idx
    )
    model.mlm_head.bias = nn.Parameter(new_bias, requires_grad=bias.requires_grad)
    model.config = dataclasses.replace(model.config, vocab_size=old + n_new)
    return model




__all__ = [
    "VARIANTS", "BertConfig", "variant_config", "BertEmbeddings", "BertSelfAttention", "BertLayer",
    "BertMLMHead", "Bert", "extend_vocab",
]
