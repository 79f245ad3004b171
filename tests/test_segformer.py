"""SegFormer: shapes, parameter counts, the pieces against the paper's equations, errors."""

import math

import pytest
import torch
import torch.nn.functional as F

from minimodels.layers import DropPath, Mlp, count_params, drop_path_rates
from minimodels.segformer import (
    FFN,
    VARIANTS,
    ConcatLinear,
    EfficientSelfAttention,
    MixFFN,
    SegFormer,
    SegFormerConfig,
    min_input_size,
    stage_sizes,
    variant_config,
)

# Official code (NVlabs/SegFormer) / transformers' SegformerForSemanticSegmentation, 150 classes.
PARAMS_150 = {
    "b0": 3_752_694,
    "b1": 13_715_798,
    "b2": 27_461_974,
    "b3": 47_337_814,
    "b4": 64_108_374,
    "b5": 84_708_694,
}


@pytest.fixture(scope="module")
def b0():
    torch.manual_seed(0)
    return SegFormer.from_variant("b0", num_classes=11).eval()


# ---------------------------------------------------------------- shapes


@pytest.mark.parametrize("hw", [(64, 64), (67, 93), (29, 29), (33, 130)])
def test_logits_are_quarter_size_rounded_up(b0, hw):
    x = torch.randn(2, 3, *hw)
    with torch.no_grad():
        y = b0(x)
    assert y.shape == (2, 11, math.ceil(hw[0] / 4), math.ceil(hw[1] / 4))
    assert torch.isfinite(y).all()


def test_encoder_maps_follow_the_conv_formula(b0):
    x = torch.randn(1, 3, 500, 375)
    with torch.no_grad():
        maps = b0.encoder(x)
    # the paper's 500x375 ADE example: 125x94, then halving (rounded up) per stage
    assert stage_sizes(b0.config, 500, 375) == [(125, 94), (63, 47), (32, 24), (16, 12)]
    assert [tuple(m.shape) for m in maps] == [
        (1, 32, 125, 94),
        (1, 64, 63, 47),
        (1, 160, 32, 24),
        (1, 256, 16, 12),
    ]
    with torch.no_grad():
        assert b0(x).shape == (1, 11, 125, 94)


def test_batch_elements_are_independent(b0):
    x = torch.randn(3, 3, 45, 61)
    with torch.no_grad():
        together = b0(x)
        alone = b0(x[1:2])
    assert torch.allclose(together[1:2], alone, atol=1e-5)


# ---------------------------------------------------------------- parameter counts


@pytest.mark.parametrize("name", list(VARIANTS))
def test_param_counts_match_official_and_transformers(name):
    transformers = pytest.importorskip("transformers")
    cfg = VARIANTS[name]
    hf_cfg = transformers.SegformerConfig(
        num_labels=150,
        hidden_sizes=list(cfg.embed_dims),
        depths=list(cfg.depths),
        decoder_hidden_size=cfg.decoder_dim,
    )
    with torch.device("meta"):  # shapes only: no memory, no initialisation cost
        ours = SegFormer.from_variant(name)
        theirs = transformers.SegformerForSemanticSegmentation(hf_cfg)
    assert count_params(ours) == count_params(theirs) == PARAMS_150[name]


def test_decoder_dim_override_changes_only_the_decoder():
    def counts(dim):
        with torch.device("meta"):
            m = SegFormer.from_variant("b2", decoder_dim=dim)
        return count_params(m.encoder), count_params(m.decoder), m.config.decoder_dim

    enc_768, dec_768, d = counts(768)
    assert d == 768
    for dim in (256, 512, 1024, 2048):
        enc, dec, _ = counts(dim)
        assert enc == enc_768
        # linear_c: sum_i (C_i + 1) C; linear_fuse 4C x C (no bias); BatchNorm 2C; classifier (C + 1) x 150
        expected = sum((c + 1) * dim for c in (64, 128, 320, 512)) + 4 * dim * dim + 2 * dim + (dim + 1) * 150
        assert dec == expected
    # Table 1b: decoder C=256 makes B2 about 2.7M parameters lighter than C=768
    assert (counts(768)[1] - counts(256)[1]) / 1e6 == pytest.approx(27.5 - 24.7, abs=0.1)


# ---------------------------------------------------------------- the pieces


def test_efficient_self_attention_matches_equation():
    torch.manual_seed(1)
    dim, heads, sr, H, W = 16, 2, 2, 6, 10
    attn = EfficientSelfAttention(dim, heads, sr).eval()
    x = torch.randn(2, H * W, dim)
    with torch.no_grad():
        got = attn(x, H, W)
        # Eq. 1-2 written out: K, V from the spatially reduced sequence
        grid = x.transpose(1, 2).reshape(2, dim, H, W)
        reduced = attn.norm(F.conv2d(grid, attn.sr.weight, attn.sr.bias, stride=sr).flatten(2).transpose(1, 2))
        assert reduced.shape[1] == (H // sr) * (W // sr)
        q = attn.q(x)
        k, v = attn.kv(reduced).split(dim, dim=-1)
        d = dim // heads
        out = []
        for h in range(heads):
            s = slice(h * d, (h + 1) * d)
            a = torch.softmax(q[..., s] @ k[..., s].transpose(1, 2) / math.sqrt(d), dim=-1)
            out.append(a @ v[..., s])
        want = attn.proj(torch.cat(out, dim=-1))
    assert torch.allclose(got, want, atol=1e-5)


def test_mix_ffn_puts_the_depthwise_conv_before_gelu():
    torch.manual_seed(2)
    ffn = MixFFN(8, 32).eval()
    H, W = 5, 7
    x = torch.randn(2, H * W, 8)
    with torch.no_grad():
        h = ffn.fc1(x).transpose(1, 2).reshape(2, 32, H, W)
        h = F.conv2d(h, ffn.dwconv.weight, ffn.dwconv.bias, padding=1, groups=32)
        want = ffn.fc2(F.gelu(h.flatten(2).transpose(1, 2)))
        got = ffn(x, H, W)
    assert torch.allclose(got, want, atol=1e-6)
    assert ffn.dwconv.groups == 32 and ffn.dwconv.bias is not None


def test_concat_linear_equals_linear_of_concatenation():
    torch.manual_seed(3)
    layer = ConcatLinear(12, 5, bias=True)
    xs = [torch.randn(2, 3, 4, w) for w in (4, 2, 6)]
    want = F.linear(torch.cat(xs, dim=-1), layer.weight, layer.bias)
    assert torch.allclose(layer(xs), want, atol=1e-6)
    with pytest.raises(ValueError, match="total width 12"):
        layer(xs[:2])


def test_concat_linear_gradients_and_autocast():
    # it adds the blocks' products into its output in place: the gradients must still be the
    # concatenated Linear's, and under autocast (which skips in-place ops) it must still run in bf16
    torch.manual_seed(5)
    layer = ConcatLinear(12, 5, bias=False)
    xs = [torch.randn(2, 3, 4, w, requires_grad=True) for w in (4, 2, 6)]
    g = torch.randn(2, 3, 4, 5)
    layer(xs).backward(g)
    got = [x.grad for x in xs] + [layer.weight.grad]
    for x in xs:
        x.grad = None
    layer.weight.grad = None
    F.linear(torch.cat(xs, dim=-1), layer.weight).backward(g)
    for a, b in zip(got, [x.grad for x in xs] + [layer.weight.grad]):
        assert torch.allclose(a, b, atol=1e-6)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = layer(xs)
        want = F.linear(torch.cat(xs, dim=-1), layer.weight)
    assert out.dtype == want.dtype == torch.bfloat16
    assert torch.allclose(out.float(), want.float(), atol=0.05)


def test_decoder_concatenates_c4_first():
    # zeroing the columns that multiply stage-4 features must make the logits ignore stage 4
    torch.manual_seed(4)
    model = SegFormer.from_variant("b0", num_classes=3).eval()
    with torch.no_grad():
        model.decoder.linear_fuse.weight[:, :256] = 0
        maps = model.encoder(torch.randn(1, 3, 64, 64))
        base = model.decoder(maps)
        maps[3] = torch.randn_like(maps[3])
        assert torch.allclose(model.decoder(maps), base, atol=1e-6)
        maps[0] = torch.randn_like(maps[0])
        assert not torch.allclose(model.decoder(maps), base, atol=1e-3)


def test_layer_norm_eps_follows_the_official_code():
    m = SegFormer(SegFormerConfig())
    assert m.encoder.blocks[0][0].norm1.eps == 1e-6 and m.encoder.norms[3].eps == 1e-6
    assert m.encoder.patch_embeds[0].norm.eps == 1e-5 and m.encoder.blocks[0][0].attn.norm.eps == 1e-5
    m = SegFormer(SegFormerConfig(layer_norm_eps=1e-5))
    assert m.encoder.blocks[1][1].norm2.eps == 1e-5 and m.encoder.norms[0].eps == 1e-5


def test_initialisation_like_the_official_code():
    torch.manual_seed(5)
    m = SegFormer.from_variant("b1")
    w = m.encoder.blocks[3][0].mlp.fc1.weight  # 2048 x 512 Linear
    assert w.std().item() == pytest.approx(0.02, rel=0.05) and abs(w.mean().item()) < 1e-3
    conv = m.encoder.patch_embeds[1].proj  # 3x3, 128 out: fan-out normal
    assert conv.weight.std().item() == pytest.approx(math.sqrt(2 / (9 * 128)), rel=0.05)
    assert torch.equal(m.encoder.norms[2].weight, torch.ones(320)) and not m.encoder.norms[2].bias.any()
    assert m.decoder.classifier.weight.std().item() == pytest.approx(0.01, rel=0.1)


def test_drop_path_rates_rise_linearly_over_all_blocks():
    with torch.device("meta"):
        m = SegFormer.from_variant("b2", drop_path_rate=0.1)
    rates = [blk.drop_path.drop_prob for stage in m.encoder.blocks for blk in stage]
    assert len(rates) == 16 and rates[0] == 0.0 and rates[-1] == pytest.approx(0.1)
    assert rates == pytest.approx(drop_path_rates(0.1, 16))


# ---------------------------------------------------------------- DropPath


def test_drop_path_is_identity_in_eval_and_at_zero():
    x = torch.randn(8, 5, 3)
    assert torch.equal(DropPath(0.5).eval()(x), x)
    assert torch.equal(DropPath(0.0).train()(x), x)


def test_drop_path_drops_whole_samples_and_keeps_the_mean():
    torch.manual_seed(6)
    dp = DropPath(0.25).train()
    x = torch.ones(4000, 3, 2)
    y = dp(x)
    per_sample = y.flatten(1)
    # every sample is either dropped entirely or kept and scaled by 1 / (1 - p)
    dropped = (per_sample == 0).all(1)
    kept = (per_sample == 1 / 0.75).all(1)
    assert (dropped | kept).all()
    assert dropped.float().mean().item() == pytest.approx(0.25, abs=0.03)
    assert y.mean().item() == pytest.approx(1.0, abs=0.05)
    with pytest.raises(ValueError, match="drop_prob"):
        DropPath(1.0)


def test_training_mode_is_stochastic_and_eval_is_not():
    torch.manual_seed(7)
    m = SegFormer.from_variant("b0", num_classes=4, drop_path_rate=0.5, decoder_dropout=0.0)
    x = torch.randn(2, 3, 64, 64)
    m.decoder.bn.eval()  # keep BatchNorm out of it: only stochastic depth differs between calls
    m.encoder.train()
    with torch.no_grad():
        assert not torch.allclose(m(x), m(x))
    m.eval()
    with torch.no_grad():
        assert torch.equal(m(x), m(x))


def test_backward_reaches_every_parameter():
    m = SegFormer.from_variant("b0", num_classes=4).train()
    m(torch.randn(2, 3, 64, 64)).logsumexp(1).mean().backward()
    missing = [n for n, p in m.named_parameters() if p.grad is None]
    assert not missing


# ---------------------------------------------------------------- positional-encoding ablation (Table 1c)


def test_learned_pe_variant_replaces_the_depthwise_conv():
    torch.manual_seed(8)
    pe = SegFormer.from_variant("b0", num_classes=5, pos_encoding="learned", pe_size=(64, 64)).eval()
    mix = SegFormer.from_variant("b0", num_classes=5)
    assert all(isinstance(b.mlp, FFN) and isinstance(b.mlp, Mlp) for stage in pe.encoder.blocks for b in stage)
    assert all(isinstance(b.mlp, MixFFN) for stage in mix.encoder.blocks for b in stage)
    x = torch.randn(2, 12, 32)
    with torch.no_grad():  # one signature, (tokens, H, W); the plain FFN does not read H and W
        ffn = pe.encoder.blocks[0][0].mlp
        assert torch.equal(ffn(x, 3, 4), Mlp.forward(ffn, x))
    grids = stage_sizes(pe.config, 64, 64)
    assert [tuple(p.shape) for p in pe.encoder.pos_embeds] == [
        (1, c, h, w) for c, (h, w) in zip(pe.config.embed_dims, grids)
    ]
    dwconv_params = sum(
        b.mlp.dwconv.weight.numel() + b.mlp.dwconv.bias.numel() for stage in mix.encoder.blocks for b in stage
    )
    pe_params = sum(p.numel() for p in pe.encoder.pos_embeds)
    assert count_params(pe) == count_params(mix) - dwconv_params + pe_params


def test_no_pe_variant_has_plain_ffns_and_no_positions():
    m = SegFormer.from_variant("b0", num_classes=5, pos_encoding="none").eval()
    assert not hasattr(m.encoder, "pos_embeds") and not any(isinstance(x, MixFFN) for x in m.modules())
    for size in (64, 96):  # any input size, nothing to interpolate
        assert m(torch.randn(1, 3, size, size)).shape == (1, 5, size // 4, size // 4)


def test_learned_pe_init_std_sets_the_scale_of_the_positions():
    stds = {}
    for std in (0.02, 1.0, 4.0):
        torch.manual_seed(0)
        m = SegFormer.from_variant("b0", num_classes=5, pos_encoding="learned", pe_size=(256, 256), pe_init_std=std)
        stds[std] = float(m.encoder.pos_embeds[0].detach().std())  # 32 x 64 x 64 entries
    assert abs(stds[0.02] - 0.02) < 0.001  # the default: ViT's / PVT's draw, the +-2 cut is 100 std away
    # a normal cut at +-2 std has std 0.88 of the uncut one; a fixed +-2 cut would leave std 4 at ~1.1
    assert 0.8 < stds[1.0] < 0.92
    assert 3.2 < stds[4.0] < 3.7


def test_learned_pe_is_interpolated_at_other_resolutions():
    torch.manual_seed(9)
    m = SegFormer.from_variant("b0", num_classes=5, pos_encoding="learned", pe_size=(64, 64)).eval()
    with torch.no_grad():
        # at the training size the table is used as is
        h, w = stage_sizes(m.config, 64, 64)[0]
        assert torch.equal(m.encoder.positional_embedding(0, h, w), m.encoder.pos_embeds[0].flatten(2).transpose(1, 2))
        # at another size it is resized bilinearly
        resized = m.encoder.positional_embedding(0, 24, 20)
        assert resized.shape == (1, 24 * 20, 32)
        want = F.interpolate(m.encoder.pos_embeds[0], size=(24, 20), mode="bilinear", align_corners=False)
        assert torch.allclose(resized, want.flatten(2).transpose(1, 2))
        for hw in [(96, 80), (64, 64), (41, 77)]:
            assert m(torch.randn(1, 3, *hw)).shape == (1, 5, math.ceil(hw[0] / 4), math.ceil(hw[1] / 4))



def test_resizing_the_learned_pe_keeps_outputs_and_lets_every_entry_train():
    torch.manual_seed(10)
    m = SegFormer.from_variant("b0", num_classes=5, pos_encoding="learned", pe_size=(32, 32)).eval()
    for p in m.encoder.pos_embeds:
        torch.nn.init.normal_(p, std=0.5)
    x = torch.randn(2, 3, 96, 96)
    with torch.no_grad():
        before = m(x)  # the 32px grids are interpolated at every forward
        m.encoder.resize_positional_embeddings(96, 96)  # ... or once, up front
        after = m(x)
    assert m.config.pe_size == (96, 96)
    assert [tuple(p.shape[-2:]) for p in m.encoder.pos_embeds] == stage_sizes(m.config, 96, 96)
    assert torch.allclose(before, after, atol=1e-5)
    assert all(p.requires_grad for p in m.encoder.pos_embeds)
    # why pretraining uses the small grid: a 96px grid trained through 32px inputs gets a
    # gradient only where the 3x bilinear down-sampling samples it, one entry in nine
    m(torch.randn(1, 3, 32, 32)).sum().backward()
    touched = (m.encoder.pos_embeds[0].grad.abs().sum(dim=(0, 1)) > 0).float().mean().item()
    assert touched == pytest.approx(1 / 9)
    with pytest.raises(ValueError, match="pos_encoding='learned'"):
        SegFormer.from_variant("b0", num_classes=5).encoder.resize_positional_embeddings(64, 64)


# ---------------------------------------------------------------- errors


def test_bad_inputs_name_expected_and_got(b0):
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\).*\(3, 64, 64\)"):
        b0(torch.randn(3, 64, 64))
    with pytest.raises(ValueError, match="3 input channels.*got 1"):
        b0(torch.randn(2, 1, 64, 64))
    with pytest.raises(TypeError, match="floating.*torch.uint8"):
        b0(torch.zeros(1, 3, 64, 64, dtype=torch.uint8))
    with pytest.raises(TypeError, match="torch.Tensor"):
        b0([[0.0]])
    assert min_input_size(b0.config) == 29
    with pytest.raises(ValueError, match="too small.*at least 29x29"):
        b0(torch.randn(1, 3, 28, 64))


def test_unknown_variant_and_field_list_the_valid_ones():
    with pytest.raises(KeyError, match=r"'b6'.*\['b0', 'b1', 'b2', 'b3', 'b4', 'b5'\]"):
        SegFormer.from_variant("b6")
    with pytest.raises(TypeError, match=r"\['decoder_dimension'\].*decoder_dim"):
        SegFormer.from_variant("b0", decoder_dimension=512)
    assert variant_config("B2", num_classes=19).num_classes == 19  # case-insensitive


def test_inconsistent_config_is_rejected():
    with pytest.raises(ValueError, match="depths must have one entry per stage"):
        SegFormerConfig(depths=(2, 2, 2))
    with pytest.raises(ValueError, match="not divisible by num_heads"):
        SegFormerConfig(embed_dims=(32, 64, 160, 250))
    with pytest.raises(ValueError, match="pos_encoding"):
        SegFormerConfig(pos_encoding="sinusoidal")
    with pytest.raises(ValueError, match="pe_init_std must be positive, got 0"):
        SegFormerConfig(pos_encoding="learned", pe_init_std=0)
    with pytest.raises(ValueError, match="class_names has 2 names"):
        SegFormerConfig(num_classes=3, class_names=("a", "b"))


@pytest.mark.parametrize("pos_encoding", ["mixffn", "learned"])
def test_every_parameter_learns(pos_encoding, every_parameter_learns):
    torch.manual_seed(0)
    overrides = {} if pos_encoding == "mixffn" else {"pos_encoding": "learned", "pe_size": 64}
    model = SegFormer.from_variant("b0", num_classes=3, **overrides).train()
    images, masks = torch.randn(2, 3, 64, 64), torch.randint(0, 3, (2, 16, 16))
    every_parameter_learns(model, lambda m: F.cross_entropy(m(images), masks))


def test_cnn_encoder_has_mit_layout_and_no_positional_encoding():
    from minimodels.segformer import ConvEncoder

    mit = SegFormer.from_variant("b0", num_classes=11)
    cnn = SegFormer.from_variant("b0", num_classes=11, encoder="cnn")
    assert isinstance(cnn.encoder, ConvEncoder)
    x = torch.randn(2, 3, 64, 96)
    assert [f.shape for f in cnn.encoder(x)] == [f.shape for f in mit.encoder(x)]
    assert cnn(x).shape == mit(x).shape == (2, 11, 16, 24)
    # a CNN pixel sees a fixed window: a change in one corner leaves the far corner of stage 1 unchanged
    cnn.eval()
    y = x.clone()
    y[..., :8, :8] += 1.0
    assert torch.equal(cnn.encoder(x)[0][..., -4:, -4:], cnn.encoder(y)[0][..., -4:, -4:])
    with pytest.raises(ValueError, match="encoder must be 'mit' or 'cnn', got 'resnet'"):
        SegFormer.from_variant("b0", encoder="resnet")
    with pytest.raises(ValueError, match="encoder='cnn' has no positional encoding"):
        SegFormer.from_variant("b0", encoder="cnn", pos_encoding="learned")
