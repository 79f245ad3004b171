"""Load Hugging Face checkpoints into minimodels, without importing ``transformers``.

A checkpoint directory as written by ``save_pretrained`` (or downloaded from the Hub)
holds ``config.json`` and the weights in one of:

- ``model.safetensors``                               (read with safetensors)
- ``model.safetensors.index.json`` + shards           (sharded safetensors)
- ``pytorch_model.bin``                               (torch.load(weights_only=True))
- ``pytorch_model.bin.index.json`` + shards           (sharded .bin)

``read_checkpoint`` returns the raw config dict and state dict (shared by every model's
loader); ``load_segformer``, ``load_vivit`` / ``load_vit`` and ``load_bert`` map each model's
key names onto ``minimodels.segformer``, ``minimodels.vivit`` and ``minimodels.bert``.
What they read is checked first - JSON syntax, ``model_type``, field types, ``id2label`` keys,
the shards an index names (never outside the directory), the weight files themselves - and an
error names the file, what was expected and what came.

Two spellings of SegFormer's key names exist, and both load:

- the Hub names every released checkpoint carries (and what ``save_pretrained`` writes,
  transformers 5.x included, which renames back on save):
  ``segformer.encoder.block.{s}.{j}.attention.self.query``, ``...mlp.dense1``,
  ``decode_head.linear_c.{s}.proj`` ...
- the in-memory names of transformers 5.x (what ``model.state_dict()`` returns there):
  ``segformer.stages.{s}.blocks.{j}.attention.q_proj``, ``...mlp.fc1``,
  ``decode_head.linear_projections.{s}.proj`` ...

``load_vivit`` (ViViT Model 1, ``VivitForVideoClassification``) and ``load_vit`` (image
``ViTModel`` / ``ViTForImageClassification``) map the ViT-style key names the same way,
Hub spelling (``vivit.encoder.layer.{i}.attention.attention.query``, ``...intermediate.dense``)
and transformers-5 in-memory spelling (``vivit.layers.{i}.attention.q_proj``, ``...mlp.fc1``).
"""

from __future__ import annotations

import json
import pickle
import re
from pathlib import Path

import torch

from .bert import Bert, BertConfig
from .segformer import SegFormer, SegFormerConfig
from .vivit import ViT, ViTConfig, ViViT, ViViTConfig

WEIGHT_FILES = (
    "model.safetensors",
    "model.safetensors.index.json",
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
)


# --------------------------------------------------------------------------------------
# Reading a checkpoint directory (any model)
# --------------------------------------------------------------------------------------


def read_config(path: str | Path) -> dict:
    """``config.json`` of a checkpoint directory, as a dict."""
    path = _checkpoint_dir(path)
    file = path / "config.json"
    if not file.is_file():
        raise FileNotFoundError(f"no config.json in checkpoint directory {path} (found: {_listing(path)})")
    return _read_json_object(file)


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """All tensors of a checkpoint directory (safetensors preferred, sharded or not), on CPU.

    The shards an index names must lie inside the directory (no absolute paths, no ``..``, no
    links out of it - except, in a Hub cache snapshot, links to the repository's ``blobs/``);
    every one is checked before any is opened.
    """
    path = _checkpoint_dir(path)
    for name in WEIGHT_FILES:
        file = path / name
        if not file.is_file():
            continue
        if name.endswith(".index.json"):
            state = {}
            for shard in _shard_files(path, file):
                state.update(_read_weight_file(shard))
            return state
        return _read_weight_file(file)
    raise FileNotFoundError(
        f"no weights in checkpoint directory {path}: expected one of {list(WEIGHT_FILES)}, found {_listing(path)}"
    )


def read_checkpoint(path: str | Path) -> tuple[dict, dict[str, torch.Tensor]]:
    """(config dict, state dict) of a ``save_pretrained`` / Hub checkpoint directory."""
    return read_config(path), read_state_dict(path)


_JSON_KINDS = {dict: "an object", list: "an array", str: "a string", int: "a number", float: "a number",
               bool: "a boolean", type(None): "null"}


def _read_json_object(file: Path) -> dict:
    """The JSON object (a dict) in ``file``; a clear error for anything else."""
    try:
        value = json.loads(file.read_bytes())
    except json.JSONDecodeError as e:
        raise ValueError(f"{file} is not valid JSON: {e.msg} at line {e.lineno}, column {e.colno}") from e
    except UnicodeDecodeError as e:
        raise ValueError(f"{file} is not valid JSON: not UTF-8 text ({e.reason} at byte {e.start})") from e
    if not isinstance(value, dict):
        raise ValueError(f"{file}: expected a JSON object ({{\"key\": value, ...}}), got {_JSON_KINDS[type(value)]}")
    return value


def _shard_files(path: Path, index: Path) -> list[Path]:
    """The shard files ``index`` names, each checked (inside ``path``, present) before any is opened."""
    content = _read_json_object(index)
    weight_map = content.get("weight_map")
    if not isinstance(weight_map, dict):
        got = f"no weight_map (keys: {sorted(content)})" if weight_map is None else _JSON_KINDS[type(weight_map)]
        raise ValueError(f"{index}: expected a \"weight_map\" object (tensor name -> shard file), got {got}")
    root = path.resolve()
    # a Hub cache snapshot (<repo>/snapshots/<revision>) holds links to <repo>/blobs/<hash>
    allowed = [root] + ([root.parent.parent / "blobs"] if root.parent.name == "snapshots" else [])
    shards = {}
    for key, shard in weight_map.items():
        if not isinstance(shard, str):
            raise ValueError(f"{index}: weight_map entry {key!r} should name a shard file (a string), got {shard!r}")
        if shard in shards:
            continue
        entry = f"{index}: weight_map entry {key!r} -> {shard!r}"
        if Path(shard).is_absolute() or ".." in Path(shard).parts:
            raise ValueError(f"{entry} points outside the checkpoint directory {path}; refusing to read it")
        file = path / shard
        target = file.resolve()
        if not any(target.is_relative_to(a) for a in allowed):
            raise ValueError(f"{entry} is a link to {target}, outside the checkpoint directory {path}; "
                             "refusing to read it")
        if not file.is_file():
            raise FileNotFoundError(f"{entry}: the shard is not in {path} (found: {_listing(path)})")
        shards[shard] = file
    return sorted(shards.values())


def _read_weight_file(file: Path) -> dict[str, torch.Tensor]:
    if file.suffix == ".safetensors":
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            return load_file(str(file), device="cpu")
        except SafetensorError as e:
            raise ValueError(f"{file} is not a valid safetensors file ({e})") from e
    # weights_only=True: tensors and plain containers only, never arbitrary pickled objects
    try:
        state = torch.load(file, map_location="cpu", weights_only=True)
    except (PermissionError, FileNotFoundError, IsADirectoryError):
        raise  # not readable at all: the message names the file
    except Exception as e:  # a corrupt or foreign file fails in many ways (RuntimeError, EOFError, KeyError ...)
        refused = isinstance(e, pickle.UnpicklingError) and "weights only" in str(e).lower()
        lines = str(e).splitlines() if refused else []  # torch's long text: keep the line that says why
        reason = next((line.strip() for line in lines if "unsupported" in line.lower()), "")
        raise ValueError(
            f"{file} is not a valid PyTorch weights file ({reason or _brief(e)})"
            + ("; torch.load(weights_only=True) reads tensors and plain containers, never other pickled objects"
               if refused else "")
        ) from e
    return _check_state_dict(state, f"{file} does not hold a state dict", ValueError)


def _brief(e: Exception) -> str:
    """An exception as one line: its type and the first line of its message."""
    line = str(e).strip().splitlines()[0] if str(e).strip() else ""
    return f"{type(e).__name__}: {line}" if line else type(e).__name__


def _check_state_dict(state, what: str, error: type[Exception] = TypeError) -> dict[str, torch.Tensor]:
    """``state`` after checking that it is a dict of str -> tensor; else ``error(what: ...)``."""
    if isinstance(state, torch.nn.Module):
        raise error(f"{what} (str -> torch.Tensor), got a {type(state).__name__} module; pass its .state_dict()")
    if not isinstance(state, dict):
        raise error(f"{what} (str -> torch.Tensor), got {type(state).__name__}")
    for key, value in state.items():
        if not isinstance(key, str):
            raise error(f"{what} (str -> torch.Tensor), got the key {key!r} ({type(key).__name__})")
        if not isinstance(value, torch.Tensor):
            hint = "; is the state dict stored under that key?" if isinstance(value, dict) else ""
            raise error(f"{what} (str -> torch.Tensor), got {key!r} -> {type(value).__name__}{hint}")
    return state


def _checkpoint_dir(path) -> Path:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(
            f"checkpoint directory {path} does not exist (expected a folder with config.json and one of "
            f"{list(WEIGHT_FILES)})"
        )
    if not path.is_dir():
        raise NotADirectoryError(f"expected a checkpoint directory (config.json + weights), got the file {path}")
    return path


def _listing(path: Path, limit: int = 10) -> list[str]:
    names = sorted(p.name for p in path.iterdir())
    return names[:limit] + ([f"... {len(names) - limit} more"] if len(names) > limit else [])


# --------------------------------------------------------------------------------------
# config.json fields (any model)
# --------------------------------------------------------------------------------------

_LOADERS = {"segformer": "load_segformer", "vit": "load_vit", "vivit": "load_vivit", "bert": "load_bert"}


def _check_config(hf, model_type: str, model: str, source) -> None:
    """``hf`` must be a config.json dict of ``model_type`` (``model`` names it in errors)."""
    if not isinstance(hf, dict):
        raise TypeError(f"expected the config.json dict of a {model} checkpoint (read_config(path), or a "
                        f"transformers config's .to_dict()), got {type(hf).__name__}")
    expected = f"expected a {model} checkpoint (model_type {model_type!r})"
    if "model_type" not in hf:
        raise ValueError(f"{source}: no model_type; {expected}")
    if hf["model_type"] != model_type:
        other = f"; {_LOADERS[hf['model_type']]} reads those" if hf["model_type"] in _LOADERS else ""
        raise ValueError(f"{source}: {expected}, got model_type {hf['model_type']!r}{other}")


def _config_getter(hf: dict, defaults: dict, source, pairs: tuple[str, ...] = ()):
    """``get(key)``: ``hf[key]`` (``defaults[key]`` when absent), checked to be of the default's
    JSON kind (a float field takes an int too; keys in ``pairs`` take an int or a list of ints).
    ``null`` is passed on as None, for the model's config to accept or refuse."""

    def fits(value, default) -> bool:
        if isinstance(default, (list, tuple)):
            return isinstance(value, (list, tuple)) and all(fits(v, default[0]) for v in value)
        if isinstance(default, float):
            return isinstance(value, (int, float)) and not isinstance(value, bool)
        return type(value) is type(default)

    def get(key):
        value, default = hf.get(key, defaults[key]), defaults[key]
        if value is None or fits(value, default) or (key in pairs and fits(value, [default])):
            return value
        kinds = {int: ("an integer", "integers"), float: ("a number", "numbers"), str: ("a string", "strings"),
                 bool: ("true or false", "booleans")}
        want = f"a list of {kinds[type(default[0])][1]}" if isinstance(default, list) else kinds[type(default)][0]
        want += " or a list of integers" if key in pairs else ""
        raise ValueError(f"{source}: expected {key} to be {want} (like {json.dumps(default)}), got {value!r}")

    return get


def _labels_from_hf(hf: dict, source) -> dict[int, str]:
    """``id2label`` as {int: name}; its keys must be integers (JSON writes them as strings)."""
    id2label = hf.get("id2label") or {}
    if not isinstance(id2label, dict):
        raise ValueError(f"{source}: expected id2label to be an object (class id -> name), got {id2label!r}")
    labels = {}
    for key, name in id2label.items():
        try:
            labels[int(key)] = name
        except (TypeError, ValueError) as e:
            raise ValueError(f"{source}: id2label key {key!r} is not an integer; expected class ids "
                             "\"0\", \"1\", ...") from e
    return labels


def _num_labels(hf: dict, default: int, source) -> int:
    num = hf.get("num_labels", default)
    if type(num) is not int or num < 0:
        raise ValueError(f"{source}: expected num_labels to be an integer >= 0, got {num!r}")
    return num


# --------------------------------------------------------------------------------------
# SegFormer
# --------------------------------------------------------------------------------------

_HF_SEGFORMER_DEFAULTS = dict(  # transformers' SegformerConfig defaults (the B0 shapes)
    num_channels=3,
    hidden_sizes=[32, 64, 160, 256],
    depths=[2, 2, 2, 2],
    num_attention_heads=[1, 2, 5, 8],
    sr_ratios=[8, 4, 2, 1],
    patch_sizes=[7, 3, 3, 3],
    strides=[4, 2, 2, 2],
    mlp_ratios=[4, 4, 4, 4],
    decoder_hidden_size=256,
    drop_path_rate=0.1,
    classifier_dropout_prob=0.1,
    hidden_act="gelu",
)


def segformer_config_from_hf(hf: dict, source: str | Path = "config.json") -> SegFormerConfig:
    """Translate a transformers ``SegformerConfig`` (config.json dict) into ``SegFormerConfig``;
    ``source`` names the file in error messages.

    LayerNorm eps is set to 1e-5 for every norm: that is what transformers' modelling code
    uses (its ``layer_norm_eps`` field, 1e-6, is never read), and the outputs must match it.
    """
    _check_config(hf, "segformer", "SegFormer", source)
    get = _config_getter(hf, _HF_SEGFORMER_DEFAULTS, source)
    if get("hidden_act") != "gelu":
        raise ValueError(f"{source}: minimodels' SegFormer uses exact GELU (hidden_act 'gelu'), "
                         f"got {get('hidden_act')!r}")
    depths = list(get("depths"))
    blocks = hf.get("num_encoder_blocks", len(depths))
    if blocks != len(depths):
        raise ValueError(f"{source}: num_encoder_blocks={blocks} but depths has {len(depths)} entries ({depths})")
    labels = _labels_from_hf(hf, source)
    if labels:
        if sorted(labels) != list(range(len(labels))):
            raise ValueError(f"{source}: id2label keys must be 0..{len(labels) - 1}, got {sorted(labels)[:10]}")
        num_classes = len(labels)
        class_names = tuple(labels[i] for i in range(num_classes))
    else:
        num_classes, class_names = _num_labels(hf, 2, source), None  # transformers' default is 2 labels
    return SegFormerConfig(
        embed_dims=get("hidden_sizes"),
        depths=depths,
        num_heads=get("num_attention_heads"),
        sr_ratios=get("sr_ratios"),
        mlp_ratio=tuple(get("mlp_ratios")),
        patch_sizes=get("patch_sizes"),
        strides=get("strides"),
        decoder_dim=get("decoder_hidden_size"),
        num_classes=num_classes,
        in_channels=get("num_channels"),
        drop_path_rate=get("drop_path_rate"),
        decoder_dropout=get("classifier_dropout_prob"),
        layer_norm_eps=1e-5,
        class_names=class_names,
    )


# Hub / transformers-5 prefix -> minimodels prefix. "segformer." is optional so that
# checkpoints of the bare encoder-decoder body load too.
_SEGFORMER_PREFIXES = [
    (r"(?:segformer\.)?encoder\.patch_embeddings\.(\d+)\.", r"encoder.patch_embeds.\1."),
    (r"(?:segformer\.)?stages\.(\d+)\.patch_embeddings\.", r"encoder.patch_embeds.\1."),
    (r"(?:segformer\.)?encoder\.block\.(\d+)\.(\d+)\.", r"encoder.blocks.\1.\2."),
    (r"(?:segformer\.)?stages\.(\d+)\.blocks\.(\d+)\.", r"encoder.blocks.\1.\2."),
    (r"(?:segformer\.)?encoder\.layer_norm\.(\d+)\.", r"encoder.norms.\1."),
    (r"(?:segformer\.)?stages\.(\d+)\.layer_norm\.", r"encoder.norms.\1."),
    (r"decode_head\.linear_c\.(\d+)\.proj\.", r"decoder.linear_c.\1."),
    (r"decode_head\.linear_projections\.(\d+)\.proj\.", r"decoder.linear_c.\1."),
    (r"decode_head\.linear_fuse\.", "decoder.linear_fuse."),
    (r"decode_head\.batch_norm\.", "decoder.bn."),
    (r"decode_head\.classifier\.", "decoder.classifier."),
]
# Module names inside a patch embedding / a block (Hub spelling, transformers-5 spelling).
_SEGFORMER_INNER = {
    "layer_norm": "norm",  # patch embedding norm
    "layer_norm_1": "norm1",
    "layernorm_before": "norm1",
    "layer_norm_2": "norm2",
    "layernorm_after": "norm2",
    "attention.self.query": "attn.q",
    "attention.q_proj": "attn.q",
    "attention.self.key": "attn.k",  # key and value are concatenated into attn.kv below
    "attention.k_proj": "attn.k",
    "attention.self.value": "attn.v",
    "attention.v_proj": "attn.v",
    "attention.self.sr": "attn.sr",
    "attention.sequence_reduction.sequence_reduction": "attn.sr",
    "attention.self.layer_norm": "attn.norm",
    "attention.sequence_reduction.layer_norm": "attn.norm",
    "attention.output.dense": "attn.proj",
    "attention.o_proj": "attn.proj",
    "mlp.dense1": "mlp.fc1",
    "mlp.fc1": "mlp.fc1",
    "mlp.dense2": "mlp.fc2",
    "mlp.fc2": "mlp.fc2",
    "mlp.dwconv.dwconv": "mlp.dwconv",
}


def segformer_key(hf_key: str) -> str | None:
    """The minimodels name of a Hugging Face SegFormer key (None if it is not one).

    >>> segformer_key("segformer.encoder.block.0.1.mlp.dwconv.dwconv.weight")
    'encoder.blocks.0.1.mlp.dwconv.weight'
    """
    for pattern, replacement in _SEGFORMER_PREFIXES:
        m = re.match(pattern, hf_key)
        if m is None:
            continue
        prefix, rest = m.expand(replacement), hf_key[m.end() :]
        if prefix.startswith(("encoder.patch_embeds.", "encoder.blocks.")):
            module, _, param = rest.rpartition(".")
            if module == "proj" and prefix.startswith("encoder.patch_embeds."):
                return prefix + rest
            if module not in _SEGFORMER_INNER:
                return None
            return f"{prefix}{_SEGFORMER_INNER[module]}.{param}"
        return prefix + rest
    return None


_HUB_INNER = {  # minimodels module -> Hub module, inside a block
    "norm1": "layer_norm_1",
    "norm2": "layer_norm_2",
    "attn.q": "attention.self.query",
    "attn.kv": "attention.self.key|value",
    "attn.sr": "attention.self.sr",
    "attn.norm": "attention.self.layer_norm",
    "attn.proj": "attention.output.dense",
    "mlp.fc1": "mlp.dense1",
    "mlp.fc2": "mlp.dense2",
    "mlp.dwconv": "mlp.dwconv.dwconv",
}
_HUB_PREFIXES = [
    (r"encoder\.patch_embeds\.(\d+)\.norm\.", r"segformer.encoder.patch_embeddings.\1.layer_norm."),
    (r"encoder\.patch_embeds\.(\d+)\.", r"segformer.encoder.patch_embeddings.\1."),
    (r"encoder\.norms\.(\d+)\.", r"segformer.encoder.layer_norm.\1."),
    (r"decoder\.linear_c\.(\d+)\.", r"decode_head.linear_c.\1.proj."),
    (r"decoder\.linear_fuse\.", "decode_head.linear_fuse."),
    (r"decoder\.bn\.", "decode_head.batch_norm."),
    (r"decoder\.classifier\.", "decode_head.classifier."),
]


def hub_key(key: str) -> str:
    """The Hub checkpoint name of a minimodels SegFormer key (the inverse of ``segformer_key``);
    the fused ``attn.kv`` maps to ``attention.self.key|value``.

    >>> hub_key("encoder.blocks.0.1.attn.q.weight")
    'segformer.encoder.block.0.1.attention.self.query.weight'
    """
    m = re.match(r"encoder\.blocks\.(\d+)\.(\d+)\.(.+)\.(\w+)$", key)
    if m and m.group(3) in _HUB_INNER:
        return f"segformer.encoder.block.{m.group(1)}.{m.group(2)}.{_HUB_INNER[m.group(3)]}.{m.group(4)}"
    for pattern, replacement in _HUB_PREFIXES:
        m = re.match(pattern, key)
        if m:
            return m.expand(replacement) + key[m.end() :]
    return key


def convert_segformer_state_dict(hf_state: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], list[str]]:
    """Rename a Hugging Face SegFormer state dict to minimodels names.

    Returns (state dict, unexpected keys). Separate key/value Linears become the single
    ``kv`` Linear of the official code: weight rows [:C] are the key, [C:] the value.
    """
    state, unexpected, source = {}, [], {}
    for key, tensor in _check_state_dict(hf_state, "expected a Hugging Face SegFormer state dict").items():
        new = segformer_key(key)
        if new is None:
            unexpected.append(key)
            continue
        state[new] = tensor
        source[new] = key
    for key in [k for k in state if ".attn.k." in k]:
        v_key = key.replace(".attn.k.", ".attn.v.")
        if v_key not in state:
            continue  # reported as missing attn.kv by the loader
        k, v = state.pop(key), state.pop(v_key)
        if k.shape != v.shape:
            raise ValueError(
                f"shape mismatch: key {source[key]} has shape {tuple(k.shape)} but value {source[v_key]} "
                f"has shape {tuple(v.shape)}; they must be equal"
            )
        state[key.replace(".attn.k.", ".attn.kv.")] = torch.cat([k, v], dim=0)
    return state, unexpected


def load_segformer(path: str | Path) -> SegFormer:
    """A ``SegFormer`` (eval mode) from a Hugging Face SegFormer checkpoint directory.

    Works with ``save_pretrained`` output and with Hub downloads such as
    ``nvidia/segformer-b0-finetuned-ade-512-512``. Raises a clear error when files are
    missing, keys do not fit (missing / unexpected, a few listed) or shapes differ.
    """
    hf_config, hf_state = read_checkpoint(path)
    model = SegFormer(segformer_config_from_hf(hf_config, Path(path) / "config.json"))
    state, unexpected = convert_segformer_state_dict(hf_state)
    expected = model.state_dict()
    unexpected += [_hub_name(k, hf_state) for k in state if k not in expected]
    # num_batches_tracked only counts BatchNorm updates; older checkpoints may lack it
    missing = [k for k in expected if k not in state and not k.endswith("num_batches_tracked")]
    if missing or unexpected:
        raise KeyError(
            f"checkpoint {path} does not fit SegFormer(embed_dims={model.config.embed_dims}, "
            f"depths={model.config.depths}): {len(missing)} missing key(s) {_few([hub_key(k) for k in missing])}, "
            f"{len(unexpected)} unexpected key(s) {_few(unexpected)}"
        )
    for key, tensor in state.items():
        if key in ("decoder.linear_fuse.weight", "decoder.classifier.weight"):
            expected_shape = (*expected[key].shape, 1, 1)  # stored as a 1x1 conv
        else:
            expected_shape = tuple(expected[key].shape)
        if tuple(tensor.shape) != expected_shape:
            raise ValueError(
                f"checkpoint {path}: shape mismatch for {_hub_name(key, hf_state)} (minimodels {key}): "
                f"expected {expected_shape} from config.json, got {tuple(tensor.shape)}"
            )
    for key in ("decoder.linear_fuse.weight", "decoder.classifier.weight"):
        state[key] = state[key].flatten(1)  # 1x1 conv (out, in, 1, 1) -> Linear (out, in)
    model.load_state_dict(state, strict=False)  # strictness checked above
    return model.eval()


def _hub_name(key: str, hf_state: dict) -> str:
    """The checkpoint name(s) a minimodels key came from ("key + value" for a fused kv)."""
    sources = (key, key.replace(".attn.kv.", ".attn.k."), key.replace(".attn.kv.", ".attn.v."))
    return " + ".join(k for k in hf_state if segformer_key(k) in sources) or key


def _few(keys: list[str], n: int = 5) -> list[str]:
    return keys[:n] + ([f"... {len(keys) - n} more"] if len(keys) > n else [])


# --------------------------------------------------------------------------------------
# ViViT (Model 1) and the image ViT
# --------------------------------------------------------------------------------------
#
# Hugging Face's ViViT and ViT share one layer layout; only the prefix ("vivit." / "vit."),
# the patch projection (Conv3d / Conv2d) and the config fields differ. Their query, key
# and value Linears become minimodels' single fused ``attn.qkv`` (rows: query, key, value).
# Input layouts differ too: transformers' ViViT takes (B, T, C, H, W), minimodels'
# (B, C, T, H, W) - ``video.permute(0, 2, 1, 3, 4)`` converts.

# transformers' hidden_act -> minimodels' GELU (gelu_fast, gelu_new and gelu_pytorch_tanh
# are all the tanh approximation 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))))
_HF_GELU = {"gelu": "none", "gelu_fast": "tanh", "gelu_new": "tanh", "gelu_pytorch_tanh": "tanh"}

_HF_VIVIT_DEFAULTS = dict(  # transformers' VivitConfig defaults (ViViT-B/16x2, 32 frames of 224x224)
    image_size=224,
    num_frames=32,
    tubelet_size=[2, 16, 16],
    num_channels=3,
    hidden_size=768,
    num_hidden_layers=12,
    num_attention_heads=12,
    intermediate_size=3072,
    hidden_act="gelu_fast",
    hidden_dropout_prob=0.0,
    attention_probs_dropout_prob=0.0,
    layer_norm_eps=1e-6,
    qkv_bias=True,
)

_HF_VIT_DEFAULTS = dict(  # transformers' ViTConfig defaults (ViT-B/16, 224x224)
    image_size=224,
    patch_size=16,
    num_channels=3,
    hidden_size=768,
    num_hidden_layers=12,
    num_attention_heads=12,
    intermediate_size=3072,
    hidden_act="gelu",
    hidden_dropout_prob=0.0,
    attention_probs_dropout_prob=0.0,
    layer_norm_eps=1e-12,
    qkv_bias=True,
)

# Module names inside a layer: Hub spelling and transformers-5 in-memory spelling -> minimodels
_VIT_STYLE_INNER = {
    "layernorm_before": "norm1",
    "layernorm_after": "norm2",
    "attention.attention.query": "attn.q",  # q, k, v are fused into attn.qkv below
    "attention.q_proj": "attn.q",
    "attention.attention.key": "attn.k",
    "attention.k_proj": "attn.k",
    "attention.attention.value": "attn.v",
    "attention.v_proj": "attn.v",
    "attention.output.dense": "attn.proj",
    "attention.o_proj": "attn.proj",
    "intermediate.dense": "mlp.fc1",
    "mlp.fc1": "mlp.fc1",
    "output.dense": "mlp.fc2",
    "mlp.fc2": "mlp.fc2",
}
_VIT_STYLE_HUB_INNER = {  # minimodels -> Hub spelling (for error messages)
    "norm1": "layernorm_before",
    "norm2": "layernorm_after",
    "attn.q": "attention.attention.query",
    "attn.k": "attention.attention.key",
    "attn.v": "attention.attention.value",
    "attn.qkv": "attention.attention.query|key|value",
    "attn.proj": "attention.output.dense",
    "mlp.fc1": "intermediate.dense",
    "mlp.fc2": "output.dense",
}
# Parts of a transformers checkpoint minimodels has no use for: ViTModel's / VivitModel's
# pooler (Linear + tanh on the CLS output, not used by the classifiers) and ViT's mask
# token (masked image modelling).
_VIT_STYLE_IGNORED = (r"pooler\.", r"embeddings\.mask_token$")


def _vit_style_key(hf_key: str, prefix: str, patch_module: str) -> str | None:
    """The minimodels name of a ViT-style Hugging Face key, "" for a key to ignore, None if unknown.
    ``prefix``: "vivit" or "vit" (optional in the key); ``patch_module``: "tubelet_embed" or "patch_embed"."""
    p = rf"(?:{prefix}\.)?"
    if hf_key.startswith("classifier."):
        return "head." + hf_key[len("classifier."):]
    for pattern in _VIT_STYLE_IGNORED:
        if re.match(p + pattern, hf_key):
            return ""
    m = re.match(p + r"embeddings\.patch_embeddings\.projection\.(weight|bias)$", hf_key)
    if m:
        return f"{patch_module}.proj.{m.group(1)}"
    if re.match(p + r"embeddings\.cls_token$", hf_key):
        return "encoder.cls_token"
    if re.match(p + r"embeddings\.position_embeddings$", hf_key):
        return "encoder.pos_embed.weight"
    m = re.match(p + r"layernorm\.(weight|bias)$", hf_key)
    if m:
        return f"encoder.norm.{m.group(1)}"
    m = re.match(p + r"(?:encoder\.layer|layers)\.(\d+)\.(.+)\.(weight|bias)$", hf_key)
    if m and m.group(2) in _VIT_STYLE_INNER:
        return f"encoder.blocks.{m.group(1)}.{_VIT_STYLE_INNER[m.group(2)]}.{m.group(3)}"
    return None


def _vit_style_hub_key(key: str, prefix: str, patch_module: str) -> str:
    """The Hub name of a minimodels ViT / ViViT key (the inverse of ``_vit_style_key``)."""
    p = f"{prefix}." if prefix else ""
    m = re.match(r"encoder\.blocks\.(\d+)\.(.+)\.(weight|bias)$", key)
    if m and m.group(2) in _VIT_STYLE_HUB_INNER:
        return f"{p}encoder.layer.{m.group(1)}.{_VIT_STYLE_HUB_INNER[m.group(2)]}.{m.group(3)}"
    fixed = {
        "encoder.cls_token": f"{p}embeddings.cls_token",
        "encoder.pos_embed.weight": f"{p}embeddings.position_embeddings",
        "encoder.norm.weight": f"{p}layernorm.weight",
        "encoder.norm.bias": f"{p}layernorm.bias",
        f"{patch_module}.proj.weight": f"{p}embeddings.patch_embeddings.projection.weight",
        f"{patch_module}.proj.bias": f"{p}embeddings.patch_embeddings.projection.bias",
        "head.weight": "classifier.weight",
        "head.bias": "classifier.bias",
    }
    return fixed.get(key, key)


def _convert_vit_style(hf_state, prefix, patch_module):
    """(state dict with q / k / v still separate, {minimodels key: source key}, unexpected keys)."""
    state, source, unexpected = {}, {}, []
    what = f"expected a Hugging Face {'ViViT' if prefix == 'vivit' else 'ViT'} state dict"
    for key, tensor in _check_state_dict(hf_state, what).items():
        new = _vit_style_key(key, prefix, patch_module)
        if new is None:
            unexpected.append(key)
        elif new:
            state[new] = tensor
            source[new] = key
    return state, source, unexpected


def _fuse_qkv(state: dict, source: dict) -> dict:
    """Concatenate every block's attn.q / attn.k / attn.v (all three present) into attn.qkv."""
    for q_key in [k for k in state if ".attn.q." in k]:
        parts = [q_key.replace(".attn.q.", f".attn.{n}.") for n in "qkv"]
        if not all(p in state for p in parts):
            continue  # reported as missing by the loader
        shapes = [tuple(state[p].shape) for p in parts]
        if len(set(shapes)) != 1:
            raise ValueError(
                "shape mismatch: query, key and value must have equal shapes, got "
                + ", ".join(f"{source[p]} {s}" for p, s in zip(parts, shapes))
            )
        state[q_key.replace(".attn.q.", ".attn.qkv.")] = torch.cat([state.pop(p) for p in parts], dim=0)
    return state


def convert_vivit_state_dict(hf_state: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], list[str]]:
    """Rename a Hugging Face ViViT state dict (Hub or transformers-5 names) to minimodels'
    ``ViViT`` (Model 1) names, query / key / value fused. Returns (state dict, unexpected keys)."""
    state, source, unexpected = _convert_vit_style(hf_state, "vivit", "tubelet_embed")
    return _fuse_qkv(state, source), unexpected


def convert_vit_state_dict(hf_state: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], list[str]]:
    """Rename a Hugging Face ViT state dict (``vit.`` prefix optional) to minimodels' ``ViT``
    names, query / key / value fused. Returns (state dict, unexpected keys)."""
    state, source, unexpected = _convert_vit_style(hf_state, "vit", "patch_embed")
    return _fuse_qkv(state, source), unexpected


def _num_classes_from_hf(hf: dict, hf_state: dict | None, source) -> tuple[int, tuple[str, ...] | None]:
    """Classes from the classifier's weights (a bare VivitModel / ViTModel has none: 0), names
    from id2label when it has as many labels; without weights, from num_labels / id2label."""
    labels = _labels_from_hf(hf, source)
    if hf_state is None:
        return _num_labels(hf, len(labels) or 2, source), None
    weight = hf_state.get("classifier.weight")
    if weight is None:
        return 0, None
    num_classes = int(weight.shape[0])
    if sorted(labels) == list(range(num_classes)):
        return num_classes, tuple(labels[i] for i in range(num_classes))
    return num_classes, None


def _gelu_from_hf(hf: dict, default: str, source) -> str:
    act = hf.get("hidden_act", default)
    if act not in _HF_GELU:
        raise ValueError(f"{source}: hidden_act {act!r} is not supported; expected one of {sorted(_HF_GELU)}")
    return _HF_GELU[act]


def vivit_config_from_hf(hf: dict, hf_state: dict | None = None, source: str | Path = "config.json") -> ViViTConfig:
    """Translate a transformers ``VivitConfig`` (config.json dict) into a Model 1 ``ViViTConfig``.

    The number of classes comes from the classifier weights in ``hf_state`` when given
    (0 for a bare ``VivitModel``), else from ``num_labels`` / ``id2label``. ``source`` names
    the file in error messages."""
    _check_config(hf, "vivit", "ViViT", source)
    get = _config_getter(hf, _HF_VIVIT_DEFAULTS, source, pairs=("image_size",))
    num_classes, class_names = _num_classes_from_hf(hf, hf_state, source)
    return ViViTConfig(
        image_size=get("image_size"),
        num_frames=get("num_frames"),
        tubelet=tuple(get("tubelet_size")),
        in_channels=get("num_channels"),
        hidden_dim=get("hidden_size"),
        depth=get("num_hidden_layers"),
        num_heads=get("num_attention_heads"),
        mlp_dim=get("intermediate_size"),
        num_classes=num_classes,
        model=1,
        classifier="token",
        dropout=get("hidden_dropout_prob"),
        attention_dropout=get("attention_probs_dropout_prob"),
        layer_norm_eps=get("layer_norm_eps"),
        gelu_approximate=_gelu_from_hf(hf, _HF_VIVIT_DEFAULTS["hidden_act"], source),
        qkv_bias=get("qkv_bias"),
        class_names=class_names,
    )


def vit_config_from_hf(hf: dict, hf_state: dict | None = None, source: str | Path = "config.json") -> ViTConfig:
    """Translate a transformers ``ViTConfig`` (config.json dict) into minimodels' ``ViTConfig``
    (classes and ``source`` as in ``vivit_config_from_hf``). LayerNorm eps is taken from the config
    (transformers' ViT default is 1e-12; Google's checkpoints say 1e-12 too)."""
    _check_config(hf, "vit", "ViT", source)
    get = _config_getter(hf, _HF_VIT_DEFAULTS, source, pairs=("image_size", "patch_size"))
    num_classes, class_names = _num_classes_from_hf(hf, hf_state, source)
    return ViTConfig(
        image_size=get("image_size"),
        patch_size=get("patch_size"),
        in_channels=get("num_channels"),
        hidden_dim=get("hidden_size"),
        depth=get("num_hidden_layers"),
        num_heads=get("num_attention_heads"),
        mlp_dim=get("intermediate_size"),
        num_classes=num_classes,
        dropout=get("hidden_dropout_prob"),
        attention_dropout=get("attention_probs_dropout_prob"),
        layer_norm_eps=get("layer_norm_eps"),
        gelu_approximate=_gelu_from_hf(hf, _HF_VIT_DEFAULTS["hidden_act"], source),
        qkv_bias=get("qkv_bias"),
        class_names=class_names,
    )


def _load_vit_style(path, model, hf_state, prefix, patch_module):
    """Rename, check (missing / unexpected keys, shapes) and load ``hf_state`` into ``model``."""
    state, source, unexpected = _convert_vit_style(hf_state, prefix, patch_module)
    # the hub prefix this checkpoint uses, for naming missing keys the way it would have them
    used_prefix = prefix if any(k.startswith(prefix + ".") for k in hf_state) else ""
    hub = lambda key: _vit_style_hub_key(key, used_prefix, patch_module)  # noqa: E731
    expected = {}
    for key, tensor in model.state_dict().items():
        if ".attn.qkv." in key:  # compare against q, k, v before fusing them
            for n in "qkv":
                expected[key.replace(".attn.qkv.", f".attn.{n}.")] = (tensor.shape[0] // 3, *tensor.shape[1:])
        else:
            expected[key] = tuple(tensor.shape)
    unexpected += [source[k] for k in state if k not in expected]
    missing = [hub(k) for k in expected if k not in state]
    if missing or unexpected:
        c = model.config
        raise KeyError(
            f"checkpoint {path} does not fit {type(model).__name__}(hidden_dim={c.hidden_dim}, depth={c.depth}, "
            f"num_classes={c.num_classes}): {len(missing)} missing key(s) {_few(missing)}, "
            f"{len(unexpected)} unexpected key(s) {_few(unexpected)}"
        )
    for key, tensor in state.items():
        if tuple(tensor.shape) != tuple(expected[key]):
            raise ValueError(
                f"checkpoint {path}: shape mismatch for {source[key]} (minimodels {key}): "
                f"expected {tuple(expected[key])} from config.json, got {tuple(tensor.shape)}"
            )
    model.load_state_dict(_fuse_qkv(state, source))
    return model.eval()


def load_vivit(path: str | Path) -> ViViT:
    """A ViViT Model 1 (eval mode) from a Hugging Face ``VivitForVideoClassification`` checkpoint
    directory (``save_pretrained`` output or a Hub download such as
    ``google/vivit-b-16x2-kinetics400``); a bare ``VivitModel`` gives ``num_classes=0``.

    hidden_act ``gelu_fast`` (the default) becomes ``gelu_approximate="tanh"``; eps, sizes and
    labels come from config.json. Transformers' ViViT takes (B, T, C, H, W); this model takes
    (B, C, T, H, W): ``model(video.permute(0, 2, 1, 3, 4))`` gives the same logits. Unlike
    transformers' (which resizes the table as a 2D grid), its position embedding is resized
    over t, h and w, so other frame counts and resolutions work too. Raises a clear error
    when files are missing, keys do not fit (a few listed) or shapes differ.
    """
    hf_config, hf_state = read_checkpoint(path)
    model = ViViT(vivit_config_from_hf(hf_config, hf_state, Path(path) / "config.json"))
    return _load_vit_style(path, model, hf_state, "vivit", "tubelet_embed")


def load_vit(path: str | Path) -> ViT:
    """An image ``ViT`` (eval mode) from a Hugging Face ``ViTForImageClassification`` or ``ViTModel``
    checkpoint directory (e.g. ``google/vit-base-patch16-224-in21k``, whose keys may lack the
    ``vit.`` prefix). A ``ViTModel`` has no classifier: ``num_classes=0`` and the model returns
    the CLS token's output after the final LayerNorm (``last_hidden_state[:, 0]``); its pooler
    (Linear + tanh) is not loaded. Feed the result to ``minimodels.vivit.init_from_image``.
    """
    hf_config, hf_state = read_checkpoint(path)
    model = ViT(vit_config_from_hf(hf_config, hf_state, Path(path) / "config.json"))
    return _load_vit_style(path, model, hf_state, "vit", "patch_embed")


# --------------------------------------------------------------------------------------
# BERT (masked language model)
# --------------------------------------------------------------------------------------
#
# ``BertForMaskedLM`` checkpoints (``bert-base-uncased``, ``bert-large-uncased`` ...) and what
# ``save_pretrained`` writes, transformers 5.x included, use one spelling:
# ``bert.embeddings.word_embeddings``, ``bert.encoder.layer.{i}.attention.self.query``,
# ``...attention.output.dense``, ``...attention.output.LayerNorm``, ``...intermediate.dense``,
# ``...output.dense``, ``...output.LayerNorm``, ``cls.predictions.transform.dense``,
# ``cls.predictions.transform.LayerNorm``, ``cls.predictions.bias``. The decoder weight is
# tied to the word embeddings, so save_pretrained leaves ``cls.predictions.decoder.*`` out;
# older checkpoints carry it (and ``decoder.bias``, a copy of ``cls.predictions.bias``), and
# TensorFlow-era ones name LayerNorm parameters ``gamma`` / ``beta``. Parts minimodels' MLM
# model has no use for are skipped: the pooler and the next-sentence head
# (``bert.pooler.*``, ``cls.seq_relationship.*``) and the ``position_ids`` buffer.

_HF_BERT_DEFAULTS = dict(  # transformers' BertConfig defaults (BERT-base, uncased vocabulary)
    vocab_size=30522,
    hidden_size=768,
    num_hidden_layers=12,
    num_attention_heads=12,
    intermediate_size=3072,
    hidden_act="gelu",
    hidden_dropout_prob=0.1,
    attention_probs_dropout_prob=0.1,
    max_position_embeddings=512,
    type_vocab_size=2,
    layer_norm_eps=1e-12,
    pad_token_id=0,
    position_embedding_type="absolute",
)

_BERT_FIXED = {  # Hub name (without "bert.") -> minimodels name
    "embeddings.word_embeddings.weight": "embeddings.word.weight",
    "embeddings.position_embeddings.weight": "embeddings.position.weight",
    "embeddings.token_type_embeddings.weight": "embeddings.token_type.weight",
    "embeddings.LayerNorm.weight": "embeddings.norm.weight",
    "embeddings.LayerNorm.bias": "embeddings.norm.bias",
}
_BERT_HEAD = {  # Hub name -> minimodels name
    "cls.predictions.bias": "mlm_head.bias",
    "cls.predictions.transform.dense.weight": "mlm_head.dense.weight",
    "cls.predictions.transform.dense.bias": "mlm_head.dense.bias",
    "cls.predictions.transform.LayerNorm.weight": "mlm_head.norm.weight",
    "cls.predictions.transform.LayerNorm.bias": "mlm_head.norm.bias",
}
_BERT_INNER = {  # module inside bert.encoder.layer.{i} -> inside minimodels' layers.{i}
    "attention.self.query": "attn.q",
    "attention.self.key": "attn.k",
    "attention.self.value": "attn.v",
    "attention.output.dense": "attn.proj",
    "attention.output.LayerNorm": "norm1",
    "intermediate.dense": "fc1",
    "output.dense": "fc2",
    "output.LayerNorm": "norm2",
}
_BERT_IGNORED = (r"(?:bert\.)?pooler\.", r"cls\.seq_relationship\.", r"(?:bert\.)?embeddings\.position_ids$")
# decoder.weight is the word-embedding table, decoder.bias the MLM bias: checked, not loaded
_BERT_TIED = {"cls.predictions.decoder.weight": "embeddings.word.weight",
              "cls.predictions.decoder.bias": "mlm_head.bias"}


def bert_config_from_hf(hf: dict, source: str | Path = "config.json") -> BertConfig:
    """Translate a transformers ``BertConfig`` (config.json dict) into minimodels' ``BertConfig``;
    ``source`` names the file in error messages. Only exact GELU and absolute positions are
    supported (what every released BERT uses)."""
    _check_config(hf, "bert", "BERT", source)
    get = _config_getter(hf, _HF_BERT_DEFAULTS, source)
    if get("hidden_act") != "gelu":
        raise ValueError(f"{source}: hidden_act {get('hidden_act')!r} is not supported; minimodels' BERT "
                         "uses exact GELU (hidden_act 'gelu')")
    if get("position_embedding_type") != "absolute":
        raise ValueError(f"{source}: position_embedding_type {get('position_embedding_type')!r} is not "
                         "supported; expected 'absolute'")
    if hf.get("is_decoder") or hf.get("add_cross_attention"):
        raise ValueError(f"{source}: a BERT decoder (is_decoder / add_cross_attention) is not supported; "
                         "expected an encoder with an MLM head")
    if hf.get("tie_word_embeddings", True) is False:
        raise ValueError(f"{source}: tie_word_embeddings is false; minimodels' BERT ties the MLM decoder "
                         "to the word embeddings")
    return BertConfig(
        vocab_size=get("vocab_size"),
        hidden_dim=get("hidden_size"),
        depth=get("num_hidden_layers"),
        num_heads=get("num_attention_heads"),
        mlp_dim=get("intermediate_size"),
        max_positions=get("max_position_embeddings"),
        type_vocab_size=get("type_vocab_size"),
        dropout=get("hidden_dropout_prob"),
        attention_dropout=get("attention_probs_dropout_prob"),
        layer_norm_eps=get("layer_norm_eps"),
        pad_token_id=get("pad_token_id"),
    )


def bert_key(hf_key: str) -> str | None:
    """The minimodels name of a Hugging Face BERT key; "" for a key to skip (pooler, NSP
    head, position_ids, the tied decoder), None if unknown. ``LayerNorm.gamma`` / ``.beta``
    read as ``.weight`` / ``.bias``; the ``bert.`` prefix is optional.

    >>> bert_key("bert.encoder.layer.3.attention.output.LayerNorm.gamma")
    'layers.3.norm1.weight'
    """
    key = re.sub(r"LayerNorm\.gamma$", "LayerNorm.weight", hf_key)
    key = re.sub(r"LayerNorm\.beta$", "LayerNorm.bias", key)
    if key in _BERT_HEAD:
        return _BERT_HEAD[key]
    if key in _BERT_TIED or any(re.match(p, key) for p in _BERT_IGNORED):
        return ""
    body = key[len("bert."):] if key.startswith("bert.") else key
    if body in _BERT_FIXED:
        return _BERT_FIXED[body]
    m = re.match(r"encoder\.layer\.(\d+)\.(.+)\.(weight|bias)$", body)
    if m and m.group(2) in _BERT_INNER:
        return f"layers.{m.group(1)}.{_BERT_INNER[m.group(2)]}.{m.group(3)}"
    return None


def bert_hub_key(key: str) -> str:
    """The Hub name of a minimodels BERT key (the inverse of ``bert_key``)."""
    for hub, ours in {**_BERT_HEAD, **{"bert." + k: v for k, v in _BERT_FIXED.items()}}.items():
        if ours == key:
            return hub
    m = re.match(r"layers\.(\d+)\.(.+)\.(weight|bias)$", key)
    inner = {v: k for k, v in _BERT_INNER.items()}
    if m and m.group(2) in inner:
        return f"bert.encoder.layer.{m.group(1)}.{inner[m.group(2)]}.{m.group(3)}"
    return key


def convert_bert_state_dict(hf_state: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], list[str]]:
    """Rename a Hugging Face BERT state dict to minimodels' ``Bert`` names.
    Returns (state dict, unexpected keys); skipped keys (see ``bert_key``) are in neither."""
    state, unexpected = {}, []
    for key, tensor in _check_state_dict(hf_state, "expected a Hugging Face BERT state dict").items():
        new = bert_key(key)
        if new is None:
            unexpected.append(key)
        elif new:
            state[new] = tensor
    return state, unexpected


def load_bert(path: str | Path) -> Bert:
    """A ``Bert`` masked language model (eval mode) from a Hugging Face ``BertForMaskedLM``
    checkpoint directory (``save_pretrained`` output, or a Hub download such as
    ``bert-large-uncased``, VideoBERT's starting point). Gives the same MLM logits as
    transformers for the same ``input_ids``, ``token_type_ids`` and ``attention_mask``.

    A stored decoder weight / bias must equal the word embeddings / MLM bias (they are tied).
    Raises a clear error when files are missing, keys do not fit (missing / unexpected, a
    few listed, in Hub spelling), shapes differ from config.json, or the config asks for
    something this model does not do (another activation, relative positions, untied head).
    """
    hf_config, hf_state = read_checkpoint(path)
    model = Bert(bert_config_from_hf(hf_config, Path(path) / "config.json"))
    state, unexpected = convert_bert_state_dict(hf_state)
    expected = model.state_dict()
    if "mlm_head.bias" not in state and "cls.predictions.decoder.bias" in hf_state:
        state["mlm_head.bias"] = hf_state["cls.predictions.decoder.bias"]
    missing = [bert_hub_key(k) for k in expected if k not in state]
    if missing or unexpected:
        c = model.config
        raise KeyError(
            f"checkpoint {path} does not fit Bert(hidden_dim={c.hidden_dim}, depth={c.depth}, "
            f"vocab_size={c.vocab_size}): {len(missing)} missing key(s) {_few(missing)}, "
            f"{len(unexpected)} unexpected key(s) {_few(unexpected)}"
        )
    for key, tensor in state.items():
        if tuple(tensor.shape) != tuple(expected[key].shape):
            raise ValueError(
                f"checkpoint {path}: shape mismatch for {bert_hub_key(key)} (minimodels {key}): "
                f"expected {tuple(expected[key].shape)} from config.json, got {tuple(tensor.shape)}"
            )
    for hub, ours in _BERT_TIED.items():
        tied = hf_state.get(hub)
        if tied is not None and not (tied.shape == state[ours].shape and torch.equal(tied, state[ours])):
            raise ValueError(
                f"checkpoint {path}: {hub} differs from {bert_hub_key(ours)}; minimodels' BERT ties the MLM "
                "decoder to the word embeddings and its bias to cls.predictions.bias"
            )
    model.load_state_dict(state)
    return model.eval()
