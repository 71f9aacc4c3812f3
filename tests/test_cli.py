"""The `generate` / `render` commands and the output folder they write (tiny random model, short synthetic music)."""

import json
from pathlib import Path

import av
import numpy as np
import pytest
import soundfile as sf
from conftest import click_track

import dance2d.render.video as video
from dance2d.cli import main
from dance2d.outputs import MANIFEST
from dance2d.pipeline import default_reference_path
from dance2d.pose import PoseSequence

SECONDS = 2.0  # length of the test music: one segment of the tiny model (64 frames at 25 fps)


def generate(song, ckpt, out, *extra) -> int:
    return main(["generate", str(song), "--model", str(ckpt), "--steps", "2", "--out", str(out), "--quiet",
                 *map(str, extra)])


def leftovers(folder: Path) -> list[str]:
    """Hidden temporary entries (partial folders, .old copies, temp files) left in `folder`."""
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def write_reference(path: Path, pose: np.ndarray, canvas=(640, 480)) -> Path:
    """An OpenPose JSON of one person, pose (18, 3) normalised → pixels of `canvas`."""
    px = pose * np.array([canvas[0], canvas[1], 1.0])
    doc = {"people": [{"pose_keypoints_2d": px.reshape(-1).tolist()}], "canvas_width": canvas[0],
           "canvas_height": canvas[1]}
    path.write_text(json.dumps(doc))
    return path


def check_dance(folder: Path, seconds: float, fps: float, canvas: tuple[int, int], video_file: bool = True):
    """Assert `folder` holds one complete dance of `seconds` music at `fps` on `canvas`."""
    seq = PoseSequence.load_npz(folder / "poses.npz")
    frames = round(seconds * fps)
    assert len(seq) == frames and seq.fps == fps and seq.canvas == canvas
    jsons = sorted((folder / "openpose").glob("*.json"))
    assert [p.name for p in jsons] == [f"{t:06d}.json" for t in range(frames)]
    doc = json.loads(jsons[-1].read_text())
    assert (doc["canvas_width"], doc["canvas_height"]) == canvas
    body = np.asarray(doc["people"][0]["pose_keypoints_2d"]).reshape(-1, 3)
    assert body.shape == (18, 3)
    assert np.allclose(body[:, :2], seq.pixels()[-1, :, :2], atol=1e-3)  # pixels, not normalised
    assert (folder / "preview.png").stat().st_size > 0
    assert (folder / "dance.mp4").exists() == video_file
    if video_file:
        with av.open(str(folder / "dance.mp4")) as c:
            (v,), (a,) = c.streams.video, c.streams.audio
            assert v.codec_context.name == "h264" and a.codec_context.name == "aac"
            assert (v.width, v.height) == (canvas[0] + canvas[0] % 2, canvas[1] + canvas[1] % 2)
            assert float(v.duration * v.time_base) == pytest.approx(seconds, abs=0.1)
            assert float(a.duration * a.time_base) == pytest.approx(seconds, abs=0.1)
    return seq


@pytest.fixture(scope="module")
def song(tmp_path_factory) -> Path:
    return click_track(tmp_path_factory.mktemp("music") / "song.wav", SECONDS)


@pytest.fixture(scope="module")
def generated(tiny_checkpoint, song, tmp_path_factory) -> tuple[Path, int]:
    """One default generation (bundled reference pose, video on): (folder, exit code)."""
    out = tmp_path_factory.mktemp("gen") / "dance"
    return out, generate(song, tiny_checkpoint, out)


def test_generate_writes_complete_folder(generated, song):
    out, code = generated
    assert code == 0
    canvas = PoseSequence.load_openpose(default_reference_path()).canvas
    seq = check_dance(out, SECONDS, 25.0, canvas)
    assert np.isfinite(seq.keypoints).all()
    assert seq.meta["music"] == str(song.resolve())  # the song the CLI decoded once, for `dance2d evaluate`
    assert leftovers(out.parent) == []


def test_samples_each_complete(tiny_checkpoint, song, tmp_path):
    assert generate(song, tiny_checkpoint, tmp_path / "d", "--samples", 3, "--seed", 4) == 0
    assert sorted(p.name for p in (tmp_path / "d").iterdir()) == [MANIFEST, "sample_0", "sample_1", "sample_2"]
    seqs = [check_dance(tmp_path / "d" / f"sample_{i}", SECONDS, 25.0, (576, 1024)) for i in range(3)]
    assert [s.meta["seed"] for s in seqs] == [4, 5, 6]
    assert not np.allclose(seqs[0].keypoints, seqs[1].keypoints)


def test_no_video_fps_excerpt_and_sampler(tiny_checkpoint, tmp_path):
    song = click_track(tmp_path / "long.wav", 5.0)
    assert generate(song, tiny_checkpoint, tmp_path / "d", "--no-video", "--fps", 30, "--start", 1.0,
                    "--end", 3.4, "--sampler", "ddpm") == 0
    seq = check_dance(tmp_path / "d", 2.4, 30.0, (576, 1024), video_file=False)
    assert seq.meta["sampler"] == "ddpm"
    assert seq.meta["keep_in_frame"]  # on by default


def test_no_keep_in_frame_reaches_the_pipeline(tiny_checkpoint, song, tmp_path):
    assert generate(song, tiny_checkpoint, tmp_path / "d", "--no-video", "--no-keep-in-frame") == 0
    assert not check_dance(tmp_path / "d", SECONDS, 25.0, (576, 1024), video_file=False).meta["keep_in_frame"]


def test_reference_sets_canvas(tiny_checkpoint, song, tmp_path, reference_pose):
    ref = write_reference(tmp_path / "me.json", reference_pose, (640, 480))
    assert generate(song, tiny_checkpoint, tmp_path / "d", "--ref", ref) == 0
    seq = check_dance(tmp_path / "d", SECONDS, 25.0, (640, 480))
    assert np.allclose(seq.meta["reference"], reference_pose, atol=1e-4)


def test_rerun_replaces_folder(tiny_checkpoint, song, tmp_path):
    out = tmp_path / "d"
    assert generate(song, tiny_checkpoint, out, "--samples", 2, "--no-video") == 0
    assert generate(song, tiny_checkpoint, out, "--no-video") == 0
    assert not (out / "sample_0").exists()  # old content gone
    check_dance(out, SECONDS, 25.0, (576, 1024), video_file=False)
    assert leftovers(tmp_path) == []


def test_refuses_to_replace_a_foreign_folder(tiny_checkpoint, song, tmp_path, capsys):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "holiday.jpg").write_bytes(b"precious")
    assert generate(song, tiny_checkpoint, tmp_path / "d") == 2
    assert "holds files dance2d did not write (holiday.jpg)" in capsys.readouterr().err
    assert (tmp_path / "d" / "holiday.jpg").read_bytes() == b"precious"


def _bad_inputs(tmp: Path, song: Path, ckpt: Path, pose: np.ndarray) -> dict[str, tuple[list, str]]:
    """name → (generate arguments, text the error must contain)."""
    rng = np.random.default_rng(0)
    (tmp / "corrupt.mp3").write_bytes(rng.integers(0, 256, 20000, dtype=np.uint8).tobytes())
    sf.write(tmp / "silence.wav", np.zeros(22050 * 2, np.float32), 22050)
    short = click_track(tmp / "short.wav", 0.6)
    (tmp / "malformed.json").write_text('{"people": [{"pose_keypoints_2d": [1, 2,')
    (tmp / "nobody.json").write_text(json.dumps({"people": [], "canvas_width": 640, "canvas_height": 480}))
    no_hips = pose.copy()
    no_hips[[8, 11], 2] = 0
    outside = pose.copy()
    outside[:, 0] += 0.6  # the right half of the body leaves the canvas
    (tmp / "a_file").write_text("x")
    (tmp / "model.safetensors").write_bytes(rng.integers(0, 256, 500, dtype=np.uint8).tobytes())
    return {
        "missing song": ([tmp / "nope.mp3"], "does not exist"),
        "corrupt audio": ([tmp / "corrupt.mp3"], "decode"),
        "silence": ([tmp / "silence.wav"], "silent"),
        "short music": ([short], "shorter than"),
        "malformed json": ([song, "--ref", tmp / "malformed.json"], "malformed"),
        "no person": ([song, "--ref", tmp / "nobody.json"], "no person"),
        "missing hips": ([song, "--ref", write_reference(tmp / "hips.json", no_hips)], "missing"),
        "outside canvas": ([song, "--ref", write_reference(tmp / "out.json", outside)], "outside its canvas"),
        "output under a file": ([song, "--out", tmp / "a_file" / "d"], "not a writable folder"),
        "output is a file": ([song, "--out", tmp / "a_file"], "is a file"),
        "not a checkpoint": ([song, "--model", tmp / "model.safetensors"], "not a readable"),
    }


BAD_INPUTS = ["missing song", "corrupt audio", "silence", "short music", "malformed json", "no person", "missing hips",
              "outside canvas", "output under a file", "output is a file", "not a checkpoint"]
@pytest.mark.parametrize("name", BAD_INPUTS)
def test_bad_input_fails_cleanly(name, tiny_checkpoint, song, tmp_path, reference_pose, capfd):
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    args, text = _bad_inputs(inputs, song, tiny_checkpoint, reference_pose)[name]
    out = tmp_path / "out"
    argv = ["generate", *map(str, args), "--steps", "1", "--quiet"]
    argv += [] if "--out" in argv else ["--out", str(out)]
    argv += [] if "--model" in argv else ["--model", str(tiny_checkpoint)]
    code = main(argv)
    err = capfd.readouterr().err.strip()  # file-descriptor level: also catches C libraries' messages
    assert code == 2
    assert not out.exists() and leftovers(tmp_path) == [] and leftovers(inputs) == []
    assert text in err
    assert err.startswith("dance2d: error: ") and "\n" not in err and "Traceback" not in err


def test_interrupted_write_leaves_nothing(tiny_checkpoint, song, tmp_path, monkeypatch, capsys):
    real_draw = video.draw_frame
    calls = []

    def draw_then_interrupt(pose, canvas):
        calls.append(1)
        if len(calls) == 10:
            raise KeyboardInterrupt
        return real_draw(pose, canvas)

    monkeypatch.setattr(video, "draw_frame", draw_then_interrupt)
    assert generate(song, tiny_checkpoint, tmp_path / "d") == 130
    assert len(calls) == 10  # it really stopped inside the video writer
    assert not (tmp_path / "d").exists() and leftovers(tmp_path) == []
    assert "interrupted" in capsys.readouterr().err

    # An interrupted re-run keeps the previous dance untouched.
    monkeypatch.setattr(video, "draw_frame", real_draw)
    assert generate(song, tiny_checkpoint, tmp_path / "d", "--no-video") == 0
    before = (tmp_path / "d" / "poses.npz").read_bytes()
    calls.clear()
    monkeypatch.setattr(video, "draw_frame", draw_then_interrupt)
    assert generate(song, tiny_checkpoint, tmp_path / "d", "--seed", 9) == 130
    assert (tmp_path / "d" / "poses.npz").read_bytes() == before and not (tmp_path / "d" / "dance.mp4").exists()
    assert leftovers(tmp_path) == []


def test_render_command(generated, song, tmp_path, capsys):
    out, _ = generated
    mp4 = tmp_path / "again.mp4"
    assert main(["render", str(out / "poses.npz"), "--music", str(song), "--out", str(mp4), "--quiet"]) == 0
    seq = PoseSequence.load_npz(out / "poses.npz")
    with av.open(str(mp4)) as c:
        (v,), (a,) = c.streams.video, c.streams.audio
        assert (v.width, v.height) == seq.canvas
        assert v.frames == len(seq)
        assert float(a.duration * a.time_base) == pytest.approx(SECONDS, abs=0.1)
    capsys.readouterr()
    assert main(["render", str(tmp_path / "missing.npz"), "--out", str(tmp_path / "x.mp4"), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert "missing.npz" in err and "\n" not in err and "Traceback" not in err
    assert not (tmp_path / "x.mp4").exists() and leftovers(tmp_path) == []


def test_unknown_model_name_and_empty_evaluate_are_one_sentence(tmp_path, capsys):
    song = click_track(tmp_path / "s.wav", SECONDS)
    assert main(["generate", str(song), "--model", "ballet", "--out", str(tmp_path / "o"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "ballet" in err and "raw" in err and "onehot" in err and "Traceback" not in err
    assert main(["evaluate"]) == 2
    assert "Nothing to evaluate" in capsys.readouterr().err
    assert main(["evaluate", str(tmp_path)]) == 2
    assert "--root" in capsys.readouterr().err
    assert main(["evaluate", str(tmp_path), "--window-seconds", "nan"]) == 2
    assert "--window-seconds nan" in capsys.readouterr().err
    # a bad stated tempo is named before the model is looked up (an unknown model would be the other error)
    assert main(["evaluate", "--tempo-test", str(song), "--tempo-bpm", "nan", "--model", "ballet"]) == 2
    err = capsys.readouterr().err
    assert "--tempo-bpm nan" in err and "ballet" not in err
    for bad, named in ((["--dynamics", "nan"], "--dynamics nan"), (["--tempo-start", "inf"], "--tempo-start inf"),
                       (["--energy-starts", "-1", "0"], "--energy-starts -1")):
        assert main(["evaluate", "--energy-test", str(song), str(song), *bad, "--model", "ballet"]) == 2
        err = capsys.readouterr().err
        assert named in err and "ballet" not in err and "Traceback" not in err


def test_evaluate_passes_starts_and_dynamics_to_the_music_tests(tmp_path, monkeypatch):
    """--tempo-start, --energy-starts and --dynamics reach the tests the CLI runs; without --dynamics the model's own
    strength is used (no option passed)."""
    import dance2d.evaluate as ev
    from dance2d.pipeline import Dance2D

    seen = {}

    def fake(name):
        def run(pipe, *music, **kw):
            seen[name] = kw
            return {"ratio_mean": 1.0, "ratio_std": 0.0, "ratios": [1.0], "tempi": (96.0, 150.0)}
        return run

    monkeypatch.setattr(ev, "tempo_test", fake("tempo"))
    monkeypatch.setattr(ev, "energy_test", fake("energy"))
    monkeypatch.setattr(Dance2D, "from_pretrained", classmethod(lambda cls, name=None: object()))
    song = click_track(tmp_path / "s.wav", SECONDS)
    out = tmp_path / "r.json"
    assert main(["evaluate", "--tempo-test", str(song), "--tempo-start", "30", "--energy-test", str(song), str(song),
                 "--energy-starts", "0", "160", "--dynamics", "1.8", "--out", str(out)]) == 0
    assert seen["tempo"]["start"] == 30 and seen["tempo"]["options"] == {"dynamics": 1.8}
    assert (seen["energy"]["calm_start"], seen["energy"]["energetic_start"]) == (0, 160)
    assert seen["energy"]["options"] == {"dynamics": 1.8}
    assert main(["evaluate", "--energy-test", str(song), str(song), "--out", str(out)]) == 0
    assert seen["energy"]["options"] == {} and seen["energy"]["calm_start"] == 0
