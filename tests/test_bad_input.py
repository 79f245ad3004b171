"""No silent wrong results: the models and the MAC counter refuse bad input with errors that
say what was expected and what came (the data loaders' cases live in test_video, test_data and
test_youcook2, k-means' in test_kmeans)."""

import dataclasses
import warnings

import pytest
import torch
from torch import nn

from minimodels import flops
from minimodels.flops import UncountedOperatorWarning, count_macs
from minimodels.s3d import S3D
from minimodels.segformer import EfficientSelfAttention, OverlapPatchEmbed, SegFormer
from minimodels.segformer import variant_config as segformer_config
from minimodels.vivit import ViT, ViViT
from minimodels.vivit import variant_config as vivit_config
from minimodels.vivit import vit_variant_config


@pytest.fixture(autouse=True)
def seeded():
    torch.manual_seed(0)


def tiny_segformer():
    return SegFormer(segformer_config("b0", num_classes=4, embed_dims=(8, 16, 24, 32), num_heads=(1, 2, 3, 4),
                                      depths=(1, 1, 1, 1), decoder_dim=16))


# (name in the messages, a small model, a valid input)
MODELS = {
    "SegFormer": (tiny_segformer, (2, 3, 64, 64)),
    "ViViT": (lambda: ViViT(vivit_config("Ti/4x2", num_frames=4, image_size=16, depth=1)), (2, 3, 4, 16, 16)),
    "ViT": (lambda: ViT(vit_variant_config("Ti/4", num_classes=5, image_size=16, depth=1)), (2, 3, 16, 16)),
    "S3D": (lambda: S3D.from_variant("tiny", num_classes=3), (2, 3, 4, 16, 16)),
}


@pytest.mark.parametrize("name", MODELS)
def test_half_precision_input_to_a_float32_model(name):
    make, shape = MODELS[name]
    model = make().eval()
    for dtype in (torch.float16, torch.bfloat16, torch.float64):
        with pytest.raises(TypeError, match=rf"{name} expects torch.float32 .*like its weights, got {dtype}.*autocast"):
            model(torch.rand(shape, dtype=dtype))
    # under autocast a bfloat16 input is what autocast would make of it anyway: accepted
    x = torch.rand(shape)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        low = model(x.bfloat16())
        assert torch.equal(low, model(x))
    assert low.dtype == torch.bfloat16
    assert model(x).dtype == torch.float32  # the happy path is untouched


@pytest.mark.parametrize("name", MODELS)
def test_empty_batch(name):
    make, shape = MODELS[name]
    with pytest.raises(ValueError, match=rf"{name}: empty batch \(B = 0\) in (input|images|clips) of shape \(0, "):
        make().eval()(torch.rand(0, *shape[1:]))


# ---------------------------------------------------------------- configs


@pytest.mark.parametrize("field, value, match", [
    ("sr_ratios", (8, 4, 0, 1), r"sr_ratios must be ints >= 1, got \(8, 4, 0, 1\)"),
    ("num_heads", (1, 0, 5, 8), r"num_heads must be ints >= 1, got \(1, 0, 5, 8\)"),
    ("strides", (4, 2, 0, 2), r"strides must be ints >= 1"),
    ("patch_sizes", (0, 3, 3, 3), r"patch_sizes must be ints >= 1"),
    ("depths", (2, -1, 2, 2), r"depths must be ints >= 0, got \(2, -1, 2, 2\)"),
    ("in_channels", 0, r"in_channels must be an int >= 1, got 0"),
    ("num_classes", 0, r"num_classes must be an int >= 1, got 0"),
    ("decoder_dim", -3, r"decoder_dim must be an int >= 1, got -3"),
])
def test_segformer_config_values(field, value, match):
    kwargs = {"num_classes": value} if field == "num_classes" else {field: value}
    with pytest.raises(ValueError, match=rf"SegFormerConfig: {match}"):
        segformer_config("b0", **kwargs)


def test_segformer_modules_check_their_own_arguments():
    with pytest.raises(ValueError, match=r"EfficientSelfAttention: sr_ratio must be an int >= 1, got 0"):
        EfficientSelfAttention(32, 1, 0)
    with pytest.raises(ValueError, match=r"EfficientSelfAttention: num_heads must be an int >= 1, got 0"):
        EfficientSelfAttention(32, 0, 8)
    with pytest.raises(ValueError, match=r"EfficientSelfAttention: dim 32 is not divisible by num_heads 3"):
        EfficientSelfAttention(32, 3, 8)
    with pytest.raises(ValueError, match=r"OverlapPatchEmbed: in_channels must be an int >= 1, got 0"):
        OverlapPatchEmbed(0, 32, 7, 4)
    with pytest.raises(ValueError, match=r"OverlapPatchEmbed: stride must be an int >= 1, got 0"):
        OverlapPatchEmbed(3, 32, 7, 0)


@pytest.mark.parametrize("overrides, match", [
    (dict(num_classes=-1), r"ViViT: num_classes must be an int >= 0 \(0: no head\), got -1"),
    (dict(depth=-1), r"Encoder: depth must be an int >= 0, got -1"),
    (dict(model=2, temporal_layers=-1), r"temporal_layers must be >= 0, got -1"),
    (dict(num_heads=0), r"Attention: num_heads must be an int >= 1, got 0"),
    (dict(mlp_dim=0), r"Encoder: mlp_dim must be an int >= 1, got 0"),
    (dict(tubelet=(2, 0, 4)), r"tubelet must be three positive ints \(t, h, w\), got \(2, 0, 4\)"),
])
def test_vivit_config_values(overrides, match):
    with pytest.raises(ValueError, match=match):
        ViViT(vivit_config("Ti/4x2", num_frames=4, image_size=16, **overrides))


def test_vivit_frames_and_vit_head():
    with pytest.raises(ValueError, match=r"ViViT: num_frames must be an int >= 1, got 0"):
        ViViT(dataclasses.replace(vivit_config("Ti/4x2", num_frames=4, image_size=16), num_frames=0))
    with pytest.raises(ValueError, match=r"ViT: num_classes must be an int >= 0 \(0: no head\), got -2"):
        ViT(vit_variant_config("Ti/4", num_classes=-2, image_size=16))
    bare = ViViT(vivit_config("Ti/4x2", num_classes=0, num_frames=4, image_size=16, depth=1)).eval()
    assert isinstance(bare.head, nn.Identity) and bare(torch.rand(1, 3, 4, 16, 16)).shape == (1, 192)


def test_s3d_training_batch_of_one_tiny_clip():
    model = S3D.from_variant("tiny", num_classes=3).train()
    with pytest.raises(ValueError, match=r"S3D: in training mode BatchNorm needs more than one value per channel, "
                                         r"but a batch of one clip of 1x1x1 leaves a last-stage map of 1x1x1.*eval"):
        model(torch.rand(1, 3, 1, 1, 1))
    with pytest.raises(ValueError, match=r"clip of 4x4x4 leaves a last-stage map of 1x1x1"):
        model(torch.rand(1, 3, 4, 4, 4))
    assert model(torch.rand(2, 3, 1, 1, 1)).shape == (2, 3)  # two values per channel: fine
    assert model(torch.rand(1, 3, 8, 4, 4)).shape == (1, 3)  # a 2x1x1 map: two values, fine
    assert model.eval()(torch.rand(1, 3, 1, 1, 1)).shape == (1, 3)  # eval: running statistics


# ---------------------------------------------------------------- requests that cannot fit


def huge(*shape):
    """A float32 input of ``shape`` that takes no memory (one zero, expanded)."""
    return torch.zeros(1).expand(*shape)


def test_segformer_refuses_a_batch_whose_attention_cannot_fit():
    model = SegFormer.from_variant("b0")
    # 64 x 8192 x 8192: stage 1's scores are 64 x 1 x 4.2M x 65,536 floats, 2^46 bytes (70 TB)
    with pytest.raises(MemoryError, match=r"SegFormer: 64 images of 8192x8192 give stage-1 attention scores of "
                                          r"64 x 1 heads x 4,194,304 queries x 65,536 keys in torch.float32: "
                                          r"70,368.7 GB, more than the .* GB of memory of this cpu device"):
        model(huge(64, 3, 8192, 8192))
    # counting MACs allocates nothing: no guard there (nor on the meta device)
    with torch.device("meta"):
        b0 = SegFormer.from_variant("b0")
    assert count_macs(b0, torch.empty(64, 3, 2048, 2048, device="meta")) > 0


def test_size_guards_leave_the_sizes_the_notebooks_use():
    with torch.device("meta"):  # shapes only; _check_input runs the guard on a real cpu input
        b0, b5 = SegFormer.from_variant("b0"), SegFormer.from_variant("b5")
        vivit_b = [ViViT.from_variant("B/16x2", model=m) for m in (1, 2, 3, 4)]
    for model in (b0, b5):
        for size in ((512, 512), (1024, 2048)):
            model._check_input(huge(1, 3, *size))  # B5 at 1024x2048: 1.07 GB of scores
    for model in vivit_b:
        model._check_input(huge(1, 3, 32, 224, 224))  # Model 1: 12 x 3,137^2 floats, 0.47 GB


@pytest.mark.parametrize("model_id, batch, scores", [
    (1, 1, "1 sequences x 12 heads x 1,404,929 x 1,404,929 tokens"),  # 112^3 tokens and the CLS
    (2, 64, "7,168 sequences x 12 heads x 12,545 x 12,545 tokens"),  # spatial: 64 x 112 frames of 112^2 (+ CLS)
    (3, 64, "7,168 sequences x 12 heads x 12,544 x 12,544 tokens"),
    (4, 64, "7,168 sequences x 6 heads x 12,544 x 12,544 tokens"),  # half of the heads are spatial
])
def test_vivit_refuses_a_video_whose_attention_cannot_fit(model_id, batch, scores):
    with torch.device("meta"):
        model = ViViT.from_variant("B/16x2", model=model_id)
    with pytest.raises(MemoryError, match=rf"ViViT: {batch} videos of 224x1792x1792 give attention scores of "
                                          rf"{scores} in torch.float32: [\d,.]+ GB, more than"):
        model._check_input(huge(batch, 3, 224, 1792, 1792))  # tens of TB


# ---------------------------------------------------------------- count_macs


class Spectral(nn.Module):
    """A linear layer, then two operators count_macs has no rule for: cdist and an FFT."""

    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(8, 8)

    def forward(self, x):
        y = self.proj(x)
        return torch.cdist(y, y).sum() + torch.fft.rfft(y).abs().sum()


def test_uncounted_operators_are_named():
    with pytest.warns(UncountedOperatorWarning, match=r"Spectral.forward ran operators whose multiply-adds are not "
                                                      r"counted .*aten._cdist_forward \(1 call\), aten._fft_r2c"):
        macs = count_macs(Spectral(), torch.randn(4, 8))
    assert macs == 4 * 8 * 8  # the Linear alone, as before


def test_the_papers_models_count_without_a_warning():
    with torch.device("meta"):
        models = [(SegFormer.from_variant("b0"), (1, 3, 512, 512))]
        models += [(ViViT.from_variant("B/16x2", model=m), (1, 3, 32, 224, 224)) for m in (1, 2, 3, 4)]
    models.append((S3D.from_variant("tiny", num_classes=9), (2, 3, 8, 32, 32)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for model, shape in models:
            assert count_macs(model, torch.empty(shape, device="meta")) > 0


def test_count_macs_on_a_wrong_input_says_what_the_module_expected():
    with pytest.raises(ValueError, match=r"count_macs: Linear.forward failed on inputs \[\(2, 5\)\]: module "
                                         r"\(the model itself\) = Linear\(in_features=8, out_features=4, bias=True\) "
                                         r"received \[\(2, 5\)\] and aten.addmm raised RuntimeError"):
        count_macs(nn.Linear(8, 4), torch.empty(2, 5))
    net = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 14 * 14, 10))
    with pytest.raises(ValueError, match=r"module 0 = Conv2d\(3, 8, kernel_size=\(3, 3\).*received "
                                         r"\[\(1, 4, 16, 16\)\]"):
        count_macs(net, torch.empty(1, 4, 16, 16))
    with pytest.raises(ValueError, match=r"module 3 = Linear\(in_features=1568.*received \[\(1, 2888\)\]"):
        count_macs(net, torch.empty(1, 3, 21, 21))
    # a model's own input check already says what it expects: it passes through unchanged
    with pytest.raises(ValueError, match=r"SegFormer expects 3 input channels"):
        count_macs(tiny_segformer(), torch.empty(1, 4, 64, 64))


def test_check_fits_and_device_memory():
    ram = flops.device_memory("cpu")
    assert ram is None or ram > 2**28
    flops.check_fits(1, "cpu", lambda: "never called")
    flops.check_fits(2**80, "meta", lambda: "never called")
    if ram is not None:
        with pytest.raises(MemoryError, match=r"a test tensor: [\d,.]+ GB, more than the [\d,.]+ GB .*; try less"):
            flops.check_fits(2**80, "cpu", lambda: "a test tensor", "try less")


def test_attention_pattern_sizes():
    from minimodels.vivit import attention_pattern

    with pytest.raises(ValueError, match=r"n_t, n_h, n_w must be ints >= 1, got \(0, 4, 4\)"):
        attention_pattern(1, 0, 4, 4)
    with pytest.raises(MemoryError, match=r"attention_pattern: two 1,000,000,000 x 1,000,000,000 bool matrices"):
        attention_pattern(1, 1000, 1000, 1000)
    assert attention_pattern(3, 2, 2, 2)["temporal"].shape == (8, 8)
