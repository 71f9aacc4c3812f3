"""A model's home tempo, calibrated so that its dances move as fast as the dancers it learnt from.

Tempo sync (music/drive.py) plays every song to the model at its home tempo and the dance back at the song's: the
model's motion is played rate = song tempo / home tempo times as fast as it made it, and the beats it heard land on
the song's beats. The home tempo therefore sets how fast every dance moves. `speed_calibration` dances sequences
of a dataset (its training split: no held-out music is used to choose it) from their own first pose and compares
each dance with its dancer's, two ways: by the kinetic features that FID_k compares (metrics/kinetic.py: the joints'
mean squared velocity, horizontal and vertical, and their mean acceleration; played r times as fast, each grows
r²), and by the median frame-to-frame step (metrics/response.py `median_step`, which grows r times). Each gives the
home tempo at which the dance would have matched the dancer, the median over sequences; the kinetic one is the
calibration (docs/decisions.md "Which tempo").
"""

from __future__ import annotations

import numpy as np

from dance2d.errors import Dance2DError
from dance2d.evaluate import first_full_pose
from dance2d.metrics.kinetic import kinetic_features
from dance2d.metrics.response import median_step
from dance2d.pose.sequence import PoseSequence


def kinetic_speed(dance: np.ndarray, dancer: np.ndarray, fps: float) -> float:
    """How many times as fast as the dancer a dance (T, K, 3) moves by the kinetic features: the geometric mean over
    the three feature kinds (horizontal and vertical mean squared velocity, mean acceleration; summed over joints)
    of the square root of their ratio, as each grows with the square of the playback speed."""
    f = [kinetic_features(k[..., :2], fps, confidence=k[..., 2]).reshape(-1, 3).sum(0) for k in (dance, dancer)]
    return float(np.exp(np.mean(0.5 * np.log(np.maximum(f[0], 1e-12) / np.maximum(f[1], 1e-12)))))


def implied_home_tempo(rows: list[dict], key: str = "kinetic_speed") -> float:
    """The home tempo that matches the dancers: median over rows (music_bpm, rate, and the dance's speed relative to
    its dancer under `key`: "kinetic_speed" or "step_speed") of music_bpm · speed / rate, leaving out rows without a
    tempo (no pulse, tempo sync off)."""
    values = [r["music_bpm"] * r[key] / r["rate"] for r in rows if r.get("music_bpm") and r.get("rate")]
    if not values:
        raise Dance2DError("No danced sequence had a tempo to calibrate against: use music with a pulse and tempo "
                           "sync on.")
    return float(np.median(values))


def speed_calibration(pipe, sequences: list[PoseSequence], *, seconds: float = 30.0, seed: int = 0,
                      options: dict | None = None) -> dict:
    """Dance each ground-truth sequence (with meta "music" and "start") for `seconds` from its first full pose with
    `pipe` (a Dance2D) and compare speeds: {"rows": per sequence, "kinetic_speed" and "step_speed": the medians of
    the dances' speeds relative to their dancers', "home_tempo" (kinetic) and "home_tempo_step": the home tempi that
    would match them, "home_tempo_now": the pipeline's}."""
    rows = []
    for seq in sequences:
        start = float(seq.meta["start"])
        end = start + min(seconds, seq.duration)
        [dance] = pipe.generate(seq.meta["music"], seq.replace(first_full_pose(seq)[None]), seed=seed, start=start,
                                end=end, **(options or {}))
        dance = dance.resample(seq.fps)
        tempo = dance.meta.get("tempo") or {}
        truth = seq.keypoints[: len(dance.keypoints)]
        step = median_step(dance.keypoints[..., :2], dance.keypoints[..., 2])
        rows.append({"name": str(seq.meta.get("source", len(rows))), "music_bpm": tempo.get("music_bpm"),
                     "rate": tempo.get("rate"), "kinetic_speed": kinetic_speed(dance.keypoints, truth, seq.fps),
                     "step_speed": step / max(median_step(truth[..., :2], truth[..., 2]), 1e-12)})
    return {"rows": rows, "kinetic_speed": float(np.median([r["kinetic_speed"] for r in rows])),
            "step_speed": float(np.median([r["step_speed"] for r in rows])),
            "home_tempo": implied_home_tempo(rows), "home_tempo_step": implied_home_tempo(rows, "step_speed"),
            "home_tempo_now": pipe.data.home_tempo}
