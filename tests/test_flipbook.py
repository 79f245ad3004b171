import pytest
import torch
import torch.nn.functional as F

from minimodels.data.flipbook import FLIPBOOK_CLASSES, make_flipbook_videos


def test_the_label_is_the_digit_shown_most_often():
    videos, labels, info = make_flipbook_videos(200, 16, 32, seed=3, hold=1, return_info=True)
    assert videos.shape == (200, 3, 16, 32, 32) and videos.dtype == torch.float32 and labels.dtype == torch.int64
    assert 0 <= videos.min() and videos.max() <= 1 and len(FLIPBOOK_CLASSES) == 10
    counts = F.one_hot(info["slot_digits"], 10).sum(1)  # (n, 10) slots per digit
    top2 = counts.sort(1, descending=True).values[:, :2]
    assert torch.equal(counts.argmax(1), labels) and (top2[:, 0] == 4).all() and (top2[:, 1] <= 3).all()
    assert len(labels.unique()) == 10  # every class occurs
    # a new digit on every frame: consecutive frames differ wherever the digit changes
    changes = (videos[:, :, 1:] - videos[:, :, :-1]).abs().amax(dim=(1, 3, 4)) > 0.05
    assert changes.float().mean() > 0.9


def test_hold_repeats_each_digit_and_index_stability():
    videos, labels, info = make_flipbook_videos(6, 16, 24, seed=0, hold=2, repeats=3, return_info=True)
    assert info["slot_digits"].shape == (6, 8)
    assert torch.equal(videos[:, :, 0::2], videos[:, :, 1::2])  # each digit stays two frames
    default = make_flipbook_videos(3, 16, 24, return_info=True)[2]["slot_digits"]
    assert default.shape == (3, 8)  # by default a new digit every two frames
    again, again_labels = make_flipbook_videos(2, 16, 24, seed=0, hold=2, repeats=3, start=4)
    assert torch.equal(again, videos[4:]) and torch.equal(again_labels, labels[4:])
    other = make_flipbook_videos(6, 16, 24, seed=0, split="test", hold=2, repeats=3)[0]
    assert not torch.equal(other, videos)


@pytest.mark.parametrize("kwargs, message", [
    (dict(num_frames=15, hold=2), "num_frames = 15 must be a multiple of hold = 2"),
    (dict(num_frames=16, repeats=1), "need repeats >= 2"),
    (dict(num_frames=4, hold=1, repeats=5), "4 slots"),
    (dict(num_frames=16, hold=0), "hold must be an int >= 1, got 0"),
])
def test_bad_arguments_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_flipbook_videos(2, size=16, **kwargs)
