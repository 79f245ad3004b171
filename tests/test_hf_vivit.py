"""Loading Hugging Face ViViT and ViT checkpoints: same outputs as transformers, clear errors."""

import json
import subprocess
import sys

import pytest
import torch

from minimodels.hf import convert_vit_state_dict, load_vit, load_vivit, read_checkpoint
from minimodels.layers import count_params
from minimodels.vivit import ViViT, init_from_image

transformers = pytest.importorskip("transformers")
from safetensors.torch import load_file  # noqa: E402

SMALL_VIVIT = dict(image_size=32, num_frames=4, tubelet_size=[2, 8, 8], hidden_size=48, num_hidden_layers=2,
                   num_attention_heads=4, intermediate_size=96)
SMALL_VIT = dict(image_size=32, patch_size=8, hidden_size=48, num_hidden_layers=2, num_attention_heads=4,
                 intermediate_size=96)


def perturb(model):
    """Leave transformers' init, but make no weight trivial (zero positions, unit norms ...)."""
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return model.eval()


def make_hf_vivit(num_labels=5, seed=0, **config):
    torch.manual_seed(seed)
    cfg = transformers.VivitConfig(num_labels=num_labels, **{**SMALL_VIVIT, **config})
    return perturb(transformers.VivitForVideoClassification(cfg))


def make_hf_vit(num_labels=5, seed=0, bare=False, **config):
    torch.manual_seed(seed)
    cfg = transformers.ViTConfig(num_labels=num_labels, **{**SMALL_VIT, **config})
    model = transformers.ViTModel(cfg) if bare else transformers.ViTForImageClassification(cfg)
    return perturb(model)


def vivit_diff(model, hf_model, frames=4, size=32, batch=2):
    x = torch.randn(batch, frames, 3, size, size)  # transformers' layout (B, T, C, H, W)
    with torch.no_grad():
        want = hf_model(pixel_values=x).logits
        got = model(x.permute(0, 2, 1, 3, 4))  # ours: (B, C, T, H, W)
    assert got.shape == want.shape
    assert want.std() > 0.1  # not a comparison of near-zero logits
    return (got - want).abs().max().item()


@pytest.fixture(scope="module")
def hf_vivit():
    return make_hf_vivit()


@pytest.fixture(scope="module")
def vivit_dir(hf_vivit, tmp_path_factory):
    path = tmp_path_factory.mktemp("vivit")
    hf_vivit.save_pretrained(path)
    return path


# ---------------------------------------------------------------- ViViT parity


def test_vivit_logits_match_transformers(hf_vivit, vivit_dir):
    model = load_vivit(vivit_dir)
    assert isinstance(model, ViViT) and not model.training and model.config.model == 1
    assert vivit_diff(model, hf_vivit) < 1e-4


def test_what_save_pretrained_writes_and_in_memory_names(hf_vivit, vivit_dir, tmp_path):
    names = set(load_file(str(vivit_dir / "model.safetensors")))
    assert "vivit.encoder.layer.0.attention.attention.query.weight" in names  # the Hub names
    assert "vivit.embeddings.patch_embeddings.projection.weight" in names and "classifier.weight" in names
    hf_vivit.save_pretrained(tmp_path, save_original_format=False)  # transformers-5 in-memory names
    names = set(load_file(str(tmp_path / "model.safetensors")))
    assert "vivit.layers.0.attention.q_proj.weight" in names
    assert vivit_diff(load_vivit(tmp_path), hf_vivit) < 1e-4


def test_config_translation(vivit_dir):
    cfg = load_vivit(vivit_dir).config
    assert cfg.tubelet == (2, 8, 8) and cfg.num_frames == 4 and cfg.image_size == (32, 32)
    assert (cfg.hidden_dim, cfg.depth, cfg.num_heads, cfg.mlp_dim) == (48, 2, 4, 96)
    assert cfg.gelu_approximate == "tanh" and cfg.layer_norm_eps == 1e-6  # gelu_fast
    assert cfg.num_classes == 5 and cfg.class_names == tuple(f"LABEL_{i}" for i in range(5))


def test_exact_gelu_eps_and_no_qkv_bias(tmp_path):
    hf = make_hf_vivit(num_labels=3, seed=1, hidden_act="gelu", layer_norm_eps=1e-5, qkv_bias=False)
    hf.save_pretrained(tmp_path)
    model = load_vivit(tmp_path)
    assert model.config.gelu_approximate == "none" and model.config.layer_norm_eps == 1e-5
    assert model.encoder.blocks[0].attn.qkv.bias is None
    assert vivit_diff(model, hf) < 1e-4


def test_other_frame_counts_and_sizes_go_beyond_transformers(tmp_path):
    hf = make_hf_vivit(num_labels=4, seed=2, num_frames=6, image_size=[32, 24], tubelet_size=[3, 8, 8])
    hf.save_pretrained(tmp_path)
    model = load_vivit(tmp_path)
    # at transformers' native size: the same logits
    x = torch.randn(2, 6, 3, 32, 24)
    with torch.no_grad():
        assert (model(x.permute(0, 2, 1, 3, 4)) - hf(pixel_values=x).logits).abs().max() < 1e-4
        # other frame counts and resolutions: ours resizes the table over (t, h, w)
        for frames, h, w in [(3, 32, 24), (12, 48, 40), (9, 16, 16)]:
            y = model(torch.randn(1, 3, frames, h, w))
            assert y.shape == (1, 4) and torch.isfinite(y).all()


def test_bare_vivit_model_gives_the_cls_representation(tmp_path):
    torch.manual_seed(3)
    hf = perturb(transformers.VivitModel(transformers.VivitConfig(**SMALL_VIVIT)))  # with a pooler
    hf.save_pretrained(tmp_path)
    model = load_vivit(tmp_path)
    assert model.config.num_classes == 0
    x = torch.randn(2, 4, 3, 32, 32)
    with torch.no_grad():
        want = hf(pixel_values=x).last_hidden_state[:, 0]
        assert (model(x.permute(0, 2, 1, 3, 4)) - want).abs().max() < 1e-4


def test_pytorch_model_bin_loads(hf_vivit, vivit_dir, tmp_path):
    torch.save(load_file(str(vivit_dir / "model.safetensors")), tmp_path / "pytorch_model.bin")
    (tmp_path / "config.json").write_text((vivit_dir / "config.json").read_text())
    assert vivit_diff(load_vivit(tmp_path), hf_vivit) < 1e-4


def test_parameter_count_equals_transformers_vivit_b():
    with torch.device("meta"):
        theirs = transformers.VivitForVideoClassification(transformers.VivitConfig(num_labels=400))
        ours = ViViT.from_variant("B/16x2", model=1, num_classes=400, num_frames=32, image_size=224)
    assert count_params(theirs) == count_params(ours) == 88_954_000


def test_loader_does_not_import_transformers():
    code = "import sys, minimodels.hf, minimodels.vivit; assert 'transformers' not in sys.modules, 'imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


# ---------------------------------------------------------------- ViViT errors


from test_hf import copy_checkpoint  # noqa: E402  (one helper for both loaders' error tests)


def test_renamed_key_is_reported_as_missing_and_unexpected(vivit_dir, tmp_path):
    def rename(config, state):
        state["vivit.encoder.layer.1.intermediate.dense_one.weight"] = state.pop(
            "vivit.encoder.layer.1.intermediate.dense.weight"
        )

    path = copy_checkpoint(vivit_dir, tmp_path / "renamed", rename)
    with pytest.raises(KeyError) as err:
        load_vivit(path)
    msg = str(err.value)
    assert "1 missing key(s) ['vivit.encoder.layer.1.intermediate.dense.weight']" in msg
    assert "1 unexpected key(s) ['vivit.encoder.layer.1.intermediate.dense_one.weight']" in msg


def test_missing_value_and_too_few_layers(vivit_dir, tmp_path):
    path = copy_checkpoint(
        vivit_dir, tmp_path / "novalue", lambda c, s: s.pop("vivit.encoder.layer.0.attention.attention.value.bias")
    )
    with pytest.raises(KeyError, match=r"1 missing key\(s\) \['vivit\.encoder\.layer\.0\.attention\.attention\.value"):
        load_vivit(path)
    path = copy_checkpoint(vivit_dir, tmp_path / "deeper", lambda c, s: c.update(num_hidden_layers=3))
    with pytest.raises(KeyError, match=r"missing key\(s\) \['vivit\.encoder\.layer\.2\..*\.\.\. \d+ more"):
        load_vivit(path)


def test_wrong_shape_and_model_type_and_activation(vivit_dir, tmp_path):
    path = copy_checkpoint(vivit_dir, tmp_path / "frames", lambda c, s: c.update(num_frames=8))
    with pytest.raises(ValueError, match=r"position_embeddings.*expected \(1, 65, 48\).*got \(1, 33, 48\)"):
        load_vivit(path)
    path = copy_checkpoint(vivit_dir, tmp_path / "vit", lambda c, s: c.update(model_type="vit"))
    with pytest.raises(ValueError, match="model_type 'vit'"):
        load_vivit(path)
    path = copy_checkpoint(vivit_dir, tmp_path / "relu", lambda c, s: c.update(hidden_act="relu"))
    with pytest.raises(ValueError, match="hidden_act 'relu' is not supported"):
        load_vivit(path)


def test_missing_directory_and_weights(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_vivit(tmp_path / "nowhere")
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "vivit"}))
    with pytest.raises(FileNotFoundError, match="no weights"):
        load_vivit(tmp_path)


# ---------------------------------------------------------------- ViT


def vit_diff(model, hf_model, bare=False):
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        out = hf_model(pixel_values=x)
        want = out.last_hidden_state[:, 0] if bare else out.logits
        got = model(x)
    assert got.shape == want.shape and want.std() > 0.1
    return (got - want).abs().max().item()


def test_vit_for_image_classification_matches(tmp_path):
    hf = make_hf_vit()
    hf.save_pretrained(tmp_path)
    assert "vit.encoder.layer.0.attention.attention.query.weight" in load_file(str(tmp_path / "model.safetensors"))
    model = load_vit(tmp_path)
    assert model.config.layer_norm_eps == 1e-12 and model.config.gelu_approximate == "none"
    assert model.config.num_classes == 5
    assert vit_diff(model, hf) < 1e-4


def test_vit_model_without_prefix_and_with_pooler(tmp_path):
    hf = make_hf_vit(bare=True, seed=1)
    hf.save_pretrained(tmp_path)
    names = set(load_file(str(tmp_path / "model.safetensors")))
    assert "embeddings.cls_token" in names and "pooler.dense.weight" in names  # no "vit." prefix
    model = load_vit(tmp_path)
    assert model.config.num_classes == 0
    assert vit_diff(model, hf, bare=True) < 1e-4


def test_vit_model_in_memory_names(tmp_path):
    hf = make_hf_vit(seed=2, hidden_act="gelu_pytorch_tanh", image_size=[32, 24])
    hf.save_pretrained(tmp_path, save_original_format=False)
    model = load_vit(tmp_path)
    assert model.config.gelu_approximate == "tanh" and model.config.grid == (4, 3)
    x = torch.randn(2, 3, 32, 24)
    with torch.no_grad():
        assert (model(x) - hf(pixel_values=x).logits).abs().max() < 1e-4


# ---------------------------------------------------------------- from a transformers ViT to a ViViT


def test_hf_image_model_initialises_a_video_model(tmp_path):
    hf = make_hf_vit(seed=4, layer_norm_eps=1e-6)
    hf.save_pretrained(tmp_path)
    vit = load_vit(tmp_path)
    video_model = ViViT.from_variant("B/8x2", model=2, temporal_layers=0, num_classes=5, num_frames=4,
                                     image_size=32, hidden_dim=48, depth=2, num_heads=4, mlp_dim=96)
    init_from_image(video_model, vit, tubelet_init="inflate").eval()
    image = torch.randn(2, 3, 32, 32)
    static = image.unsqueeze(2).expand(-1, -1, 4, -1, -1)
    with torch.no_grad():  # a still video through the average-pool baseline = the image model
        assert (video_model(static) - hf(pixel_values=image).logits).abs().max() < 1e-4
    # a raw transformers state dict is converted first (vivit knows no Hugging Face names)
    raw = read_checkpoint(tmp_path)[1]
    other = ViViT(video_model.config)
    with pytest.raises(ValueError, match=r"Hugging Face ViT state dict; convert it first.*convert_vit_state_dict"):
        init_from_image(other, raw)
    converted, unexpected = convert_vit_state_dict(raw)
    assert not unexpected and "encoder.blocks.1.attn.qkv.weight" in converted
    init_from_image(other, converted, tubelet_init="inflate")
    for (k, a), (_, b) in zip(video_model.state_dict().items(), other.state_dict().items()):
        assert torch.equal(a, b), k
