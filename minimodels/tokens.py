"""Word-level BERT vocabularies, independent of any data set.

A vocabulary is a list of tokens; a token's id is its position. The six special
tokens always come first, in this order, so their ids are fixed::

    [PAD] 0   padding, never attended to
    [CLS] 1   starts every sequence; its final state feeds sentence-level heads
    [SEP] 2   ends a sequence
    [MASK] 3  a token to be predicted (masked language modelling)
    [UNK] 4   any word the vocabulary does not hold
    [>] 5     joins two segments (VideoBERT: text, then video)

then the words. :func:`tokenize` splits text into lower-cased words, punctuation
marks and [SPECIAL] tokens; :class:`Vocab` maps those tokens to ids and back. A data
set brings its own words (``minimodels.data.howto.make_vocab()``, say), a model takes
the vocabulary as an argument and asks only for :class:`WordVocab`'s few members
(:func:`check_vocab` says which one is missing).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Protocol

import torch

SPECIAL_TOKENS = ("[PAD]", "[CLS]", "[SEP]", "[MASK]", "[UNK]", "[>]")
PAD_ID, CLS_ID, SEP_ID, MASK_ID, UNK_ID, JOIN_ID = range(len(SPECIAL_TOKENS))
NUM_SPECIAL = len(SPECIAL_TOKENS)  # the first word's id

_SPECIAL = re.compile(r"(\[[A-Z>]+\])")
_WORD = re.compile(r"[a-z0-9']+|[.,!?]")


def tokenize(text: str) -> list[str]:
    """Lower-cased words, punctuation marks (.,!?) and [SPECIAL] tokens of ``text``, in order.

    Anything else (other punctuation, spaces) separates words.
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    out = []
    for k, part in enumerate(_SPECIAL.split(text)):
        out += [part] if k % 2 else _WORD.findall(part.lower())
    return out


class WordVocab(Protocol):
    """What a model asks of a vocabulary. :class:`Vocab` is one; any object with these members will do.

    ``stoi`` maps every token to its id, with ``SPECIAL_TOKENS[i]`` at id ``i``;
    ``len(vocab)`` is the number of tokens; ``encode(text, strict)`` gives the ids of
    a text (``strict=True``: a KeyError for a word it does not hold).
    """

    stoi: Mapping[str, int]

    def __len__(self) -> int: ...

    def encode(self, text: str, strict: bool = False) -> list[int]: ...


def check_vocab(vocab, who: str) -> None:
    """A TypeError naming the first :class:`WordVocab` member ``vocab`` lacks, a ValueError
    naming the first special token not at its fixed id (``who`` starts the message)."""
    for name in ("stoi", "encode", "__len__"):
        if not hasattr(vocab, name):
            raise TypeError(f"{who}: vocab ({type(vocab).__name__}) has no {name!r}; a vocabulary needs stoi, "
                            f"encode and __len__ (minimodels.tokens.WordVocab, e.g. minimodels.tokens.Vocab)")
    for i, token in enumerate(SPECIAL_TOKENS):
        if vocab.stoi.get(token) != i:
            raise ValueError(f"{who}: the vocabulary's {token} has id {vocab.stoi.get(token)}, expected {i}: the "
                             f"special tokens {SPECIAL_TOKENS} come first, in this order")


class Vocab:
    """A word-level vocabulary: the special tokens first (``SPECIAL_TOKENS``: [PAD] = 0,
    [CLS], [SEP], [MASK], [UNK], [>]), then ``words`` in the order given.

    ``encode(text)`` -> list of ids ([UNK] for unknown words, or a KeyError naming the
    word with ``strict=True``); ``decode(ids)`` -> text (a ValueError names an id out of
    range). Words are lower-cased; punctuation marks are tokens of their own.
    """

    def __init__(self, words):
        words = list(words)
        tokens = list(SPECIAL_TOKENS) + [w for w in words if w not in SPECIAL_TOKENS]
        if len(set(tokens)) != len(tokens):
            dup = sorted({t for t in tokens if tokens.count(t) > 1})
            raise ValueError(f"words must be unique, got duplicates {dup}")
        self.itos = tokens
        self.stoi = {t: i for i, t in enumerate(tokens)}
        self.pad_id, self.cls_id, self.sep_id, self.mask_id, self.unk_id, self.join_id = (
            PAD_ID, CLS_ID, SEP_ID, MASK_ID, UNK_ID, JOIN_ID)

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, token) -> bool:
        return token in self.stoi

    def encode(self, text: str, strict: bool = False) -> list[int]:
        ids = []
        for tok in tokenize(text):
            if tok not in self.stoi:
                if strict:
                    raise KeyError(f"word {tok!r} of {text!r} is not in the vocabulary ({len(self)} tokens)")
                tok = "[UNK]"
            ids.append(self.stoi[tok])
        return ids

    def decode(self, ids, skip_special: bool = False) -> str:
        ids = ids.tolist() if isinstance(ids, torch.Tensor) else list(ids)
        words = []
        for i in ids:
            if not isinstance(i, int) or isinstance(i, bool) or not 0 <= i < len(self):
                raise ValueError(f"token id {i!r} is not in 0..{len(self) - 1}")
            if skip_special and self.itos[i] in SPECIAL_TOKENS:
                continue
            words.append(self.itos[i])
        return re.sub(r" ([.,!?])", r"\1", " ".join(words))

    def __repr__(self) -> str:
        return f"Vocab({len(self)} tokens: {len(SPECIAL_TOKENS)} special + {len(self) - len(SPECIAL_TOKENS)} words)"


__all__ = [
    "SPECIAL_TOKENS", "PAD_ID", "CLS_ID", "SEP_ID", "MASK_ID", "UNK_ID", "JOIN_ID", "NUM_SPECIAL", "tokenize",
    "WordVocab", "check_vocab", "Vocab",
]
