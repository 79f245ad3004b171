"""Load Hugging Face checkpoints into minimodels, without importing ``transformers``.

A checkpoint directory as written by ``save_pretrained`` (or downloaded from the Hub)
holds ``config.json`` and the weights in one of:

- ``model.safetensors``                               (read with safetensors)
- ``model.safetensors.index.json`` + shards           (sharded safetensors)
- ``pytorch_model.bin``                               (torch.load(weights_only=True))
- ``pytorch_model.bin.index.json`` + shards           (sharded .bin)

``read_checkpoint`` returns the raw config dict and state dict (shared by every model's
loader); ``load_segformer`` maps the SegFormer key names onto ``minimodels.segformer``.

Two spellings of SegFormer's key names exist, and both load:

- the Hub names every released checkpoint carries (and what ``save_pretrained`` writes,
  transformers 5.x included, which renames back on save):
  ``segformer.encoder.block.{s}.{j}.attention.self.query``, ``...mlp.dense1``,
  ``decode_head.linear_c.{s}.proj`` ...
- the in-memory names of transformers 5.x (what ``model.state_dict()`` returns there):
  ``segformer.stages.{s}.blocks.{j}.attention.q_proj``, ``...mlp.fc1``,
  ``decode_head.linear_projections.{s}.proj`` ...
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import torch

from .segformer import SegFormer, SegFormerConfig

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
    with open(file) as f:
        return json.load(f)


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """All tensors of a checkpoint directory (safetensors preferred, sharded or not), on CPU."""
    path = _checkpoint_dir(path)
    for name in WEIGHT_FILES:
        file = path / name
        if not file.is_file():
            continue
        if name.endswith(".index.json"):
            with open(file) as f:
                shards = sorted(set(json.load(f)["weight_map"].values()))
            state = {}
            for shard in shards:
                if not (path / shard).is_file():
                    raise FileNotFoundError(f"{file.name} lists shard {shard}, which is not in {path}")
                state.update(_read_weight_file(path / shard))
            return state
        return _read_weight_file(file)
    raise FileNotFoundError(
        f"no weights in checkpoint directory {path}: expected one of {list(WEIGHT_FILES)}, found {_listing(path)}"
    )


def read_checkpoint(path: str | Path) -> tuple[dict, dict[str, torch.Tensor]]:
    """(config dict, state dict) of a ``save_pretrained`` / Hub checkpoint directory."""
    return read_config(path), read_state_dict(path)


def _read_weight_file(file: Path) -> dict[str, torch.Tensor]:
    if file.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(file), device="cpu")
    # weights_only=True: tensors and plain containers only, never arbitrary pickled objects
    state = torch.load(file, map_location="cpu", weights_only=True)
    if not isinstance(state, dict):
        raise ValueError(f"{file} does not hold a state dict (got {type(state).__name__})")
    return state


def _checkpoint_dir(path) -> Path:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"checkpoint directory {path} does not exist")
    if not path.is_dir():
        raise NotADirectoryError(f"expected a checkpoint directory (config.json + weights), got the file {path}")
    return path


def _listing(path: Path, limit: int = 10) -> list[str]:
    names = sorted(p.name for p in path.iterdir())
    return names[:limit] + ([f"... {len(names) - limit} more"] if len(names) > limit else [])


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


def segformer_config_from_hf(hf: dict) -> SegFormerConfig:
    """Translate a transformers ``SegformerConfig`` (config.json dict) into ``SegFormerConfig``.

    LayerNorm eps is set to 1e-5 for every norm: that is what transformers' modelling code
    uses (its ``layer_norm_eps`` field, 1e-6, is never read), and the outputs must match it.
    """
    model_type = hf.get("model_type", "segformer")
    if model_type != "segformer":
        raise ValueError(f"expected a SegFormer checkpoint (model_type 'segformer'), got model_type {model_type!r}")
    get = lambda key: hf.get(key, _HF_SEGFORMER_DEFAULTS[key])  # noqa: E731
    if get("hidden_act") != "gelu":
        raise ValueError(f"minimodels' SegFormer uses exact GELU (hidden_act 'gelu'), got {get('hidden_act')!r}")
    depths = list(get("depths"))
    blocks = hf.get("num_encoder_blocks", len(depths))
    if blocks != len(depths):
        raise ValueError(f"config.json: num_encoder_blocks={blocks} but depths has {len(depths)} entries ({depths})")
    id2label = hf.get("id2label")
    if id2label:
        labels = {int(k): v for k, v in id2label.items()}
        if sorted(labels) != list(range(len(labels))):
            raise ValueError(f"config.json: id2label keys must be 0..{len(labels) - 1}, got {sorted(labels)[:10]}")
        num_classes = len(labels)
        class_names = tuple(labels[i] for i in range(num_classes))
    else:
        num_classes, class_names = int(hf.get("num_labels", 2)), None  # transformers' default is 2 labels
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
    for key, tensor in hf_state.items():
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
    model = SegFormer(segformer_config_from_hf(hf_config))
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
