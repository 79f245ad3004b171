"""Bad checkpoint folders, files and arguments: every loader in minimodels.hf names the file,
what it expected and what came. No transformers needed: the folders are written by hand."""

import json
import os
import re

import pytest
import torch
from safetensors.torch import save_file

from minimodels.hf import (
    bert_config_from_hf,
    convert_bert_state_dict,
    convert_segformer_state_dict,
    convert_vit_state_dict,
    convert_vivit_state_dict,
    load_bert,
    load_segformer,
    load_vit,
    load_vivit,
    read_checkpoint,
    read_config,
    read_state_dict,
    segformer_config_from_hf,
    vit_config_from_hf,
    vivit_config_from_hf,
)

# model_type -> (loader, the model's name in messages, a small config.json of that model)
LOADERS = {
    "segformer": (load_segformer, "SegFormer", dict(hidden_sizes=[8, 8, 8, 8], depths=[1, 1, 1, 1],
                                                    num_attention_heads=[1, 1, 1, 1], decoder_hidden_size=8)),
    "vit": (load_vit, "ViT", dict(image_size=8, patch_size=4, hidden_size=8, num_hidden_layers=1,
                                  num_attention_heads=2, intermediate_size=16)),
    "vivit": (load_vivit, "ViViT", dict(image_size=8, num_frames=2, tubelet_size=[2, 4, 4], hidden_size=8,
                                        num_hidden_layers=1, num_attention_heads=2, intermediate_size=16)),
    "bert": (load_bert, "BERT", dict(vocab_size=10, hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
                                     intermediate_size=16, max_position_embeddings=8)),
}
TENSORS = {"x": torch.zeros(2)}


def write_checkpoint(path, model_type="segformer", config=None, tensors=TENSORS):
    """A folder with config.json (``config``, else the small config of ``model_type``) and model.safetensors."""
    path.mkdir(parents=True, exist_ok=True)
    if config is None:
        config = {"model_type": model_type, **LOADERS[model_type][2]}
    (path / "config.json").write_text(config if isinstance(config, str) else json.dumps(config))
    save_file(tensors, str(path / "model.safetensors"))
    return path


def at(file):
    """A regex matching the path of ``file`` literally."""
    return re.escape(str(file))


# ---------------------------------------------------------------- config.json itself (cases 1, 2)


@pytest.mark.parametrize("model_type", LOADERS)
def test_invalid_json_names_file_line_and_column(tmp_path, model_type):
    loader = LOADERS[model_type][0]
    path = write_checkpoint(tmp_path, config='{\n  "model_type": "segformer",\n  "depths": [2, 2,\n}')
    with pytest.raises(ValueError, match=at(path / "config.json") + r" is not valid JSON: Expecting value "
                                         r"at line 4, column 1") as err:
        loader(path)
    assert isinstance(err.value.__cause__, json.JSONDecodeError)


def test_config_that_is_not_utf8_text(tmp_path):
    path = write_checkpoint(tmp_path)
    (path / "config.json").write_bytes(b'{"model_type": "\x80"}')
    with pytest.raises(ValueError, match=at(path / "config.json") + " is not valid JSON: not UTF-8 text"):
        read_config(path)


@pytest.mark.parametrize("model_type", LOADERS)
@pytest.mark.parametrize("text, kind", [("[1, 2]", "an array"), ('"segformer"', "a string"), ("3", "a number"),
                                        ("null", "null")])
def test_config_that_is_not_an_object(tmp_path, model_type, text, kind):
    path = write_checkpoint(tmp_path, config=text)
    with pytest.raises(ValueError, match=at(path / "config.json") + r": expected a JSON object \(\{\"key\": "
                                         rf"value, \.\.\.\}}\), got {kind}$"):
        LOADERS[model_type][0](path)


# ---------------------------------------------------------------- sharded checkpoints (cases 3, 4)


def sharded(path, weight_map, index="model.safetensors.index.json", shards=("model-1.safetensors",)):
    """A folder with config.json, the index (``weight_map``: any JSON) and valid shards."""
    write_checkpoint(path)
    (path / "model.safetensors").unlink()
    for i, name in enumerate(shards):
        save_file({f"t{i}": torch.full((2,), float(i))}, str(path / name))
    (path / index).write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))
    return path


def test_sharded_checkpoint_reads_every_shard(tmp_path):
    path = sharded(tmp_path, {"t0": "model-1.safetensors", "t1": "model-2.safetensors"},
                   shards=("model-1.safetensors", "model-2.safetensors"))
    state = read_state_dict(path)
    assert sorted(state) == ["t0", "t1"] and state["t1"].tolist() == [1.0, 1.0]


@pytest.mark.parametrize("index", ["model.safetensors.index.json", "pytorch_model.bin.index.json"])
def test_index_without_a_weight_map(tmp_path, index):
    path = sharded(tmp_path, {}, index=index)
    (path / index).write_text(json.dumps({"metadata": {"total_size": 8}}))
    message = (r': expected a "weight_map" object \(tensor name -> shard file\), '
               r"got no weight_map \(keys: \['metadata'\]\)")
    with pytest.raises(ValueError, match=at(path / index) + message):
        read_state_dict(path)


@pytest.mark.parametrize("weight_map, message", [
    (["model-1.safetensors"], r'expected a "weight_map" object \(tensor name -> shard file\), got an array'),
    ("model-1.safetensors", r'expected a "weight_map" object \(tensor name -> shard file\), got a string'),
    ({"t0": 1}, r"weight_map entry 't0' should name a shard file \(a string\), got 1"),
    ({"t0": ["model-1.safetensors"]}, r"weight_map entry 't0' should name a shard file \(a string\), got \['model-1"),
])
def test_weight_map_of_the_wrong_shape(tmp_path, weight_map, message):
    path = sharded(tmp_path, weight_map)
    with pytest.raises(ValueError, match=at(path / "model.safetensors.index.json") + ": " + message):
        load_segformer(path)


def test_invalid_index_json(tmp_path):
    path = sharded(tmp_path, {})
    (path / "model.safetensors.index.json").write_text('{"weight_map": {"t0": "model-1.safetensors",}}')
    with pytest.raises(ValueError, match=at(path / "model.safetensors.index.json") + " is not valid JSON: .*"
                                                                                     "line 1, column 45"):
        read_state_dict(path)


@pytest.fixture
def outside(tmp_path):
    """A valid safetensors file next to (not in) the checkpoint folder tmp_path / "ckpt"."""
    save_file({"secret": torch.ones(2)}, str(tmp_path / "outside.safetensors"))
    return tmp_path / "outside.safetensors"


def escaping(path, shard):
    """A checkpoint whose first shard is garbage (reading it first would fail differently) and
    whose second weight_map entry names ``shard``."""
    sharded(path, {"t0": "model-1.safetensors", "secret": shard})
    (path / "model-1.safetensors").write_bytes(b"garbage, never to be opened")
    return path


@pytest.mark.parametrize("kind", ["absolute", "dotdot", "dotdot inside a name"])
def test_index_naming_a_file_outside_is_refused_before_any_is_opened(tmp_path, outside, kind):
    shard = {"absolute": str(outside), "dotdot": "../outside.safetensors",
             "dotdot inside a name": "sub/../../outside.safetensors"}[kind]
    path = escaping(tmp_path / "ckpt", shard)
    message = (at(path / "model.safetensors.index.json") + f": weight_map entry 'secret' -> {re.escape(repr(shard))} "
               + "points outside the checkpoint directory " + at(path) + "; refusing to read it")
    for read in (read_state_dict, load_segformer, load_vit, load_bert):
        with pytest.raises(ValueError, match=message):
            read(path)


def test_shard_linked_outside_is_refused(tmp_path, outside):
    path = escaping(tmp_path / "ckpt", "model-2.safetensors")
    os.symlink(outside, path / "model-2.safetensors")
    with pytest.raises(ValueError, match=r"weight_map entry 'secret' -> 'model-2\.safetensors' is a link to "
                                         + at(outside.resolve()) + ", outside the checkpoint directory " + at(path)):
        load_vivit(path)
    # a linked folder leads outside the same way
    os.symlink(tmp_path, path / "up")
    escaping(path, "up/outside.safetensors")
    with pytest.raises(ValueError, match=r"'up/outside\.safetensors' is a link to .*outside the checkpoint"):
        read_state_dict(path)


def test_links_inside_and_hub_cache_blobs_are_read(tmp_path):
    # <repo>/snapshots/<rev>/<shard> -> ../../blobs/<hash>: how the Hub cache stores a download
    repo = tmp_path / "models--someone--model"
    (repo / "blobs").mkdir(parents=True)
    save_file({"t0": torch.ones(2)}, str(repo / "blobs" / "0a1b"))
    path = sharded(repo / "snapshots" / "abc123", {"t0": "model-1.safetensors", "t1": "model-2.safetensors"},
                   shards=())
    save_file({"t1": torch.zeros(2)}, str(path / "real-2.safetensors"))
    os.symlink("../../blobs/0a1b", path / "model-1.safetensors")
    os.symlink("real-2.safetensors", path / "model-2.safetensors")  # a link inside the folder
    assert sorted(read_state_dict(path)) == ["t0", "t1"]
    # the same links from a folder that is not a Hub snapshot lead outside it
    other = tmp_path / "copy"
    sharded(other, {"t0": "model-1.safetensors"}, shards=())
    os.symlink(repo / "blobs" / "0a1b", other / "model-1.safetensors")
    with pytest.raises(ValueError, match="is a link to .*outside the checkpoint directory"):
        read_state_dict(other)


def test_missing_shard(tmp_path):
    path = sharded(tmp_path, {"t0": "model-1.safetensors", "t1": "model-2.safetensors"})
    with pytest.raises(FileNotFoundError, match=r"weight_map entry 't1' -> 'model-2\.safetensors': the shard is "
                                                r"not in " + at(path) + r" \(found: \['config\.json', "):
        read_state_dict(path)


# ---------------------------------------------------------------- weight files (case 5)


def weights_file(path, name, data):
    write_checkpoint(path)
    if name != "model.safetensors":
        (path / "model.safetensors").unlink()
    (path / name).write_bytes(data)
    return path / name


def valid_bytes(tmp_path, suffix):
    file = tmp_path / f"valid{suffix}"
    tensors = {"w": torch.randn(64, 64)}
    save_file(tensors, str(file)) if suffix == ".safetensors" else torch.save(tensors, file)
    return file.read_bytes()


@pytest.mark.parametrize("kind", ["truncated", "garbage", "empty"])
def test_broken_safetensors_file(tmp_path, kind):
    data = {"truncated": valid_bytes(tmp_path, ".safetensors")[:5000], "garbage": b"not safetensors at all",
            "empty": b""}[kind]
    file = weights_file(tmp_path / "ckpt", "model.safetensors", data)
    with pytest.raises(ValueError, match=at(file) + r" is not a valid safetensors file \(.+\)") as err:
        load_segformer(file.parent)
    assert err.value.__cause__ is not None  # safetensors' own error, chained


@pytest.mark.parametrize("kind", ["truncated", "garbage", "empty", "pickle garbage"])
def test_broken_bin_file(tmp_path, kind):
    data = {"truncated": valid_bytes(tmp_path, ".bin")[:5000], "garbage": b"not a torch file at all", "empty": b"",
            "pickle garbage": b"\x80\x02}q\x00X\x01"}[kind]
    file = weights_file(tmp_path / "ckpt", "pytorch_model.bin", data)
    with pytest.raises(ValueError, match=at(file) + r" is not a valid PyTorch weights file \(\w+") as err:
        load_vit(file.parent)
    assert err.value.__cause__ is not None


def test_broken_shard_is_named(tmp_path):
    path = sharded(tmp_path, {"t0": "model-1.safetensors", "t1": "model-2.safetensors"},
                   shards=("model-1.safetensors", "model-2.safetensors"))
    (path / "model-2.safetensors").write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{")
    with pytest.raises(ValueError, match=at(path / "model-2.safetensors") + " is not a valid safetensors file"):
        load_bert(path)


def test_bin_with_pickled_objects_is_refused(tmp_path):
    class Payload:
        def __reduce__(self):
            return (os.getcwd, ())

    write_checkpoint(tmp_path)
    (tmp_path / "model.safetensors").unlink()
    torch.save({"x": Payload()}, tmp_path / "pytorch_model.bin")
    with pytest.raises(ValueError, match=at(tmp_path / "pytorch_model.bin") + r" is not a valid PyTorch weights "
                                         r"file \(.*(?i:global).*getcwd.*\); torch\.load\(weights_only=True\) reads "
                                         "tensors and plain containers, never other pickled objects"):
        load_segformer(tmp_path)


@pytest.mark.parametrize("content, message", [
    ([torch.zeros(2)], "got list"),
    ({"model": {"w": torch.zeros(2)}}, r"got 'model' -> dict; is the state dict stored under that key\?"),
    ({"w": torch.zeros(2), "step": 3}, "got 'step' -> int"),
    ({3: torch.zeros(2)}, r"got the key 3 \(int\)"),
])
def test_bin_that_is_not_a_state_dict(tmp_path, content, message):
    write_checkpoint(tmp_path)
    (tmp_path / "model.safetensors").unlink()
    torch.save(content, tmp_path / "pytorch_model.bin")
    with pytest.raises(ValueError, match=at(tmp_path / "pytorch_model.bin") + r" does not hold a state dict \(str "
                                         r"-> torch\.Tensor\), " + message):
        read_checkpoint(tmp_path)


# ---------------------------------------------------------------- model_type (cases 6, 7)


@pytest.mark.parametrize("model_type", LOADERS)
def test_config_without_model_type(tmp_path, model_type):
    loader, name, config = LOADERS[model_type]
    path = write_checkpoint(tmp_path, config=config)
    with pytest.raises(ValueError, match=at(path / "config.json") + f": no model_type; expected a {name} "
                                         rf"checkpoint \(model_type '{model_type}'\)$"):
        loader(path)


@pytest.mark.parametrize("model_type, other", [(a, b) for a in LOADERS for b in [*LOADERS, "roberta"] if a != b])
def test_config_of_another_model(tmp_path, model_type, other):
    loader, name, _ = LOADERS[model_type]
    path = write_checkpoint(tmp_path, config={"model_type": other, **(LOADERS[other][2] if other in LOADERS else {})})
    hint = f"; load_{other} reads those" if other in LOADERS else ""
    with pytest.raises(ValueError, match=at(path / "config.json") + f": expected a {name} checkpoint "
                                         rf"\(model_type '{model_type}'\), got model_type '{other}'{hint}$"):
        loader(path)


@pytest.mark.parametrize("to_config, name", [(segformer_config_from_hf, "SegFormer"), (vit_config_from_hf, "ViT"),
                                             (vivit_config_from_hf, "ViViT"), (bert_config_from_hf, "BERT")])
def test_config_translation_takes_a_dict(tmp_path, to_config, name):
    for wrong, kind in [(str(tmp_path), "str"), (torch.nn.Linear(2, 2), "Linear")]:
        with pytest.raises(TypeError, match=rf"expected the config\.json dict of a {name} checkpoint "
                                            rf"\(read_config\(path\), or a transformers config's \.to_dict\(\)\), "
                                            f"got {kind}"):
            to_config(wrong)
    with pytest.raises(ValueError, match=f"^config.json: no model_type; expected a {name} checkpoint"):
        to_config({})


# ---------------------------------------------------------------- other config.json fields (case 8 ...)


@pytest.mark.parametrize("model_type", LOADERS)
@pytest.mark.parametrize("field, value, message", [
    ("hidden_size", "8", r"expected hidden_size to be an integer \(like \d+\), got '8'"),
    ("hidden_size", 8.0, r"expected hidden_size to be an integer \(like \d+\), got 8\.0"),
])
def test_field_of_the_wrong_type(tmp_path, model_type, field, value, message):
    loader, _, config = LOADERS[model_type]
    if model_type == "segformer" and field == "hidden_size":
        field, value, message = "decoder_hidden_size", value, message.replace("hidden_size", "decoder_hidden_size")
    path = write_checkpoint(tmp_path, config={"model_type": model_type, **config, field: value})
    with pytest.raises(ValueError, match=at(path / "config.json") + ": " + message):
        loader(path)


def test_list_and_pair_fields():
    with pytest.raises(ValueError, match=r"expected tubelet_size to be a list of integers \(like \[2, 16, 16\]\), "
                                         "got 5"):
        vivit_config_from_hf({"model_type": "vivit", "tubelet_size": 5})
    with pytest.raises(ValueError, match=r"expected depths to be a list of integers \(like \[2, 2, 2, 2\]\), "
                                         r"got \[2, '2', 2, 2\]"):
        segformer_config_from_hf({"model_type": "segformer", "depths": [2, "2", 2, 2]})
    with pytest.raises(ValueError, match=r"expected image_size to be an integer or a list of integers"):
        vit_config_from_hf({"model_type": "vit", "image_size": "224"})
    with pytest.raises(ValueError, match=r"expected qkv_bias to be true or false \(like true\), got 'yes'"):
        vivit_config_from_hf({"model_type": "vivit", "qkv_bias": "yes"})
    with pytest.raises(ValueError, match=r'expected position_embedding_type to be a string \(like "absolute"\)'):
        bert_config_from_hf({"model_type": "bert", "position_embedding_type": 1})
    # an image size may be an int or (height, width); eps an int; a null pad_token_id goes to BertConfig
    assert vit_config_from_hf({"model_type": "vit", "image_size": [32, 16], "patch_size": 16}).grid == (2, 1)
    assert vit_config_from_hf({"model_type": "vit", "layer_norm_eps": 0}).layer_norm_eps == 0
    assert bert_config_from_hf({"model_type": "bert", "pad_token_id": None}).pad_token_id is None


@pytest.mark.parametrize("model_type", ["segformer", "vit", "vivit"])  # BERT (an MLM) reads no labels
def test_id2label_keys_must_be_integers(tmp_path, model_type):
    loader, _, config = LOADERS[model_type]
    labels = {"0": "dog", "cat": "cat"}
    path = write_checkpoint(tmp_path, config={"model_type": model_type, **config, "id2label": labels})
    with pytest.raises(ValueError, match=at(path / "config.json") + r": id2label key 'cat' is not an integer; "
                                         r'expected class ids "0", "1", \.\.\.'):
        loader(path)
    path = write_checkpoint(tmp_path, config={"model_type": model_type, **config, "id2label": ["dog", "cat"]})
    with pytest.raises(ValueError, match=r"expected id2label to be an object \(class id -> name\), got \['dog'"):
        loader(path)


def test_num_labels_must_be_an_integer():
    for to_config, model_type in [(segformer_config_from_hf, "segformer"), (vit_config_from_hf, "vit")]:
        with pytest.raises(ValueError, match=r"^config\.json: expected num_labels to be an integer >= 0, got '3'"):
            to_config({"model_type": model_type, "num_labels": "3"})
    assert segformer_config_from_hf({"model_type": "segformer", "id2label": {"1": "b", "0": "a"}}).class_names == (
        "a", "b")


# ---------------------------------------------------------------- folders and files (case 9)


@pytest.mark.parametrize("model_type", LOADERS)
def test_folder_that_does_not_exist_or_is_a_file(tmp_path, model_type):
    loader = LOADERS[model_type][0]
    with pytest.raises(FileNotFoundError, match="checkpoint directory " + at(tmp_path / "nowhere") + r" does not "
                                                r"exist \(expected a folder with config\.json and one of "
                                                r"\['model\.safetensors', 'model\.safetensors\.index\.json', "
                                                r"'pytorch_model\.bin', 'pytorch_model\.bin\.index\.json'\]\)"):
        loader(tmp_path / "nowhere")
    path = write_checkpoint(tmp_path / "ckpt", model_type)
    with pytest.raises(NotADirectoryError, match=r"expected a checkpoint directory \(config\.json \+ weights\), "
                                                 "got the file " + at(path / "model.safetensors")):
        loader(path / "model.safetensors")


@pytest.mark.parametrize("model_type", LOADERS)
def test_folder_without_config_or_weights(tmp_path, model_type):
    loader = LOADERS[model_type][0]
    path = write_checkpoint(tmp_path, model_type)
    (path / "config.json").rename(path / "config.txt")
    with pytest.raises(FileNotFoundError, match="no config.json in checkpoint directory " + at(path)
                                                + r" \(found: \['config\.txt', 'model\.safetensors'\]\)"):
        loader(path)
    (path / "config.txt").rename(path / "config.json")
    (path / "model.safetensors").rename(path / "weights.pt")
    with pytest.raises(FileNotFoundError, match="no weights in checkpoint directory " + at(path) + r": expected one "
                                                r"of \['model\.safetensors', .*'pytorch_model\.bin\.index\.json'\], "
                                                r"found \['config\.json', 'weights\.pt'\]"):
        loader(path)


# ---------------------------------------------------------------- keys that do not fit (case 10)


@pytest.mark.parametrize("model_type, first_missing", [
    ("segformer", "segformer.encoder.patch_embeddings.0.proj.weight"),
    ("vit", "embeddings.patch_embeddings.projection.weight"),
    ("vivit", "embeddings.patch_embeddings.projection.weight"),
    ("bert", "bert.embeddings.word_embeddings.weight"),
])
def test_keys_that_do_not_fit_name_a_few_of_each(tmp_path, model_type, first_missing):
    loader = LOADERS[model_type][0]
    unexpected = {f"other.{i}": torch.zeros(1) for i in range(7)}
    path = write_checkpoint(tmp_path, model_type, tensors=unexpected)
    with pytest.raises(KeyError, match="checkpoint " + at(path) + r" does not fit \w+\(.*\): \d+ missing key\(s\) "
                                       rf"\['{re.escape(first_missing)}', ('[\w.|]+', ){{4}}'\.\.\. \d+ more'\], "
                                       r"7 unexpected key\(s\) \['other\.0', 'other\.1', 'other\.2', 'other\.3', "
                                       r"'other\.4', '\.\.\. 2 more'\]"):
        loader(path)


# ---------------------------------------------------------------- state dicts in memory


@pytest.mark.parametrize("convert, name", [(convert_segformer_state_dict, "SegFormer"), (convert_vit_state_dict, "ViT"),
                                           (convert_vivit_state_dict, "ViViT"), (convert_bert_state_dict, "BERT")])
def test_convert_takes_a_state_dict(convert, name):
    expected = f"expected a Hugging Face {name} state dict " + r"\(str -> torch\.Tensor\), "
    with pytest.raises(TypeError, match=expected + r"got a Linear module; pass its \.state_dict\(\)"):
        convert(torch.nn.Linear(2, 2))
    with pytest.raises(TypeError, match=expected + "got list"):
        convert([torch.zeros(2)])
    with pytest.raises(TypeError, match=expected + "got 'a.weight' -> float"):
        convert({"a.weight": 1.0})
    assert convert({}) == ({}, [])
