"""`dance2d serve` (issue 11): the request runner, and the page end to end in a real headless Chromium."""

import json
import os
import shutil
import socket
import threading
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
from conftest import click_track

from dance2d.errors import Dance2DError
from dance2d.pose import PoseSequence, get_layout

DATA = Path(__file__).parent / "data"
CAMERAMAN = DATA / "cameraman.png"  # CC0, tests/data/README.md
CHROMIUM = os.environ.get("DANCE2D_CHROMIUM", "/usr/bin/chromium")

gradio = pytest.importorskip("gradio", reason="needs the web extra: pip install '.[web]'")
try:
    import mediapipe  # noqa: F401

    HAVE_DETECTOR = True
except ImportError:
    HAVE_DETECTOR = False
needs_detector = pytest.mark.skipif(not HAVE_DETECTOR, reason="needs the optional detector: pip install '.[photo]'")


def browser_missing() -> str | None:
    """Why the browser test cannot run here, or None."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "needs playwright: pip install '.[dev]'"
    if not (Path(CHROMIUM).is_file() and os.access(CHROMIUM, os.X_OK)):
        return f"needs Chromium at {CHROMIUM} (apt-get install chromium, or set DANCE2D_CHROMIUM)"
    return None


@pytest.fixture
def runner(tmp_path, tiny_checkpoint):
    from dance2d.web import Runner

    return Runner(str(tiny_checkpoint), tmp_path / "web")


@needs_detector
def test_runner_writes_each_request_into_its_own_folder(runner, tmp_path):
    """Two requests at once (different seeds) get separate folders, zips and dances."""
    song = click_track(tmp_path / "song.wav", 2.0)
    results, errors = [None, None], []

    def one(i):
        try:
            results[i] = runner.run(str(song), str(CAMERAMAN), seed=i, steps=2, samples=1)
        except Exception as e:  # noqa: BLE001 (reported below)
            errors.append(e)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    a, b = results
    assert a["folder"] != b["folder"] and a["folder"].parent == b["folder"].parent == tmp_path / "web"
    poses = []
    for res in (a, b):
        with zipfile.ZipFile(res["zip"]) as z:
            names = set(z.namelist())
            assert {"dance/dance.mp4", "dance/poses.npz", "dance/preview.png", "reference.json",
                    "reference.png", "dance/openpose/000000.json"} <= names
        assert res["video"].is_file() and res["preview"].is_file() and res["seconds"] == pytest.approx(2.0)
        poses.append(PoseSequence.load_npz(res["folder"] / "dance" / "poses.npz"))
    assert poses[0].canvas == poses[1].canvas == (512, 512)
    assert poses[0].meta["seed"] == 0 and poses[1].meta["seed"] == 1
    assert poses[0].meta["keep_in_frame"] and poses[1].meta["keep_in_frame"]  # the page's default
    # the legs completed below the photo's frame are reported under the upload's name, not its (temporary) path
    assert any(n.startswith("cameraman.png: ") for n in a["notes"])
    assert not any(str(CAMERAMAN.parent) in n for n in a["notes"])
    assert not np.allclose(poses[0].keypoints, poses[1].keypoints)


@needs_detector
def test_runner_bad_uploads_get_the_cli_errors(runner, tmp_path):
    song = click_track(tmp_path / "song.wav", 2.0)
    with pytest.raises(Dance2DError, match=r"No person found in rocket\.jpg"):
        runner.run(str(song), str(DATA / "rocket.jpg"))
    with pytest.raises(Dance2DError, match=r"astronaut\.jpg is cut off or hidden at the right hip, left hip"):
        runner.run(str(song), str(DATA / "astronaut.jpg"))
    bad = tmp_path / "photo.jpg"
    bad.write_bytes(b"\x00garbage")
    with pytest.raises(Dance2DError, match=r"Cannot read .*photo\.jpg as an image"):
        runner.run(str(song), str(bad))
    notes = tmp_path / "notes.txt"
    notes.write_text("hello")
    with pytest.raises(Dance2DError, match=r"notes\.txt is not a photo"):
        runner.run(str(song), str(notes))
    with pytest.raises(Dance2DError, match=r"No song uploaded"):
        runner.run(None, str(CAMERAMAN))
    not_music = tmp_path / "song.mp3"
    not_music.write_text("not music")
    with pytest.raises(Dance2DError, match=r"song\.mp3"):
        runner.run(str(not_music), None)


def test_runner_default_and_json_reference(runner, tmp_path):
    """No photo: the bundled default pose; a reference JSON: its canvas."""
    from dance2d.pipeline import default_reference_path

    song = click_track(tmp_path / "song.wav", 1.5)
    res = runner.run(str(song), None, steps=1)
    default = PoseSequence.load_openpose(default_reference_path())
    assert PoseSequence.load_npz(res["folder"] / "dance" / "poses.npz").canvas == default.canvas
    res2 = runner.run(str(song), str(default_reference_path()), steps=1, samples=2)
    assert (res2["folder"] / "dance" / "sample_1" / "dance.mp4").is_file() and res2["samples"] == 2
    assert res2["folder"] != res["folder"]


def test_runner_shows_the_notes_the_cli_prints(runner, tmp_path, reference_pose):
    """A reference whose right forearm points at the camera: the page says what the dance did about it."""
    short = reference_pose.copy()
    wrist, elbow = (get_layout("openpose18").index(j) for j in ("r_wrist", "r_elbow"))
    short[wrist, :2] = short[elbow, :2] + [0.004, 0.003]  # right forearm pointing at the camera
    px = short * [512, 512, 1]
    ref = tmp_path / "ref.json"
    ref.write_text(json.dumps({"canvas_width": 512, "canvas_height": 512,
                               "people": [{"pose_keypoints_2d": px.reshape(-1).tolist()}]}))
    res = runner.run(str(click_track(tmp_path / "song.wav", 1.5)), str(ref), steps=1)
    assert any("right forearm looks foreshortened" in n for n in res["notes"])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
@needs_detector
@pytest.mark.skipif(browser_missing() is not None, reason=str(browser_missing()))
def test_page_end_to_end_in_chromium(tmp_path, tiny_checkpoint):
    """Upload a song and a photo, generate, watch the video play next to the photo, download the zip; a photo
    without a person shows the CLI's error; the page fetches nothing from outside 127.0.0.1."""
    from playwright.sync_api import sync_playwright

    from dance2d.web import serve

    song = click_track(tmp_path / "song.wav", 3.0)
    photo = tmp_path / "dancer.png"
    shutil.copy(CAMERAMAN, photo)
    port = free_port()
    app, url = serve(port=port, model=str(tiny_checkpoint), block=False, root=tmp_path / "web")
    requests = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True)
            page = browser.new_page(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
            page.on("request", lambda r: requests.append(r.url))
            page.goto(url, wait_until="networkidle")
            page.locator("#song input[type=file]").set_input_files(str(song))
            page.locator("#reference input[type=file]").set_input_files(str(photo))
            page.wait_for_function("document.querySelector('#song').innerText.includes('0:03')", timeout=20000)
            page.wait_for_function("document.querySelector('#reference').innerText.includes('KB')",
                                   timeout=20000)
            page.click("#generate")
            seen_progress, t0 = set(), time.time()
            while time.time() - t0 < 120:  # poll the progress bar until the video arrives
                for text in page.locator(".progress-text, .progress-level, .meta-text, .eta-bar").all_inner_texts():
                    if text.strip():
                        seen_progress.add(text.strip())
                if page.locator("#video video").count():
                    break
                time.sleep(0.05)
            assert page.locator("#video video").count(), f"no video after 120 s; progress seen: {seen_progress}"
            assert seen_progress, "no progress bar was shown while generating"
            playing = page.evaluate("""async () => {
                const v = document.querySelector('#video video');
                v.muted = true;
                await v.play();
                await new Promise(r => setTimeout(r, 1500));
                return {t: v.currentTime, d: v.duration, w: v.videoWidth, h: v.videoHeight, err: v.error};
            }""")
            assert playing["err"] is None and playing["t"] > 0.3, playing  # it plays
            assert playing["d"] == pytest.approx(3.0, abs=0.2) and (playing["w"], playing["h"]) == (512, 512)
            assert page.locator("#preview img").count() == 1  # the photo with its skeleton, beside the video
            assert "Done: 3.0 s of dance" in page.locator("#status").inner_text()
            with page.expect_download() as dl:
                page.locator("#download a").first.click()
            zpath = tmp_path / "download.zip"
            dl.value.save_as(zpath)
            with zipfile.ZipFile(zpath) as z:
                assert {"dance/dance.mp4", "dance/poses.npz", "reference.json"} <= set(z.namelist())
            # a bad upload on a fresh page: the CLI's one-sentence error, shown on the page
            page.reload(wait_until="networkidle")
            page.locator("#song input[type=file]").set_input_files(str(song))
            page.locator("#reference input[type=file]").set_input_files(str(DATA / "rocket.jpg"))
            page.wait_for_function("document.querySelector('#reference').innerText.includes('rocket')",
                                   timeout=20000)
            page.click("#generate")
            page.wait_for_selector("text=No person found in rocket.jpg", timeout=60000)
            browser.close()
    finally:
        app.close()
    outside = [u for u in requests if not u.startswith((f"http://127.0.0.1:{port}", "data:", "blob:"))]
    assert outside == [], f"the page fetched from outside this machine: {outside[:5]}"
