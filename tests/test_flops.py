"""minimodels.flops: exact MAC counts on toy modules, and the SegFormer paper's FLOP tables."""

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from minimodels.flops import BREAKDOWN_HEADERS, breakdown_rows, count_macs, macs_by_module, macs_by_op
from minimodels.report import format_table

aten = torch.ops.aten
EXTRA = " (mmcv extra)"


class Call(nn.Module):
    """A module whose forward is the given function (to count bare tensor code)."""

    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, *args):
        return self.fn(*args)


def meta(*shape):
    return torch.empty(*shape, device="meta")


# --------------------------------------------------------------------------------------
# Linear layers and matrix products
# --------------------------------------------------------------------------------------


def test_linear_counts_in_times_out_per_token_and_not_the_bias():
    x = torch.randn(2, 5, 8)
    assert count_macs(nn.Linear(8, 4), x) == 2 * 5 * 8 * 4
    assert count_macs(nn.Linear(8, 4, bias=False), x) == 2 * 5 * 8 * 4
    # a non-contiguous input lowers to mm + add instead of addmm: same count
    assert count_macs(nn.Linear(8, 4), x.transpose(0, 1)) == 2 * 5 * 8 * 4
    assert count_macs(nn.Linear(8, 4), torch.randn(8)) == 8 * 4


def test_matmul_bmm_einsum_and_friends():
    a, b = torch.randn(2, 3, 4, 5), torch.randn(5, 6)
    assert count_macs(Call(lambda a, b: a @ b), a, b) == 2 * 3 * 4 * 5 * 6
    assert count_macs(Call(torch.bmm), torch.randn(7, 3, 4), torch.randn(7, 4, 9)) == 7 * 3 * 4 * 9
    assert count_macs(Call(torch.mm), torch.randn(3, 4), torch.randn(4, 9)) == 3 * 4 * 9
    assert count_macs(Call(torch.matmul), torch.randn(4), torch.randn(4)) == 4  # dot
    assert count_macs(Call(torch.matmul), torch.randn(3, 4), torch.randn(4)) == 3 * 4  # mv
    # q k^T as an einsum over (batch, heads, tokens, dim)
    q, k = torch.randn(2, 3, 7, 16), torch.randn(2, 3, 5, 16)
    assert count_macs(Call(lambda q, k: torch.einsum("bhnd,bhmd->bhnm", q, k)), q, k) == 2 * 3 * 7 * 5 * 16
    bias = torch.randn(7, 3, 9)
    baddbmm = Call(lambda s, x, y: torch.baddbmm(s, x, y))
    assert count_macs(baddbmm, bias, torch.randn(7, 3, 4), torch.randn(7, 4, 9)) == 7 * 3 * 4 * 9
    # in-place accumulating products count the same as their out-of-place forms
    inplace = Call(lambda s, x, y: s.clone().baddbmm_(x, y).sum(0).addmm_(x[0], y[0]))
    assert count_macs(inplace, bias, torch.randn(7, 3, 4), torch.randn(7, 4, 9)) == 8 * 3 * 4 * 9
    # element-wise work is not counted
    assert count_macs(Call(lambda a: (a * 2 + 1).softmax(-1).relu()), a) == 0


# --------------------------------------------------------------------------------------
# Convolutions
# --------------------------------------------------------------------------------------


def test_conv2d_with_stride_padding_groups_and_dilation():
    # 6 -> 12 channels in 3 groups (2 input channels per output), kernel 3x5, stride 2.
    conv = nn.Conv2d(6, 12, kernel_size=(3, 5), stride=2, padding=(1, 2), groups=3)
    # out H = (11 + 2 - 3) // 2 + 1 = 6, out W = (13 + 4 - 5) // 2 + 1 = 7
    assert count_macs(conv, torch.randn(2, 6, 11, 13)) == 2 * 12 * 6 * 7 * (2 * 3 * 5)
    # dilation 2 widens the 3x3 kernel to 5x5: out = 10 - 4 = 6 per side; MACs per output stay 4*9
    dilated = nn.Conv2d(4, 8, 3, dilation=2, bias=False)
    assert count_macs(dilated, torch.randn(1, 4, 10, 10)) == 8 * 6 * 6 * 4 * 9


def test_depthwise_and_other_dims_and_transposed():
    depthwise = nn.Conv2d(16, 16, 3, padding=1, groups=16)  # Mix-FFN's 3x3 depth-wise conv
    assert count_macs(depthwise, torch.randn(1, 16, 8, 8)) == 16 * 8 * 8 * 9
    assert count_macs(nn.Conv1d(4, 6, 3), torch.randn(2, 4, 10)) == 2 * 6 * 8 * 4 * 3
    # a tubelet embedding: kernel = stride = (2, 4, 4) over (T, H, W) = (8, 16, 16)
    tubelet = nn.Conv3d(3, 32, kernel_size=(2, 4, 4), stride=(2, 4, 4))
    assert count_macs(tubelet, torch.randn(1, 3, 8, 16, 16)) == 32 * (4 * 4 * 4) * (3 * 2 * 4 * 4)
    # transposed: every input element feeds C_out/groups x kernel outputs
    deconv = nn.ConvTranspose2d(8, 4, 2, stride=2, groups=2)
    assert count_macs(deconv, torch.randn(1, 8, 5, 5)) == 8 * 5 * 5 * (4 // 2) * 2 * 2
    # unbatched input
    assert count_macs(nn.Conv2d(3, 5, 1), torch.randn(3, 4, 4)) == 5 * 16 * 3


# --------------------------------------------------------------------------------------
# Attention
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "b, h, nq, nk, d_qk, d_v",
    [(2, 3, 7, 5, 16, 16), (2, 3, 7, 5, 16, 32), (1, 1, 64, 1, 8, 8), (3, 8, 10, 40, 4, 12), (1, 2, 9, 9, 8, 8)],
)
def test_sdpa_counts_qk_and_av(b, h, nq, nk, d_qk, d_v):
    sdpa = Call(F.scaled_dot_product_attention)
    q, k, v = torch.randn(b, h, nq, d_qk), torch.randn(b, h, nk, d_qk), torch.randn(b, h, nk, d_v)
    expected = b * h * nq * nk * (d_qk + d_v)
    assert count_macs(sdpa, q, k, v) == expected
    # same count on meta inputs, and with a causal mask (the dense product is counted)
    assert count_macs(sdpa, q.to("meta"), k.to("meta"), v.to("meta")) == expected
    causal = Call(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True))
    assert count_macs(causal, q, k, v) == expected


def test_cpu_flash_kernel_is_counted_once_and_equals_naive_attention():
    # Equal head dims on CPU pick the fused flash kernel: torch's FlopCounterMode counts 0 for it.
    q, k, v = torch.randn(2, 4, 9, 8), torch.randn(2, 4, 6, 8), torch.randn(2, 4, 6, 8)
    by_op = macs_by_op(Call(F.scaled_dot_product_attention), q, k, v)
    assert by_op == {"aten._scaled_dot_product_flash_attention_for_cpu": 2 * 4 * 9 * 6 * (8 + 8)}
    naive = Call(lambda q, k, v: ((q @ k.transpose(-2, -1)) * 8**-0.5).softmax(-1) @ v)
    assert count_macs(naive, q, k, v) == sum(by_op.values())
    # head dims that differ fall back to the math kernel: two bmm, not counted again
    v2 = torch.randn(2, 4, 6, 24)
    assert macs_by_op(Call(F.scaled_dot_product_attention), q, k, v2) == {"aten.bmm": 2 * 4 * 9 * 6 * (8 + 24)}


def test_grouped_query_and_broadcast_attention():
    q, kv = torch.randn(2, 6, 7, 16), torch.randn(2, 3, 5, 16)
    gqa = Call(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, enable_gqa=True))
    assert count_macs(gqa, q, kv, kv) == 2 * 6 * 7 * 5 * 32  # every query head attends
    shared = torch.randn(1, 6, 5, 16)  # keys broadcast over the batch
    assert count_macs(Call(F.scaled_dot_product_attention), q, shared, shared) == 2 * 6 * 7 * 5 * 32


B, H, NQ, NK, E, EV = 2, 3, 7, 5, 16, 32


@pytest.mark.parametrize(
    "op, q, k, v, extra_args, d_v",
    [
        ("_scaled_dot_product_flash_attention_for_cpu", (B, H, NQ, E), (B, H, NK, E), (B, H, NK, E), (), E),
        ("_scaled_dot_product_flash_attention", (B, H, NQ, E), (B, H, NK, E), (B, H, NK, E), (), E),
        ("_scaled_dot_product_efficient_attention", (B, H, NQ, E), (B, H, NK, E), (B, H, NK, EV), (None, False), EV),
        ("_scaled_dot_product_cudnn_attention", (B, H, NQ, E), (B, H, NK, E), (B, H, NK, EV), (None, False), EV),
        ("_scaled_dot_product_fused_attention_overrideable", (B, H, NQ, E), (B, H, NK, E), (B, H, NK, EV), (), EV),
        ("_scaled_dot_product_attention_math_for_mps", (B, H, NQ, E), (B, H, NK, E), (B, H, NK, EV), (), EV),
        # the CUDA kernels under SDPA, in their (batch, tokens, heads, dim) layout
        ("_flash_attention_forward", (B, NQ, H, E), (B, NK, H, E), (B, NK, H, E),
         (None, None, NQ, NK, 0.0, False, False), E),
        ("_efficient_attention_forward", (B, NQ, H, E), (B, NK, H, E), (B, NK, H, EV),
         (None, None, None, NQ, NK, 0.0, 0), EV),
    ],
)
def test_every_sdpa_kernel_variant(op, q, k, v, extra_args, d_v):
    """Each fused attention operator (CPU, CUDA flash / efficient / cuDNN, other backends) is
    counted by shape, once, even though this machine can only run them on fake tensors."""
    if not hasattr(aten, op):
        pytest.skip(f"this torch has no aten.{op}")
    fn = getattr(aten, op)
    by_op = macs_by_op(Call(lambda q, k, v: fn(q, k, v, *extra_args)), meta(*q), meta(*k), meta(*v))
    assert by_op == {f"aten.{op}": B * H * NQ * NK * (E + d_v)}


def test_variable_length_attention_is_refused():
    q, k = meta(10, H, E), meta(10, H, E)
    cu = torch.tensor([0, 4, 10], dtype=torch.int32)
    varlen = Call(lambda q, k, v: aten._flash_attention_forward(q, k, v, cu, cu, 6, 6, 0.0, False, False))
    with pytest.raises(NotImplementedError, match="variable-length"):
        count_macs(varlen, q, k, k)


def test_multihead_attention_fast_path_is_not_a_blind_spot():
    """nn.MultiheadAttention in eval mode would run one fused kernel; the counter sees its parts."""
    mha = nn.MultiheadAttention(16, 2, batch_first=True).eval()
    x = torch.randn(2, 7, 16)
    expected = 2 * 7 * 16 * (3 * 16) + 2 * 2 * 7 * 7 * (8 + 8) + 2 * 7 * 16 * 16  # qkv, attention, out
    assert count_macs(mha, x, x, x) == expected
    assert count_macs(mha, x, x, x, need_weights=False) == expected
    assert torch.backends.mha.get_fastpath_enabled()  # switched back on
    layer = nn.TransformerEncoderLayer(16, 2, 64, batch_first=True)
    assert count_macs(layer, x) == expected + 2 * 7 * 16 * 64 * 2


# --------------------------------------------------------------------------------------
# Breakdown by module, model safety, errors
# --------------------------------------------------------------------------------------


class Toy(nn.Module):
    """stem conv -> 2 blocks (linear + attention through SDPA) -> head, plus a matmul of its own."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 4, stride=4)
        self.blocks = nn.ModuleList(nn.ModuleDict({"qkv": nn.Linear(8, 24), "out": nn.Linear(8, 8)}) for _ in range(2))
        self.norm = nn.BatchNorm1d(8)
        self.head = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 5))

    def forward(self, x):
        x = self.stem(x).flatten(2).transpose(1, 2)  # (B, 16, 8)
        for block in self.blocks:
            q, k, v = block["qkv"](x).unsqueeze(1).chunk(3, dim=-1)
            x = x + block["out"](F.scaled_dot_product_attention(q, k, v).squeeze(1))
        x = self.norm(x.transpose(1, 2)).transpose(1, 2)
        gram = x @ x.transpose(1, 2)  # done by the model itself, outside any submodule
        return self.head(x), gram


TOY = {
    "stem": 16 * 8 * 3 * 16,
    "blocks.0.qkv": 16 * 8 * 24, "blocks.0": 16 * 16 * (8 + 8), "blocks.0.out": 16 * 8 * 8,
    "blocks.1.qkv": 16 * 8 * 24, "blocks.1": 16 * 16 * (8 + 8), "blocks.1.out": 16 * 8 * 8,
    "": 16 * 8 * 16,
    "head.0": 16 * 8 * 16, "head.2": 16 * 16 * 5,
}  # batch 1, 16x16 image: 16 tokens of width 8; "blocks.i" is SDPA, called by the model itself


def test_macs_by_module_is_inclusive_in_forward_order_and_sums_to_total():
    model, x = Toy(), torch.randn(1, 3, 16, 16)
    total = count_macs(model, x)
    assert total == sum(TOY.values())
    # SDPA runs in the model's own forward: no submodule is running, so it lands on "".
    full = macs_by_module(model, x, depth=None)
    assert full == {
        "stem": TOY["stem"], "blocks.0.qkv": TOY["blocks.0.qkv"], "": TOY["blocks.0"] + TOY["blocks.1"] + TOY[""],
        "blocks.0.out": TOY["blocks.0.out"], "blocks.1.qkv": TOY["blocks.1.qkv"], "blocks.1.out": TOY["blocks.1.out"],
        "head.0": TOY["head.0"], "head.2": TOY["head.2"],
    }
    assert list(full) == ["stem", "blocks.0.qkv", "", "blocks.0.out", "blocks.1.qkv", "blocks.1.out", "head.0", "head.2"]
    two = macs_by_module(model, x)  # depth=2
    assert two["blocks.0"] == TOY["blocks.0.qkv"] + TOY["blocks.0.out"]
    assert two["head.0"] == TOY["head.0"]
    one = macs_by_module(model, x, depth=1)
    assert one["blocks"] == 2 * (TOY["blocks.0.qkv"] + TOY["blocks.0.out"])
    assert one["head"] == TOY["head.0"] + TOY["head.2"]
    for breakdown in (full, two, one):
        assert sum(breakdown.values()) == total
    # rows for report.format_table: one per entry plus the total
    rows = breakdown_rows(one, unit=1)
    assert rows[-1] == ("total", total, "100.0%")
    assert [r[0] for r in rows[:-1]] == ["stem", "blocks", "(model itself)", "head"]
    assert "100.0%" in format_table(rows, BREAKDOWN_HEADERS)


def test_a_submodule_that_raises_inside_a_try_does_not_shift_the_breakdown():
    class Fails(nn.Module):
        def forward(self, x):
            raise KeyError("no")

    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.optional, self.lin = Fails(), nn.Linear(4, 3)

        def forward(self, x):
            try:
                self.optional(x)
            except KeyError:
                pass
            return self.lin(x)

    assert macs_by_module(Model(), torch.randn(2, 4)) == {"lin": 2 * 4 * 3}


def test_counting_leaves_the_model_untouched():
    model = Toy()
    model.train()
    model.head.eval()  # a mixed state must come back as it was
    before = {k: v.clone() for k, v in model.state_dict().items()}
    params = [(id(p), p.requires_grad, p.device) for p in model.parameters()]
    hooks = len(nn.modules.module._global_forward_hooks), len(nn.modules.module._global_forward_pre_hooks)
    count_macs(model, torch.randn(4, 3, 16, 16))  # BatchNorm would update its statistics in train mode
    macs_by_module(model, torch.randn(4, 3, 16, 16))
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert [(id(p), p.requires_grad, p.device) for p in model.parameters()] == params
    assert model.training and model.stem.training and not model.head.training and not model.head[0].training
    assert (len(nn.modules.module._global_forward_hooks), len(nn.modules.module._global_forward_pre_hooks)) == hooks
    assert not any(m._forward_hooks or m._forward_pre_hooks for m in model.modules())
    # counting on fake tensors gives the same answer in train and eval mode
    assert count_macs(model, torch.randn(1, 3, 16, 16)) == count_macs(model.eval(), torch.randn(1, 3, 16, 16))


def test_bad_arguments_get_clear_errors():
    with pytest.raises(TypeError, match="nn.Module"):
        count_macs(lambda x: x, torch.randn(2))
    with pytest.raises(ValueError, match="inputs"):
        count_macs(nn.Linear(2, 2))
    with pytest.raises(ValueError, match="convention"):
        count_macs(nn.Linear(2, 2), torch.randn(2), convention="flops")
    with pytest.raises(ValueError, match="depth"):
        macs_by_module(nn.Linear(2, 2), torch.randn(2), depth=0)
    with pytest.raises(ValueError, match="non-empty"):
        breakdown_rows({})
    with pytest.raises(RuntimeError, match="fake tensors"):  # a forward that needs values
        count_macs(Call(lambda x: x[x > 0].sum()), torch.randn(4))


def test_mmcv_convention_adds_conv_bias_and_relu_elements():
    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 4, 1, bias=False), nn.GELU())
    x = torch.randn(1, 3, 5, 5)
    macs = 25 * 4 * 27 + 25 * 4 * 4
    assert count_macs(model, x) == macs
    by_op = macs_by_op(model, x, convention="mmcv-segformer")
    assert by_op["aten.convolution (mmcv extra)"] == 25 * 4  # the first conv's bias only
    assert by_op["aten.relu (mmcv extra)"] == 25 * 4  # GELU is not counted
    assert count_macs(model, x, convention="mmcv-segformer") == macs + 2 * 25 * 4


# --------------------------------------------------------------------------------------
# SegFormer: the paper's Table 1a and 1b
# --------------------------------------------------------------------------------------

segformer = pytest.importorskip("minimodels.segformer")

# The paper's literal figures (GFLOPs, i.e. GMACs): Table 1a ADE20K column (512x512, B5 at
# 640x640), Table 1a Cityscapes column (1024x2048, counted with the 150-class head),
# Table 1a COCO-Stuff column for B5 (512x512), Table 1b decoder width C (B2, 512x512).
PAPER = [
    ("1a ADE20K B0", "b0", {}, (512, 512), 8.4),
    ("1a ADE20K B1", "b1", {}, (512, 512), 15.9),
    ("1a ADE20K B2", "b2", {}, (512, 512), 62.4),
    ("1a ADE20K B3", "b3", {}, (512, 512), 79.0),
    ("1a ADE20K B4", "b4", {}, (512, 512), 95.7),
    ("1a ADE20K B5", "b5", {}, (640, 640), 183.3),
    ("1a Cityscapes B0", "b0", {}, (1024, 2048), 125.5),
    ("1a Cityscapes B1", "b1", {}, (1024, 2048), 243.7),
    ("1a Cityscapes B2", "b2", {}, (1024, 2048), 717.1),
    ("1a Cityscapes B3", "b3", {}, (1024, 2048), 962.9),
    ("1a Cityscapes B4", "b4", {}, (1024, 2048), 1240.6),
    ("1a Cityscapes B5", "b5", {}, (1024, 2048), 1460.4),
    ("1a COCO-Stuff B5", "b5", {}, (512, 512), 111.6),
    ("1b C=256", "b2", {"decoder_dim": 256}, (512, 512), 25.7),
    ("1b C=512", "b2", {"decoder_dim": 512}, (512, 512), 39.8),
    ("1b C=768", "b2", {"decoder_dim": 768}, (512, 512), 62.4),
    ("1b C=1024", "b2", {"decoder_dim": 1024}, (512, 512), 93.6),
    ("1b C=2048", "b2", {"decoder_dim": 2048}, (512, 512), 304.4),
]


def meta_segformer(variant, **overrides):
    with torch.device("meta"):  # structure only: no memory, no initialisation time
        return segformer.SegFormer.from_variant(variant, **overrides)


def classifier_bias_elements(model, size) -> int:
    """The official head's classifier is a 1x1 Conv2d, so mmcv counted its bias (one per
    output element). Written as an nn.Linear, that bias is not among the conv-bias extras."""
    classifier = model.decoder.classifier
    if isinstance(classifier, nn.Conv2d) or classifier.bias is None:
        return 0
    return math.ceil(size[0] / 4) * math.ceil(size[1] / 4) * classifier.out_features


@pytest.mark.parametrize("name, variant, overrides, size, paper", PAPER, ids=[p[0] for p in PAPER])
def test_segformer_reproduces_the_paper(name, variant, overrides, size, paper):
    model = meta_segformer(variant, **overrides)
    by_op = macs_by_op(model, meta(1, 3, *size), convention="mmcv-segformer")
    macs = sum(v for k, v in by_op.items() if not k.endswith(EXTRA)) / 1e9
    # conv + linear + attention matmuls, the convention of every table in this project
    assert abs(macs / paper - 1) < 0.005, f"{name}: {macs:.3f} GMACs vs the paper's {paper}"
    # plus conv bias and ReLU elements, as mmcv 1.2.7 counted them: the printed digit itself
    mmcv = (sum(by_op.values()) + classifier_bias_elements(model, size)) / 1e9
    assert round(mmcv, 1) == paper, f"{name}: {mmcv:.3f} GMACs (mmcv-segformer) vs the paper's {paper}"


def test_segformer_cityscapes_with_its_19_classes_matches_table_2():
    """With the 19-class head B5 comes out a little below Table 1a's 1460.4: Table 2's 1447.6."""
    b5 = meta_segformer("b5", num_classes=19)
    macs = count_macs(b5, meta(1, 3, 1024, 2048)) / 1e9
    assert abs(macs / 1447.6 - 1) < 0.005
    assert macs < 1460.4 - 10  # the 150-class classifier costs ~13 GMACs more at 256x512


def test_segformer_count_is_kernel_independent_and_leaves_weights_alone():
    model = segformer.SegFormer.from_variant("b0")
    before = {k: v.clone() for k, v in model.state_dict().items()}
    x = meta(1, 3, 512, 512)
    cpu = macs_by_op(model, x)  # real CPU weights: attention runs as the CPU flash kernel
    on_meta = macs_by_op(meta_segformer("b0"), x)  # meta weights: the math kernel (bmm)
    assert "aten._scaled_dot_product_flash_attention_for_cpu" in cpu and "aten.bmm" in on_meta
    assert sum(cpu.values()) == sum(on_meta.values()) == count_macs(model, x)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    # attention matmuls alone: 2 * N * N/sr^2 * C per block, summed over B0's stages at 512x512
    attention = sum(2 * d * (n * n // sr**2) * n_dim for d, n, sr, n_dim in
                    zip((2, 2, 2, 2), (128 * 128, 64 * 64, 32 * 32, 16 * 16), (8, 4, 2, 1), (32, 64, 160, 256)))
    assert cpu["aten._scaled_dot_product_flash_attention_for_cpu"] == attention
    by_module = macs_by_module(model, x, depth=1)
    assert list(by_module) == ["encoder", "decoder"] and sum(by_module.values()) == sum(cpu.values())
    # nested inputs: the decoder alone takes the list of the four stage maps
    maps = [meta(1, c, 512 // s, 512 // s) for c, s in zip((32, 64, 160, 256), (4, 8, 16, 32))]
    assert count_macs(model.decoder, maps) == by_module["decoder"]


def test_a_model_on_the_meta_device_counts_what_the_same_model_on_cpu_counts():
    from minimodels.segformer import SegFormer
    from minimodels.vivit import ViViT, variant_config

    torch.manual_seed(0)
    vivit = variant_config("Ti/8x2", model=3, num_frames=8, image_size=32)
    for build, shape in ((lambda: SegFormer.from_variant("b0", num_classes=19), (1, 3, 64, 96)),
                         (lambda: ViViT(vivit), (1, 3, 8, 32, 32))):
        real = build()
        with torch.device("meta"):
            meta = build()
        for convention in ("macs", "mmcv-segformer"):
            on_cpu = count_macs(real, torch.empty(*shape), convention=convention)
            assert count_macs(meta, torch.empty(*shape, device="meta"), convention=convention) == on_cpu > 0
