"""DigitWorld scenes, segmentation transforms, the ADE20K loader and the sample files."""

import importlib.util
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from minimodels.data import ade20k, digitworld, transforms
from minimodels.data.ade20k import ADE20K_CLASSES, ADE20KSegmentation
from minimodels.data.digitworld import SEG_CLASSES, DigitScenes, digit_pool, load_digit_images, make_scenes
from minimodels.data.transforms import IGNORE_INDEX, SegTestTransform, SegTrainTransform

REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO / "data_samples"
ADE_ROOT = SAMPLES / "ade20k"


# ----------------------------------------------------------------------------------
# DigitWorld: digit pools
# ----------------------------------------------------------------------------------


def test_seg_classes():
    assert SEG_CLASSES == ["background"] + [str(d) for d in range(10)]
    assert digitworld.NUM_SEG_CLASSES == 11


def test_digit_pools_are_disjoint_stratified_and_fixed():
    glyphs, labels = load_digit_images()
    assert glyphs.shape == (1797, 8, 8) and labels.shape == (1797,)
    assert glyphs.min() >= 0 and glyphs.max() <= 1
    train, test = digit_pool("train"), digit_pool("test")
    assert set(train.ids.tolist()).isdisjoint(test.ids.tolist())
    assert sorted(train.ids.tolist() + test.ids.tolist()) == list(range(1797))
    for c in range(10):  # every class held out at TEST_FRACTION
        n_c = int((labels == c).sum())
        assert abs(int((test.labels == c).sum()) - n_c * digitworld.TEST_FRACTION) <= 1
    assert torch.equal(train.glyphs, glyphs[train.ids]) and torch.equal(test.labels, labels[test.ids])
    digit_pool.cache_clear()  # recomputed from scratch: the same split
    assert torch.equal(digit_pool("test").ids, test.ids)


def test_scenes_use_only_their_split_pool():
    for split in ("train", "test"):
        _, masks, info = make_scenes(40, 48, seed=1, split=split, return_info=True)
        used = info["digit_ids"][info["digit_ids"] >= 0]
        assert len(used) >= 80  # 2..5 digits per scene
        assert set(used.tolist()) <= set(digit_pool(split).ids.tolist())
        _, labels = load_digit_images()
        assert torch.equal(labels[used], info["digit_classes"][info["digit_ids"] >= 0])
        for i in range(len(masks)):  # every class in a mask is one of the scene's digits
            present = set(masks[i].unique().tolist()) - {0}
            assert present <= {c + 1 for c in info["digit_classes"][i].tolist() if c >= 0}


# ----------------------------------------------------------------------------------
# DigitWorld: scenes
# ----------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [(37, 53), 65, (128, 96), (1, 7)])
def test_scene_shapes_dtypes_ranges(size):
    H, W = (size, size) if isinstance(size, int) else size
    images, masks = make_scenes(6, size, seed=4)
    assert images.shape == (6, 3, H, W) and images.dtype == torch.float32
    assert masks.shape == (6, H, W) and masks.dtype == torch.int64
    assert torch.isfinite(images).all()
    assert images.min() >= 0 and images.max() <= 1
    assert masks.min() >= 0 and masks.max() <= 10


def test_scenes_are_deterministic_and_index_stable():
    a_img, a_mask = make_scenes(10, (33, 41), seed=7)
    b_img, b_mask = make_scenes(5, (33, 41), seed=7)
    assert torch.equal(a_img[:5], b_img) and torch.equal(a_mask[:5], b_mask)
    c_img, c_mask = make_scenes(3, (33, 41), seed=7, start=6)  # any window of indices
    assert torch.equal(a_img[6:9], c_img) and torch.equal(a_mask[6:9], c_mask)
    d_img, _ = make_scenes(10, (33, 41), seed=7)
    assert torch.equal(a_img, d_img)
    # seed and split change the scenes
    assert not torch.equal(make_scenes(5, (33, 41), seed=8)[0], b_img)
    assert not torch.equal(make_scenes(5, (33, 41), seed=7, split="test")[0], b_img)


def test_chunking_does_not_change_scenes():
    # 200 scenes of 64x64 span two internal chunks; the second chunk must equal a fresh start
    images, masks = make_scenes(200, 64, seed=2)
    tail_img, tail_mask = make_scenes(8, 64, seed=2, start=192)
    assert torch.equal(images[192:], tail_img) and torch.equal(masks[192:], tail_mask)


def test_every_class_appears_in_a_batch():
    for split in ("train", "test"):
        _, masks = make_scenes(32, 64, seed=0, split=split)
        counts = torch.bincount(masks.flatten(), minlength=11)
        assert (counts > 0).all(), counts.tolist()
        assert 0.05 < 1 - counts[0] / counts.sum() < 0.5  # digits cover a fair share, not everything


def test_digit_count_and_size_follow_the_arguments():
    _, _, info = make_scenes(60, 64, seed=3, return_info=True)
    per_scene = (info["digit_ids"] >= 0).sum(1)
    assert per_scene.min() >= 2 and per_scene.max() <= 5 and len(per_scene.unique()) == 4
    _, _, info = make_scenes(20, 64, seed=3, digits=(1, 1), return_info=True)
    assert ((info["digit_ids"] >= 0).sum(1) == 1).all()
    _, masks = make_scenes(20, 64, seed=3, digits=(0, 0))
    assert (masks == 0).all()


def test_digit_scale_is_relative_to_the_canvas():
    _, small = make_scenes(24, 64, seed=5)
    _, large = make_scenes(24, 256, seed=5)
    f_small = (small > 0).float().mean().item()
    f_large = (large > 0).float().mean().item()
    assert abs(f_small - f_large) < 0.2 * f_large, (f_small, f_large)
    # the same scene at two resolutions: the big mask downsampled matches the small one
    down = large.view(24, 64, 4, 64, 4)[:, :, 1, :, 1]
    assert (down == small).float().mean() > 0.93


def test_masks_are_consistent_with_images():
    images, masks = make_scenes(24, 96, seed=11)
    canvas, empty = make_scenes(24, 96, seed=11, digits=(0, 0))  # same scenes without digits
    assert (empty == 0).all()
    luma = torch.tensor(digitworld.LUMA).view(1, 3, 1, 1)
    diff = ((images - canvas) * luma).sum(1).abs()
    fg = masks > 0
    # digits change the pixels they cover: by a large luma step on average, nearly everywhere
    assert diff[fg].mean() > 0.2, diff[fg].mean()
    assert (diff[fg] > 0.05).float().mean() > 0.9
    # ... and (almost) nothing away from them: the canvas, distractors and noise are the same;
    # only faint glyph strokes (ink below the 0.5 mask threshold) may show a little
    near = F.max_pool2d(fg[:, None].float(), 5, stride=1, padding=2)[:, 0] > 0
    assert (diff[~near] > 0.1).float().mean() < 1e-3
    assert (diff[~near] == 0).float().mean() > 0.99


def test_colour_does_not_reveal_the_class():
    """A nearest-mean classifier on a digit's mean colour stays near chance (10%)."""
    images, masks = make_scenes(240, 64, seed=9)
    feats, classes = [], []
    for img, mask in zip(images, masks):
        for c in mask.unique().tolist():
            if c > 0:
                feats.append(img[:, mask == c].mean(1))
                classes.append(c - 1)
    feats, classes = torch.stack(feats), torch.tensor(classes)
    half = len(feats) // 2
    means = torch.stack([feats[:half][classes[:half] == c].mean(0) for c in range(10)])
    pred = torch.cdist(feats[half:], means).argmin(1)
    acc = (pred == classes[half:]).float().mean().item()
    assert len(feats) > 600
    assert acc < 0.2, acc


def test_scene_argument_errors():
    with pytest.raises(ValueError, match="size must be positive"):
        make_scenes(2, 0)
    with pytest.raises(ValueError, match="size must be positive"):
        make_scenes(2, (32, -1))
    with pytest.raises(TypeError, match="size must be an int"):
        make_scenes(2, (32, 32, 3))
    with pytest.raises(TypeError, match="size must be an int"):
        make_scenes(2, 32.0)
    with pytest.raises(ValueError, match="split must be one of"):
        make_scenes(2, 32, split="val")
    with pytest.raises(ValueError, match="n must be"):
        make_scenes(-1, 32)
    with pytest.raises(ValueError, match="digits must be"):
        make_scenes(2, 32, digits=(3, 2))
    with pytest.raises(ValueError, match="digits must be"):
        make_scenes(2, 32, digits=(1, 9))
    images, masks = make_scenes(0, (5, 6))
    assert images.shape == (0, 3, 5, 6) and masks.shape == (0, 5, 6)


def test_thread_setting_is_restored():
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        make_scenes(2, 32)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_digit_scenes_dataset():
    ds = DigitScenes(6, (40, 44), seed=2)
    lazy = DigitScenes(6, (40, 44), seed=2, precompute=False)
    assert len(ds) == len(lazy) == 6
    for i in (0, 5, -1):
        assert torch.equal(ds[i][0], lazy[i][0]) and torch.equal(ds[i][1], lazy[i][1])
    with pytest.raises(IndexError):
        ds[6]
    with pytest.raises(ValueError, match="split"):
        DigitScenes(3, 32, split="validation", precompute=False)
    tf = DigitScenes(4, 64, transform=SegTrainTransform(crop_size=48, base_scale=(256, 64)))
    x, y = tf[0]
    assert x.shape == (3, 48, 48) and y.shape == (48, 48)
    batch = next(iter(torch.utils.data.DataLoader(ds, batch_size=3)))
    assert batch[0].shape == (3, 3, 40, 44) and batch[1].dtype == torch.int64


# ----------------------------------------------------------------------------------
# Transforms
# ----------------------------------------------------------------------------------


def _blocks(h=96, w=128, block=16, classes=7, seed=0):
    """A label map of constant blocks, and an image whose red channel encodes the label."""
    g = torch.Generator().manual_seed(seed)
    coarse = torch.randint(0, classes, (h // block + 1, w // block + 1), generator=g)
    label = coarse.repeat_interleave(block, 0).repeat_interleave(block, 1)[:h, :w]
    image = torch.stack([label.float() / 10, torch.full((h, w), 0.5), torch.rand(h, w, generator=g)])
    return image, label


def test_train_transform_shapes_and_label_values():
    t = SegTrainTransform(crop_size=(48, 64), base_scale=(256, 96))
    g = torch.Generator().manual_seed(0)
    images, masks = make_scenes(8, (97, 131), seed=1)
    for img, mask in zip(images, masks):
        x, y = t(img, mask, generator=g)
        assert x.shape == (3, 48, 64) and x.dtype == torch.float32
        assert y.shape == (48, 64) and y.dtype == torch.int64
        assert set(y.unique().tolist()) <= set(range(11)) | {IGNORE_INDEX}


def test_train_transform_keeps_image_and_label_aligned():
    """Resize, crop and flip move image and label together (photometric off)."""
    image, label = _blocks()
    t = SegTrainTransform(crop_size=64, base_scale=(256, 96), photometric=False, cat_max_ratio=1.0)
    g = torch.Generator().manual_seed(3)
    checked = 0
    for _ in range(12):
        x, y = t(image, label, generator=g)
        red = transforms.denormalize(x)[0]
        valid = y != IGNORE_INDEX
        # away from block edges (bilinear blends there) the red channel equals label / 10
        yf = y[None, None].float()
        flat = F.max_pool2d(yf, 5, 1, 2)[0, 0] == -F.max_pool2d(-yf, 5, 1, 2)[0, 0]  # 5x5 neighbourhood is one class
        interior = valid & flat
        assert (red[interior] - y[interior].float() / 10).abs().max() < 1e-3
        checked += int(interior.sum())
    assert checked > 10000


def test_pad_fills_image_with_zero_and_label_with_ignore():
    image, label = _blocks(40, 50)
    t = SegTrainTransform(crop_size=64, base_scale=(50, 40), ratio_range=(1.0, 1.0), photometric=False)
    x, y = t(image, label, generator=torch.Generator().manual_seed(0))
    assert x.shape == (3, 64, 64) and y.shape == (64, 64)
    assert (y[40:, :] == IGNORE_INDEX).all() and (y[:, 50:] == IGNORE_INDEX).all()
    assert (y[:40, :50] != IGNORE_INDEX).all()
    assert (x[:, 40:, :] == 0).all() and (x[:, :, 50:] == 0).all()
    xi, yi = transforms.pad_to(image, label, (41, 52), pad_value=0.0)
    assert yi.shape == (41, 52) and (yi[40] == 255).all() and torch.equal(yi[:40, :50], label)


def test_flip_flips_image_and_label_together():
    image, label = _blocks()
    x, y = transforms.random_hflip(image, label, prob=1.0)
    assert torch.equal(x, image.flip(-1)) and torch.equal(y, label.flip(-1))
    x, y = transforms.random_hflip(image, label, prob=0.0)
    assert torch.equal(x, image) and torch.equal(y, label)
    g = torch.Generator().manual_seed(0)
    small = torch.arange(12).view(3, 4)
    flips = sum(torch.equal(transforms.random_hflip(small, small, 0.5, g)[1], small.flip(-1)) for _ in range(200))
    assert 70 < flips < 130


def test_random_resize_follows_the_ratio_range():
    image, label = _blocks(100, 200)
    g = torch.Generator().manual_seed(1)
    shorts = []
    for _ in range(40):
        x, y = transforms.random_resize(image, label, base_scale=(400, 100), ratio_range=(0.5, 2.0), generator=g)
        assert x.shape[-2:] == y.shape
        assert abs(x.shape[-1] / x.shape[-2] - 2.0) < 0.05  # aspect kept
        shorts.append(x.shape[-2])
    assert 50 <= min(shorts) < 80 and 160 < max(shorts) <= 200
    assert set(y.unique().tolist()) <= set(label.unique().tolist())  # nearest: no new labels


def test_rescale_size_matches_mmcv():
    assert transforms.rescale_size(512, 683, (2048, 512)) == (512, 683)
    assert transforms.rescale_size(256, 256, (2048, 512)) == (512, 512)
    assert transforms.rescale_size(375, 500, (2048, 512)) == (512, 683)
    assert transforms.rescale_size(100, 3000, (2048, 512)) == (68, 2048)


def test_cat_max_ratio_rejects_single_class_crops():
    label = torch.zeros(100, 100, dtype=torch.int64)
    label[60:, 60:] = 1
    image = torch.rand(3, 100, 100)

    def balanced(ratio, seed):
        g = torch.Generator().manual_seed(seed)
        _, y = transforms.random_crop(image, label, 40, cat_max_ratio=ratio, generator=g)
        counts = torch.bincount(y.flatten(), minlength=2)
        return counts.min().item() > 0 and counts.max().item() / counts.sum().item() < 0.75

    plain = sum(balanced(1.0, s) for s in range(60))
    retried = sum(balanced(0.75, s) for s in range(60))
    assert retried > plain + 15, (plain, retried)


def test_transforms_are_seeded_by_the_generator():
    image, label = _blocks()
    t = SegTrainTransform(crop_size=48, base_scale=(256, 96))
    a = t(image, label, generator=torch.Generator().manual_seed(5))
    b = t(image, label, generator=torch.Generator().manual_seed(5))
    c = t(image, label, generator=torch.Generator().manual_seed(6))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not torch.equal(a[0], c[0])


def test_uint8_and_float_images_agree():
    image, label = _blocks()
    u8 = (image * 255).round().to(torch.uint8)
    t = SegTrainTransform(crop_size=48, base_scale=(256, 96))
    a = t(u8, label, generator=torch.Generator().manual_seed(2))
    b = t(u8.float() / 255, label, generator=torch.Generator().manual_seed(2))
    assert torch.allclose(a[0], b[0]) and torch.equal(a[1], b[1])


def test_photometric_distortion_and_hsv():
    images, _ = make_scenes(4, 32, seed=0)
    for img in images:
        hsv = transforms.rgb_to_hsv(img)
        assert hsv.min() >= 0 and hsv.max() <= 1
        assert torch.allclose(transforms.hsv_to_rgb(hsv), img, atol=1e-5)
    def hsv(r, g, b):
        return transforms.rgb_to_hsv(torch.tensor([r, g, b]).view(3, 1, 1)).flatten()

    assert torch.allclose(hsv(1.0, 0.0, 0.0), torch.tensor([0.0, 1, 1]))  # red
    assert torch.allclose(hsv(0.0, 0.5, 0.0), torch.tensor([1 / 3, 1, 0.5]))  # dark green
    assert torch.allclose(hsv(0.2, 0.4, 0.8), torch.tensor([220 / 360, 0.75, 0.8]))
    g = torch.Generator().manual_seed(0)
    changed = 0
    for _ in range(10):
        out = transforms.photometric_distortion(images[0], g)
        assert out.shape == images[0].shape and out.min() >= 0 and out.max() <= 1
        changed += not torch.allclose(out, images[0])
    assert changed >= 8  # four steps at p = 1/2: all skipped 1 time in 16


def test_test_transform_keeps_aspect_and_label():
    image, label = _blocks(75, 100)
    x, y = SegTestTransform(base_scale=(2048, 512))(image, label)
    assert x.shape == (3, 512, 683) and torch.equal(y, label)
    x, _ = SegTestTransform(base_scale=(2048, 512), size_divisor=32)(image)
    assert x.shape == (3, 512, 704)
    x, _ = SegTestTransform(base_scale=None)(image)
    assert torch.allclose(transforms.denormalize(x), image, atol=1e-6)


def test_normalize_matches_mmseg_and_takes_batches():
    x = torch.rand(2, 3, 5, 6)
    mean, std = torch.tensor([123.675, 116.28, 103.53]), torch.tensor([58.395, 57.12, 57.375])
    mmseg = (x * 255 - mean.view(3, 1, 1)) / std.view(3, 1, 1)
    assert torch.allclose(transforms.normalize(x), mmseg, atol=1e-5)
    assert torch.allclose(transforms.normalize(x[0]), mmseg[0], atol=1e-5)
    assert torch.allclose(transforms.denormalize(transforms.normalize(x)), x, atol=1e-6)


def test_transform_input_errors():
    image, label = _blocks(32, 32)
    t = SegTrainTransform(crop_size=16, base_scale=(64, 32))
    with pytest.raises(ValueError, match=r"image must have shape \(3, H, W\)"):
        t(image.permute(1, 2, 0), label)
    with pytest.raises(ValueError, match="differs from image size"):
        t(image, label[:30])
    with pytest.raises(TypeError, match="integer"):
        t(image, label.float())
    with pytest.raises(ValueError, match="crop_size"):
        SegTrainTransform(crop_size=0)


# ----------------------------------------------------------------------------------
# ADE20K loader and the sample files
# ----------------------------------------------------------------------------------


def _load_make_samples():
    spec = importlib.util.spec_from_file_location("make_samples", SAMPLES / "make_samples.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_ade20k_class_names():
    assert len(ADE20K_CLASSES) == 150 and len(set(ADE20K_CLASSES)) == 150
    assert ADE20K_CLASSES[:3] == ("wall", "building", "sky") and ADE20K_CLASSES[-1] == "flag"


def test_ade20k_loader_on_samples():
    train = ADE20KSegmentation(ADE_ROOT, "training")
    val = ADE20KSegmentation(ADE_ROOT, "validation")
    assert len(train) == 4 and len(val) == 2
    raw_ds = ADE20KSegmentation(ADE_ROOT, "training", reduce_zero_label=False)
    sizes = set()
    for (image, label), (_, raw) in zip(train, raw_ds):
        assert image.dtype == torch.float32 and image.shape[0] == 3 and image.min() >= 0 and image.max() <= 1
        assert label.dtype == torch.int64 and label.shape == image.shape[-2:]
        sizes.add(tuple(label.shape))
        # reduce_zero_label: 0 -> 255, v -> v - 1
        assert (raw == 0).any() and (raw > 0).any()
        assert (label[raw == 0] == IGNORE_INDEX).all()
        assert torch.equal(label[raw > 0], raw[raw > 0] - 1)
        assert set(label.unique().tolist()) <= set(range(150)) | {IGNORE_INDEX}
    assert len(sizes) == 4  # the samples have varied sizes
    assert raw_ds.classes[0] == "other" and train.classes == ADE20K_CLASSES


def test_ade20k_samples_are_digitworld_scenes():
    """Reduced sample labels equal the DigitWorld masks they were made from, off the rings."""
    make_samples = _load_make_samples()
    for split in ("training", "validation"):
        ds = ADE20KSegmentation(ADE_ROOT, split)
        for (image, label), path in zip(ds, ds.images):
            names = [s[0] for s in make_samples.ADE_SAMPLES]
            i = names.index(path.stem)
            _, _, size, world_split = make_samples.ADE_SAMPLES[i]
            scene, mask = make_scenes(1, size, seed=make_samples.ADE_SEED, split=world_split, start=i)
            keep = label != IGNORE_INDEX
            assert keep.float().mean() > 0.8
            assert torch.equal(label[keep], mask[0][keep])
            assert (image - scene[0]).abs().mean() < 0.03  # JPEG at quality 90


def test_ade20k_transform_hook():
    t = SegTrainTransform(crop_size=64, base_scale=(256, 64))
    ds = ADE20KSegmentation(ADE_ROOT, "validation", transform=lambda im, lab: t(im, lab, torch.Generator()))
    x, y = ds[1]
    assert x.shape == (3, 64, 64) and y.shape == (64, 64)


def test_ade20k_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        ADE20KSegmentation(tmp_path / "nowhere")
    with pytest.raises(ValueError, match="split must be one of"):
        ADE20KSegmentation(ADE_ROOT, "train")
    root = tmp_path / "ade"
    shutil.copytree(ADE_ROOT, root)
    (root / "annotations" / "training" / "ADE_train_00000002.png").unlink()
    with pytest.raises(FileNotFoundError, match="ADE_train_00000002.jpg .*has no annotation"):
        ADE20KSegmentation(root, "training")
    shutil.rmtree(root / "annotations" / "validation")
    with pytest.raises(FileNotFoundError, match="split folder .*validation"):
        ADE20KSegmentation(root, "validation")
    # unreadable files fail when read, naming the file
    root2 = tmp_path / "ade2"
    shutil.copytree(ADE_ROOT, root2)
    (root2 / "images" / "validation" / "ADE_val_00000001.jpg").write_bytes(b"not a jpeg")
    ds = ADE20KSegmentation(root2, "validation")
    with pytest.raises(OSError, match="ADE_val_00000001.jpg"):
        ds[0]
    Image.new("RGB", (128, 96)).save(root2 / "annotations" / "validation" / "ADE_val_00000002.png")
    with pytest.raises(ValueError, match="single-channel"):
        ds[1]
    Image.new("L", (10, 10)).save(root2 / "annotations" / "validation" / "ADE_val_00000002.png")
    with pytest.raises(ValueError, match=r"is \(10, 10\) but image"):
        ds[1]
    empty = tmp_path / "empty"
    (empty / "images" / "training").mkdir(parents=True)
    (empty / "annotations" / "training").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match="no .jpg images"):
        ADE20KSegmentation(empty, "training")


def test_sample_script_regenerates_the_same_files(tmp_path):
    make_samples = _load_make_samples()
    written = make_samples.make_ade20k(tmp_path)
    assert len(written) == 2 * len(make_samples.ADE_SAMPLES)
    for path in written:
        committed = SAMPLES / path.relative_to(tmp_path)
        assert committed.is_file(), f"{committed} is missing: run python data_samples/make_samples.py"
        new, old = np.asarray(Image.open(path)), np.asarray(Image.open(committed))
        assert new.shape == old.shape
        if path.suffix == ".png":
            assert np.array_equal(new, old), path.name
        else:  # JPEG encoders may differ across Pillow builds by a grey level or two
            assert np.abs(new.astype(int) - old.astype(int)).mean() < 0.5, path.name
    total = sum(p.stat().st_size for p in (SAMPLES / "ade20k").rglob("*") if p.is_file())
    assert total < 100_000  # tiny


def test_ade20k_label_helpers():
    raw = torch.tensor([[0, 1, 2], [150, 255, 7]])
    assert ade20k.reduce_zero_label(raw).tolist() == [[255, 0, 1], [149, 255, 6]]
    make_samples = _load_make_samples()
    mask = torch.zeros(7, 7, dtype=torch.int64)
    mask[3, 3] = 4  # digit 3
    lab = make_samples.ade20k_label(mask)
    assert lab.dtype == np.uint8 and lab[3, 3] == 5
    assert (lab[2:5, 2:5] == 0).sum() == 8 and lab[0, 0] == 1


def test_float_images_outside_zero_one_and_bad_labels_are_refused():
    image, label = _blocks(32, 32)
    t = SegTrainTransform(crop_size=16, base_scale=(64, 32))
    with pytest.raises(ValueError, match=r"float image must hold values in \[0, 1\], got min 0.02032, max 255 "
                                         r"\(0..255 values\? pass uint8"):
        t(image * 255, label)
    nan = image.clone()
    nan[0, 3, 3] = float("nan")
    with pytest.raises(ValueError, match=r"values in \[0, 1\], got min nan"):
        SegTestTransform()(nan)
    negative = label.clone()
    negative[5, 7] = -1
    with pytest.raises(ValueError, match=r"label values must be class ids >= 0 \(255 = ignore\), got min -1"):
        t(image, negative)
    with pytest.raises(ValueError, match=r"H, W >= 1, got \(3, 0, 32\)"):
        t(image[:, :0], label[:0])
    with pytest.raises(ValueError, match=r"one per channel of the image .*got 3 and 3 values for shape \(1, 8, 8\)"):
        transforms.normalize(torch.rand(1, 8, 8))
    assert transforms.normalize(torch.rand(1, 8, 8), 0.5, 0.5).shape == (1, 8, 8)  # one value: every channel


@pytest.mark.parametrize("reduce", [True, False])
def test_ade20k_labels_outside_the_classes_are_refused_at_load(tmp_path, reduce):
    root = tmp_path / "ade"
    shutil.copytree(ADE_ROOT, root)
    path = root / "annotations" / "validation" / "ADE_val_00000001.png"
    raw = np.asarray(Image.open(path)).copy()
    raw[0, :3] = (151, 200, 255)  # 255 (ignore) is fine, 151 and 200 are no class
    Image.fromarray(raw).save(path)
    ds = ADE20KSegmentation(root, "validation", reduce_zero_label=reduce)
    with pytest.raises(ValueError, match=r"annotation .*ADE_val_00000001.png has values \[151, 200\] outside the 150 "
                                         r"classes \(expected 0 = other, 1..150, or 255 = ignore\)"):
        ds[0]
    raw[0, :2] = 150
    Image.fromarray(raw).save(path)
    _, label = ds[0]
    assert label.max() <= (IGNORE_INDEX if reduce else 255) and (label[0, :2] == (149 if reduce else 150)).all()


def test_rescale_size_of_an_empty_image():
    with pytest.raises(ValueError, match=r"sizes must be >= 1, got \(height, width\) = \(0, 5\)"):
        transforms.rescale_size(0, 5, (2048, 512))
    assert transforms.rescale_size(683, 512, (2048, 512)) == (683, 512)
