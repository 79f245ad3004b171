"""VideoBERT (Sun, Myers, Vondrick, Murphy, Schmid, ICCV 2019, arXiv 1904.01766).

BERT learns language by filling in masked words. VideoBERT makes a video a sentence
too, so that the *same* masked language model learns video, text and the two together:

1. every 1.5 s clip gets an S3D feature (:mod:`minimodels.s3d`), and hierarchical
   k-means (:mod:`minimodels.kmeans`) turns it into a *visual word* ``v`` in
   ``[0, K)`` (the paper: K = 12^4 = 20,736);
2. **one vocabulary**: the text vocabulary (special tokens and words, a
   :class:`minimodels.tokens.Vocab` or any object with its few members) is
   followed by the K visual words - visual word ``v`` has id ``len(text vocab) + v``
   (:func:`visual_token_ids`). ``VideoBert.from_bert`` appends their rows to BERT's
   word embeddings (``extend_vocab``), initialised from the k-means centroids;
3. a sentence and the video tokens under its ASR time span form one input, text first,
   joined by the special token ``[>]`` (:func:`build_inputs`)::

       [CLS] orange chicken with [MASK] sauce [>] v01 [MASK] v08 v72 [SEP]
       type:  0     0      0     0     0     0    0   1    1     1   1   1

4. pre-training mixes three regimes (:func:`make_pretraining_batch`): **text-only**
   (``[CLS] text [SEP]``) and **video-only** (``[CLS] video [SEP]``) masked modelling,
   and **video-text**: masked modelling plus the *linguistic-visual alignment* task -
   does this text go with this video? - read from the final ``[CLS]`` state by
   ``LinguisticVisualAlignmentHead``. Negatives are real sentences from another
   video. The loss is masked-token cross-entropy plus the alignment's binary
   cross-entropy (:func:`videobert_loss`; the paper gives no weights);
5. two augmentations fight the misalignment of narration and picture: neighbouring
   sentences are concatenated into one long sentence, and video tokens are subsampled
   with a random stride of 1 to 5 (robustness to speed).

What the trained model does without any labels (Section 4): **zero-shot action
classification** - fill "now let me show you how to [MASK] the [MASK]" given a video's
tokens, read the first mask as the verb and the second as the noun
(:func:`zero_shot_verb_noun`); **text-to-video** - the most likely visual words for a
sentence (:func:`text_to_video`); **forecasting** - the next visual words of a video
(:func:`forecast`).

Not in the paper, stated where they are used: the masking recipe (BERT's 15% with
80% [MASK] / 10% random / 10% unchanged is the usual assumption), the loss weights
(1 and ``align_weight``), the token types of the special tokens, and masked modelling
on mismatched pairs (off by default).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace

import torch
import torch.nn.functional as F
from torch import nn

from .bert import Bert, extend_vocab, variant_config
from .layers import is_int
from .tokens import CLS_ID, JOIN_ID, MASK_ID, NUM_SPECIAL, PAD_ID, SEP_ID, WordVocab, check_vocab

TEXT_TYPE, VIDEO_TYPE = 0, 1
REGIMES = ("text", "video", "video_text")
IGNORE_INDEX = -100  # labels at positions that are not predicted (PyTorch's cross-entropy default)


def visual_token_ids(video_ids, text_vocab_size: int) -> torch.Tensor:
    """Ids in the joint vocabulary of visual words ``video_ids`` (in ``[0, K)``): ``text_vocab_size + v``."""
    return torch.as_tensor(video_ids, dtype=torch.long) + text_vocab_size


# --------------------------------------------------------------------------------------
# Inputs: [CLS] text [>] video [SEP]
# --------------------------------------------------------------------------------------


@dataclass
class VideoBertInput:
    """A padded batch of VideoBERT sequences, all (B, L).

    input_ids: int64 ids in the joint vocabulary; token_type_ids: 0 = text, 1 = video;
    attention_mask: int64 1 = token, 0 = padding; special_mask: bool, True at [CLS],
    [SEP], [>] and [PAD] (never masked, never predicted); video_mask: bool, True at
    visual words (the rest of the non-special positions are text).
    """

    input_ids: torch.Tensor
    token_type_ids: torch.Tensor
    attention_mask: torch.Tensor
    special_mask: torch.Tensor
    video_mask: torch.Tensor

    @property
    def text_mask(self) -> torch.Tensor:
        """bool (B, L): True at text tokens (neither special nor visual)."""
        return ~self.special_mask & ~self.video_mask

    def to(self, device) -> "VideoBertInput":
        return VideoBertInput(**{f.name: getattr(self, f.name).to(device) for f in fields(self)})

    def __len__(self) -> int:
        return self.input_ids.shape[0]


def _as_id_list(x, name: str) -> list[int] | None:
    if x is None:
        return None
    if isinstance(x, torch.Tensor):
        if x.ndim != 1 or x.is_floating_point() or x.dtype == torch.bool:
            raise ValueError(f"{name} must be a 1-D integer sequence, got a tensor of dtype {x.dtype}, "
                             f"shape {tuple(x.shape)}")
        return x.tolist()
    if not isinstance(x, (list, tuple)) or not all(is_int(v) for v in x):
        raise ValueError(f"{name} must be a sequence of ints (or None), got {x!r:.80}")
    return list(x)


def _is_batch(x) -> bool:
    """A list of examples (each a sequence or None) or a 2-D tensor, rather than one sequence of ints."""
    if isinstance(x, torch.Tensor):
        return x.ndim == 2
    return isinstance(x, (list, tuple)) and len(x) > 0 and any(
        v is None or isinstance(v, (list, tuple, torch.Tensor)) for v in x
    )


def build_inputs(text_ids, video_ids, vocab: WordVocab, max_len: int | None = None,
                 num_visual_words: int | None = None) -> VideoBertInput:
    """Lay out VideoBERT inputs, padded into one batch.

    ``text_ids``: text-vocabulary ids (``vocab.encode(sentence)``) and ``video_ids``:
    visual words in ``[0, K)`` - each either one sequence (a batch of one) or a list
    of sequences (or a 2-D tensor), one per example; ``None`` (or a ``None`` entry)
    leaves that modality out, and a single sequence next to a list serves every
    example. The three layouts, with token types below:

    ===============  ==================================  ==========================
    video-text       ``[CLS] text [>] video [SEP]``      0, 0.., 0, 1.., 1
    text only        ``[CLS] text [SEP]``                0, 0.., 0
    video only       ``[CLS] video [SEP]``               0, 1.., 1
    ===============  ==================================  ==========================

    [CLS] always has type 0 and [>] closes the text segment (type 0, like BERT's
    first [SEP]); the final [SEP] belongs to the segment before it. Visual word ``v``
    becomes id ``len(vocab) + v``. Sequences are right-padded with [PAD] to the longest
    (or to ``max_len``; a longer one is a ValueError naming its length). With
    ``num_visual_words`` given, visual words are checked to lie in ``[0, K)``.
    """
    check_vocab(vocab, "build_inputs")
    return _build_inputs(text_ids, video_ids, len(vocab), max_len, num_visual_words)


def _build_inputs(text_ids, video_ids, V: int, max_len, num_visual_words) -> VideoBertInput:
    """``build_inputs`` with the text vocabulary given by its size ``V`` (the special ids are fixed)."""
    tb, vb = _is_batch(text_ids), _is_batch(video_ids)
    n = len(text_ids) if tb else len(video_ids) if vb else 1
    texts = list(text_ids) if tb else [text_ids] * n  # one sequence (or None) serves every example
    videos = list(video_ids) if vb else [video_ids] * n
    if len(texts) != len(videos):
        raise ValueError(f"build_inputs: {len(texts)} texts but {len(videos)} videos; give one of each per example")
    rows, types, specials, visual = [], [], [], []
    for b, (t, v) in enumerate(zip(texts, videos)):
        t, v = _as_id_list(t, f"text_ids[{b}]"), _as_id_list(v, f"video_ids[{b}]")
        if t is None and v is None:
            raise ValueError(f"build_inputs: example {b} has neither text nor video")
        if t is not None and t and (min(t) < 0 or max(t) >= V):
            raise ValueError(
                f"build_inputs: text id {max(t) if max(t) >= V else min(t)} of example {b} is outside the text "
                f"vocabulary [0, {V}); visual words go in video_ids as 0..K-1"
            )
        if v is not None and v:
            if min(v) < 0 or (num_visual_words is not None and max(v) >= num_visual_words):
                bad = min(v) if min(v) < 0 else max(v)
                k = "K" if num_visual_words is None else str(num_visual_words)
                raise ValueError(f"build_inputs: visual word {bad} of example {b} is outside [0, {k})")
        ids, tt, sp, vm = [CLS_ID], [TEXT_TYPE], [True], [False]
        if t is not None:
            ids += t
            tt += [TEXT_TYPE] * len(t)
            sp += [False] * len(t)
            vm += [False] * len(t)
            if v is not None:
                ids.append(JOIN_ID)
                tt.append(TEXT_TYPE)
                sp.append(True)
                vm.append(False)
        if v is not None:
            ids += [V + x for x in v]
            tt += [VIDEO_TYPE] * len(v)
            sp += [False] * len(v)
            vm += [True] * len(v)
        ids.append(SEP_ID)
        tt.append(tt[-1])
        sp.append(True)
        vm.append(False)
        rows.append(ids), types.append(tt), specials.append(sp), visual.append(vm)
    L = max(len(r) for r in rows)
    if max_len is not None:
        if not is_int(max_len) or max_len < 2:
            raise ValueError(f"build_inputs: max_len must be an int >= 2, got {max_len!r}")
        if L > max_len:
            b = max(range(len(rows)), key=lambda i: len(rows[i]))
            raise ValueError(f"build_inputs: example {b} is {L} tokens long (with [CLS], [>], [SEP]), more than "
                             f"max_len={max_len}; shorten its text or video")
        L = max_len
    B = len(rows)
    out = VideoBertInput(
        input_ids=torch.full((B, L), PAD_ID, dtype=torch.long),
        token_type_ids=torch.zeros(B, L, dtype=torch.long),
        attention_mask=torch.zeros(B, L, dtype=torch.long),
        special_mask=torch.ones(B, L, dtype=torch.bool),
        video_mask=torch.zeros(B, L, dtype=torch.bool),
    )
    for b, (ids, tt, sp, vm) in enumerate(zip(rows, types, specials, visual)):
        n = len(ids)
        out.input_ids[b, :n] = torch.tensor(ids)
        out.token_type_ids[b, :n] = torch.tensor(tt)
        out.attention_mask[b, :n] = 1
        out.special_mask[b, :n] = torch.tensor(sp)
        out.video_mask[b, :n] = torch.tensor(vm)
    return out


# --------------------------------------------------------------------------------------
# Masking
# --------------------------------------------------------------------------------------


def mask_tokens(ids: torch.Tensor, special_mask: torch.Tensor, vocab_size: int, prob: float = 0.15,
                generator: torch.Generator | None = None, *, mask_id: int = MASK_ID,
                text_vocab_size: int | None = None, first_word_id: int = NUM_SPECIAL):
    """BERT's masking: returns ``(masked_ids, labels)``, both (B, L) int64.

    Every position that is not special (``special_mask`` False) is chosen with
    probability ``prob``; a chosen token becomes [MASK] with probability 0.8, a random
    token with 0.1 and stays unchanged with 0.1, and its label is the original id.
    Positions not chosen get label -100 (ignored by the loss); special tokens ([CLS],
    [SEP], [>], [PAD]) are never chosen. The paper does not give its recipe: 15% and
    80/10/10 are BERT's, the usual assumption.

    Random replacements come from **the same modality**: a text position (id below
    ``text_vocab_size``) gets a random *word* in ``[first_word_id, text_vocab_size)``,
    a visual position a random visual word in ``[text_vocab_size, vocab_size)``. A
    random visual word in a sentence (or a word among visual words) would be an
    obvious outlier - too easy to spot, so it would teach little. Without
    ``text_vocab_size`` everything counts as text: ``[first_word_id, vocab_size)``.
    """
    if not isinstance(ids, torch.Tensor) or ids.is_floating_point() or ids.dtype == torch.bool:
        raise TypeError(f"mask_tokens: ids must be an integer tensor, got {getattr(ids, 'dtype', type(ids))}")
    if not isinstance(special_mask, torch.Tensor) or special_mask.shape != ids.shape:
        got = tuple(special_mask.shape) if isinstance(special_mask, torch.Tensor) else type(special_mask).__name__
        raise ValueError(f"mask_tokens: special_mask must be a bool tensor of the ids' shape {tuple(ids.shape)}, "
                         f"got {got}")
    if not 0.0 <= prob <= 1.0:
        raise ValueError(f"mask_tokens: prob must be in [0, 1], got {prob}")
    boundary = vocab_size if text_vocab_size is None else text_vocab_size
    if not first_word_id < boundary <= vocab_size:
        raise ValueError(f"mask_tokens: need first_word_id < text_vocab_size <= vocab_size, got {first_word_id}, "
                         f"{boundary}, {vocab_size}")
    if ids.numel() and (ids.min() < 0 or ids.max() >= vocab_size):
        raise ValueError(f"mask_tokens: ids must lie in [0, vocab_size={vocab_size}), got min {int(ids.min())}, "
                         f"max {int(ids.max())}")
    special = special_mask.bool().to(ids.device)
    u = torch.rand(ids.shape, generator=generator).to(ids.device)
    action = torch.rand(ids.shape, generator=generator).to(ids.device)
    chosen = (u < prob) & ~special
    labels = torch.where(chosen, ids, torch.full_like(ids, IGNORE_INDEX))
    is_visual = ids >= boundary
    # random ids of the right modality: lo + floor(r * (hi - lo))
    r = torch.rand(ids.shape, generator=generator).to(ids.device)
    lo = torch.where(is_visual, torch.full_like(ids, boundary), torch.full_like(ids, first_word_id))
    hi = torch.where(is_visual, torch.full_like(ids, vocab_size), torch.full_like(ids, boundary))
    random_ids = (lo + (r * (hi - lo)).long()).clamp(max=vocab_size - 1)
    masked = ids.clone()
    masked = torch.where(chosen & (action < 0.8), torch.full_like(ids, mask_id), masked)
    masked = torch.where(chosen & (action >= 0.8) & (action < 0.9), random_ids, masked)
    return masked, labels


# --------------------------------------------------------------------------------------
# The model
# --------------------------------------------------------------------------------------


class LinguisticVisualAlignmentHead(nn.Module):
    """Does the text go with the video? One logit from the final [CLS] state: Linear(H, 1).

    (BERT's next-sentence head, applied to a sentence and a video segment. Only the
    video-text regime trains it.)"""

    def __init__(self, hidden_dim: int):
        super().__init__()
        self.classifier = nn.Linear(hidden_dim, 1)
        nn.init.normal_(self.classifier.weight, std=0.02)
        nn.init.zeros_(self.classifier.bias)

    def forward(self, cls_state: torch.Tensor) -> torch.Tensor:
        return self.classifier(cls_state).squeeze(-1)


class VideoBert(nn.Module):
    """A ``Bert`` over text + visual words, plus the linguistic-visual alignment head.

    ``bert``'s vocabulary must be ``text_vocab_size + num_visual_words``: ids below
    ``text_vocab_size`` are text (special tokens and words), visual word ``v`` is id
    ``text_vocab_size + v``.

    forward(input_ids (B, L) | VideoBertInput, token_type_ids, attention_mask, skip_padding=False)
    -> ``(mlm_logits (B, L, vocab_size), align_logit (B,))``; ``skip_padding``: every per-token
    layer runs on the real tokens only (:meth:`minimodels.bert.Bert.encode`), the logits at the
    padding are zeros - the training losses use it.
    """

    def __init__(self, bert: Bert, text_vocab_size: int, num_visual_words: int):
        super().__init__()
        if not isinstance(bert, Bert):
            raise TypeError(f"VideoBert wraps a minimodels.bert.Bert, got {type(bert).__name__}")
        for name, value in (("text_vocab_size", text_vocab_size), ("num_visual_words", num_visual_words)):
            if not is_int(value) or value < 1:
                raise ValueError(f"VideoBert: {name} must be a positive int, got {value!r}")
        if bert.config.vocab_size != text_vocab_size + num_visual_words:
            raise ValueError(
                f"VideoBert: the BERT has {bert.config.vocab_size} tokens, expected text_vocab_size + "
                f"num_visual_words = {text_vocab_size} + {num_visual_words} = {text_vocab_size + num_visual_words}"
            )
        self.bert = bert
        self.text_vocab_size, self.num_visual_words = text_vocab_size, num_visual_words
        self.alignment_head = LinguisticVisualAlignmentHead(bert.config.hidden_dim)

    @property
    def config(self):
        return self.bert.config

    @property
    def vocab_size(self) -> int:
        return self.text_vocab_size + self.num_visual_words

    @classmethod
    def from_variant(cls, name: str, text_vocab_size: int, num_visual_words: int, **overrides) -> "VideoBert":
        """A freshly initialised VideoBERT on a BERT of a named size (``bert.VARIANTS``)."""
        bert = Bert(variant_config(name, text_vocab_size + num_visual_words, **overrides))
        return cls(bert, text_vocab_size, num_visual_words)

    @classmethod
    def from_bert(cls, bert: Bert, num_visual_words: int, centroids: torch.Tensor | None = None,
                  projection="orthogonal", rescale: bool = True, seed: int = 0) -> "VideoBert":
        """VideoBERT from a (pre-trained) text BERT, as in the paper: its vocabulary becomes the
        text vocabulary and ``num_visual_words`` rows are appended (``extend_vocab``, in place).

        ``centroids`` (K, D): the k-means centroids of the visual words
        (``HierarchicalKMeans.centroids``) initialise the new rows - copied when D is
        BERT's hidden size, otherwise mapped by ``projection`` ("orthogonal", "pca" or a
        (D, H) tensor; the paper's 1024-d S3D features meet BERT-large's 1024 exactly).
        ``rescale`` (our default; the paper does not say) brings them to the scale of
        the existing word embeddings. Without centroids: BERT's normal(0, 0.02).
        """
        if not isinstance(bert, Bert):
            raise TypeError(f"VideoBert.from_bert expects a minimodels.bert.Bert, got {type(bert).__name__}")
        if not is_int(num_visual_words) or num_visual_words < 1:
            raise ValueError(f"VideoBert.from_bert: num_visual_words must be a positive int, got {num_visual_words!r}")
        if centroids is not None:
            if not isinstance(centroids, torch.Tensor) or centroids.ndim != 2 or not centroids.is_floating_point():
                got = (f"dtype {centroids.dtype}, shape {tuple(centroids.shape)}" if isinstance(centroids, torch.Tensor)
                       else type(centroids).__name__)
                raise ValueError(f"VideoBert.from_bert: centroids must be a float tensor (K={num_visual_words}, D), "
                                 f"got {got}")
            if centroids.shape[0] != num_visual_words:
                raise ValueError(f"VideoBert.from_bert: {centroids.shape[0]} centroids for num_visual_words="
                                 f"{num_visual_words}; one row per visual word expected")
        text_vocab_size = bert.config.vocab_size
        extend_vocab(bert, num_visual_words, init=centroids, projection=projection,
                     rescale=rescale and centroids is not None, seed=seed)
        return cls(bert, text_vocab_size, num_visual_words)

    def forward(self, input_ids, token_type_ids: torch.Tensor | None = None,
                attention_mask: torch.Tensor | None = None, skip_padding: bool = False):
        if isinstance(input_ids, VideoBertInput):
            inp = input_ids
            input_ids, token_type_ids, attention_mask = inp.input_ids, inp.token_type_ids, inp.attention_mask
        self._check_input(input_ids)
        hidden = self.bert.encode(input_ids, token_type_ids, attention_mask, skip_padding)
        mlm_logits = self.bert.mlm_logits(hidden, attention_mask if skip_padding else None)
        return mlm_logits, self.alignment_head(hidden[:, 0])

    def _check_input(self, ids) -> None:
        if isinstance(ids, torch.Tensor) and ids.ndim == 2 and not ids.is_floating_point():
            L, P = ids.shape[1], self.config.max_positions
            if L > P:
                raise ValueError(f"VideoBert: the sequence is {L} tokens long but the position table has "
                                 f"{P} rows (max_positions); shorten the text or subsample the video")
            if ids.numel() and (ids.min() < 0 or ids.max() >= self.vocab_size):
                bad = int(ids.min()) if ids.min() < 0 else int(ids.max())
                raise ValueError(
                    f"VideoBert: token id {bad} is outside the vocabulary [0, {self.vocab_size}) = "
                    f"{self.text_vocab_size} text tokens + {self.num_visual_words} visual words"
                )


# --------------------------------------------------------------------------------------
# Pre-training batches: three regimes, negatives, augmentations
# --------------------------------------------------------------------------------------


@dataclass
class PretrainingBatch:
    """One pre-training batch (B examples).

    inputs: the masked :class:`VideoBertInput`; labels (B, L): original ids at masked
    positions, -100 elsewhere; original_ids (B, L): the ids before masking; regime (B,):
    0 text-only, 1 video-only, 2 video-text (``REGIMES``); align_label (B,) float: 1 =
    the text is the video's own, 0 = a mismatched negative (meaningful where
    ``align_mask``, i.e. on video-text examples); source (B,): the example whose video
    (or text, for text-only) was used; text_source (B,): the example the text came from
    (-1 without text); stride, offset (B,): the video-token subsampling (1 and 0 without
    video); num_sentences (B,): neighbouring sentences concatenated into the text.
    """

    inputs: VideoBertInput
    labels: torch.Tensor
    original_ids: torch.Tensor
    regime: torch.Tensor
    align_label: torch.Tensor
    align_mask: torch.Tensor
    source: torch.Tensor
    text_source: torch.Tensor
    stride: torch.Tensor
    offset: torch.Tensor
    num_sentences: torch.Tensor

    def to(self, device) -> "PretrainingBatch":
        return replace(self, **{f.name: getattr(self, f.name).to(device) for f in fields(self)})


def _regime_probs(regime_probs) -> torch.Tensor:
    if isinstance(regime_probs, dict):
        unknown = sorted(set(regime_probs) - set(REGIMES))
        if unknown:
            raise ValueError(f"regime_probs: unknown regime(s) {unknown}; expected keys from {REGIMES}")
        regime_probs = [regime_probs.get(r, 0.0) for r in REGIMES]
    p = torch.as_tensor(regime_probs, dtype=torch.float64)
    if p.shape != (3,) or (p < 0).any() or p.sum() <= 0:
        raise ValueError(f"regime_probs must be 3 non-negative weights (text, video, video_text) or a dict over "
                         f"{REGIMES}, not all zero; got {regime_probs!r}")
    return p / p.sum()


def _check_examples(examples) -> None:
    if not isinstance(examples, (list, tuple)) or not examples:
        raise ValueError("make_pretraining_batch: examples must be a non-empty list of videos, each a list of "
                         "(text_ids, video_ids) segments")
    for i, ex in enumerate(examples):
        if not isinstance(ex, (list, tuple)) or not ex or not all(
            isinstance(s, (list, tuple)) and len(s) == 2 for s in ex
        ):
            raise ValueError(f"make_pretraining_batch: example {i} must be a non-empty list of (text_ids, video_ids) "
                             f"segments, got {ex!r:.80}")


def _randint(n: int, gen) -> int:
    return int(torch.randint(n, (1,), generator=gen))


def _neighbours(example, n: int, gen) -> tuple[list[int], list[int], int]:
    """``n`` consecutive segments (fewer if the video has fewer) at a random start: joined text and video."""
    n = min(n, len(example))
    start = _randint(len(example) - n + 1, gen)
    text, video = [], []
    for t, v in example[start : start + n]:
        text += list(t.tolist() if isinstance(t, torch.Tensor) else t)
        video += list(v.tolist() if isinstance(v, torch.Tensor) else v)
    return text, video, n


def _fit(text, video, budget: int):
    """Trim from the end of the longer of the two until they fit ``budget`` tokens."""
    t, v = len(text or []), len(video or [])
    while t + v > budget:
        if v >= t and v > 1:
            v -= 1
        elif t > 1:
            t -= 1
        else:
            break
    return (None if text is None else text[:t]), (None if video is None else video[:v])


def make_pretraining_batch(examples, regime_probs, vocab: WordVocab, generator: torch.Generator | None = None, *,
                           num_visual_words: int, max_len: int = 64, batch_size: int | None = None,
                           mask_prob: float = 0.15, mismatch_prob: float = 0.5, concat_prob: float = 0.5,
                           max_sentences: int = 3, max_stride: int = 5, mlm_on_negatives: bool = False
                           ) -> PretrainingBatch:
    """A masked pre-training batch mixing VideoBERT's three regimes.

    ``examples``: videos, each a list of aligned segments ``(text_ids, video_ids)`` in
    time order - a sentence (text-vocabulary ids) and the visual words (``[0, K)``)
    under its ASR span (:func:`segments_from_video`). Item ``b`` uses example ``b``
    (``batch_size=None``) or a random one. For each item:

    1. **regime** drawn from ``regime_probs`` (text, video, video_text weights, or a
       dict over ``REGIMES``);
    2. **sentence concatenation**: with probability ``concat_prob``, 2 .. ``max_sentences``
       neighbouring segments are joined into one (their texts and their videos), else one;
    3. **video subsampling**: a stride ``s`` uniform in 1 .. ``max_stride`` and an offset
       ``o`` in ``[0, s)`` keep tokens ``o, o + s, o + 2s, ...`` (at least one);
    4. **negatives** (video-text only): with probability ``mismatch_prob`` the text is
       replaced by text (same number of sentences) from *another* example: alignment
       label 0, else 1;
    5. trimmed to ``max_len`` (the longer modality loses tokens at its end), laid out
       by :func:`build_inputs` and masked by :func:`mask_tokens` (``mask_prob``; random
       replacements within the modality). Mismatched pairs get no MLM labels unless
       ``mlm_on_negatives`` (the paper does not say; predicting words from a video
       they do not describe teaches noise).

    Everything random draws from ``generator`` (reproducible).
    """
    _check_examples(examples)
    p = _regime_probs(regime_probs)
    if not is_int(num_visual_words) or num_visual_words < 1:
        raise ValueError(f"make_pretraining_batch: num_visual_words must be a positive int, got {num_visual_words!r}")
    if not is_int(max_stride) or max_stride < 1:
        raise ValueError(f"make_pretraining_batch: max_stride must be an int >= 1, got {max_stride!r}")
    if not is_int(max_sentences) or max_sentences < 1:
        raise ValueError(f"make_pretraining_batch: max_sentences must be an int >= 1, got {max_sentences!r}")
    for name, value in (("mismatch_prob", mismatch_prob), ("concat_prob", concat_prob)):
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"make_pretraining_batch: {name} must be in [0, 1], got {value}")
    if p[2] > 0 and mismatch_prob > 0 and len(examples) < 2:
        raise ValueError("make_pretraining_batch: mismatched video-text negatives need text from another video; "
                         "give at least 2 examples (or mismatch_prob=0)")
    if not is_int(max_len) or max_len < 4:
        raise ValueError(f"make_pretraining_batch: max_len must be an int >= 4 ([CLS] text [>] video [SEP]), "
                         f"got {max_len!r}")
    gen = generator
    n = len(examples)
    B = n if batch_size is None else batch_size
    if not is_int(B) or B < 1:
        raise ValueError(f"make_pretraining_batch: batch_size must be a positive int or None, got {batch_size!r}")
    budget = max_len - 3
    texts, videos = [], []
    meta = {k: [] for k in ("regime", "align_label", "source", "text_source", "stride", "offset", "num_sentences")}
    for b in range(B):
        src = b if batch_size is None else _randint(n, gen)
        regime = int(torch.multinomial(p, 1, generator=gen))
        k = 1
        if max_sentences > 1 and float(torch.rand((), generator=gen)) < concat_prob:
            k = 2 + _randint(max_sentences - 1, gen)
        text, video, k = _neighbours(examples[src], k, gen)
        stride, offset = 1, 0
        if regime != 0 and video:
            stride = 1 + _randint(max_stride, gen)
            offset = _randint(min(stride, len(video)), gen)
            video = video[offset::stride]
        align, text_src = 1.0, src
        if regime == 2 and float(torch.rand((), generator=gen)) < mismatch_prob:
            other = _randint(n - 1, gen)
            text_src = other + (other >= src)  # any example but src
            text, _, _ = _neighbours(examples[text_src], k, gen)
            align = 0.0
        if regime == 0:
            text_i, video_i = text, None
        elif regime == 1:
            text_i, video_i = None, video
        else:
            text_i, video_i = text, video
        text_i, video_i = _fit(text_i, video_i, budget if regime == 2 else budget + 1)
        texts.append(text_i)
        videos.append(video_i)
        for key, value in (("regime", regime), ("align_label", align), ("source", src),
                           ("text_source", -1 if regime == 1 else text_src), ("stride", stride),
                           ("offset", offset), ("num_sentences", k)):
            meta[key].append(value)
    inputs = build_inputs(texts, videos, vocab, num_visual_words=num_visual_words)
    V = len(vocab)
    no_mlm = inputs.special_mask.clone()
    align_label = torch.tensor(meta["align_label"])
    regime = torch.tensor(meta["regime"])
    if not mlm_on_negatives:
        no_mlm |= ((regime == 2) & (align_label == 0)).view(-1, 1)
    masked, labels = mask_tokens(inputs.input_ids, no_mlm, V + num_visual_words, mask_prob, gen,
                                 text_vocab_size=V)
    original = inputs.input_ids
    return PretrainingBatch(
        inputs=replace(inputs, input_ids=masked), labels=labels, original_ids=original, regime=regime,
        align_label=align_label, align_mask=regime == 2, source=torch.tensor(meta["source"]),
        text_source=torch.tensor(meta["text_source"]), stride=torch.tensor(meta["stride"]),
        offset=torch.tensor(meta["offset"]), num_sentences=torch.tensor(meta["num_sentences"]),
    )


def segments_from_video(narration, clip_tokens, clip_seconds: float, vocab: WordVocab) -> list:
    """The paper's alignment: each ASR sentence with the visual words under its time span.

    ``narration``: ``(start s, end s, sentence)`` segments (``HowToVideo.narration``);
    ``clip_tokens``: the visual word of every clip, in order; clip ``i`` spans
    ``[i, i + 1) * clip_seconds``. A sentence gets the clips whose centre lies in its
    span (at least the nearest one). Returns ``[(text_ids, video_ids), ...]``, the
    form :func:`make_pretraining_batch` takes.
    """
    check_vocab(vocab, "segments_from_video")
    tokens = torch.as_tensor(clip_tokens, dtype=torch.long).flatten().tolist()
    if not tokens:
        raise ValueError("segments_from_video: no clip tokens")
    if not clip_seconds > 0:
        raise ValueError(f"segments_from_video: clip_seconds must be positive, got {clip_seconds}")
    centres = [(i + 0.5) * clip_seconds for i in range(len(tokens))]
    out = []
    for start, end, sentence in narration:
        inside = [tok for c, tok in zip(centres, tokens) if start <= c < end]
        if not inside:
            mid = 0.5 * (start + end)
            inside = [tokens[min(range(len(tokens)), key=lambda i: abs(centres[i] - mid))]]
        out.append((vocab.encode(sentence), inside))
    return out


# --------------------------------------------------------------------------------------
# The loss
# --------------------------------------------------------------------------------------


def videobert_loss(model: VideoBert, batch: PretrainingBatch, align_weight: float = 1.0):
    """``(loss, metrics)``: masked-token cross-entropy (over every labelled position) plus
    ``align_weight`` x the alignment's binary cross-entropy (video-text examples only).

    The paper: "a weighted sum" with unspecified weights. A batch without masked tokens
    or without video-text examples contributes 0 for that term. ``metrics``: floats
    ``loss``, ``mlm_loss``, ``align_loss``, ``mlm_accuracy``, ``align_accuracy``
    (NaN where there was nothing to measure).
    """
    mlm_logits, align_logit = model(batch.inputs, skip_padding=True)  # the loss reads real tokens only
    labelled = batch.labels != IGNORE_INDEX
    if labelled.any():
        mlm_loss = F.cross_entropy(mlm_logits[labelled], batch.labels[labelled])
        mlm_acc = (mlm_logits[labelled].argmax(-1) == batch.labels[labelled]).float().mean().item()
    else:
        mlm_loss, mlm_acc = mlm_logits.sum() * 0.0, math.nan
    m = batch.align_mask
    if m.any():
        target = batch.align_label.to(align_logit.dtype)[m]
        align_loss = F.binary_cross_entropy_with_logits(align_logit[m], target)
        align_acc = ((align_logit[m] > 0).float() == target).float().mean().item()
    else:
        align_loss, align_acc = align_logit.sum() * 0.0, math.nan
    loss = mlm_loss + align_weight * align_loss
    metrics = dict(loss=loss.item(), mlm_loss=mlm_loss.item(), align_loss=align_loss.item(),
                   mlm_accuracy=mlm_acc, align_accuracy=align_acc)
    return loss, metrics


# --------------------------------------------------------------------------------------
# What the trained model does: zero-shot classification, text-to-video, forecasting
# --------------------------------------------------------------------------------------


def _predict(model: VideoBert, inputs: VideoBertInput) -> torch.Tensor:
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            device = next(model.parameters()).device
            logits, _ = model(inputs.to(device))
    finally:
        model.train(was_training)
    return logits.float().cpu()


def _check_vocab(model: VideoBert, vocab: WordVocab, who: str) -> None:
    check_vocab(vocab, who)
    if len(vocab) != model.text_vocab_size:
        raise ValueError(f"{who}: the vocabulary has {len(vocab)} tokens but the model's text vocabulary has "
                         f"{model.text_vocab_size}; use the vocabulary the model was built with")


def _word_ids(words, vocab: WordVocab, what: str) -> list[int]:
    missing = [w for w in words if w not in vocab.stoi]
    if missing:
        raise ValueError(f"zero_shot_verb_noun: {what} {missing} are not in the vocabulary ({len(vocab)} tokens)")
    return [vocab.stoi[w] for w in words]


def zero_shot_verb_noun(model: VideoBert, video_ids, vocab: WordVocab, verbs, nouns, template: str,
                        topk: int = 5) -> list[dict]:
    """Zero-shot action classification (Section 4.2): ``[CLS] template [>] video [SEP]``
    with a ``template`` holding two masks, the paper's "now let me show you how to [MASK]
    the [MASK]"; the first mask is read as the verb, the second as the noun, ranked over
    the vocabulary restricted to ``verbs`` / ``nouns`` (as the paper ranks over verbs and
    nouns). The verbs, nouns and template are the data's (``minimodels.data.howto``'s
    ``VERBS``, ``NOUNS``, ``ZERO_SHOT_TEMPLATE``, say); each verb and noun must be one
    token of ``vocab``.

    ``video_ids``: one video's visual words or a list of them; a ``None`` video gives
    the *language prior* (text only, Table 1's "VideoBERT (language prior)"). Returns one
    dict per video: ``verbs`` / ``nouns`` (the top ``topk`` names, best first) and
    ``verb_logits`` / ``noun_logits`` (scores of every listed verb / noun, in list order).
    """
    _check_vocab(model, vocab, "zero_shot_verb_noun")
    text = vocab.encode(template, strict=True)
    masks = [i for i, t in enumerate(text) if t == MASK_ID]
    if len(masks) != 2:
        raise ValueError(f"zero_shot_verb_noun: the template must hold exactly two [MASK] (verb, noun), "
                         f"got {len(masks)} in {template!r}")
    verb_ids, noun_ids = _word_ids(verbs, vocab, "verbs"), _word_ids(nouns, vocab, "nouns")
    videos = list(video_ids) if _is_batch(video_ids) else [video_ids]
    inputs = build_inputs([text] * len(videos), videos, vocab, num_visual_words=model.num_visual_words)
    logits = _predict(model, inputs)
    pos_verb, pos_noun = 1 + masks[0], 1 + masks[1]  # after [CLS]
    out = []
    for b in range(len(videos)):
        vl, nl = logits[b, pos_verb, verb_ids], logits[b, pos_noun, noun_ids]
        kv, kn = min(topk, len(verbs)), min(topk, len(nouns))
        out.append(dict(
            verbs=[verbs[i] for i in vl.topk(kv).indices.tolist()],
            nouns=[nouns[i] for i in nl.topk(kn).indices.tolist()],
            verb_logits=vl, noun_logits=nl,
        ))
    return out


def fill_masks(model: VideoBert, video_ids, vocab: WordVocab, template: str) -> list[str]:
    """What VideoBERT writes into every [MASK] of ``template`` given a video: ``[CLS] template [>]
    video [SEP]``, each mask filled with its most likely text token (special tokens excluded), all at
    once. ``video_ids``: one video's visual words or a list of them (None: text only). Returns the
    filled template per video, e.g. the paper's captioning template "now let's [MASK] the [MASK] to
    the [MASK], and then [MASK] the [MASK]." (its Section 4.3)."""
    _check_vocab(model, vocab, "fill_masks")
    text = vocab.encode(template, strict=True)
    masks = [i for i, t in enumerate(text) if t == MASK_ID]
    if not masks:
        raise ValueError(f"fill_masks: the template holds no [MASK]: {template!r}")
    videos = list(video_ids) if _is_batch(video_ids) else [video_ids]
    logits = _predict(model, build_inputs([text] * len(videos), videos, vocab, num_visual_words=model.num_visual_words))
    words = logits[:, [1 + i for i in masks], :len(vocab)].clone()  # after [CLS]; text tokens only
    words[..., :NUM_SPECIAL] = float("-inf")  # the special tokens come first
    out = []
    for row in words.argmax(-1).tolist():
        filled = list(text)
        for i, w in zip(masks, row):
            filled[i] = w
        out.append(vocab.decode(filled))
    return out


def text_to_video(model: VideoBert, text_ids, vocab: WordVocab, num_tokens: int) -> torch.Tensor:
    """The most likely visual words for a sentence: ``[CLS] text [>] [MASK] x num_tokens [SEP]``,
    every masked video position filled with ``argmax_k p(x_t = k | text)`` over the
    visual words only (one pass). Returns visual words in ``[0, K)``: (num_tokens,) for
    one sentence, (B, num_tokens) for a list. Show the clips nearest those centroids.
    """
    if not is_int(num_tokens) or num_tokens < 1:
        raise ValueError(f"text_to_video: num_tokens must be a positive int, got {num_tokens!r}")
    _check_vocab(model, vocab, "text_to_video")
    batched = _is_batch(text_ids)
    texts = list(text_ids) if batched else [text_ids]
    # placeholders: visual word 0, then replaced by [MASK]
    inputs = build_inputs(texts, [[0] * num_tokens] * len(texts), vocab)
    inputs.input_ids[inputs.video_mask] = MASK_ID
    logits = _predict(model, inputs)[..., model.text_vocab_size:]  # (B, L, K)
    words = logits[inputs.video_mask].argmax(-1).view(len(texts), num_tokens)
    return words if batched else words[0]


def forecast(model: VideoBert, video_ids, n_future: int, vocab: WordVocab | None = None) -> torch.Tensor:
    """The next ``n_future`` visual words of a video: ``[CLS] video [MASK] x n_future [SEP]``
    (video-only regime), each [MASK] filled with its most likely visual word (one pass).
    ``vocab`` is optional (the special ids are fixed); given, it is checked against the model.
    Returns (n_future,) visual words in ``[0, K)`` for one video, (B, n_future) for a list.
    """
    if not is_int(n_future) or n_future < 1:
        raise ValueError(f"forecast: n_future must be a positive int, got {n_future!r}")
    if vocab is not None:
        _check_vocab(model, vocab, "forecast")
    batched = _is_batch(video_ids)
    videos = [_as_id_list(v, "video_ids") for v in (video_ids if batched else [video_ids])]
    lengths = [len(v) for v in videos]
    inputs = _build_inputs(None, [v + [0] * n_future for v in videos], model.text_vocab_size, None,
                           model.num_visual_words)
    future = torch.zeros_like(inputs.video_mask)
    for b, n in enumerate(lengths):
        future[b, 1 + n : 1 + n + n_future] = True
    inputs.input_ids[future] = MASK_ID
    logits = _predict(model, inputs)[..., model.text_vocab_size:]
    words = logits[future].argmax(-1).view(len(videos), n_future)
    return words if batched else words[0]


__all__ = [
    "PAD_ID", "CLS_ID", "SEP_ID", "MASK_ID", "JOIN_ID", "REGIMES", "IGNORE_INDEX", "visual_token_ids",
    "VideoBertInput", "build_inputs", "mask_tokens", "LinguisticVisualAlignmentHead", "VideoBert",
    "PretrainingBatch", "make_pretraining_batch", "segments_from_video", "videobert_loss", "zero_shot_verb_noun",
    "text_to_video", "forecast",
]
