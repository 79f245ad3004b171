"""The video input pipeline: PyAV decoding, clip sampling, spatial transforms, views, Kinetics folders."""

import importlib.util
import shutil
from pathlib import Path

import pytest
import torch

from minimodels.data import video
from minimodels.data.digitworld import LUMA
from minimodels.data.motion import make_motion_videos
from minimodels.data.video import (
    KineticsFolder,
    VideoTestViews,
    VideoTrainTransform,
    center_crop,
    frames_to_clip,
    average_views,
    multi_view_predict,
    random_crop,
    random_hflip,
    random_short_side_scale,
    read_video,
    resample_indices,
    windows,
    resize_short_side,
    sample_clip_indices,
    three_crops,
    uniform_clip_starts,
    write_video,
)

REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO / "data_samples"
KINETICS_ROOT = SAMPLES / "kinetics"


def _load_make_samples():
    spec = importlib.util.spec_from_file_location("make_samples", SAMPLES / "make_samples.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def counting_frames(num_frames: int, height: int = 6, width: int = 10) -> torch.Tensor:
    """uint8 (T, H, W, 3) frames whose every pixel holds its frame index: indices survive any crop."""
    return torch.arange(num_frames, dtype=torch.uint8).view(-1, 1, 1, 1).expand(num_frames, height, width, 3).clone()


def motion_frames(num_frames=20, size=(48, 64), seed=0, **knobs) -> torch.Tensor:
    videos, _ = make_motion_videos(1, num_frames, size, seed=seed, **knobs)
    return (videos[0] * 255).round().to(torch.uint8).permute(1, 2, 3, 0).contiguous()


# ----------------------------------------------------------------------------------
# Files
# ----------------------------------------------------------------------------------


def coding_errors(decoded: torch.Tensor, source: torch.Tensor) -> tuple[float, float]:
    """Mean absolute error in grey levels: over RGB values, and of the luma (Rec. 601)."""
    diff = decoded.float() - source.float()
    return diff.abs().mean().item(), (diff @ torch.tensor(LUMA)).abs().mean().item()


def test_write_read_roundtrip(tmp_path):
    rgb_errors = []
    for seed in range(4):
        frames = motion_frames(seed=seed, noise=0.0)
        path = write_video(tmp_path / f"clip{seed}.mp4", frames, fps=25)
        decoded, fps = read_video(path)
        assert decoded.shape == frames.shape and decoded.dtype == torch.uint8
        assert fps == 25.0
        rgb, luma = coding_errors(decoded, frames)
        # lossy: brightness survives well; colour is stored at half resolution (4:2:0), so
        # fine colour stripes (video 0) lose most of their colour detail
        assert luma < 3, (seed, luma)  # measured 1.2-1.6
        assert rgb < 14, (seed, rgb)  # measured 1.9-10.9
        rgb_errors.append(rgb)
    assert sum(rgb_errors) / 4 < 6, rgb_errors  # measured 4.3
    # NTSC rates survive as fractions
    _, fps = read_video(write_video(tmp_path / "ntsc.mp4", frames[:4], fps=30000 / 1001))
    assert abs(fps - 29.97) < 0.01


def test_write_video_errors(tmp_path):
    with pytest.raises(ValueError, match=r"shape \(T, H, W, 3\)"):
        write_video(tmp_path / "a.mp4", torch.zeros(4, 8, 8, dtype=torch.uint8))
    with pytest.raises(TypeError, match="uint8"):
        write_video(tmp_path / "a.mp4", torch.zeros(4, 8, 8, 3))
    with pytest.raises(ValueError, match=r"even .* got \(H, W\) = \(7, 8\)"):
        write_video(tmp_path / "a.mp4", torch.zeros(4, 7, 8, 3, dtype=torch.uint8))
    with pytest.raises(ValueError, match="at least one frame"):
        write_video(tmp_path / "a.mp4", torch.zeros(0, 8, 8, 3, dtype=torch.uint8))


def test_read_video_errors_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere.mp4"):
        read_video(tmp_path / "nowhere.mp4")
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(b"this is not a video file" * 100)
    with pytest.raises(OSError, match="cannot read video .*garbage.mp4"):
        read_video(garbage)
    good = write_video(tmp_path / "good.mp4", motion_frames(12))
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(OSError, match="cannot read video .*truncated.mp4"):
        read_video(truncated)
    # valid files with a video stream but no frames: MP4 drops the empty track, AVI keeps it
    import av

    for suffix, error, message in ((".mp4", OSError, "no video stream"), (".avi", ValueError, "has no frames")):
        empty = tmp_path / f"empty{suffix}"
        with av.open(str(empty), mode="w") as container:
            stream = container.add_stream("mpeg4", rate=25)
            stream.width, stream.height, stream.pix_fmt = 16, 16, "yuv420p"
            container.start_encoding()  # header and trailer, no frames
        assert empty.stat().st_size > 0
        with pytest.raises(error, match=f"empty{suffix}.*{message}"):
            read_video(empty)


# ----------------------------------------------------------------------------------
# Time
# ----------------------------------------------------------------------------------


def test_sample_clip_indices():
    g = torch.Generator().manual_seed(0)
    starts = set()
    for _ in range(200):
        idx = sample_clip_indices(100, 32, 2, generator=g)
        assert idx.dtype == torch.int64 and idx.shape == (32,)
        assert torch.equal(idx.diff(), torch.full((31,), 2))
        assert idx[0] >= 0 and idx[-1] <= 99 - 1  # the clip spans 64 frames: start + 62 + 1 <= 100
        starts.add(int(idx[0]))
    assert min(starts) == 0 and max(starts) == 100 - 64 and len(starts) > 25  # uniform over 0..36
    assert sample_clip_indices(64, 32, 2, start=0).tolist() == list(range(0, 64, 2))
    a = sample_clip_indices(500, 8, 4, generator=torch.Generator().manual_seed(3))
    b = sample_clip_indices(500, 8, 4, generator=torch.Generator().manual_seed(3))
    assert torch.equal(a, b)


def test_short_videos_error_or_pad():
    with pytest.raises(ValueError, match="needs 64 frames, got 48"):
        sample_clip_indices(48, 32, 2)
    with pytest.raises(ValueError, match="needs 64 frames, got 48"):
        uniform_clip_starts(48, 32, 2, 4)
    looped = sample_clip_indices(10, 8, 2, start=3, pad="loop")
    assert looped.tolist() == [3, 5, 7, 9, 1, 3, 5, 7]
    assert sample_clip_indices(10, 8, 2, pad="last").tolist() == [0, 2, 4, 6, 8, 9, 9, 9]
    with pytest.raises(ValueError, match="pad must be one of"):
        sample_clip_indices(10, 8, 2, pad="zeros")
    with pytest.raises(ValueError, match=r"start must be an int in \[0, 36\]"):
        sample_clip_indices(100, 32, 2, start=37)
    with pytest.raises(ValueError, match="stride must be a positive int"):
        sample_clip_indices(100, 32, 0)


def test_uniform_clip_starts():
    assert uniform_clip_starts(300, 32, 2, 4).tolist() == [0, 78, 157, 236]  # linspace(0, 236, 4), floored
    assert uniform_clip_starts(64, 32, 2, 4).tolist() == [0, 0, 0, 0]
    assert uniform_clip_starts(100, 8, 2, 1).tolist() == [42]  # one clip: the centred one
    starts = uniform_clip_starts(1000, 16, 3, 10)
    assert starts[0] == 0 and starts[-1] == 1000 - 48 and (starts.diff() > 0).all()


# ----------------------------------------------------------------------------------
# Space
# ----------------------------------------------------------------------------------


def test_resize_short_side_sizes_and_values():
    clip = torch.rand(3, 4, 1080, 1920)[:, :, ::8, ::8]  # (135, 240)
    out = resize_short_side(clip, 64)
    assert out.shape == (3, 4, 64, 113)  # 240 * 64 // 135 = 113, rounded down
    portrait = resize_short_side(torch.rand(3, 2, 90, 60), 32)
    assert portrait.shape == (3, 2, 48, 32)
    assert video.short_side_size(1080, 1920, 256) == (256, 455)
    const = torch.full((3, 5, 30, 50), 0.25)
    assert torch.allclose(resize_short_side(const, 17), torch.full((3, 5, 17, 28), 0.25))
    same = torch.rand(3, 2, 16, 20)
    assert resize_short_side(same, 16) is same
    # antialiased: a fine checkerboard shrinks to flat grey, not to a moire pattern
    checks = ((torch.arange(64).view(-1, 1) + torch.arange(96)) % 2).float().expand(3, 2, 64, 96)
    small = resize_short_side(checks, 16)
    assert (small - 0.5).abs().max() < 0.05
    # every frame gets the same resize: frames stay what they were
    frames = torch.rand(3, 4, 40, 60)
    out = resize_short_side(frames, 20)
    assert torch.allclose(out[:, 2], resize_short_side(frames[:, 2:3], 20)[:, 0])


def test_random_short_side_scale_covers_the_range():
    clip = torch.rand(3, 2, 30, 40)
    g = torch.Generator().manual_seed(0)
    shorts = {random_short_side_scale(clip, 20, 24, g).shape[-2] for _ in range(60)}
    assert shorts == {20, 21, 22, 23, 24}
    with pytest.raises(ValueError, match="must not exceed"):
        random_short_side_scale(clip, 30, 20)


def test_crops():
    clip = torch.arange(2 * 3 * 8 * 12, dtype=torch.float32).view(2, 3, 8, 12)
    assert torch.equal(center_crop(clip, 4), clip[..., 2:6, 4:8])
    assert torch.equal(center_crop(clip, (8, 5)), clip[..., :, 3:8])
    g = torch.Generator().manual_seed(1)
    seen = set()
    for _ in range(100):
        c = random_crop(clip, (4, 6), g)
        assert c.shape == (2, 3, 4, 6)
        top, left = divmod(int(c[0, 0, 0, 0]), 12)
        assert torch.equal(c, clip[..., top : top + 4, left : left + 6])  # one window for all frames
        seen.add((top, left))
    assert len(seen) > 20 and max(t for t, _ in seen) == 4 and max(x for _, x in seen) == 6
    crops = three_crops(clip, 8)  # landscape: left, centre, right
    assert crops.shape == (3, 2, 3, 8, 8)
    assert torch.equal(crops[0], clip[..., :8]) and torch.equal(crops[1], clip[..., 2:10])
    assert torch.equal(crops[2], clip[..., 4:])
    tall = clip.transpose(-1, -2)  # portrait (12, 8): top, centre, bottom
    crops = three_crops(tall, 8)
    assert torch.equal(crops[0], tall[..., :8, :]) and torch.equal(crops[2], tall[..., 4:, :])
    with pytest.raises(ValueError, match=r"does not fit in frames of \(8, 12\)"):
        random_crop(clip, 9)
    with pytest.raises(ValueError, match=r"shape \(C, T, H, W\)"):
        center_crop(clip[0, 0], 4)


def test_hflip_flips_every_frame_or_none():
    clip = torch.rand(3, 4, 5, 6)
    g = torch.Generator().manual_seed(0)
    outs = [random_hflip(clip, 0.5, g) for _ in range(40)]
    flipped = sum(torch.equal(o, clip.flip(-1)) for o in outs)
    kept = sum(torch.equal(o, clip) for o in outs)
    assert flipped + kept == 40 and 8 < flipped < 32
    assert torch.equal(random_hflip(clip, 0.0), clip) and torch.equal(random_hflip(clip, 1.0), clip.flip(-1))


def test_frames_to_clip_layouts():
    frames = torch.randint(0, 256, (5, 6, 7, 3), dtype=torch.uint8)
    clip = frames_to_clip(frames)
    assert clip.shape == (3, 5, 6, 7) and clip.dtype == torch.float32
    assert torch.allclose(clip[:, 2, 3, 4] * 255, frames[2, 3, 4].float())
    floats = torch.rand(3, 5, 6, 7)
    assert torch.equal(frames_to_clip(floats), floats)
    with pytest.raises(ValueError, match=r"\(T, H, W, 3\)"):
        frames_to_clip(torch.zeros(5, 6, 7, dtype=torch.uint8))
    with pytest.raises(TypeError, match="uint8"):
        frames_to_clip(torch.zeros(5, 6, 7, 3, dtype=torch.int32))


# ----------------------------------------------------------------------------------
# Pipelines
# ----------------------------------------------------------------------------------


def test_train_transform_shapes_range_and_frames():
    frames = counting_frames(80, 30, 40)
    t = VideoTrainTransform(num_frames=8, stride=3, short_side=(20, 28), crop=16)
    g = torch.Generator().manual_seed(0)
    clip = t(frames, g)
    assert clip.shape == (3, 8, 16, 16) and clip.dtype == torch.float32
    values = ((clip[0, :, 0, 0] + 1) / 2 * 255).round().long()  # back from [-1, 1] to the frame index
    assert torch.equal(values.diff(), torch.full((7,), 3)) and 0 <= values[0] <= 80 - 24
    assert torch.allclose(clip, clip[:, :, :1, :1].expand_as(clip), atol=1e-5)  # constant frames stay constant
    a = t(frames, torch.Generator().manual_seed(5))
    b = t(frames, torch.Generator().manual_seed(5))
    assert torch.equal(a, b)
    # pixels in [-1, 1] by default; mean/std for other conventions
    real = VideoTrainTransform(8, 2, (48, 56), 40)(motion_frames())
    assert real.min() >= -1 and real.max() <= 1 and real.min() < -0.5 and real.max() > 0.5
    plain = VideoTrainTransform(8, 2, 48, 40, flip=False, mean=(0, 0, 0), std=(1, 1, 1))(motion_frames())
    assert plain.min() >= 0 and plain.max() <= 1
    # float clips (C, T, H, W) from DigitWorld go through too
    videos, _ = make_motion_videos(1, 20, (48, 64))
    assert VideoTrainTransform(8, 2, (48, 56), 40)(videos[0]).shape == (3, 8, 40, 40)


def test_train_transform_errors():
    with pytest.raises(ValueError, match="at least the crop size"):
        VideoTrainTransform(short_side=(200, 320), crop=224)
    with pytest.raises(ValueError, match="short_side must be"):
        VideoTrainTransform(short_side=(320, 256))
    with pytest.raises(ValueError, match="needs 64 frames, got 40"):
        VideoTrainTransform(32, 2, 20, 16)(counting_frames(40, 20, 20))
    looped = VideoTrainTransform(32, 2, 20, 16, pad="loop")(counting_frames(40, 20, 20))
    assert looped.shape == (3, 32, 16, 16)
    with pytest.raises(ValueError, match="needs 64 frames, got 40"):
        VideoTestViews(32, 2, 20, 16)(counting_frames(40, 20, 20))
    views = VideoTestViews(32, 2, 20, 16, pad="last")(counting_frames(40, 20, 20))
    frame = ((views[:, 0, :, 0, 0] + 1) / 2 * 255).round().long()  # (12 views, 32 frames)
    assert torch.equal(frame, torch.arange(0, 64, 2).clamp(max=39).expand(12, 32))


def test_test_views_cover_time_and_space():
    frames = counting_frames(100, 30, 50)
    views = VideoTestViews(num_frames=8, stride=2, short_side=24, crop=24)(frames)
    assert views.shape == (12, 3, 8, 24, 24)
    first = ((views[:, 0, 0, 0, 0] + 1) / 2 * 255).round().long()
    starts = uniform_clip_starts(100, 8, 2, 4)
    assert torch.equal(first, starts.repeat_interleave(3))  # view k: clip k // 3, crop k % 3
    # spatial: left, centre, right of the resized frames (24 x 40)
    clip = torch.rand(3, 24, 30, 50)  # one 8x2 clip: the centred one, frames 4, 6, ..., 18
    views = VideoTestViews(8, 2, 24, 24, temporal_views=1, spatial_views=3, mean=(0,) * 3, std=(1,) * 3)(clip)
    resized = resize_short_side(clip[:, 4:20:2], 24)
    assert torch.allclose(views, three_crops(resized, 24))
    single = VideoTestViews(8, 2, 24, 20, temporal_views=2, spatial_views=1)(clip)
    assert single.shape == (2, 3, 8, 20, 20)
    with pytest.raises(ValueError, match="spatial_views must be 1"):
        VideoTestViews(spatial_views=2)


def test_multi_view_predict_averages_softmax_or_logits():
    logits = torch.tensor([[10.0, 0.0, 0.0], [0.0, 2.0, 0.0], [0.0, 2.0, 0.0]])

    def model(x):  # one row of logits per view, picked by the view's first pixel
        return logits[x[:, 0, 0, 0, 0].long()]

    views = torch.arange(3.0).view(3, 1, 1, 1, 1).expand(3, 3, 2, 4, 4)
    probs = multi_view_predict(model, views)
    assert torch.allclose(probs, logits.softmax(-1).mean(0)) and torch.allclose(probs.sum(), torch.tensor(1.0))
    mean_logits = multi_view_predict(model, views, average="logits", batch_size=2)
    assert torch.allclose(mean_logits, logits.mean(0))
    # the two averages disagree here: one very confident view outvotes two others in the logit
    # average; in the softmax average no view counts for more than a probability of 1
    assert mean_logits.argmax() == 0 and probs.argmax() == 1
    batch = multi_view_predict(model, torch.stack([views, views.flip(0)]))
    assert batch.shape == (2, 3) and torch.allclose(batch[0], batch[1])
    with pytest.raises(ValueError, match="average must be"):
        multi_view_predict(model, views, average="max")
    with pytest.raises(ValueError, match=r"\(V, C, T, H, W\)"):
        multi_view_predict(model, views[0])


def test_average_views_matches_multi_view_predict_on_precomputed_logits():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 2 * 4 * 4, 5))
    views = torch.randn(4, 6, 3, 2, 4, 4)  # 4 videos x 6 views
    view_logits = model(views.flatten(0, 1)).view(4, 6, 5)
    for average in ("softmax", "logits"):
        assert torch.allclose(average_views(view_logits, average), multi_view_predict(model, views, average), atol=1e-6)
        assert torch.allclose(average_views(view_logits[0], average), multi_view_predict(model, views[0], average), atol=1e-6)
    # a subset of the views, without running the model again
    assert torch.allclose(average_views(view_logits[:, ::2]), multi_view_predict(model, views[:, ::2]), atol=1e-6)
    with pytest.raises(ValueError, match="average must be"):
        average_views(view_logits, "max")
    with pytest.raises(ValueError, match=r"\(V, num_classes\) or \(B, V, num_classes\), got \(5,\)"):
        average_views(view_logits[0, 0])
    with pytest.raises(ValueError, match="got list"):
        average_views([[0.0, 1.0]])


# ----------------------------------------------------------------------------------
# Kinetics folders and the sample files
# ----------------------------------------------------------------------------------


def test_kinetics_folder_on_samples():
    train = KineticsFolder(KINETICS_ROOT, "train")
    assert train.classes == ("zoom_in", "zoom_out") and len(train) == 4
    assert [label for _, label in train.samples] == [0, 0, 1, 1]
    frames, label = train[0]
    assert frames.shape == (48, 96, 128, 3) and frames.dtype == torch.uint8 and label == 0
    val = KineticsFolder(KINETICS_ROOT, "val", classes=train.classes)
    assert len(val) == 2 and [label for _, label in val.samples] == [0, 1]
    t = VideoTrainTransform(num_frames=16, stride=2, short_side=(72, 96), crop=64)
    clip, label = KineticsFolder(KINETICS_ROOT, "train", transform=t)[3]
    assert clip.shape == (3, 16, 64, 64) and label == 1
    views, _ = KineticsFolder(KINETICS_ROOT, "val", transform=VideoTestViews(16, 2, 64, 64))[1]
    assert views.shape == (12, 3, 16, 64, 64)
    # a 32-frame clip at stride 2 needs 64 frames; the samples have 48
    too_long = KineticsFolder(KINETICS_ROOT, "val", transform=VideoTrainTransform(32, 2, 72, 64))
    with pytest.raises(ValueError, match=r"digitworld4.*needs 64 frames, got 48"):
        too_long[0]


def test_kinetics_samples_decode_close_to_their_source():
    make_samples = _load_make_samples()
    paths = KineticsFolder(KINETICS_ROOT, "train").samples + KineticsFolder(KINETICS_ROOT, "val").samples
    for i, (path, label) in enumerate(paths):
        assert path.relative_to(KINETICS_ROOT) == make_samples.kinetics_path(i)
        assert label == ["zoom in", "zoom out"].index(make_samples.KINETICS_SAMPLES[i][1])
        frames, fps = read_video(path)
        source = make_samples.kinetics_video(i)
        assert fps == make_samples.KINETICS_FPS and frames.shape == source.shape == (48, 96, 128, 3)
        rgb, luma = coding_errors(frames, source)
        assert luma < 6 and rgb < 12, (path.name, rgb, luma)  # measured luma 1.3-4.4 (pixel noise), RGB 1.9-9.7


def test_kinetics_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        KineticsFolder(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match=r"split folder .*test is missing \(found splits: \['train', 'val'\]\)"):
        KineticsFolder(KINETICS_ROOT, "test")
    root = tmp_path / "kin"
    shutil.copytree(KINETICS_ROOT, root)
    (root / "train" / "yawning").mkdir()
    with pytest.raises(FileNotFoundError, match="yawning holds no video files"):
        KineticsFolder(root, "train")
    with pytest.raises(ValueError, match="yawning is not one of the 2 given classes"):
        KineticsFolder(root, "train", classes=("zoom_in", "zoom_out"))
    (root / "train" / "yawning").rmdir()
    (root / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no class folders"):
        KineticsFolder(root, "empty")
    # an unreadable file fails when read, naming it
    bad = next((root / "val" / "zoom_in").iterdir())
    bad.write_bytes(bad.read_bytes()[:2000])
    ds = KineticsFolder(root, "val")
    with pytest.raises(OSError, match=bad.name):
        ds[0]


def test_sample_script_regenerates_the_same_files(tmp_path):
    make_samples = _load_make_samples()
    first = make_samples.make_kinetics(tmp_path / "a")
    second = make_samples.make_kinetics(tmp_path / "b")
    assert len(first) == len(make_samples.KINETICS_SAMPLES)
    for path_a, path_b in zip(first, second):
        assert path_a.read_bytes() == path_b.read_bytes(), path_a.name  # the encoder is deterministic
        committed = SAMPLES / path_a.relative_to(tmp_path / "a")
        assert committed.is_file(), f"{committed} is missing: run python data_samples/make_samples.py"
        # another FFmpeg build may encode differently: compare decoded pixels with the committed file
        new, old = read_video(path_a)[0].float(), read_video(committed)[0].float()
        assert new.shape == old.shape and (new - old).abs().mean() < 1.0, path_a.name
    total = sum(p.stat().st_size for p in KINETICS_ROOT.rglob("*") if p.is_file())
    assert total < 400_000


def test_float_frames_in_the_wrong_layout_are_refused():
    frames = torch.rand(8, 32, 32, 3)  # float frames (T, H, W, 3): T = 8 would pass for 8 channels
    with pytest.raises(ValueError, match=r"float clip must have shape \(3, T, H, W\) \(RGB first\), got "
                                         r"\(8, 32, 32, 3\) - float frames \(T, H, W, 3\)\? use frames.permute"):
        frames_to_clip(frames)
    with pytest.raises(ValueError, match=r"\(3, T, H, W\).*got \(8, 32, 32, 3\)"):
        VideoTrainTransform(4, 1, 32, 32)(frames)
    with pytest.raises(ValueError, match=r"\(3, T, H, W\).*got \(1, 8, 32, 32\)$"):
        VideoTestViews(4, 1, 32, 32)(torch.rand(1, 8, 32, 32))
    assert VideoTrainTransform(4, 1, 32, 32)(frames.permute(3, 0, 1, 2)).shape == (3, 4, 32, 32)
    with pytest.raises(ValueError, match=r"one per channel of the clip .*got 3 and 3 values for shape \(1, 4, 8, 8\)"):
        video.normalize_clip(torch.rand(1, 4, 8, 8))
    assert video.normalize_clip(torch.rand(1, 4, 8, 8), 0.5, 0.5).shape == (1, 4, 8, 8)


def test_an_image_is_not_a_video_whatever_its_suffix(tmp_path):
    from PIL import Image

    for fmt in ("PNG", "JPEG", "GIF"):
        fake = tmp_path / f"still_{fmt.lower()}.mp4"
        Image.new("RGB", (16, 16), (40, 90, 200)).save(fake, format=fmt)
        with pytest.raises(OSError, match=rf"cannot read video .*still_{fmt.lower()}.mp4: it is an image \(.*\), "
                                          "not a video"):
            read_video(fake)
    frames, fps = read_video(write_video(tmp_path / "real.mp4", motion_frames(4)))  # a real one still reads
    assert frames.shape[0] == 4 and fps == 25.0


def test_videobert_sampling_resamples_to_20_fps_and_cuts_30_frame_windows():
    keep = resample_indices(300, 30, 20)  # 10 s at 30 fps -> 200 frames at 20 fps: 2 of every 3
    assert len(keep) == 200 and keep[:6].tolist() == [0, 1, 3, 4, 6, 7] and keep[-1] == 298
    assert resample_indices(40, 10, 20).tolist()[:5] == [0, 0, 1, 1, 2]  # up-sampling repeats frames
    assert len(resample_indices(300, 29.97, 20)) == 200  # NTSC rate: 10.01 s, still 200 frames
    w = windows(len(keep), 30)
    assert w.shape == (6, 30) and w[1, 0] == 30  # six 1.5 s clips; the last 20 frames (1 s) left out
    with pytest.raises(ValueError, match="target_fps must be a positive number, got 0"):
        resample_indices(300, 30, 0)
    with pytest.raises(ValueError, match="shorter than one window of 30"):
        windows(20, 30)
