"""ViViT's input pipeline on real video files: decode, sample clips, resize, crop, average views.

The recipe (ViViT, following SlowFast and implemented in scenic with DMVR):

Training - one view per video and epoch::

    a random clip of 32 frames at stride 2 (64 raw frames, 2.56 s at 25 fps)
                                                    -> sample_clip_indices
    shortest side resized to a random 256..320 px   -> random_short_side_scale
        (the ViViT paper phrases it as scale jitter of 0.9-1.33)
    a random 224x224 crop, the same for every frame -> random_crop
    a horizontal flip with probability 1/2          -> random_hflip
    pixels to [-1, 1] (scenic), or mean/std         -> normalize_clip

Inference - 4 x 3 = 12 views per video, their predictions averaged::

    4 clips spaced uniformly over the video         -> uniform_clip_starts
    shortest side resized to 224 (SlowFast: 256)    -> resize_short_side
    3 square crops: left, centre, right             -> three_crops
        (top, centre, bottom for a portrait video)
    average the softmax scores (SlowFast, the seed) or the logits (scenic)
                                                    -> multi_view_predict
        (average_views, on logits already computed)

VideoBERT samples differently: the video is resampled to 20 fps and cut into
non-overlapping 30-frame windows (1.5 s), each one clip -> resample_indices, windows.

Layouts: decoded frames are uint8 (T, H, W, 3), as video files store them; everything
after :func:`frames_to_clip` works on float clips (C, T, H, W) - the layout the model's
3D convolution (the tubelet embedding) expects, batched to (B, C, T, H, W). Hugging Face's
ViViT wants (B, T, C, H, W) instead: ``clip.transpose(0, 1)``.

Decoding uses PyAV (FFmpeg's libraries). Randomness comes from an optional
``torch.Generator`` (the global generator when it is None, which DataLoader workers
seed differently in each worker).
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from minimodels.layers import to_pair

VIDEO_EXTENSIONS = (".mp4", ".avi", ".mkv", ".webm", ".mov", ".m4v")
# FFmpeg demuxers of still images (and GIF): PyAV opens an image as a one-frame "video"
IMAGE_FORMATS = ("image2", "image2pipe", "gif", "apng")
SCENIC_MEAN = SCENIC_STD = (0.5, 0.5, 0.5)  # (x - 0.5) / 0.5 maps [0, 1] to scenic's [-1, 1]
PAD_MODES = ("error", "loop", "last")


def _av():
    try:
        import av
    except ImportError as err:  # pragma: no cover - av is a dependency
        raise ImportError("reading and writing video files needs PyAV: pip install av") from err
    return av


# ----------------------------------------------------------------------------------
# Files
# ----------------------------------------------------------------------------------


def read_video(path) -> tuple[torch.Tensor, float]:
    """Decode every frame of a video file: (frames uint8 (T, H, W, 3) RGB, frames per second).

    The first video stream is decoded with PyAV and converted to RGB. The whole video is
    held in memory - fine for the 10-second clips of Kinetics (250 frames of 340 px are
    about 100 MB), wasteful for long videos. fps is the stream's average frame rate.
    Errors name the file: ``OSError`` for a missing, unreadable or truncated file, one
    without a video stream (MP4 drops a video track that has no frames) or an image
    (PNG, JPEG, GIF ... whatever its suffix: FFmpeg would read it as a one-frame video),
    and ``ValueError`` for a video stream with no frames.
    """
    av = _av()
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"video file {path} does not exist")
    frames = []
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise OSError(f"cannot read video {path}: the file has no video stream")
            stream, fmt = container.streams.video[0], container.format.name
            if fmt in IMAGE_FORMATS or fmt.endswith("_pipe"):
                raise OSError(f"cannot read video {path}: it is an image ({fmt}, codec {stream.codec_context.name}), "
                              f"not a video")
            rate = stream.average_rate or stream.guessed_rate or stream.base_rate
            for frame in container.decode(stream):
                frames.append(frame.to_ndarray(format="rgb24"))
    except av.error.FFmpegError as err:
        raise OSError(f"cannot read video {path}: {err}") from err
    if not frames:
        raise ValueError(f"video {path} has no frames")
    fps = float(rate) if rate else 0.0
    return torch.from_numpy(np.stack(frames)), fps


def write_video(path, frames: torch.Tensor, fps: float = 25.0, codec: str = "mpeg4", bit_rate: int = 200_000) -> Path:
    """Encode frames uint8 (T, H, W, 3) RGB into a video file (the container from the suffix).

    The default codec, MPEG-4 Part 2 (``mpeg4``), is built into every FFmpeg - the PyAV
    wheels included - and both encodes and decodes; pixels are stored as YUV 4:2:0, so
    height and width must be even, colours are subsampled 2x2 and the codec is lossy:
    decoded frames differ from ``frames`` by a few grey levels. One encoder thread and
    FFmpeg's bit-exact flags make the output bytes depend only on the input and the
    FFmpeg version. Returns the path.
    """
    av = _av()
    frames = torch.as_tensor(frames)
    if frames.dim() != 4 or frames.shape[-1] != 3:
        raise ValueError(f"frames must have shape (T, H, W, 3), got {tuple(frames.shape)}")
    if frames.dtype != torch.uint8:
        raise TypeError(f"frames must be uint8 (0..255), got {frames.dtype}")
    T, H, W, _ = frames.shape
    if T == 0:
        raise ValueError("frames is empty: a video needs at least one frame")
    if H % 2 or W % 2:
        raise ValueError(f"height and width must be even for YUV 4:2:0 video, got (H, W) = ({H}, {W})")
    if not fps > 0:
        raise ValueError(f"fps must be positive, got {fps}")
    path = Path(path)
    rate = Fraction(fps).limit_denominator(1001)
    array = frames.contiguous().numpy()
    with av.open(str(path), mode="w", options={"fflags": "+bitexact"}) as container:
        stream = container.add_stream(codec, rate=rate)
        stream.width, stream.height, stream.pix_fmt = W, H, "yuv420p"
        stream.codec_context.bit_rate = bit_rate
        stream.codec_context.thread_count = 1  # slice threads would make the bytes depend on the machine
        stream.codec_context.options = {"flags": "+bitexact"}  # no encoder version string in the stream
        for t in range(T):
            for packet in stream.encode(av.VideoFrame.from_ndarray(array[t], format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():  # flush the encoder
            container.mux(packet)
    return path


def frames_to_clip(frames: torch.Tensor) -> torch.Tensor:
    """Decoded frames uint8 (T, H, W, 3) -> float32 clip (3, T, H, W) in [0, 1].

    A float tensor is taken to be an RGB clip (3, T, H, W) in [0, 1] already (e.g. a
    DigitWorld motion video) and returned as float32; float frames (T, H, W, 3) are refused
    (their T would pass for channels).
    """
    _check_frames(frames)
    if frames.dtype == torch.uint8:
        return frames.permute(3, 0, 1, 2).float().div_(255)
    return frames.float()


def _check_frames(frames) -> None:
    """A decoded video, uint8 (T, H, W, 3), or a float RGB clip (3, T, H, W)."""
    if not isinstance(frames, torch.Tensor):
        raise TypeError(f"frames must be a torch.Tensor, got {type(frames).__name__}")
    shape = tuple(frames.shape)
    if frames.dtype == torch.uint8:
        if frames.dim() != 4 or frames.shape[-1] != 3:
            raise ValueError(f"uint8 frames must have shape (T, H, W, 3), got {shape}")
    elif frames.is_floating_point():
        _check_clip(frames)
        if frames.shape[0] != 3:
            hint = " - float frames (T, H, W, 3)? use frames.permute(3, 0, 1, 2)" if frames.shape[-1] == 3 else ""
            raise ValueError(f"a float clip must have shape (3, T, H, W) (RGB first), got {shape}{hint}")
    else:
        raise TypeError(f"frames must be uint8 (T, H, W, 3) or a float clip (3, T, H, W), got {frames.dtype}")


def _check_clip(clip: torch.Tensor) -> None:
    if not isinstance(clip, torch.Tensor):
        raise TypeError(f"clip must be a torch.Tensor (C, T, H, W), got {type(clip).__name__}")
    if clip.dim() != 4:
        raise ValueError(f"clip must have shape (C, T, H, W), got {tuple(clip.shape)}")
    if not clip.is_floating_point():
        raise TypeError(f"clip must be floating point (use frames_to_clip on uint8 frames), got {clip.dtype}")


def _num_frames_of(frames: torch.Tensor) -> int:
    _check_frames(frames)
    return frames.shape[0] if frames.dtype == torch.uint8 else frames.shape[1]


def _take_frames(frames: torch.Tensor, indices: torch.Tensor) -> torch.Tensor:
    """Select ``indices`` along time, before the (costlier) float conversion."""
    return frames[indices] if frames.dtype == torch.uint8 else frames[:, indices]


# ----------------------------------------------------------------------------------
# Time: which frames
# ----------------------------------------------------------------------------------


def _check_positive_int(name: str, value) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return value


def clip_span(num_frames: int, stride: int) -> int:
    """Raw frames a clip covers: ``num_frames * stride`` (32 frames at stride 2: 64, 2.56 s at 25 fps).

    SlowFast and DMVR count the clip this way (the last stride is included), so a video
    needs this many frames for one clip without padding.
    """
    return _check_positive_int("num_frames", num_frames) * _check_positive_int("stride", stride)


def _short_video_error(num_video_frames: int, num_frames: int, stride: int) -> ValueError:
    need = clip_span(num_frames, stride)
    return ValueError(
        f"video too short for a clip of {num_frames} frames at stride {stride}: needs {need} frames, "
        f"got {num_video_frames} (pass pad='loop' or pad='last' to pad it, as scenic's DMVR loops short videos)"
    )


def sample_clip_indices(
    num_video_frames: int,
    num_frames: int,
    stride: int,
    generator: torch.Generator | None = None,
    start: int | None = None,
    pad: str = "error",
) -> torch.LongTensor:
    """Frame indices (num_frames,) of one clip: ``start + stride * [0, 1, ..., num_frames - 1]``.

    Training takes a random clip: ``start`` uniform in [0, num_video_frames - span] with
    span = ``num_frames * stride`` (:func:`clip_span`), drawn from ``generator``; pass
    ``start`` to choose it. A video shorter than the span is an error by default;
    ``pad="loop"`` plays it again from the beginning (indices modulo its length, from a
    random start - DMVR's way, used by scenic), ``pad="last"`` repeats its last frame
    (indices clamped, from frame 0).
    """
    _check_positive_int("num_video_frames", num_video_frames)
    span = clip_span(num_frames, stride)
    if pad not in PAD_MODES:
        raise ValueError(f"pad must be one of {PAD_MODES}, got {pad!r}")
    steps = torch.arange(num_frames, dtype=torch.int64) * stride
    if num_video_frames < span:
        if pad == "error":
            raise _short_video_error(num_video_frames, num_frames, stride)
        if pad == "last":
            return (steps + (start or 0)).clamp(max=num_video_frames - 1)
        if start is None:
            start = int(torch.randint(num_video_frames, (), generator=generator))
        return (steps + start) % num_video_frames
    max_start = num_video_frames - span
    if start is None:
        start = int(torch.randint(max_start + 1, (), generator=generator))
    elif not isinstance(start, int) or not 0 <= start <= max_start:
        raise ValueError(
            f"start must be an int in [0, {max_start}] for a clip of {span} frames in {num_video_frames}, got {start!r}"
        )
    return steps + start


def resample_indices(num_video_frames: int, fps: float, target_fps: float) -> torch.LongTensor:
    """Source frames (n,) that play a video of ``fps`` at ``target_fps``: output frame k shows the
    frame on screen at time k / target_fps, ``floor(k * fps / target_fps)``, for every k that falls
    inside the video. Fewer frames per second drops frames (30 -> 20 fps keeps 2 of every 3),
    more repeats them."""
    _check_positive_int("num_video_frames", num_video_frames)
    for name, value in (("fps", fps), ("target_fps", target_fps)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
            raise ValueError(f"{name} must be a positive number, got {value!r}")
    duration = Fraction(num_video_frames) / Fraction(fps).limit_denominator(1001)
    n = int(duration * Fraction(target_fps).limit_denominator(1001))  # output frames inside the video
    ratio = Fraction(fps).limit_denominator(1001) / Fraction(target_fps).limit_denominator(1001)
    return torch.tensor([int(k * ratio) for k in range(n)], dtype=torch.int64)


def windows(num_frames: int, window: int) -> torch.LongTensor:
    """Frame indices (n, window) of the non-overlapping windows that tile ``num_frames`` frames
    from the start - VideoBERT's 30-frame clips at 20 fps; a tail shorter than a window is left
    out (an error when the video is shorter than one window)."""
    _check_positive_int("num_frames", num_frames)
    _check_positive_int("window", window)
    if num_frames < window:
        raise ValueError(f"a video of {num_frames} frames is shorter than one window of {window}")
    n = num_frames // window
    return torch.arange(n * window, dtype=torch.int64).view(n, window)


def uniform_clip_starts(num_video_frames: int, num_frames: int, stride: int, num_clips: int) -> torch.LongTensor:
    """First frames (num_clips,) of test clips spaced uniformly over the video.

    scenic (DMVR's ``sample_linspace_sequence``) and SlowFast place the clips at
    ``linspace(0, num_video_frames - span, num_clips)`` rounded down: the first clip
    starts the video, the last one ends it, the others are evenly spaced between. With
    ``num_clips=1`` the clip is the centred one. Overlapping clips are fine (a short
    video); a video shorter than one clip is an error (pad it, see
    :func:`sample_clip_indices`).
    """
    _check_positive_int("num_video_frames", num_video_frames)
    _check_positive_int("num_clips", num_clips)
    span = clip_span(num_frames, stride)
    if num_video_frames < span:
        raise _short_video_error(num_video_frames, num_frames, stride)
    max_start = num_video_frames - span
    if num_clips == 1:
        return torch.tensor([max_start // 2])
    return torch.linspace(0, max_start, num_clips, dtype=torch.float64).floor().long()


# ----------------------------------------------------------------------------------
# Space: resize, crop, flip - the same for every frame of a clip
# ----------------------------------------------------------------------------------


def short_side_size(height: int, width: int, size: int) -> tuple[int, int]:
    """(h, w) with the shorter side equal to ``size`` and the aspect ratio kept.

    The long side is rounded down, as DMVR's ``resize_smallest`` and PyTorchVideo's
    ``short_side_scale`` do: 1080x1920 at 256 -> 256x455.
    """
    if height <= width:
        return size, max(size, width * size // height)
    return max(size, height * size // width), size


def resize_short_side(clip: torch.Tensor, size: int) -> torch.Tensor:
    """Resize every frame of ``clip`` (C, T, H, W) so that its shorter side is ``size`` pixels.

    Bilinear, with antialiasing when shrinking (a low-pass filter first, like PIL and
    TensorFlow's resize): plain bilinear would skip pixels and alias fine textures.
    """
    _check_clip(clip)
    _check_positive_int("size", size)
    H, W = clip.shape[-2:]
    out = short_side_size(H, W, size)
    if out == (H, W):
        return clip
    frames = clip.transpose(0, 1)  # (T, C, H, W): the frames as a batch of images
    frames = F.interpolate(frames, size=out, mode="bilinear", align_corners=False, antialias=True)
    return frames.transpose(0, 1)


def random_short_side_scale(
    clip: torch.Tensor, min_size: int, max_size: int, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Scale jitter: resize the shorter side to a random size in [min_size, max_size] (both included).

    The seed's description (from SlowFast): 256..320 before 224 crops. The ViViT paper
    describes its jitter as a random scale factor of 0.9..1.33.
    """
    _check_positive_int("min_size", min_size)
    _check_positive_int("max_size", max_size)
    if min_size > max_size:
        raise ValueError(f"min_size must not exceed max_size, got {min_size} > {max_size}")
    size = int(torch.randint(min_size, max_size + 1, (), generator=generator))
    return resize_short_side(clip, size)


def _check_crop(clip: torch.Tensor, size) -> tuple[int, int]:
    _check_clip(clip)
    ch, cw = to_pair(size, "size")
    H, W = clip.shape[-2:]
    if ch > H or cw > W:
        raise ValueError(f"crop of (h, w) = ({ch}, {cw}) does not fit in frames of ({H}, {W}); resize first")
    return ch, cw


def crop(clip: torch.Tensor, top: int, left: int, size) -> torch.Tensor:
    """The window ``size`` (h, w) at (top, left) of every frame of ``clip`` (C, T, H, W)."""
    ch, cw = _check_crop(clip, size)
    return clip[..., top : top + ch, left : left + cw]


def random_crop(clip: torch.Tensor, size, generator: torch.Generator | None = None) -> torch.Tensor:
    """A random window of ``size`` (int or (h, w)), at the same place in every frame."""
    ch, cw = _check_crop(clip, size)
    H, W = clip.shape[-2:]
    top = int(torch.randint(H - ch + 1, (), generator=generator))
    left = int(torch.randint(W - cw + 1, (), generator=generator))
    return clip[..., top : top + ch, left : left + cw]


def center_crop(clip: torch.Tensor, size) -> torch.Tensor:
    """The central window of ``size`` (offsets rounded down, like SlowFast's ``uniform_crop``)."""
    ch, cw = _check_crop(clip, size)
    H, W = clip.shape[-2:]
    return crop(clip, (H - ch) // 2, (W - cw) // 2, (ch, cw))


def three_crops(clip: torch.Tensor, size: int) -> torch.Tensor:
    """Three square crops (3, C, T, size, size) covering the long side: left, centre, right.

    SlowFast's ``uniform_crop`` with spatial_idx 0, 1, 2 (scenic's 3 test crops): the
    short side is cropped centrally and the long side at its start, middle and end; for
    a portrait video (H > W) the crops are top, centre, bottom. After
    :func:`resize_short_side` to ``size`` the short side is covered exactly.
    """
    size = _check_positive_int("size", size)
    _check_crop(clip, size)
    H, W = clip.shape[-2:]
    if W >= H:
        top = (H - size) // 2
        return torch.stack([crop(clip, top, left, size) for left in (0, (W - size) // 2, W - size)])
    left = (W - size) // 2
    return torch.stack([crop(clip, top, left, size) for top in (0, (H - size) // 2, H - size)])


def random_hflip(clip: torch.Tensor, prob: float = 0.5, generator: torch.Generator | None = None) -> torch.Tensor:
    """Mirror every frame left-right with probability ``prob``.

    A flip keeps most action classes (Kinetics' "playing guitar" stays so), but not
    direction classes: DigitWorld's "move left" becomes "move right"
    (:func:`minimodels.data.motion.mirror_labels`).
    """
    _check_clip(clip)
    if torch.rand((), generator=generator).item() < prob:
        return clip.flip(-1)
    return clip


def normalize_clip(clip: torch.Tensor, mean=SCENIC_MEAN, std=SCENIC_STD) -> torch.Tensor:
    """(clip - mean) / std per channel of (C, T, H, W) or (..., C, T, H, W); [0, 1] in, by default [-1, 1] out.

    scenic feeds ViViT pixels in [-1, 1] (mean = std = 0.5 here). ImageNet statistics
    (``minimodels.data.transforms.IMAGENET_MEAN``/``STD``) are the other common choice;
    Hugging Face's ViViT image processor rescales to [-1, 1] and then normalises again
    with 0.5/0.5, ending in [-3, 1].
    """
    m = torch.as_tensor(mean, dtype=clip.dtype, device=clip.device).view(-1, 1, 1, 1)
    s = torch.as_tensor(std, dtype=clip.dtype, device=clip.device).view(-1, 1, 1, 1)
    if clip.dim() < 4 or {len(m), len(s)} - {1, clip.shape[-4]}:
        raise ValueError(f"normalize_clip: mean and std need one value, or one per channel of the clip "
                         f"(C, T, H, W), got {len(m)} and {len(s)} values for shape {tuple(clip.shape)}")
    return (clip - m) / s


# ----------------------------------------------------------------------------------
# Pipelines
# ----------------------------------------------------------------------------------


def _short_side_range(short_side) -> tuple[int, int]:
    if isinstance(short_side, int) and not isinstance(short_side, bool):
        short_side = (short_side, short_side)
    ok = isinstance(short_side, (tuple, list)) and len(short_side) == 2
    ok = ok and all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in short_side)
    if not ok or short_side[0] > short_side[1]:
        raise ValueError(f"short_side must be a positive int or a (min, max) pair of them, got {short_side!r}")
    return int(short_side[0]), int(short_side[1])


class VideoTrainTransform:
    """ViViT's training view (module docstring), as one callable.

    ``transform(frames, generator=None) -> clip float32 (3, num_frames, crop, crop)``,
    normalised. ``frames``: a decoded video, uint8 (T, H, W, 3) (:func:`read_video`), or
    a float clip (C, T, H, W) in [0, 1]. The paper's setting is the default: 32 frames at
    stride 2, short side 256..320, 224 crops, flips, pixels in [-1, 1]. ``short_side``
    is an int (no jitter) or a (min, max) range; it must be at least ``crop``. ``pad``
    handles videos shorter than a clip (:func:`sample_clip_indices`).
    """

    def __init__(
        self,
        num_frames: int = 32,
        stride: int = 2,
        short_side=(256, 320),
        crop: int = 224,
        flip: bool = True,
        mean=SCENIC_MEAN,
        std=SCENIC_STD,
        pad: str = "error",
    ):
        clip_span(num_frames, stride)
        self.num_frames, self.stride = num_frames, stride
        self.short_side = _short_side_range(short_side)
        self.crop = _check_positive_int("crop", crop)
        if self.short_side[0] < crop:
            raise ValueError(f"short_side {short_side!r} must be at least the crop size {crop}")
        if pad not in PAD_MODES:
            raise ValueError(f"pad must be one of {PAD_MODES}, got {pad!r}")
        self.flip, self.mean, self.std, self.pad = flip, mean, std, pad

    def __call__(self, frames: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        g = generator
        idx = sample_clip_indices(_num_frames_of(frames), self.num_frames, self.stride, g, pad=self.pad)
        clip = frames_to_clip(_take_frames(frames, idx))
        clip = random_short_side_scale(clip, *self.short_side, generator=g)
        clip = random_crop(clip, self.crop, generator=g)
        if self.flip:
            clip = random_hflip(clip, 0.5, generator=g)
        return normalize_clip(clip, self.mean, self.std).contiguous()

    def __repr__(self) -> str:
        return (
            f"VideoTrainTransform(num_frames={self.num_frames}, stride={self.stride}, short_side={self.short_side}, "
            f"crop={self.crop}, flip={self.flip}, pad={self.pad!r})"
        )


class VideoTestViews:
    """ViViT's test views: ``views(frames) -> float32 (temporal_views * spatial_views, 3, num_frames, crop, crop)``.

    ``temporal_views`` clips spaced uniformly (:func:`uniform_clip_starts`), each
    resized to ``short_side`` and cut into ``spatial_views`` crops: 3 (left, centre,
    right; :func:`three_crops`) or 1 (centre). Views are ordered clip by clip: view
    ``k`` is clip ``k // spatial_views``, crop ``k % spatial_views``. Defaults: 4 x 3 =
    12 views of 32 frames at stride 2, short side 224 and 224 crops (the seed's ViViT
    description; SlowFast uses 256 and 256). Feed them to :func:`multi_view_predict`.
    A video shorter than one clip is an error, or with ``pad`` the one padded clip
    (:func:`sample_clip_indices`, from frame 0) serves every temporal view.
    """

    def __init__(
        self,
        num_frames: int = 32,
        stride: int = 2,
        short_side: int = 224,
        crop: int = 224,
        temporal_views: int = 4,
        spatial_views: int = 3,
        mean=SCENIC_MEAN,
        std=SCENIC_STD,
        pad: str = "error",
    ):
        clip_span(num_frames, stride)
        self.num_frames, self.stride = num_frames, stride
        self.short_side = _check_positive_int("short_side", short_side)
        self.crop = _check_positive_int("crop", crop)
        if short_side < crop:
            raise ValueError(f"short_side {short_side} must be at least the crop size {crop}")
        self.temporal_views = _check_positive_int("temporal_views", temporal_views)
        if spatial_views not in (1, 3):
            raise ValueError(f"spatial_views must be 1 (centre) or 3 (left, centre, right), got {spatial_views!r}")
        if pad not in PAD_MODES:
            raise ValueError(f"pad must be one of {PAD_MODES}, got {pad!r}")
        self.spatial_views, self.mean, self.std, self.pad = spatial_views, mean, std, pad

    @property
    def num_views(self) -> int:
        return self.temporal_views * self.spatial_views

    def clip_indices(self, num_video_frames: int) -> torch.LongTensor:
        """Frame indices (temporal_views, num_frames) of the test clips of a video."""
        span = clip_span(self.num_frames, self.stride)
        steps = torch.arange(self.num_frames) * self.stride
        if num_video_frames < span and self.pad != "error":
            return torch.stack(
                [sample_clip_indices(num_video_frames, self.num_frames, self.stride, start=0, pad=self.pad)]
                * self.temporal_views
            )
        starts = uniform_clip_starts(num_video_frames, self.num_frames, self.stride, self.temporal_views)
        return starts.view(-1, 1) + steps

    def __call__(self, frames: torch.Tensor) -> torch.Tensor:
        views = []
        for idx in self.clip_indices(_num_frames_of(frames)):
            clip = resize_short_side(frames_to_clip(_take_frames(frames, idx)), self.short_side)
            if self.spatial_views == 3:
                views.append(three_crops(clip, self.crop))
            else:
                views.append(center_crop(clip, self.crop).unsqueeze(0))
        return normalize_clip(torch.cat(views), self.mean, self.std).contiguous()

    def __repr__(self) -> str:
        return (
            f"VideoTestViews(num_frames={self.num_frames}, stride={self.stride}, short_side={self.short_side}, "
            f"crop={self.crop}, temporal_views={self.temporal_views}, spatial_views={self.spatial_views})"
        )


@torch.no_grad()
def multi_view_predict(model, views: torch.Tensor, average: str = "softmax", batch_size: int | None = None):
    """Average a classifier's predictions over the views of a video.

    views: (V, C, T, H, W) for one video -> (num_classes,), or (B, V, C, T, H, W) for a
    batch -> (B, num_classes). ``model`` maps (N, C, T, H, W) to logits (N, num_classes);
    put it in eval mode first. ``average="softmax"`` returns the mean of the views'
    class probabilities (SlowFast, and the seed's description); ``"logits"`` the mean of
    the logits (scenic's default) - apply softmax to it for probabilities. The two can
    rank classes differently: in the logit average one very confident view can outvote
    all the others, while in the softmax average no view counts for more than a
    probability of 1.
    ``batch_size`` runs the views through the model in chunks.
    """
    if average not in ("softmax", "logits"):
        raise ValueError(f"average must be 'softmax' or 'logits', got {average!r}")
    if not isinstance(views, torch.Tensor) or views.dim() not in (5, 6):
        got = tuple(views.shape) if isinstance(views, torch.Tensor) else type(views).__name__
        raise ValueError(f"views must be a tensor (V, C, T, H, W) or (B, V, C, T, H, W), got {got}")
    batched = views.dim() == 6
    lead = views.shape[:2] if batched else views.shape[:1]
    flat = views.reshape(-1, *views.shape[-4:])
    step = batch_size or len(flat)
    logits = torch.cat([model(flat[i : i + step]) for i in range(0, len(flat), step)])
    if logits.dim() != 2 or logits.shape[0] != len(flat):
        raise ValueError(
            f"model must return logits (N, num_classes) for N = {len(flat)} views, got {tuple(logits.shape)}"
        )
    return average_views(logits.view(*lead, -1), average)


def average_views(view_logits: torch.Tensor, average: str = "softmax") -> torch.Tensor:
    """The average :func:`multi_view_predict` takes, on logits already computed: ``view_logits``
    (V, num_classes) for one video -> (num_classes,), or (B, V, num_classes) -> (B, num_classes).
    Run the views through the model once and average them several ways (softmax, logits, a
    subset of the views) without running the model again."""
    if average not in ("softmax", "logits"):
        raise ValueError(f"average must be 'softmax' or 'logits', got {average!r}")
    if not isinstance(view_logits, torch.Tensor) or view_logits.dim() not in (2, 3):
        got = tuple(view_logits.shape) if isinstance(view_logits, torch.Tensor) else type(view_logits).__name__
        raise ValueError(f"view_logits must be a tensor (V, num_classes) or (B, V, num_classes), got {got}")
    logits = view_logits.float()
    scores = logits.softmax(-1) if average == "softmax" else logits
    return scores.mean(-2)


# ----------------------------------------------------------------------------------
# Kinetics-style folders
# ----------------------------------------------------------------------------------


class KineticsFolder(torch.utils.data.Dataset):
    """Videos in class folders, the layout Kinetics is usually unpacked into::

        root/train/abseiling/<youtube id>_<start>_<end>.mp4
        root/train/air_drumming/...
        root/val/...

    Classes are the folder names of ``root/split`` sorted alphabetically (their index is
    the label), unless ``classes`` gives the list - pass the training set's
    ``.classes`` to a validation set so that labels agree even if a folder is missing.
    Items are (clip, label): the decoded frames uint8 (T, H, W, 3) go through
    ``transform`` (e.g. :class:`VideoTrainTransform` or :class:`VideoTestViews`), or are
    returned as they are without one. Errors name the folder or file: a missing root or
    split, a class folder without video files (``extensions``), a folder not in
    ``classes``, an unreadable file, a video too short for the transform's clip.
    """

    def __init__(self, root, split: str = "train", transform=None, classes=None, extensions=VIDEO_EXTENSIONS):
        self.root = Path(root)
        if not self.root.is_dir():
            raise FileNotFoundError(
                f"Kinetics root {self.root} does not exist (expected <root>/<split>/<class>/<videos>)"
            )
        self.split_dir = self.root / split
        if not self.split_dir.is_dir():
            found = sorted(p.name for p in self.root.iterdir() if p.is_dir())
            raise FileNotFoundError(f"split folder {self.split_dir} is missing (found splits: {found})")
        self.extensions = tuple(e.lower() for e in extensions)
        folders = sorted(p.name for p in self.split_dir.iterdir() if p.is_dir())
        if classes is None:
            if not folders:
                raise FileNotFoundError(f"no class folders in {self.split_dir} (expected <class>/<video files>)")
            classes = folders
        else:
            classes = list(classes)
            unknown = [f for f in folders if f not in classes]
            if unknown:
                raise ValueError(f"folder {self.split_dir / unknown[0]} is not one of the {len(classes)} given classes")
        self.classes = tuple(classes)
        self.class_to_idx = {c: i for i, c in enumerate(self.classes)}
        self.samples = []
        for name in folders:
            files = sorted(p for p in (self.split_dir / name).iterdir() if p.suffix.lower() in self.extensions)
            if not files:
                raise FileNotFoundError(f"class folder {self.split_dir / name} holds no video files {self.extensions}")
            self.samples += [(p, self.class_to_idx[name]) for p in files]
        self.split, self.transform = split, transform

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int):
        path, label = self.samples[index]
        frames, _ = read_video(path)
        if self.transform is not None:
            try:
                frames = self.transform(frames)
            except ValueError as err:
                raise ValueError(f"{path}: {err}") from err
        return frames, label

    def __repr__(self) -> str:
        return (
            f"KineticsFolder(root={str(self.root)!r}, split={self.split!r}, n={len(self)}, "
            f"classes={len(self.classes)}, transform={self.transform!r})"
        )
