"""Tests for dance2d.render: OpenPose-style frames, H.264+AAC videos, preview strips."""

import colorsys

import av
import numpy as np
import pytest
from PIL import Image

from dance2d.errors import Dance2DError
from dance2d.render import RenderStyle, draw_frame, preview_strip, render_poses, write_video
from dance2d.render.skeleton import BODY_COLORS, BODY_LIMBS, HAND_K, HAND_POINT_COLOR
from dance2d.render.video import STRIP_GAP

W, H = 128, 96  # small test canvas
FPS = 25.0


def _pose() -> np.ndarray:
    """A standing body-18 pose (18, 3) whose neck and right shoulder sit on pixel centres of the W×H canvas."""
    px = {
        0: (64, 12), 1: (64, 29), 2: (40, 29), 3: (30, 45), 4: (24, 60), 5: (88, 29), 6: (98, 45),
        7: (104, 60), 8: (54, 60), 9: (52, 75), 10: (50, 90), 11: (74, 60), 12: (76, 75), 13: (78, 90),
        14: (60, 9), 15: (68, 9), 16: (56, 11), 17: (72, 11),
    }
    kp = np.ones((18, 3), np.float32)
    for j, (x, y) in px.items():
        kp[j, :2] = (x / W, y / H)
    return kp


def _limb_color(i: int) -> tuple[int, ...]:
    """Expected colour of limb i: its OpenPose colour dimmed like DWPose (truncating uint8 cast)."""
    return tuple(int(c * RenderStyle().limb_alpha) for c in BODY_COLORS[i])


def _segment_distance(px: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Distance of each pixel centre (N, 2) to the segment a-b."""
    d = b - a
    t = np.clip(((px - a) @ d) / max(d @ d, 1e-9), 0.0, 1.0)  # (N,)
    return np.linalg.norm(px - (a + t[:, None] * d), axis=1)


def test_limb_midpoint_has_limb_colour_and_joints_full_colour():
    kp = _pose()
    img = draw_frame(kp, (W, H))
    assert img.shape == (H, W, 3) and img.dtype == np.uint8
    neck, rsho = (kp[1, :2] * (W, H)), (kp[2, :2] * (W, H))
    mid = np.round((neck + rsho) / 2).astype(int)
    limb = BODY_LIMBS.index((1, 2))
    assert tuple(img[mid[1], mid[0]]) == _limb_color(limb)
    assert tuple(img[29, 64]) == BODY_COLORS[1]  # neck joint drawn on top, undimmed


def test_black_far_from_skeleton():
    kp = _pose()
    img = draw_frame(kp, (W, H))
    ys, xs = np.mgrid[0:H, 0:W]
    px = np.stack([xs.ravel(), ys.ravel()], axis=1).astype(np.float64)  # (H·W, 2)
    xy = kp[:, :2].astype(np.float64) * (W, H)
    dist = np.min([_segment_distance(px, xy[a], xy[b]) for a, b in BODY_LIMBS], axis=0).reshape(H, W)
    style = RenderStyle()
    reach = max(style.stick_width * min(W, H) / style.reference_side, 1.0) + 1.5  # widest stroke + rasterisation
    assert img[dist > reach].max() == 0
    # Ellipses taper at their ends (covered by the joint discs); the middle half of each limb is solid.
    middle = [(xy[a] * 0.75 + xy[b] * 0.25, xy[a] * 0.25 + xy[b] * 0.75) for a, b in BODY_LIMBS]
    axis = np.min([_segment_distance(px, p, q) for p, q in middle], axis=0).reshape(H, W)
    assert img[axis < 0.5].any(axis=-1).all()


def test_palette_is_the_openpose_hue_wheel():
    hsv = [colorsys.rgb_to_hsv(*(c / 255 for c in col)) for col in BODY_COLORS]
    np.testing.assert_allclose([h for h, _, _ in hsv], np.arange(18) / 18, atol=1e-3)
    assert all(s == 1 and v == 1 for _, s, v in hsv)
    assert BODY_LIMBS[0] == (1, 2) and BODY_COLORS[0] == (255, 0, 0)  # neck→right shoulder is red


def test_low_confidence_joint_and_its_limbs_not_drawn():
    kp = _pose()
    full = draw_frame(kp, (W, H))
    missing = kp.copy()
    missing[4, 2] = 0.0  # right wrist
    img = draw_frame(missing, (W, H))
    elbow, wrist = missing[3, :2] * (W, H), missing[4, :2] * (W, H)
    x, y = np.round(wrist).astype(int)
    assert img[y, x].max() == 0 and full[y, x].max() > 0
    x, y = np.round((elbow + wrist) / 2).astype(int)
    assert img[y, x].max() == 0 and full[y, x].max() > 0
    moved = missing.copy()
    moved[4, :2] = (0.9, 0.1)  # a missing joint's coordinates do not matter
    np.testing.assert_array_equal(draw_frame(moved, (W, H)), img)
    at_threshold = kp.copy()
    at_threshold[4, 2] = RenderStyle().threshold
    np.testing.assert_array_equal(draw_frame(at_threshold, (W, H)), img)
    none = kp.copy()
    none[:, 2] = 0.0
    assert draw_frame(none, (W, H)).max() == 0


def test_hands_layout():
    body = _pose()
    hands = np.zeros((2 * HAND_K, 3), np.float32)
    both = np.concatenate([body, hands])
    np.testing.assert_array_equal(draw_frame(both, (W, H)), draw_frame(body, (W, H)))  # hidden hands
    both[18 + HAND_K + 8] = (10 / W, 10 / H, 1.0)  # one visible right-hand point, away from the body
    img = draw_frame(both, (W, H), layout_k=60)
    assert tuple(img[10, 10]) == HAND_POINT_COLOR


def test_bad_layout_raises():
    with pytest.raises(Dance2DError):
        draw_frame(np.ones((17, 3)), (W, H))
    with pytest.raises(Dance2DError):
        draw_frame(_pose(), (W, H), layout_k=60)


def test_stroke_size_scales_with_canvas():
    small = draw_frame(_pose(), (2 * W, 2 * H)).any(axis=-1).sum()  # both sizes above the 1 px minimum stroke
    large = draw_frame(_pose(), (8 * W, 8 * H)).any(axis=-1).sum()
    assert 10 < large / small < 22  # area grows like the square of the side (16×) up to rasterisation


def _music(seconds: float, sr: int) -> np.ndarray:
    """A sine tone with a click every half second, mono float32."""
    t = np.arange(round(seconds * sr)) / sr
    wave = 0.2 * np.sin(2 * np.pi * 440 * t)
    wave[(t % 0.5) < 0.005] = 0.9
    return wave.astype(np.float32)


def _probe(path) -> dict:
    """Stream kinds, codecs, decoded video frame count/size and stream durations of a video file."""
    with av.open(str(path)) as c:
        info = {"video": [s.codec_context.name for s in c.streams.video],
                "audio": [s.codec_context.name for s in c.streams.audio]}
        v = c.streams.video[0]
        info["size"] = (v.codec_context.width, v.codec_context.height)
        if c.streams.audio:
            a = c.streams.audio[0]
            info["audio_s"] = float(a.duration * a.time_base)
        info["frames"] = sum(1 for _ in c.decode(video=0))
        info["video_s"] = info["frames"] / float(v.average_rate)
    return info


def test_video_with_music(tmp_path):
    sr, seconds = 22050, 2.3
    frames = (draw_frame(_pose(), (W, H)) for _ in range(1000))  # more than needed: cut to the music
    out = write_video(frames, tmp_path / "dance.mp4", FPS, (W, H), audio=(_music(seconds, sr), sr))
    info = _probe(out)
    assert info["video"] == ["h264"] and info["audio"] == ["aac"]
    assert info["frames"] == round(seconds * FPS)
    assert abs(info["video_s"] - seconds) < 0.1 and abs(info["audio_s"] - seconds) < 0.1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dance.mp4"]  # no temp file left


def test_video_audio_start_and_held_frames(tmp_path):
    sr = 12800  # not an AAC rate (25 fps × 512 hop): resampled on the way in
    music = _music(3.0, sr)
    music[:sr] = 0.0  # silent first second, skipped by audio_start
    frames = [draw_frame(_pose(), (W, H))] * 5  # fewer than needed: the last frame is held
    out = write_video(frames, tmp_path / "a.mp4", FPS, (W, H), audio=(music, sr), audio_start=1.0)
    info = _probe(out)
    assert info["frames"] == round(2.0 * FPS) and abs(info["audio_s"] - 2.0) < 0.1
    with av.open(str(out)) as c:
        rate = c.streams.audio[0].rate
        heard = np.concatenate([f.to_ndarray().ravel() for f in c.decode(audio=0)])
    assert np.sqrt(np.mean(heard[: rate // 2] ** 2)) > 0.05  # the music starts at once


def test_render_poses_odd_canvas(tmp_path):
    w, h, t = W - 1, H - 1, 10
    poses = np.repeat(_pose()[None], t, axis=0)
    info = _probe(render_poses(poses, (w, h), FPS, tmp_path / "odd.mp4"))
    assert info["size"] == (w + 1, h + 1) and info["frames"] == t and info["audio"] == []


def test_unwritable_output_raises(tmp_path):
    frames = [np.zeros((H, W, 3), np.uint8)]
    with pytest.raises(Dance2DError):
        write_video(frames, tmp_path / "missing" / "x.mp4", FPS, (W, H))
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(Dance2DError):
        write_video(frames, blocker / "x.mp4", FPS, (W, H))
    with pytest.raises(Dance2DError):  # a bad frame mid-encode leaves nothing behind
        write_video([frames[0], np.zeros((3, 3, 3), np.uint8)], tmp_path / "bad.mp4", FPS, (W, H))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


def test_preview_strip_size(tmp_path):
    poses = np.repeat(_pose()[None], 20, axis=0)
    n, tile_h = 4, 48
    out = preview_strip(poses, (W, H), tmp_path / "strip.png", n=n, fps=FPS, tile_height=tile_h)
    tile_w = round(W * tile_h / H)
    with Image.open(out) as im:
        assert im.size == (n * tile_w + (n - 1) * STRIP_GAP, tile_h)
