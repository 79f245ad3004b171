"""Loading Hugging Face SegFormer checkpoints: same logits as transformers, clear errors."""

import json
import os
import subprocess
import sys

import pytest
import torch

from minimodels.hf import hub_key, load_segformer, read_checkpoint, segformer_key
from minimodels.layers import count_params
from minimodels.segformer import SegFormer

transformers = pytest.importorskip("transformers")
from safetensors.torch import load_file, save_file  # noqa: E402

B0 = dict()  # transformers' defaults are SegFormer-B0
DEEP = dict(hidden_sizes=[16, 32, 40, 64], depths=[3, 4, 6, 3], decoder_hidden_size=48)


def make_hf(num_labels=7, seed=0, **config):
    """A random transformers SegFormer whose every part moves the logits (eval mode)."""
    torch.manual_seed(seed)
    cfg = transformers.SegformerConfig(num_labels=num_labels, **config)
    model = transformers.SegformerForSemanticSegmentation(cfg).eval()
    with torch.no_grad():
        for p in model.parameters():  # leave transformers' init, but make no weight trivial
            p.add_(0.02 * torch.randn_like(p))
        bn = model.decode_head.batch_norm
        bn.running_mean.normal_(0, 0.5)
        bn.running_var.uniform_(0.5, 2.0)
        model.decode_head.classifier.weight.normal_(0, 0.3)
    return model


def hf_logits(model, x):
    with torch.no_grad():
        return model(pixel_values=x).logits


@pytest.fixture(scope="module")
def hf_b0():
    return make_hf(**B0)


@pytest.fixture(scope="module")
def b0_dir(hf_b0, tmp_path_factory):
    path = tmp_path_factory.mktemp("segformer_b0")
    hf_b0.save_pretrained(path)
    return path


def max_diff(model, hf_model, hw, batch=2):
    x = torch.randn(batch, 3, *hw)
    want = hf_logits(hf_model, x)
    with torch.no_grad():
        got = model(x)
    assert got.shape == want.shape
    assert want.std() > 0.1  # the comparison is not between near-zero logits
    return (got - want).abs().max().item()


# ---------------------------------------------------------------- parity


@pytest.mark.parametrize("hw", [(67, 93), (128, 128)])
def test_b0_logits_match_transformers(hf_b0, b0_dir, hw):
    model = load_segformer(b0_dir)
    assert not model.training
    assert max_diff(model, hf_b0, hw) < 1e-4


def test_deeper_config_matches_transformers(tmp_path):
    hf = make_hf(num_labels=4, seed=1, **DEEP)
    hf.save_pretrained(tmp_path)
    model = load_segformer(tmp_path)
    assert model.config.depths == (3, 4, 6, 3) and model.config.decoder_dim == 48
    assert [len(stage) for stage in model.encoder.blocks] == [3, 4, 6, 3]
    for hw in [(67, 93), (128, 128)]:
        assert max_diff(model, hf, hw) < 1e-4


def test_what_save_pretrained_writes(hf_b0, b0_dir, tmp_path):
    # transformers 5 keeps new names in memory but writes the Hub names by default ...
    names = set(load_file(str(b0_dir / "model.safetensors")))
    assert "segformer.encoder.block.0.0.attention.self.query.weight" in names
    assert "decode_head.linear_c.0.proj.weight" in names
    # ... and its in-memory names with save_original_format=False: both load
    hf_b0.save_pretrained(tmp_path, save_original_format=False)
    names = set(load_file(str(tmp_path / "model.safetensors")))
    assert "segformer.stages.0.blocks.0.attention.q_proj.weight" in names
    assert max_diff(load_segformer(tmp_path), hf_b0, (67, 93)) < 1e-4


def test_pytorch_model_bin_loads(hf_b0, b0_dir, tmp_path):
    torch.save(load_file(str(b0_dir / "model.safetensors")), tmp_path / "pytorch_model.bin")
    (tmp_path / "config.json").write_text((b0_dir / "config.json").read_text())
    assert max_diff(load_segformer(tmp_path), hf_b0, (67, 93)) < 1e-4


def test_sharded_checkpoint_loads(tmp_path):
    hf = make_hf(num_labels=3, seed=2, **DEEP)
    hf.save_pretrained(tmp_path, max_shard_size="100KB")
    assert (tmp_path / "model.safetensors.index.json").is_file()
    assert len(list(tmp_path.glob("model-*.safetensors"))) > 1
    assert max_diff(load_segformer(tmp_path), hf, (64, 64)) < 1e-4


def test_config_translation(b0_dir):
    model = load_segformer(b0_dir)
    cfg = model.config
    assert cfg.embed_dims == (32, 64, 160, 256) and cfg.num_heads == (1, 2, 5, 8)
    assert cfg.sr_ratios == (8, 4, 2, 1) and cfg.mlp_ratios == (4, 4, 4, 4)
    assert cfg.num_classes == 7 and cfg.class_names == tuple(f"LABEL_{i}" for i in range(7))
    assert cfg.layer_norm_eps == 1e-5  # what transformers' code uses, whatever config.json says
    assert count_params(model) == count_params(SegFormer.from_variant("b0", num_classes=7))


def test_key_and_value_become_one_kv_linear(b0_dir):
    _, state = read_checkpoint(b0_dir)
    model = load_segformer(b0_dir)
    prefix = "segformer.encoder.block.2.1.attention.self."
    kv = model.encoder.blocks[2][1].attn.kv
    assert torch.equal(kv.weight[:160], state[prefix + "key.weight"])
    assert torch.equal(kv.weight[160:], state[prefix + "value.weight"])
    assert segformer_key("decode_head.linear_c.3.proj.bias") == "decoder.linear_c.3.bias"
    # every minimodels key has a Hub name that maps back to it
    for key in model.state_dict():
        if ".attn.kv." in key:
            assert hub_key(key).replace("key|value", "key") in state
        else:
            assert hub_key(key) in state and segformer_key(hub_key(key)) == key
    assert segformer_key("decode_head.auxiliary_head.conv.weight") is None


def test_loader_does_not_import_transformers():
    code = "import sys, minimodels.hf; assert 'transformers' not in sys.modules, 'imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


# ---------------------------------------------------------------- errors


def copy_checkpoint(src, dst, edit):
    config, state = read_checkpoint(src)
    edit(config, state)
    dst.mkdir(exist_ok=True)
    (dst / "config.json").write_text(json.dumps(config))
    save_file({k: v.contiguous() for k, v in state.items()}, str(dst / "model.safetensors"))
    return dst


def test_missing_directory_and_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_segformer(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match="no config.json"):
        load_segformer(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "segformer"}))
    with pytest.raises(FileNotFoundError, match=r"no weights.*model\.safetensors.*pytorch_model\.bin"):
        load_segformer(tmp_path)


def test_wrong_model_type(b0_dir, tmp_path):
    path = copy_checkpoint(b0_dir, tmp_path / "vit", lambda c, s: c.update(model_type="vit"))
    with pytest.raises(ValueError, match="model_type 'vit'"):
        load_segformer(path)


def test_renamed_key_is_reported_as_missing_and_unexpected(b0_dir, tmp_path):
    def rename(config, state):
        state["segformer.encoder.block.1.0.mlp.dense_one.weight"] = state.pop(
            "segformer.encoder.block.1.0.mlp.dense1.weight"
        )

    path = copy_checkpoint(b0_dir, tmp_path / "renamed", rename)
    with pytest.raises(KeyError) as err:
        load_segformer(path)
    msg = str(err.value)
    assert "1 missing key(s) ['segformer.encoder.block.1.0.mlp.dense1.weight']" in msg
    assert "1 unexpected key(s) ['segformer.encoder.block.1.0.mlp.dense_one.weight']" in msg


def test_wrong_shape_names_key_and_shapes(b0_dir, tmp_path):
    def shrink(config, state):
        key = "decode_head.linear_c.2.proj.weight"
        state[key] = state[key][:, :100]

    path = copy_checkpoint(b0_dir, tmp_path / "shape", shrink)
    msg = r"decode_head\.linear_c\.2\.proj\.weight.*expected \(256, 160\).*got \(256, 100\)"
    with pytest.raises(ValueError, match=msg):
        load_segformer(path)


def test_config_that_does_not_fit_the_weights(b0_dir, tmp_path):
    path = copy_checkpoint(b0_dir, tmp_path / "deeper", lambda c, s: c.update(depths=[2, 3, 2, 2]))
    with pytest.raises(KeyError, match=r"missing key\(s\) \['segformer\.encoder\.block\.1\.2\."):
        load_segformer(path)
    path = copy_checkpoint(b0_dir, tmp_path / "wider", lambda c, s: c.update(decoder_hidden_size=128))
    with pytest.raises(ValueError, match="shape mismatch"):
        load_segformer(path)


def test_mismatched_key_and_value(b0_dir, tmp_path):
    def cut(config, state):
        key = "segformer.encoder.block.3.0.attention.self.value.weight"
        state[key] = state[key][:128]

    path = copy_checkpoint(b0_dir, tmp_path / "kv", cut)
    with pytest.raises(ValueError, match=r"value\.weight has shape \(128, 256\)"):
        load_segformer(path)


def test_bin_is_read_with_weights_only(tmp_path, b0_dir):
    class Payload:
        def __reduce__(self):
            return (os.getcwd, ())

    torch.save({"x": Payload()}, tmp_path / "pytorch_model.bin")
    (tmp_path / "config.json").write_text((b0_dir / "config.json").read_text())
    with pytest.raises(Exception, match="(?i)weights.only|unsupported global"):
        load_segformer(tmp_path)
