"""Reference pose from a photo or video frame (issue 11): MediaPipe's pose model → body-18, on real photos."""

import json
import sys
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from dance2d.errors import Dance2DError
from dance2d.pose import PoseSequence
from dance2d.pose.detect import BLAZEPOSE_FOR_COCO17, Person, _body18, detect_reference
from dance2d.pose.layouts import BODY18_JOINTS

DATA = Path(__file__).parent / "data"
CAMERAMAN = DATA / "cameraman.png"  # CC0, tests/data/README.md

try:
    import mediapipe  # noqa: F401

    HAVE_DETECTOR = True
except ImportError:
    HAVE_DETECTOR = False
needs_detector = pytest.mark.skipif(not HAVE_DETECTOR, reason="needs the optional detector: pip install '.[photo]'")

# BlazePose's 33 landmark names (MediaPipe PoseLandmark order).
BLAZEPOSE = ("nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye", "right_eye_outer",
             "left_ear", "right_ear", "mouth_left", "mouth_right", "left_shoulder", "right_shoulder", "left_elbow",
             "right_elbow", "left_wrist", "right_wrist", "left_pinky", "right_pinky", "left_index", "right_index",
             "left_thumb", "right_thumb", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle",
             "right_ankle", "left_heel", "right_heel", "left_foot_index", "right_foot_index")

# Where the joints of the man in cameraman.png are, read by eye from the photo and the detector's overlay
# (pixels of the 512 × 512 image). Hips are under a long coat, so their tolerance is wider; his knees are hidden
# by the coat and the tripod, so they are not checked (the detector places the right one at about (90-120, 445-470)).
CAMERAMAN_JOINTS = {"nose": ((247, 166), 20), "neck": ((162, 175), 25), "r_shoulder": ((105, 182), 30),
                    "l_shoulder": ((220, 169), 30), "r_hip": ((50, 344), 40), "l_hip": ((113, 323), 40),
                    "r_ear": ((195, 145), 25)}
CAMERAMAN_UNSEEN = ("l_ankle",)  # below the bottom of the photo (r_ankle too, but see check_cameraman)


def test_blazepose_to_body18_mapping():
    """Every body-18 joint comes from the BlazePose landmark of the same name; the neck is the shoulders' midpoint."""
    pts = np.zeros((33, 3), np.float32)
    pts[:, 0] = np.arange(33) * 10.0  # x encodes the landmark index
    pts[:, 1] = 100.0
    pts[:, 2] = 0.9
    kp = _body18(Person(pts[list(BLAZEPOSE_FOR_COCO17)], (0, 0, 1, 1)), (1000, 1000))
    for j, name in enumerate(BODY18_JOINTS):
        if name == "neck":
            continue
        side = {"l": "left", "r": "right"}.get(name.split("_")[0])
        want = f"{side}_{name.split('_', 1)[1]}" if side else name
        assert BLAZEPOSE[round(kp[j, 0] * 1000 / 10)] == want, name
    ls, rs = BLAZEPOSE.index("left_shoulder"), BLAZEPOSE.index("right_shoulder")
    assert kp[1, 0] * 1000 == pytest.approx((ls + rs) * 10 / 2) and kp[1, 2] == pytest.approx(0.9)


def test_missing_detector_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "mediapipe", None)  # import mediapipe → ImportError
    with pytest.raises(Dance2DError, match=r"pip install 'dance2d\[photo\]'"):
        detect_reference(CAMERAMAN)


def test_unreadable_and_missing_photo(tmp_path):
    bad = tmp_path / "notes.jpg"
    bad.write_text("not a picture")
    with pytest.raises(Dance2DError, match=r"Cannot read .*notes\.jpg as an image"):
        detect_reference(bad)
    with pytest.raises(Dance2DError, match=r"nowhere\.png does not exist"):
        detect_reference(tmp_path / "nowhere.png")


def check_cameraman(pose: PoseSequence, dx: float = 0.0, dy: float = 0.0):
    """Assert the detected pose matches the joints read by eye (optionally shifted by dx, dy pixels)."""
    px = pose.pixels()[0]
    for name, ((x, y), tol) in CAMERAMAN_JOINTS.items():
        j = BODY18_JOINTS.index(name)
        assert px[j, 2] > 0.5, f"{name} not seen"
        assert np.hypot(px[j, 0] - x - dx, px[j, 1] - y - dy) < tol, f"{name} at {px[j, :2]}, expected {(x, y)}"
    for name in CAMERAMAN_UNSEEN:
        assert px[BODY18_JOINTS.index(name), 2] <= 0.3, f"{name} should not be seen"
    r_ankle = px[BODY18_JOINTS.index("r_ankle")]  # off the photo; re-encoded copies get it pinned to the bottom edge
    assert r_ankle[2] <= 0.3 or r_ankle[1] > 495
    # his right side is on the left of the picture (he faces the camera on the tripod, turned towards us)
    assert px[BODY18_JOINTS.index("r_shoulder"), 0] < px[BODY18_JOINTS.index("l_shoulder"), 0]


@needs_detector
def test_cameraman_joints_match_what_the_eye_sees():
    found = detect_reference(CAMERAMAN)
    assert found.pose.canvas == (512, 512) and found.pose.layout == "openpose18" and found.notes == []
    assert found.image.shape == (512, 512, 3)
    check_cameraman(found.pose)


@needs_detector
def test_webp_and_exif_rotated_photo(tmp_path):
    """A WebP works the same, and a phone photo stored sideways with an EXIF orientation is turned upright."""
    im = Image.open(CAMERAMAN).convert("RGB")
    im.save(tmp_path / "man.webp", quality=95)
    check_cameraman(detect_reference(tmp_path / "man.webp").pose)
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    im.rotate(90, expand=True).save(tmp_path / "sideways.jpg", quality=95, exif=exif)
    check_cameraman(detect_reference(tmp_path / "sideways.jpg").pose)


@needs_detector
def test_person_cut_off_at_the_hips():
    with pytest.raises(Dance2DError, match=r"astronaut\.jpg is cut off or hidden at the right hip, left hip"):
        detect_reference(DATA / "astronaut.jpg")


@needs_detector
def test_no_person():
    with pytest.raises(Dance2DError, match=r"No person found in rocket\.jpg"):
        detect_reference(DATA / "rocket.jpg")


@needs_detector
def test_several_people_takes_the_largest(tmp_path):
    """The astronaut beside the (larger) cameraman: both are found, the cameraman is used, and the user is told."""
    man = np.asarray(Image.open(CAMERAMAN).convert("RGB"))
    astro = np.asarray(Image.open(DATA / "astronaut.jpg").convert("RGB").resize((320, 320)))
    both = np.full((512, 512 + 360, 3), 128, np.uint8)
    both[:, :512] = man
    both[96:416, 532:852] = astro
    Image.fromarray(both).save(tmp_path / "two.png")
    found = detect_reference(tmp_path / "two.png")
    assert found.pose.meta["people"] == 2
    assert len(found.notes) == 1 and found.notes[0].startswith("Found 2 people in two.png; using the largest")
    assert found.pose.canvas == (872, 512)
    check_cameraman(found.pose)


def write_video(path: Path, frames: list[np.ndarray], fps: int = 25) -> Path:
    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=Fraction(fps))
        s.height, s.width = frames[0].shape[:2]
        s.pix_fmt = "yuv420p"
        for i, f in enumerate(frames):
            vf = av.VideoFrame.from_ndarray(f, format="rgb24")
            vf.pts = i
            c.mux(s.encode(vf))
        c.mux(s.encode(None))
    return path


@needs_detector
def test_video_first_frame_with_a_person_or_ref_time(tmp_path):
    man = np.asarray(Image.open(CAMERAMAN).convert("RGB"))
    empty = np.full_like(man, 90)
    video = write_video(tmp_path / "clip.mp4", [empty] * 15 + [man] * 15)  # nobody for 0.6 s, then the man
    found = detect_reference(video)
    t = found.pose.meta["time"]
    assert 0.6 <= t <= 0.85  # examined 4 times a second
    assert found.notes == [f"Using the frame of clip.mp4 at {t:.2f} s, the first with a person."]
    check_cameraman(found.pose, 0, 0)
    assert detect_reference(video, time=1.0).pose.meta["time"] == pytest.approx(1.0, abs=0.05)
    with pytest.raises(Dance2DError, match=r"No person found in clip\.mp4 at 0\.2\d s"):
        detect_reference(video, time=0.2)
    with pytest.raises(Dance2DError, match=r"past the end of clip\.mp4"):
        detect_reference(video, time=5.0)
    nobody = write_video(tmp_path / "empty.mp4", [empty] * 10)
    with pytest.raises(Dance2DError, match=r"No person found in any frame of empty\.mp4"):
        detect_reference(nobody)
    with pytest.raises(Dance2DError, match=r"--ref-time applies to a video"):
        detect_reference(CAMERAMAN, time=1.0)


@needs_detector
def test_pose_command_writes_json_and_preview(tmp_path, capsys):
    from dance2d.cli import main

    out = tmp_path / "me.json"
    assert main(["pose", str(CAMERAMAN), "--out", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert (doc["canvas_width"], doc["canvas_height"]) == (512, 512)
    seq = PoseSequence.load_openpose(out)
    check_cameraman(seq)
    preview = np.asarray(Image.open(tmp_path / "preview.png"))
    photo = np.asarray(Image.open(CAMERAMAN).convert("RGB")).astype(int)
    assert preview.shape == (512, 512, 3)
    neck = np.round(seq.pixels()[0, 1, :2]).astype(int)
    assert tuple(preview[neck[1], neck[0]]) == (255, 85, 0)  # the neck's OpenPose colour drawn on the photo
    assert np.abs(preview.astype(int) - photo).mean() > 20  # the photo is dimmed under the skeleton
    assert "wrote" in capsys.readouterr().out and sorted(p.name for p in tmp_path.iterdir()) == ["me.json",
                                                                                                  "preview.png"]
    assert main(["pose", str(DATA / "astronaut.jpg"), "--out", str(tmp_path / "a.json")]) == 2
    assert "cut off" in capsys.readouterr().err and not (tmp_path / "a.json").exists()


@needs_detector
def test_generate_from_a_photo(tmp_path, tiny_checkpoint):
    """generate --ref PHOTO: the dance is on the photo's canvas and keeps the detected person's place."""
    from conftest import click_track

    from dance2d.cli import main

    Image.open(CAMERAMAN).crop((0, 0, 480, 512)).save(tmp_path / "me.png")  # his right side stays in
    song = click_track(tmp_path / "song.wav", 2.0)
    rc = main(["generate", str(song), "--ref", str(tmp_path / "me.png"), "--model", str(tiny_checkpoint),
               "--steps", "2", "--no-video", "--quiet", "--out", str(tmp_path / "out")])
    assert rc == 0
    seq = PoseSequence.load_npz(tmp_path / "out" / "poses.npz")
    assert seq.canvas == (480, 512)
    ref = np.asarray(seq.meta["reference"])  # the normalised reference the model was given
    assert np.hypot(ref[1, 0] * 480 - 162, ref[1, 1] * 512 - 175) < 25  # the cameraman's neck
    assert main(["generate", str(song), "--ref-time", "1", "--model", str(tiny_checkpoint), "--quiet",
                 "--out", str(tmp_path / "o2")]) == 2
