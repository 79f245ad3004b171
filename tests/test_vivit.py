"""ViViT: shapes, Table 2 (parameters and FLOPs), the factorised attentions against their
definitions, position-embedding resizing, initialisation from an image ViT, errors."""

import dataclasses
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import minimodels.vivit as vivit_module
from minimodels.flops import count_macs
from minimodels.layers import count_params
from minimodels.vivit import (
    BLOCKS,
    VARIANTS,
    Attention,
    Block,
    Encoder,
    FactorisedDotProductAttention,
    FactorisedEncoder,
    FactorisedSelfAttentionBlock,
    PositionEmbedding,
    TransformerConfig,
    TubeletEmbedding,
    ViT,
    ViTConfig,
    ViViT,
    ViViTConfig,
    attention_pattern,
    image_config,
    init_from_image,
    parse_variant,
    resize_grid,
    variant_config,
)

TINY = dict(hidden_dim=32, depth=2, num_heads=4, mlp_dim=64)


def tiny(model=1, frames=4, size=16, tubelet=(2, 4, 4), num_classes=5, seed=0, **overrides):
    """A small random ViViT (eval mode): by default 2 x 4 x 4 = 32 tokens of width 32."""
    torch.manual_seed(seed)
    cfg = ViViTConfig(model=model, num_frames=frames, image_size=size, tubelet=tubelet, num_classes=num_classes,
                      **{**TINY, **overrides})
    return ViViT(cfg).eval()


def tiny_vit(size=16, patch=4, num_classes=5, seed=1, **overrides):
    torch.manual_seed(seed)
    vit = ViT(ViTConfig(image_size=size, patch_size=patch, num_classes=num_classes, **{**TINY, **overrides}))
    with torch.no_grad():  # no trivial weights: CLS and norms away from their init
        for name, p in vit.named_parameters():
            if "norm" in name or "cls" in name or name.endswith("bias"):
                p.add_(0.1 * torch.randn_like(p))
    return vit.eval()


def video(b=2, t=4, h=16, w=16, c=3, seed=3):
    return torch.randn(b, c, t, h, w, generator=torch.Generator().manual_seed(seed))


# ---------------------------------------------------------------- shapes


@pytest.mark.parametrize("model", [1, 2, 3, 4])
@pytest.mark.parametrize("tubelet", [(2, 4, 4), (1, 4, 4)])  # t = 1: uniform frame sampling
def test_logits_shape_for_every_model(model, tubelet):
    m = tiny(model, tubelet=tubelet)
    with torch.no_grad():
        y = m(video())
    assert y.shape == (2, 5) and torch.isfinite(y).all()
    assert m.forward_features(video()).shape == (2, 32)


def test_tubelet_embedding_grid_and_uniform_frame_sampling():
    emb = TubeletEmbedding(3, 8, (2, 4, 4))
    assert emb(video(t=6, h=16, w=12)).shape == (2, 3, 4, 3, 8)  # (B, n_t, n_h, n_w, d)
    # t = 1: every frame embedded on its own by the same 2D patch embedding
    frames = TubeletEmbedding(3, 8, (1, 4, 4))
    x = video(t=3)
    with torch.no_grad():
        got = frames(x)
        conv2d_w = frames.proj.weight[:, :, 0]
        for i in range(3):
            want = F.conv2d(x[:, :, i], conv2d_w, frames.proj.bias, stride=4).permute(0, 2, 3, 1)
            assert torch.allclose(got[:, i], want, atol=1e-5)


def test_model_2_structure_and_pooling_options():
    m = tiny(2)
    assert isinstance(m.encoder, FactorisedEncoder) and len(m.encoder.temporal.blocks) == 4  # L_t = 4 default
    assert m.encoder.spatial.cls_token is not None and m.encoder.temporal.cls_token is not None
    assert m.encoder.spatial.pos_embed.weight.shape == (1, 1 + 16, 32)  # one frame's positions + CLS
    assert m.encoder.temporal.pos_embed.weight.shape == (1, 1 + 2, 32)
    base = tiny(2, temporal_layers=0)
    assert base.encoder.temporal is None
    x = video()
    with torch.no_grad():  # the average-pool baseline: mean of the per-frame CLS outputs
        h = base.encoder.frame_tokens(base.tubelet_embed(x))
        assert torch.allclose(base(x), base.head(h.mean(1)), atol=1e-6)
    mean = tiny(2, spatial_pooling="mean", classifier="gap", temporal_layers=1)
    assert mean.encoder.spatial.cls_token is None and mean.encoder.temporal.cls_token is None
    with torch.no_grad():
        assert mean(x).shape == (2, 5)


def test_models_3_and_4_have_no_cls_and_pool_by_average():
    for model in (3, 4):
        m = tiny(model)
        assert m.config.classifier == "gap" and m.encoder.cls_token is None
        assert m.encoder.pos_embed.weight.shape == (1, 32, 32)
        x = video()
        with torch.no_grad():
            tokens = m.encoder(m.tubelet_embed(x))
            assert torch.allclose(m(x), m.head(tokens.mean(1)), atol=1e-6)
    assert isinstance(tiny(3).encoder.blocks[0], FactorisedSelfAttentionBlock)
    assert isinstance(tiny(4).encoder.blocks[0].attn, FactorisedDotProductAttention)


def test_batch_elements_are_independent():
    for model in (1, 2, 3, 4):
        m = tiny(model)
        x = video(b=3)
        with torch.no_grad():
            assert torch.allclose(m(x)[1:2], m(x[1:2]), atol=1e-5)


def test_backward_reaches_every_parameter():
    for model in (1, 2, 3, 4):
        m = tiny(model).train()
        m(video()).logsumexp(1).mean().backward()
        assert not [n for n, p in m.named_parameters() if p.grad is None], model


def test_drop_path_rates_and_training_noise():
    m = tiny(2, drop_path_rate=0.2, depth=3, temporal_layers=3)
    assert [b.drop_path.drop_prob for b in m.encoder.spatial.blocks] == pytest.approx([0, 0.1, 0.2])
    assert [b.drop_path.drop_prob for b in m.encoder.temporal.blocks] == pytest.approx([0, 0.1, 0.2])
    m = tiny(3, drop_path_rate=0.5).train()
    x = video()
    with torch.no_grad():
        assert not torch.allclose(m(x), m(x))
        m.eval()
        assert torch.equal(m(x), m(x))


# ---------------------------------------------------------------- variants


def test_variant_strings():
    assert parse_variant("B/16x2") == ("B", 16, 2)
    assert parse_variant("ti/8x2") == ("Ti", 8, 2)
    assert parse_variant("B/16", video=False) == ("B", 16, None)
    cfg = variant_config("S/4x1", model=3, num_classes=10, num_frames=8, image_size=32)
    assert (cfg.hidden_dim, cfg.depth, cfg.num_heads, cfg.mlp_dim) == (384, 12, 6, 1536)
    assert cfg.tubelet == (1, 4, 4) and cfg.grid == (8, 8, 8) and cfg.classifier == "gap"
    assert {k: tuple(v.values()) for k, v in VARIANTS.items()} == {
        "Ti": (192, 12, 3, 768), "S": (384, 12, 6, 1536), "B": (768, 12, 12, 3072),
        "L": (1024, 24, 16, 4096), "H": (1280, 32, 16, 5120),
    }
    with torch.device("meta"):
        m = ViViT.from_variant("L/16x2", model=2, temporal_layers=1, depth=2, image_size=(224, 160))
    assert m.config.depth == 2 and len(m.encoder.temporal.blocks) == 1 and m.config.grid == (16, 14, 10)
    vit = ViT.from_variant("Ti/4", image_size=32, num_classes=10)
    assert vit.config.patch_size == (4, 4) and vit.config.hidden_dim == 192
    assert vit(torch.randn(1, 3, 32, 32)).shape == (1, 10)


def test_unknown_variants_models_and_fields():
    with pytest.raises(ValueError, match=r"'X'.*valid sizes: \['Ti', 'S', 'B', 'L', 'H'\]"):
        ViViT.from_variant("X/16x2")
    with pytest.raises(ValueError, match=r"SIZE/PxT.*'B/16x2'"):
        ViViT.from_variant("B/16")
    with pytest.raises(ValueError, match=r"SIZE/P.*'B/16'"):
        ViT.from_variant("B/16x2")
    with pytest.raises(ValueError, match=r"unknown model 5.*1 \(spatio-temporal attention\)"):
        ViViT.from_variant("B/16x2", model=5)
    with pytest.raises(TypeError, match=r"\['temporal_depth'\].*temporal_layers"):
        ViViT.from_variant("B/16x2", model=2, temporal_depth=2)

    def build(**fields):  # a config is checked where its values are used: in the modules' constructors
        with torch.device("meta"):
            return ViViT(ViViTConfig(**fields))

    with pytest.raises(ValueError, match="Model 3 has no CLS token"):
        build(model=3, classifier="token")
    with pytest.raises(ValueError, match="classifier must be 'token' or 'gap'"):
        build(classifier="cls")
    with pytest.raises(ValueError, match="num_heads must be even"):
        build(model=4, hidden_dim=96, num_heads=3)
    with pytest.raises(ValueError, match="hidden_dim 96 is not divisible by num_heads 5"):
        build(hidden_dim=96, num_heads=5)
    with pytest.raises(ValueError, match=r"divisible by the tubelet \(t, h, w\) = \(2, 16, 16\)"):
        build(num_frames=31)
    with pytest.raises(ValueError, match=r"tubelet must be three positive ints"):
        build(tubelet=(2, 16))
    with pytest.raises(ValueError, match="spatial_pooling"):
        build(model=2, spatial_pooling="max")
    with pytest.raises(ValueError, match="temporal_layers must be >= 0"):
        build(model=2, temporal_layers=-1)
    with pytest.raises(ValueError, match="gelu_approximate.*'none' or 'tanh'"):
        build(gelu_approximate="erf")
    with pytest.raises(ValueError, match="class_names has 2 names, expected num_classes=400"):
        ViViTConfig(class_names=["a", "b"])
    with pytest.raises(ValueError, match="divisible by patch_size"):
        ViT(ViTConfig(image_size=30, **TINY))
    with pytest.raises(ValueError, match="init_std must be positive"):
        tiny(init_std=0.0)


# ---------------------------------------------------------------- Table 2


def meta_vivit(model, **overrides):
    with torch.device("meta"):  # structure only: no memory, no initialisation time
        return ViViT.from_variant("B/16x2", model=model, num_classes=400, num_frames=32, image_size=224, **overrides)


# ViViT-B/16x2, 32 frames of 224x224, Kinetics-400: (model, overrides, params M, GFLOPs) of Table 2.
TABLE_2 = {
    "Model 1 spatio-temporal": (1, {}, 88.9, 455.2),
    "Model 2 factorised encoder": (2, {}, 115.1, 284.4),
    "Model 3 factorised self-attention": (3, {}, 117.3, 372.3),
    "Model 4 factorised dot-product": (4, {}, 88.9, 277.1),
    "Model 2 average-pool baseline": (2, {"temporal_layers": 0}, 86.7, 283.9),
}


def closed_form_macs(model, temporal_layers=4):
    """Multiply-accumulates of the matmuls, attention and the tubelet conv, written out."""
    d, mlp, L, K = 768, 3072, 12, 400
    n_t, S = 16, 14 * 14
    N = n_t * S
    per_token = 4 * d * d + 2 * d * mlp  # q, k, v, W_O + the two MLP Linears
    embed, head = N * d * 3 * 2 * 16 * 16, d * K
    if model == 1:
        blocks = L * ((N + 1) * per_token + (N + 1) ** 2 * 2 * d)
    elif model == 2:
        blocks = L * n_t * ((S + 1) * per_token + (S + 1) ** 2 * 2 * d)
        blocks += temporal_layers * ((n_t + 1) * per_token + (n_t + 1) ** 2 * 2 * d)
    elif model == 3:  # two MSAs per block, each token attends to S then n_t tokens with all heads
        blocks = L * (N * (per_token + 4 * d * d) + N * (S + n_t) * 2 * d)
    else:  # half the heads (d/2 channels) over S tokens, half over n_t
        blocks = L * (N * per_token + N * (S + n_t) * d)
    return blocks + embed + head


@pytest.mark.parametrize("name", list(TABLE_2))
def test_table_2_parameters_and_flops(name):
    model, overrides, paper_params, paper_gflops = TABLE_2[name]
    m = meta_vivit(model, **overrides)
    params = count_params(m) / 1e6
    assert abs(params - paper_params) < 0.1, f"{name}: {params:.3f}M parameters vs the paper's {paper_params}"
    macs = count_macs(m, torch.empty(1, 3, 32, 224, 224, device="meta"))
    assert macs == closed_form_macs(model, overrides.get("temporal_layers", 4))
    # The paper's figures are a little higher: ours count matmuls, attention and the conv only
    # (-0.8% for Model 1, -0.3% to -0.4% for the others).
    assert macs / 1e9 == pytest.approx(paper_gflops, rel=0.015), f"{name}: {macs / 1e9:.2f} GMACs vs {paper_gflops}"


def test_exact_parameter_counts():
    d, mlp = 768, 3072
    msa, ln = 4 * d * d + 4 * d, 2 * d
    block = msa + 2 * ln + (d * mlp + mlp) + (mlp * d + d)
    tubelet, head = 3 * 2 * 16 * 16 * d + d, d * 400 + 400
    m1 = tubelet + d + (1 + 3136) * d + 12 * block + ln + head
    assert m1 == 88_954_000 == count_params(meta_vivit(1))  # = transformers' VivitForVideoClassification
    assert count_params(meta_vivit(4)) == m1 - 2 * d  # Model 1's weights minus CLS and its position
    assert count_params(meta_vivit(3)) == m1 - 2 * d + 12 * (msa + ln)  # + a temporal MSA and LN per block
    spatial = tubelet + d + (1 + 196) * d + 12 * block + ln
    assert count_params(meta_vivit(2, temporal_layers=0)) == spatial + head
    assert count_params(meta_vivit(2)) == spatial + d + (1 + 16) * d + 4 * block + ln + head


# ---------------------------------------------------------------- Model 4 and Model 3 against their definitions


def naive_factorised_attention(attn, x, grid):
    """Model 4's attention with explicit masks: heads [0, h/2) use the temporal pattern, [h/2, h) the spatial."""
    B, N, C = x.shape
    h, d = attn.num_heads, C // attn.num_heads
    masks = attention_pattern(4, *grid)
    q, k, v = attn.qkv(x).split(C, dim=-1)
    outs = []
    for head in range(h):
        s = slice(head * d, (head + 1) * d)
        scores = q[..., s] @ k[..., s].transpose(1, 2) / math.sqrt(d)
        mask = masks["temporal"] if head < h // 2 else masks["spatial"]
        outs.append(scores.masked_fill(~mask, float("-inf")).softmax(-1) @ v[..., s])
    return attn.proj(torch.cat(outs, dim=-1))


def test_model_4_equals_masked_attention_with_model_1_weights():
    m4 = tiny(4, frames=6, size=12, tubelet=(2, 4, 4))  # grid (3, 3, 3)
    m1 = tiny(1, frames=6, size=12, tubelet=(2, 4, 4), classifier="gap", seed=9)
    assert m1.state_dict().keys() == m4.state_dict().keys()  # Model 4 has exactly Model 1's parameters
    m1.load_state_dict(m4.state_dict())
    x = video(t=6, h=12, w=12)
    grid = (3, 3, 3)
    with torch.no_grad():
        tokens = m4.encoder(m4.tubelet_embed(x))
        # the same network written out: Model 1's blocks with the masked attention
        z = m1.tubelet_embed(x).flatten(1, 3) + m1.encoder.pos_embed.weight
        for block in m1.encoder.blocks:
            z = z + naive_factorised_attention(block.attn, block.norm1(z), grid)
            z = z + block.mlp(block.norm2(z))
        assert torch.allclose(tokens, m1.encoder.norm(z), atol=1e-5)
        # and it is not Model 1: full attention gives other outputs
        assert not torch.allclose(m1(x), m4(x), atol=1e-4)


def test_factorised_dot_product_attention_on_a_non_cubic_grid():
    torch.manual_seed(4)
    attn = FactorisedDotProductAttention(24, 6).eval()
    grid = (4, 2, 3)
    x = torch.randn(2, 24, 24)
    with torch.no_grad():
        assert torch.allclose(attn(x, grid), naive_factorised_attention(attn, x, grid), atol=1e-5)


def changed_tokens(before, after, atol=1e-6):
    return ((before - after).abs().amax(-1) > atol).squeeze(0)


def test_model_3_temporal_attention_mixes_only_one_spatial_position():
    m = tiny(3, frames=6, size=12, tubelet=(1, 4, 4))  # grid (6, 3, 3): token (t, p) = 9 t + p
    grid, (t0, p0) = (6, 3, 3), (2, 4)
    block = m.encoder.blocks[0]
    x = video(b=1, t=6, h=12, w=12)
    y = x.clone()
    y[:, :, t0, 4:8, 4:8] += 1.0  # one frame, one patch: spatial position p0 = (1, 1)
    with torch.no_grad():
        tx, ty = (m.tubelet_embed(v).flatten(1, 3) for v in (x, y))
        assert changed_tokens(tx, ty).nonzero().flatten().tolist() == [9 * t0 + p0]
        pattern = attention_pattern(3, *grid)
        # temporal MSA: the change reaches exactly the tokens at p0, in every frame
        temporal = changed_tokens(block.temporal_attention(tx, grid), block.temporal_attention(ty, grid))
        assert temporal.nonzero().flatten().tolist() == [9 * t + p0 for t in range(6)]
        assert torch.equal(temporal, pattern["temporal"][:, 9 * t0 + p0])
        # spatial MSA: exactly the tokens of frame t0
        spatial = changed_tokens(block.spatial_attention(tx, grid), block.spatial_attention(ty, grid))
        assert torch.equal(spatial, pattern["spatial"][:, 9 * t0 + p0])
        assert spatial.sum() == 9
        # the whole block (spatial, then temporal): everything
        assert changed_tokens(block(tx, grid), block(ty, grid)).all()


def test_model_3_block_follows_its_equations():
    torch.manual_seed(5)
    block = FactorisedSelfAttentionBlock(16, 2, 32).eval()
    grid = (3, 2, 2)
    x = torch.randn(2, 12, 16)
    with torch.no_grad():
        frames = x.view(2, 3, 4, 16)
        y = (frames.flatten(0, 1) + block.attn(block.norm1(frames.flatten(0, 1)))).view(2, 3, 4, 16)
        per_position = y.transpose(1, 2).flatten(0, 1)  # (B * 4 positions, 3 frames, d)
        z = per_position + block.temporal_attn(block.temporal_norm(per_position))
        z = z.view(2, 4, 3, 16).transpose(1, 2).reshape(2, 12, 16)
        want = z + block.mlp(block.norm2(z))
        assert torch.allclose(block(x, grid), want, atol=1e-5)


def test_model_3_time_first_swaps_the_two_steps_with_the_same_weights():
    torch.manual_seed(5)
    space = ViViT.from_variant("Ti/16x2", model=3, num_classes=4, num_frames=4, image_size=32).eval()
    time_first = ViViT.from_variant("Ti/16x2", model=3, num_classes=4, num_frames=4, image_size=32,
                                    attention_order="time_first").eval()
    time_first.load_state_dict(space.state_dict())  # the same parameters, by name
    block, x, grid = space.encoder.blocks[0], torch.randn(2, 16, 192), (2, 2, 4)
    with torch.no_grad():
        z = block.spatial_attention(block.temporal_attention(x, grid), grid)
        assert torch.allclose(time_first.encoder.blocks[0](x, grid), z + block.mlp(block.norm2(z)), atol=1e-5)
        video = torch.randn(2, 3, 4, 32, 32)
        assert not torch.allclose(space(video), time_first(video), atol=1e-4)  # the order changes the function
    assert "order=time_first" in repr(time_first.encoder.blocks[0])
    with pytest.raises(ValueError, match="attention_order must be one of .*got 'both'"):
        ViViT.from_variant("Ti/16x2", model=3, num_classes=4, num_frames=4, image_size=32, attention_order="both")
    with pytest.raises(ValueError, match="is Model 3's option"):
        ViViT.from_variant("Ti/16x2", model=1, num_classes=4, num_frames=4, image_size=32, attention_order="time_first")


def test_attention_patterns():
    n_t, n_h, n_w = 3, 2, 4
    N = n_t * n_h * n_w
    assert attention_pattern(1, n_t, n_h, n_w)["joint"].all()
    for model in (2, 3, 4):
        p = attention_pattern(model, n_t, n_h, n_w)
        assert set(p) == {"spatial", "temporal"} and p["spatial"].dtype == torch.bool
        assert p["spatial"].shape == (N, N) and (p["spatial"].sum(1) == n_h * n_w).all()
        assert torch.equal(p["spatial"], p["spatial"].T)
    p = attention_pattern(3, n_t, n_h, n_w)
    assert (p["temporal"].sum(1) == n_t).all()
    assert p["temporal"][0].nonzero().flatten().tolist() == [0, 8, 16]  # token (0, 0, 0) and its later frames
    assert attention_pattern(2, n_t, n_h, n_w)["temporal"].all()
    with pytest.raises(ValueError, match="unknown ViViT model 0"):
        attention_pattern(0, 1, 1, 1)


def test_attention_is_sdpa_and_equals_the_formula():
    torch.manual_seed(6)
    attn = Attention(16, 4).eval()
    x = torch.randn(2, 7, 16)
    with torch.no_grad():
        q, k, v = attn.qkv(x).split(16, dim=-1)
        outs = [
            ((q[..., s] @ k[..., s].transpose(1, 2)) / 2).softmax(-1) @ v[..., s]
            for s in (slice(4 * i, 4 * i + 4) for i in range(4))
        ]
        assert torch.allclose(attn(x), attn.proj(torch.cat(outs, -1)), atol=1e-5)
    block = Block(16, 4, 32, gelu_approximate="tanh")
    assert block.mlp.act.approximate == "tanh" and block.norm1.eps == 1e-6


def test_every_attention_and_block_takes_the_grid_and_each_model_names_its_block():
    torch.manual_seed(6)
    x, grid = torch.randn(2, 12, 16), (3, 2, 2)
    attn = Attention(16, 4).eval()
    with torch.no_grad():
        assert torch.equal(attn(x, grid), attn(x))  # plain attention: the grid is not read
    for block_layer in BLOCKS.values():
        block = block_layer(16, 4, 32).eval()
        with torch.no_grad():
            assert block(x, grid).shape == x.shape
    assert isinstance(BLOCKS[4](16, 4, 32).attn, FactorisedDotProductAttention)
    encoder = Encoder((3, 2, 2), 16, 2, 4, 32, cls_token=False, block_layer=FactorisedSelfAttentionBlock)
    assert all(isinstance(b, FactorisedSelfAttentionBlock) for b in encoder.blocks)
    for model, block_layer in BLOCKS.items():
        blocks = tiny(model).encoder.blocks
        assert all(isinstance(b, FactorisedSelfAttentionBlock if model == 3 else Block) for b in blocks)
        assert type(blocks[0].attn) is (FactorisedDotProductAttention if model == 4 else Attention)


# ---------------------------------------------------------------- positions at other sizes


def test_position_table_is_used_as_is_at_native_size():
    pe = PositionEmbedding((2, 3, 4), 8, num_prefix=1)
    assert pe((2, 3, 4)) is pe.weight
    torch.nn.init.normal_(pe.weight)
    resized = pe((4, 6, 2))
    assert resized.shape == (1, 1 + 48, 8) and torch.equal(resized[:, 0], pe.weight[:, 0])  # CLS kept


def test_trilinear_resize_is_linear_along_each_axis():
    table = torch.randn(1, 3, 4, 5, 6)
    got = resize_grid(table, (5, 2, 7))
    want = table
    for axis, size in zip((1, 2, 3), (5, 2, 7)):  # one axis at a time, 1D linear interpolation
        moved = want.movedim(axis, -1)
        shape = moved.shape
        out = F.interpolate(moved.reshape(1, -1, shape[-1]), size=size, mode="linear", align_corners=False)
        want = out.reshape(*shape[:-1], size).movedim(-1, axis)
    assert torch.allclose(got, want, atol=1e-6)
    assert resize_grid(table, (3, 4, 5)) is table


@pytest.mark.parametrize("model", [1, 2, 3, 4])
def test_other_frame_counts_and_sizes_run_and_match_a_model_built_for_them(model):
    small = tiny(model)  # built for 4 frames of 16x16: grid (2, 4, 4)
    x = video(t=8, h=24, w=20)  # grid (4, 6, 5)
    with torch.no_grad():
        y = small(x)
        assert y.shape == (2, 5) and torch.isfinite(y).all()
        # a model built for that size, holding the resized tables, gives the same logits
        big = tiny(model, frames=8, size=(24, 20), seed=7)
        state = small.state_dict()
        for key, pe in small.named_modules():
            if isinstance(pe, PositionEmbedding):
                grid = {1: (4,), 2: (6, 5), 3: (4, 6, 5)}[len(pe.grid)]
                state[f"{key}.weight"] = pe(grid)
        big.load_state_dict(state)
        assert torch.allclose(big(x), y, atol=1e-5)
        # at the native size nothing is resized: the table itself is added
        x0 = video()
        tokens = small.tubelet_embed(x0)
        if model == 2:
            assert small.encoder.spatial.pos_embed((4, 4)) is small.encoder.spatial.pos_embed.weight
        else:
            assert small.encoder.pos_embed(tuple(tokens.shape[1:4])) is small.encoder.pos_embed.weight


# ---------------------------------------------------------------- initialisation


@pytest.mark.parametrize("std", [0.02, 0.25])
def test_init_std_sets_every_weight_but_the_heads(std):
    def weights(model):
        return {name: m.weight for name, m in model.named_modules() if isinstance(m, (nn.Linear, nn.Conv2d, nn.Conv3d))}

    for model in (tiny(3, init_std=std), ViT(ViTConfig(image_size=16, patch_size=4, num_classes=5, init_std=std,
                                                        **TINY))):
        w = weights(model)
        head = w.pop("head")
        rest = torch.cat([v.flatten() for v in w.values()])
        assert rest.std().item() == pytest.approx(std, rel=0.05)  # the official cut at +-2: in effect none
        assert head.std().item() == pytest.approx(0.02, rel=0.3)  # the head keeps 0.02: first loss ~ ln(classes)
        assert all(torch.equal(p, torch.zeros_like(p)) for n, p in model.named_parameters() if n.endswith("bias"))


def test_default_init_is_the_official_draw(monkeypatch):
    """At init_std = 0.02 every weight is what the official (timm) call draws, in module order:
    the numbers of the models built before init_std existed."""
    states, init = [], vivit_module._init_weights

    def recording_init(model, std):
        states.append(torch.get_rng_state())
        init(model, std)

    monkeypatch.setattr(vivit_module, "_init_weights", recording_init)
    for model in (3, 4):
        m = tiny(model)
        torch.set_rng_state(states[-1])  # as it was when the model initialised itself
        for module in m.modules():
            if isinstance(module, (nn.Linear, nn.Conv3d, PositionEmbedding)):
                want = nn.init.trunc_normal_(torch.empty_like(module.weight), std=0.02)
                assert torch.equal(module.weight, want)


def test_image_config_is_the_video_models_transformer():
    cfg = ViViTConfig(model=3, num_frames=8, image_size=(16, 24), tubelet=(2, 4, 8), num_classes=7, init_std=0.1,
                      drop_path_rate=0.1, gelu_approximate="tanh", class_names=list("abcdefg"), **TINY)
    image = image_config(cfg, num_classes=10)
    assert isinstance(image, ViTConfig) and image.patch_size == (4, 8) and image.image_size == (16, 24)
    assert image.num_classes == 10 and image.class_names is None
    for f in dataclasses.fields(TransformerConfig):
        if f.name not in ("num_classes", "class_names"):
            assert getattr(image, f.name) == getattr(cfg, f.name), f.name
    assert image_config(cfg).num_classes == 1000
    init_from_image(ViViT(cfg), ViT(image))  # it fits


# ---------------------------------------------------------------- initialisation from an image model


def static_video(image, frames):
    return image.unsqueeze(2).expand(-1, -1, frames, -1, -1).contiguous()  # (B, C, T, H, W), all frames equal


@pytest.mark.parametrize("t", [2, 3])
def test_filter_inflation_embeds_a_static_video_like_the_image(t):
    vit = tiny_vit()
    m = init_from_image(tiny(1, frames=2 * t, tubelet=(t, 4, 4)), vit, tubelet_init="inflate")
    image = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        tokens = m.tubelet_embed(static_video(image, 2 * t))  # (B, 2, 4, 4, d)
        patches = vit.patch_embed(image)  # (B, 4, 4, d)
        for i in range(2):
            assert torch.allclose(tokens[:, i], patches, atol=1e-5)
        w = m.tubelet_embed.proj.weight
        assert all(torch.allclose(w[:, :, k], vit.patch_embed.proj.weight / t) for k in range(t))


@pytest.mark.parametrize("t, centre", [(2, 1), (3, 1), (4, 2)])
def test_central_frame_initialisation_uses_the_centre_frame_only(t, centre):
    vit = tiny_vit()
    m = init_from_image(tiny(1, frames=2 * t, tubelet=(t, 4, 4)), vit, tubelet_init="central")
    x = video(t=2 * t)
    with torch.no_grad():
        tokens = m.tubelet_embed(x)
        for i in range(2):  # tubelet i sees frames [i t, (i + 1) t); only frame i t + floor(t / 2) counts
            assert torch.allclose(tokens[:, i], vit.patch_embed(x[:, :, i * t + centre]), atol=1e-5)
        y = x.clone()
        others = [k for k in range(2 * t) if k % t != centre]
        y[:, :, others] = torch.randn_like(y[:, :, others])
        assert torch.equal(m.tubelet_embed(y), tokens)


def test_random_tubelet_init_leaves_the_kernel_alone():
    m = tiny(1)
    before = m.tubelet_embed.proj.weight.clone(), m.tubelet_embed.proj.bias.clone()
    init_from_image(m, tiny_vit(), tubelet_init="random")
    assert torch.equal(m.tubelet_embed.proj.weight, before[0]) and torch.equal(m.tubelet_embed.proj.bias, before[1])


def test_positions_are_tiled_over_time_and_blocks_copied():
    vit = tiny_vit()
    m = init_from_image(tiny(1, frames=6), vit)  # grid (3, 4, 4)
    pos, img = m.encoder.pos_embed.weight, vit.encoder.pos_embed.weight
    assert torch.equal(pos[:, 0], img[:, 0])  # CLS position
    for i in range(3):
        assert torch.equal(pos[:, 1 + 16 * i : 1 + 16 * (i + 1)], img[:, 1:])
    assert torch.equal(m.encoder.cls_token, vit.encoder.cls_token)
    for ours, theirs in zip(m.encoder.state_dict().items(), vit.encoder.state_dict().items()):
        if ours[0] != "pos_embed.weight":
            assert ours[0] == theirs[0] and torch.equal(ours[1], theirs[1])
    assert torch.equal(m.head.weight, vit.head.weight)  # 5 classes both: the head fits and is copied
    # Models 3 and 4: no CLS, its position dropped
    m4 = init_from_image(tiny(4, frames=6), vit)
    assert torch.equal(m4.encoder.pos_embed.weight, img[:, 1:].repeat(1, 3, 1))


def test_spatial_positions_are_resized_when_the_grid_differs():
    vit = tiny_vit()  # 16x16 images, patch 4: a 4x4 grid
    m = init_from_image(tiny(3, size=24), vit)  # 6x6 grid per frame
    grid = vit.encoder.pos_embed.weight[:, 1:].reshape(1, 4, 4, -1)
    want = resize_grid(grid, (6, 6)).reshape(1, 36, -1).repeat(1, 2, 1)
    assert torch.allclose(m.encoder.pos_embed.weight, want)


def test_head_with_another_class_count_is_left_alone():
    m = tiny(1, num_classes=7)
    head = m.head.weight.clone()
    init_from_image(m, tiny_vit(num_classes=5))
    assert torch.equal(m.head.weight, head)


def test_model_2_average_pool_baseline_on_a_static_video_is_the_image_model():
    vit = tiny_vit()
    image = torch.randn(2, 3, 16, 16)
    for tubelet_init in ("inflate", "central"):
        m = init_from_image(tiny(2, frames=6, temporal_layers=0), vit, tubelet_init=tubelet_init)
        with torch.no_grad():
            assert torch.allclose(m(static_video(image, 6)), vit(image), atol=1e-5)
    # with a temporal encoder (random), every frame's summary is still the image model's CLS output
    m = init_from_image(tiny(2, frames=6), vit)
    with torch.no_grad():
        h = m.encoder.frame_tokens(m.tubelet_embed(static_video(image, 6)))
        assert torch.allclose(h, vit.forward_features(image).unsqueeze(1).expand(-1, 3, -1), atol=1e-5)


def test_model_3_temporal_attention_starts_at_zero_or_as_a_copy():
    vit = tiny_vit()
    m = tiny(3)
    with torch.no_grad():
        m.encoder.blocks[0].temporal_norm.weight.fill_(2.0)
    init_from_image(m, vit)
    x = torch.randn(2, 32, 32)
    for block, image_block in zip(m.encoder.blocks, vit.encoder.blocks):
        assert torch.equal(block.attn.qkv.weight, image_block.attn.qkv.weight)
        assert torch.equal(block.norm2.weight, image_block.norm2.weight)
        assert torch.equal(block.temporal_attn.qkv.weight, image_block.attn.qkv.weight)  # Q, K, V copied
        assert (block.temporal_attn.proj.weight == 0).all() and (block.temporal_attn.proj.bias == 0).all()
        assert (block.temporal_norm.weight == 1).all()
        with torch.no_grad():  # the temporal step is the identity: a residual connection
            assert torch.equal(block.temporal_attention(x, (2, 4, 4)), x)
    init_from_image(m, vit, temporal_attention_init="zero")
    assert all((p == 0).all() for b in m.encoder.blocks for p in b.temporal_attn.parameters())
    init_from_image(m, vit, temporal_attention_init="copy")
    assert torch.equal(m.encoder.blocks[1].temporal_attn.proj.weight, vit.encoder.blocks[1].attn.proj.weight)


@pytest.mark.parametrize("init", ["zero_output", "zero"])
def test_model_3_temporal_attention_learns_only_from_the_zero_output_init(init, frozen_parameters):
    # all-zero weights (the paper's words taken literally) give W_V = 0, so no gradient reaches
    # W_O, and W_O = 0 stops every gradient behind it, the temporal LayerNorm's included: of the
    # temporal step, only the output bias ever moves
    torch.manual_seed(0)
    m = init_from_image(tiny(3), tiny_vit(), temporal_attention_init=init)
    video, labels = torch.randn(4, 3, 4, 16, 16), torch.tensor([0, 1, 2, 3])
    frozen = frozen_parameters(m, lambda m: F.cross_entropy(m(video), labels), steps=3)
    dead = [f"encoder.blocks.{i}.temporal_{name}" for i in range(len(m.encoder.blocks))
            for name in ("norm.weight", "norm.bias", "attn.qkv.weight", "attn.qkv.bias", "attn.proj.weight")]
    assert frozen == ([] if init == "zero_output" else dead)


def test_state_dict_source_equals_vit_source():
    vit = tiny_vit()
    a = init_from_image(tiny(1), vit)
    b = init_from_image(tiny(1, seed=5), vit.state_dict())
    for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items()):
        assert ka == kb and torch.equal(va, vb), ka


@pytest.mark.parametrize("model", [1, 2, 3, 4])
@pytest.mark.parametrize("from_image", [False, True])
def test_every_parameter_learns(model, from_image, every_parameter_learns):
    m = tiny(model).train()
    if from_image:
        init_from_image(m, tiny_vit())
    video, labels = torch.randn(4, 3, 4, 16, 16), torch.tensor([0, 1, 2, 3])
    every_parameter_learns(m, lambda m: F.cross_entropy(m(video), labels))


def test_init_errors():
    vit = tiny_vit()
    with pytest.raises(ValueError, match="tubelet_init"):
        init_from_image(tiny(1), vit, tubelet_init="mean")
    with pytest.raises(ValueError, match=r"temporal_attention_init must be one of .*'zero_output'.*got 'ones'"):
        init_from_image(tiny(3), vit, temporal_attention_init="ones")
    with pytest.raises(ValueError, match=r"image model has 2 blocks, the video model 3"):
        init_from_image(tiny(1, depth=3), vit)
    with pytest.raises(ValueError, match=r"patch kernel.*\(32, 3, 8, 8\).*\(32, 3, 2, 4, 4\)"):
        init_from_image(tiny(1), tiny_vit(patch=8))
    with pytest.raises(TypeError, match="ViT or its state dict"):
        init_from_image(tiny(1), "vit.pt")


# ---------------------------------------------------------------- bad input


def test_bad_inputs_name_expected_and_got():
    m = tiny(1)
    with pytest.raises(ValueError, match=r"\(B, 3, T, H, W\), got \(3, 4, 16, 16\).*unsqueeze\(0\)"):
        m(torch.randn(3, 4, 16, 16))
    with pytest.raises(ValueError, match=r"got \(B, T, C, H, W\)\? permute\(0, 2, 1, 3, 4\)"):
        m(torch.randn(2, 4, 3, 16, 16))
    with pytest.raises(ValueError, match="3 input channels.*got 1"):
        m(torch.randn(2, 1, 4, 16, 16))
    with pytest.raises(ValueError, match=r"frame count T = 5 is not divisible.*t = 2.*e\.g\. 4"):
        m(torch.randn(1, 3, 5, 16, 16))
    with pytest.raises(ValueError, match=r"16x18 is not divisible.*4x4"):
        m(torch.randn(1, 3, 4, 16, 18))
    with pytest.raises(ValueError, match="floating-point.*torch.uint8"):
        m(torch.zeros(1, 3, 4, 16, 16, dtype=torch.uint8))
    with pytest.raises(TypeError, match="torch.Tensor"):
        m([[0.0]])
    vit = tiny_vit()
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\)"):
        vit(torch.randn(1, 3, 2, 16, 16))
    with pytest.raises(ValueError, match="not divisible by the patch size 4x4"):
        vit(torch.randn(1, 3, 16, 15))
