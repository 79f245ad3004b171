"""BERT masked language model: shapes, masking, visual-word vocabulary extension, clear
errors, and loading Hugging Face BertForMaskedLM checkpoints (same logits as transformers)."""

import json
import subprocess
import sys

import pytest
import torch

from minimodels.bert import VARIANTS, Bert, BertConfig, extend_vocab
from minimodels.layers import count_params
from minimodels.hf import load_bert, read_checkpoint

TINY = dict(vocab_size=60, max_positions=16, dropout=0.0, attention_dropout=0.0)


@pytest.fixture(autouse=True)
def seeded():
    torch.manual_seed(0)


def tiny_bert(**overrides):
    return Bert.from_variant("tiny", **{**TINY, **overrides}).eval()


# ---------------------------------------------------------------- the model


def test_shapes_and_encode():
    model = tiny_bert()
    ids = torch.randint(0, 60, (3, 10))
    logits = model(ids)
    assert logits.shape == (3, 10, 60)
    hidden = model.encode(ids)
    assert hidden.shape == (3, 10, 128)
    # the decoder is the word-embedding table (tied): logits are a function of encode's output
    head = model.mlm_head
    assert torch.allclose(logits, head(hidden, model.embeddings.word.weight))
    assert not any(p is model.embeddings.word.weight for p in head.parameters())  # not a second copy


def test_parameter_counts_equal_transformers():
    transformers = pytest.importorskip("transformers")
    for name, expected in [("base", 109_514_298), ("large", 335_174_458)]:
        v = VARIANTS[name]
        with torch.device("meta"):
            theirs = transformers.BertForMaskedLM(transformers.BertConfig(
                hidden_size=v["hidden_dim"], num_hidden_layers=v["depth"], num_attention_heads=v["num_heads"],
                intermediate_size=v["mlp_dim"]))
            ours = Bert.from_variant(name)
        assert count_params(ours) == sum(p.numel() for p in theirs.parameters()) == expected
    # VideoBERT: BERT-large with 12^4 visual words appended (a row + an MLM bias each)
    with torch.device("meta"):
        video_bert = Bert.from_variant("large", vocab_size=30522 + 12**4)
    assert count_params(video_bert) == 335_174_458 + 20_736 * (1024 + 1)


def test_padding_is_invisible_to_real_tokens():
    model = tiny_bert()
    ids = torch.randint(1, 60, (1, 7))
    types = torch.tensor([[0, 0, 0, 1, 1, 1, 1]])
    alone = model(ids, types)
    padded_ids = torch.cat([ids, torch.zeros(1, 4, dtype=torch.long)], 1)
    padded_types = torch.cat([types, torch.zeros(1, 4, dtype=torch.long)], 1)
    mask = torch.tensor([[1] * 7 + [0] * 4])
    with_pad = model(padded_ids, padded_types, mask)
    assert (with_pad[:, :7] - alone).abs().max() < 1e-5
    without_mask = model(padded_ids, padded_types)  # padding attended to: outputs change
    assert (without_mask[:, :7] - alone).abs().max() > 1e-3
    assert torch.equal(model(padded_ids, padded_types, mask.bool()), with_pad)  # bool mask too
    # token types matter
    assert (model(ids, torch.zeros_like(ids)) - alone).abs().max() > 1e-3


def test_skip_padding_gives_the_same_values_and_gradients_at_real_tokens():
    model = tiny_bert().train()
    lengths = [16, 3, 9, 1]
    mask = torch.tensor([[1] * n + [0] * (16 - n) for n in lengths])
    ids = torch.randint(1, 60, (4, 16)) * mask
    types = (torch.arange(16) >= 5).long().expand(4, 16) * mask
    real = mask.bool()

    def run(skip):
        model.zero_grad()
        hidden = model.encode(ids, types, mask, skip_padding=skip)
        logits = model(ids, types, mask, skip_padding=skip)
        logits[real].logsumexp(-1).sum().backward()
        return hidden, logits, [p.grad.clone() for p in model.parameters()]

    hidden, logits, grads = run(False)
    hidden2, logits2, grads2 = run(True)
    assert (hidden2[real] - hidden[real]).abs().max() < 1e-5 and (logits2[real] - logits[real]).abs().max() < 1e-5
    assert torch.equal(hidden2[~real], torch.zeros_like(hidden2[~real]))  # nothing computed at the padding
    assert max((a - b).abs().max() for a, b in zip(grads, grads2)) < 1e-5
    # without a mask there is no padding to skip: the same call as without skip_padding
    assert torch.equal(model.encode(ids, types, skip_padding=True), model.encode(ids, types))


def test_post_layer_norm_and_gelu():
    model = tiny_bert()
    x = torch.randn(2, 5, 128)
    layer = model.layers[0]
    y = layer(x)
    a = layer.norm1(x + layer.attn(x))
    assert torch.allclose(y, layer.norm2(a + layer.fc2(torch.nn.functional.gelu(layer.fc1(a)))), atol=1e-6)
    assert torch.allclose(y.mean(-1), torch.zeros(2, 5), atol=1e-5)  # the output of a LayerNorm


def test_training_step_reduces_mlm_loss():
    model = tiny_bert().train()
    ids = torch.randint(1, 60, (4, 12))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    losses = []
    for _ in range(20):
        loss = torch.nn.functional.cross_entropy(model(ids).flatten(0, 1), ids.flatten())
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]  # copying its input: measured 4.15 -> 1.0


def test_config_and_variant_errors():
    with pytest.raises(ValueError, match=r"unknown BERT variant 'huge'; expected one of \['tiny'"):
        Bert.from_variant("huge")
    with pytest.raises(ValueError, match="unknown BertConfig field"):
        Bert.from_variant("tiny", layers=3)
    with pytest.raises(ValueError, match="hidden_dim 100 is not divisible by num_heads 3"):
        BertConfig(hidden_dim=100, num_heads=3)
    with pytest.raises(ValueError, match="pad_token_id"):
        BertConfig(vocab_size=10, pad_token_id=10)


def test_input_errors():
    model = tiny_bert()
    ids = torch.randint(0, 60, (2, 5))
    with pytest.raises(ValueError, match=r"\[0, vocab_size=60\), got min 0, max 60"):
        model(torch.tensor([[0, 60]]))
    with pytest.raises(ValueError, match=r"got min -1"):
        model(torch.tensor([[-1, 3]]))
    with pytest.raises(ValueError, match="sequence length 17 exceeds max_positions=16"):
        model(torch.zeros(1, 17, dtype=torch.long))
    with pytest.raises(ValueError, match=r"token_type_ids must lie in \[0, type_vocab_size=2\), got min 2, max 2"):
        model(ids, torch.full_like(ids, 2))
    with pytest.raises(TypeError, match="integer input_ids.*torch.float32"):
        model(ids.float())
    with pytest.raises(ValueError, match=r"\(B, L\), got \(5,\).*unsqueeze\(0\)"):
        model(ids[0])
    with pytest.raises(ValueError, match=r"token_type_ids must have the shape of input_ids \(2, 5\), got \(2, 4\)"):
        model(ids, ids[:, :4])
    with pytest.raises(ValueError, match=r"attention_mask must have the shape"):
        model(ids, attention_mask=torch.ones(2, 6))
    with pytest.raises(ValueError, match="1 \\(token\\) and 0 \\(padding\\)"):
        model(ids, attention_mask=torch.full((2, 5), 2))


# ---------------------------------------------------------------- visual words


def test_extend_vocab_keeps_old_logits_and_copies_rows():
    model = tiny_bert()
    ids = torch.randint(0, 60, (2, 9))
    with torch.no_grad():
        before = model(ids)
    rows = torch.randn(20, 128)
    assert extend_vocab(model, 20, init=rows) is model
    assert model.config.vocab_size == 80 and model.embeddings.word.weight.shape == (80, 128)
    assert torch.equal(model.embeddings.word.weight[60:], rows)  # same width: copied
    assert torch.equal(model.mlm_head.bias[60:], torch.zeros(20))
    with torch.no_grad():
        after = model(ids)
    assert after.shape == (2, 9, 80) and torch.equal(after[..., :60], before)
    visual = torch.randint(60, 80, (2, 9))  # the new ids are tokens like any other
    with torch.no_grad():
        assert torch.isfinite(model(visual)).all()
    model(visual).sum().backward()
    assert model.embeddings.word.weight.grad[60:].abs().sum() > 0  # and they train


def test_extend_vocab_projections():
    model = tiny_bert()
    low = torch.randn(10, 32) * 5  # fewer dims than hidden: an orthogonal map keeps distances
    extend_vocab(model, 10, init=low, projection="orthogonal", seed=1)
    new = model.embeddings.word.weight[60:].detach()
    assert torch.allclose(torch.cdist(new, new), torch.cdist(low, low), atol=1e-3)
    # more dims than hidden: "pca" keeps the top principal directions, the least-squares
    # choice - as much of the spread as any rank-128 linear map keeps, more than a random one
    high = torch.randn(200, 300) @ torch.randn(300, 300) / 10
    extend_vocab(model, 200, init=high, projection="pca")
    pca = model.embeddings.word.weight[70:].detach()
    s = torch.linalg.svdvals(high - high.mean(0))
    spread = lambda rows: (rows - rows.mean(0)).pow(2).sum()  # noqa: E731
    assert torch.allclose(spread(pca), s[:128].pow(2).sum(), rtol=1e-4)
    extend_vocab(model, 200, init=high, projection="orthogonal")
    assert spread(model.embeddings.word.weight[270:].detach()) < 0.8 * spread(pca)  # measured 0.44
    word_rms = model.embeddings.word.weight.detach().pow(2).mean().sqrt()  # of every row so far
    extend_vocab(model, 12, init=torch.randn(12, 300) * 7, projection="pca", rescale=True)  # 12 rows: 11 dims
    assert torch.allclose(model.embeddings.word.weight[470:].pow(2).mean().sqrt(), word_rms, rtol=1e-4)  # rescaled
    projection = torch.randn(7, 128)
    init = torch.randn(5, 7)
    extend_vocab(model, 5, init=init, projection=projection)
    assert torch.allclose(model.embeddings.word.weight[482:], init @ projection)
    extend_vocab(model, 3)  # no init: BERT's normal(0, 0.02)
    assert model.config.vocab_size == 490 and model.embeddings.word.weight[487:].std() < 0.1


def test_extend_vocab_errors():
    model = tiny_bert()
    with pytest.raises(ValueError, match="init has 4 rows, expected n_new=5"):
        extend_vocab(model, 5, init=torch.randn(4, 128))
    with pytest.raises(ValueError, match=r"init is 64-d but the model's hidden_dim is 128.*'orthogonal', 'pca'"):
        extend_vocab(model, 5, init=torch.randn(5, 64), projection="random")
    with pytest.raises(ValueError, match=r"projection must have shape \(D'=64, hidden_dim=128\), got \(128, 64\)"):
        extend_vocab(model, 5, init=torch.randn(5, 64), projection=torch.randn(128, 64))
    with pytest.raises(ValueError, match="float tensor"):
        extend_vocab(model, 5, init=torch.zeros(5, 128, dtype=torch.long))
    with pytest.raises(ValueError, match="n_new must be a positive int"):
        extend_vocab(model, 0)
    assert model.config.vocab_size == 60  # nothing changed by the failed calls


# ---------------------------------------------------------------- Hugging Face checkpoints

SMALL_HF = dict(vocab_size=70, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
                max_position_embeddings=24, type_vocab_size=3)


def make_hf_bert(seed=0, **config):
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(seed)
    model = transformers.BertForMaskedLM(transformers.BertConfig(**{**SMALL_HF, **config}))
    with torch.no_grad():  # leave transformers' init, but make no weight trivial (unit norms, zero biases)
        for p in model.parameters():
            p.add_(0.1 * torch.randn_like(p))
    return model.eval()


@pytest.fixture(scope="module")
def hf_bert():
    return make_hf_bert()


@pytest.fixture(scope="module")
def bert_dir(hf_bert, tmp_path_factory):
    path = tmp_path_factory.mktemp("bert")
    hf_bert.save_pretrained(path)
    return path


def batch(vocab=70, types=3, seed=1):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(1, vocab, (3, 11), generator=g)
    token_types = torch.randint(0, types, (3, 11), generator=g)
    mask = torch.ones(3, 11, dtype=torch.long)
    mask[1, 6:] = 0
    mask[2, 9:] = 0
    ids[mask == 0] = 0  # [PAD]
    return ids, token_types, mask


def bert_diff(model, hf_model, **kw):
    ids, types, mask = batch(**kw)
    with torch.no_grad():
        want = hf_model(input_ids=ids, token_type_ids=types, attention_mask=mask).logits
        got = model(ids, types, mask)
    assert got.shape == want.shape and want.std() > 0.3  # not a comparison of near-zero logits
    return (got - want)[mask.bool()].abs().max().item()


def test_mlm_logits_match_transformers(hf_bert, bert_dir):
    model = load_bert(bert_dir)
    assert isinstance(model, Bert) and not model.training
    c = model.config
    assert (c.vocab_size, c.hidden_dim, c.depth, c.num_heads, c.mlp_dim) == (70, 32, 2, 4, 64)
    assert (c.max_positions, c.type_vocab_size, c.layer_norm_eps, c.pad_token_id) == (24, 3, 1e-12, 0)
    assert bert_diff(model, hf_bert) < 1e-4  # measured ~1e-6


def test_what_save_pretrained_writes(hf_bert, bert_dir, tmp_path):
    from safetensors.torch import load_file

    names = set(load_file(str(bert_dir / "model.safetensors")))
    assert "bert.encoder.layer.0.attention.self.query.weight" in names
    assert "bert.encoder.layer.1.output.LayerNorm.bias" in names and "cls.predictions.bias" in names
    assert "cls.predictions.decoder.weight" not in names  # tied: left out
    try:  # transformers 5.x: the in-memory spelling, if it has one for BERT, loads as well
        hf_bert.save_pretrained(tmp_path, save_original_format=False)
    except TypeError:  # transformers 4.x has no such option
        return
    assert bert_diff(load_bert(tmp_path), hf_bert) < 1e-4


def test_old_checkpoint_spelling_loads(hf_bert, bert_dir, tmp_path):
    """A TensorFlow-era .bin: LayerNorm gamma / beta, the decoder stored, pooler, NSP head, position_ids."""
    config, state = read_checkpoint(bert_dir)
    old = {k.replace("LayerNorm.weight", "LayerNorm.gamma").replace("LayerNorm.bias", "LayerNorm.beta"): v
           for k, v in state.items()}
    old["cls.predictions.decoder.weight"] = state["bert.embeddings.word_embeddings.weight"].clone()
    old["cls.predictions.decoder.bias"] = state["cls.predictions.bias"].clone()
    old["bert.pooler.dense.weight"] = torch.randn(32, 32)
    old["bert.pooler.dense.bias"] = torch.randn(32)
    old["cls.seq_relationship.weight"] = torch.randn(2, 32)
    old["cls.seq_relationship.bias"] = torch.randn(2)
    old["bert.embeddings.position_ids"] = torch.arange(24)[None]
    torch.save(old, tmp_path / "pytorch_model.bin")
    (tmp_path / "config.json").write_text(json.dumps(config))
    assert bert_diff(load_bert(tmp_path), hf_bert) < 1e-4
    # an untied decoder is refused, not silently dropped
    old["cls.predictions.decoder.weight"] = old["cls.predictions.decoder.weight"] + 1
    torch.save(old, tmp_path / "pytorch_model.bin")
    with pytest.raises(ValueError, match="cls.predictions.decoder.weight differs from bert.embeddings.word_embeddings"):
        load_bert(tmp_path)


def test_extend_vocab_after_loading_keeps_old_logits(bert_dir):
    model = load_bert(bert_dir)
    ids, types, mask = batch()
    with torch.no_grad():
        before = model(ids, types, mask)
        centroids = torch.randn(144, 48)  # e.g. HierarchicalKMeans(depth=2, k=12).centroids of 48-d features
        extend_vocab(model, 144, init=centroids, projection="pca", rescale=True)
        after = model(ids, types, mask)
    assert after.shape == (3, 11, 70 + 144)
    assert torch.equal(after[..., :70], before)


from test_hf import copy_checkpoint  # noqa: E402  (the shared helper of the loaders' error tests)


def test_renamed_and_missing_keys(bert_dir, tmp_path):
    def rename(config, state):
        state["bert.encoder.layer.1.intermediate.dense_one.weight"] = state.pop(
            "bert.encoder.layer.1.intermediate.dense.weight")

    with pytest.raises(KeyError) as err:
        load_bert(copy_checkpoint(bert_dir, tmp_path / "renamed", rename))
    msg = str(err.value)
    assert "1 missing key(s) ['bert.encoder.layer.1.intermediate.dense.weight']" in msg
    assert "1 unexpected key(s) ['bert.encoder.layer.1.intermediate.dense_one.weight']" in msg
    path = copy_checkpoint(bert_dir, tmp_path / "deeper", lambda c, s: c.update(num_hidden_layers=3))
    with pytest.raises(KeyError, match=r"Bert\(hidden_dim=32, depth=3, vocab_size=70\): 16 missing key\(s\) "
                                       r"\['bert\.encoder\.layer\.2\..*\.\.\. 11 more"):
        load_bert(path)
    path = copy_checkpoint(bert_dir, tmp_path / "nohead", lambda c, s: s.pop("cls.predictions.transform.dense.bias"))
    with pytest.raises(KeyError, match=r"1 missing key\(s\) \['cls\.predictions\.transform\.dense\.bias'\]"):
        load_bert(path)


def test_config_that_does_not_fit(bert_dir, tmp_path):
    path = copy_checkpoint(bert_dir, tmp_path / "vocab", lambda c, s: c.update(vocab_size=71))
    with pytest.raises(ValueError, match=r"word_embeddings.weight.*expected \(71, 32\).*got \(70, 32\)"):
        load_bert(path)
    for field, value, message in [("hidden_act", "relu", "hidden_act 'relu' is not supported"),
                                  ("hidden_act", "gelu_new", "hidden_act 'gelu_new' is not supported"),
                                  ("model_type", "roberta", "model_type 'roberta'"),
                                  ("position_embedding_type", "relative_key", "relative_key"),
                                  ("tie_word_embeddings", False, "tie_word_embeddings")]:
        path = copy_checkpoint(bert_dir, tmp_path / field, lambda c, s: c.update({field: value}))
        with pytest.raises(ValueError, match=message):
            load_bert(path)


def test_loader_does_not_import_transformers():
    code = "import sys, minimodels.hf, minimodels.bert; assert 'transformers' not in sys.modules, 'imported'"
    subprocess.run([sys.executable, "-c", code], check=True)
