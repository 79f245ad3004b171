"""Word-level vocabularies (minimodels.tokens): the special tokens and their fixed ids,
the tokenizer, encode / decode, and the check a model makes of any vocabulary object."""

import pytest
import torch

from minimodels.tokens import (
    CLS_ID, JOIN_ID, MASK_ID, NUM_SPECIAL, PAD_ID, SEP_ID, SPECIAL_TOKENS, UNK_ID, Vocab, check_vocab, tokenize,
)

WORDS = ["whisk", "the", "egg", "now", "."]


def test_special_tokens_come_first_with_fixed_ids():
    assert SPECIAL_TOKENS == ("[PAD]", "[CLS]", "[SEP]", "[MASK]", "[UNK]", "[>]")
    assert (PAD_ID, CLS_ID, SEP_ID, MASK_ID, UNK_ID, JOIN_ID) == tuple(range(6)) and NUM_SPECIAL == 6
    vocab = Vocab(WORDS)
    assert vocab.itos == list(SPECIAL_TOKENS) + WORDS  # the words in the order given
    assert (vocab.pad_id, vocab.cls_id, vocab.sep_id, vocab.mask_id, vocab.unk_id, vocab.join_id) == tuple(range(6))
    assert len(vocab) == 11 and "egg" in vocab and "fry" not in vocab
    assert Vocab(["[MASK]", "egg"]).itos == list(SPECIAL_TOKENS) + ["egg"]  # specials are not words
    assert len(Vocab([])) == NUM_SPECIAL
    assert repr(vocab) == "Vocab(11 tokens: 6 special + 5 words)"


def test_tokenize():
    assert tokenize("Now WHISK the [MASK], and the egg!") == ["now", "whisk", "the", "[MASK]", ",", "and", "the",
                                                             "egg", "!"]
    assert tokenize("don't-stop [>]x") == ["don't", "stop", "[>]", "x"]
    with pytest.raises(TypeError, match="str"):
        tokenize(["egg"])


def test_encode_decode():
    vocab = Vocab(WORDS)
    ids = vocab.encode("Now whisk the [MASK].")
    assert ids == [9, 6, 7, MASK_ID, 10] and vocab.decode(ids) == "now whisk the [MASK]."
    assert vocab.encode("fry the egg") == [UNK_ID, 7, 8]
    assert vocab.decode(torch.tensor([CLS_ID, 8, SEP_ID, PAD_ID]), skip_special=True) == "egg"


def test_errors():
    vocab = Vocab(WORDS)
    with pytest.raises(KeyError, match="'fry'"):
        vocab.encode("fry the egg", strict=True)
    with pytest.raises(ValueError, match="token id 11 is not in 0..10"):
        vocab.decode([len(vocab)])
    with pytest.raises(ValueError, match="token id True"):
        vocab.decode([True])
    with pytest.raises(TypeError, match="str"):
        vocab.encode(["egg"])
    with pytest.raises(ValueError, match=r"duplicates \['a'\]"):
        Vocab(["a", "b", "a"])


def test_check_vocab():
    check_vocab(Vocab(WORDS), "here")  # a Vocab passes
    with pytest.raises(TypeError, match="here: vocab \\(list\\) has no 'stoi'"):
        check_vocab(list(SPECIAL_TOKENS), "here")

    class NoEncode:
        stoi = Vocab(WORDS).stoi

        def __len__(self):
            return len(self.stoi)

    with pytest.raises(TypeError, match="has no 'encode'"):
        check_vocab(NoEncode(), "here")
    swapped = Vocab(WORDS)
    swapped.stoi = {**swapped.stoi, "[MASK]": 4, "[UNK]": 3}
    with pytest.raises(ValueError, match=r"here: the vocabulary's \[MASK\] has id 4, expected 3"):
        check_vocab(swapped, "here")
