"""Keeping the dancer inside the picture's width (pose/inframe.py, generate --keep-in-frame)."""

import numpy as np
from conftest import click_track

from dance2d.pose.inframe import MARGIN, follow_in_frame

FPS = 25.0


def walker(frames: int = 200, speed: float = 0.006, width: float = 0.2) -> np.ndarray:
    """A body of 18 joints `width` wide, starting at x = 0.4 and walking right `speed` canvas widths per frame."""
    kp = np.ones((frames, 18, 3))
    kp[..., 0] = np.linspace(0.4, 0.4 + width, 18)[None] + speed * np.arange(frames)[:, None]
    kp[..., 1] = np.linspace(0.2, 0.8, 18)[None]
    return kp


def test_a_dancer_walking_out_of_the_picture_is_panned_back_smoothly():
    kp = walker()
    assert kp[..., 0].max() > 1.7  # walks far out on the right
    out = follow_in_frame(kp, FPS)
    assert out[..., 0].max() <= 1 - MARGIN + 0.002 and out[..., 0].min() >= 0
    shift = out[..., 0] - kp[..., 0]  # (T, K)
    assert np.allclose(shift, shift[:, :1])  # the whole body moves together: the pose is unchanged
    np.testing.assert_array_equal(out[..., 1:], kp[..., 1:])  # never up or down; confidences kept
    assert np.abs(np.diff(shift[:, 0])).max() <= 0.0061  # pans no faster than the dancer walks
    # the body reaches the margin at frame 63; the camera starts easing at most 4 σ = 1.6 s (40 frames) before
    assert np.all(shift[:23] == 0) and np.all(shift[23:] <= 0)


def test_a_dance_inside_the_picture_is_left_alone_and_a_wide_one_is_centred():
    kp = walker(speed=0.0)
    kp[::7, 3, 2] = 0  # missing joints do not count
    np.testing.assert_array_equal(follow_in_frame(kp, FPS), kp)
    wide = walker(speed=0.0, width=1.2)  # arms spread wider than the frame (a close-up): centred
    out = follow_in_frame(wide, FPS)
    assert np.allclose(out[..., 0].min(axis=1) + out[..., 0].max(axis=1), 1.0)
    blank = kp.copy()
    blank[50:60, :, 2] = 0  # frames that show nothing need no shift
    blank[:, :, 0] += 0.5
    out = follow_in_frame(np.stack([kp, blank]), FPS)  # a batch: each dance on its own
    np.testing.assert_array_equal(out[0], kp)
    shown = out[1, ..., 2] > 0
    assert out[1, ..., 0][shown].max() <= 1 - MARGIN + 1e-9


def test_generate_keeps_a_close_up_dancer_in_the_picture(tmp_path, reference_pose):
    """Through the pipeline: the dance starts in the reference pose and stays inside the frame's width; off by
    default."""
    from conftest import tiny_config

    from dance2d.pipeline import Dance2D

    model, config = tiny_config()
    pipe = Dance2D.from_config(model, config)

    def walk(feats, model_ref, seeds, *args, **kw):  # a stand-in dance that walks out to the right
        n = pipe.plan(len(feats))[2]
        kp = np.repeat(model_ref[None, None], n, 1).repeat(len(seeds), 0).copy()
        kp[..., 0] += 0.01 * np.arange(n)[None, :, None]
        return kp

    pipe._generate = walk
    song = click_track(tmp_path / "song.wav", 6.0)
    opts = dict(steps=1, retarget=False, reframe=False, dynamics=0, tempo_sync=False, smooth=0)
    [free] = pipe.generate(song, reference_pose, keep_in_frame=False, **opts)
    [kept] = pipe.generate(song, reference_pose, **opts)  # the default
    shown = kept.keypoints[..., 2] > 0
    assert free.keypoints[..., 0].max() > 1.5 and not free.meta["keep_in_frame"]
    assert kept.keypoints[..., 0][shown].max() <= 1 - MARGIN + 0.002 and kept.meta["keep_in_frame"]
    np.testing.assert_allclose(kept.keypoints[0], free.keypoints[0])  # both start in the reference pose
    np.testing.assert_array_equal(kept.keypoints[..., 1], free.keypoints[..., 1])


def test_the_pan_is_eased_over_the_same_time_at_any_frame_rate():
    starts = []
    for fps in (10.0, 60.0):
        kp = walker(frames=int(8 * fps), speed=0.15 / fps)  # 0.15 canvas widths per second
        shift = follow_in_frame(kp, fps)[:, 0, 0] - kp[:, 0, 0]
        starts.append(np.argmax(shift < -0.005) / fps)  # when the camera has moved noticeably, in seconds
    assert abs(starts[0] - starts[1]) < 0.15
    assert all(2.53 - 1.6 < t < 2.53 for t in starts)  # the body (right edge 0.6 + 0.15 t) reaches the margin at 2.53 s
