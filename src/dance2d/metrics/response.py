"""Does the music drive the motion? Step rate and motion energy of one pose sequence (docs/metrics.md).

Both work on isotropic pixel coordinates of the body joints. The step rate counts motion beats (speed minima,
metrics/beat.py) per minute; the motion energy is the mean body-joint speed in torso lengths per second, so it
does not depend on how large the dancer is on screen.
"""

from __future__ import annotations

import numpy as np

from dance2d.errors import Dance2DError
from dance2d.metrics.beat import BeatConfig, beat_rate_bpm, joint_speed, motion_beats
from dance2d.metrics.kinetic import BODY18_BODY_JOINTS, torso_length


def shown_joints(*confidences: np.ndarray | None, joints: tuple[int, ...] = BODY18_BODY_JOINTS) -> tuple[int, ...]:
    """The joints among `joints` that every given confidence (T, K) shows in at least one frame (all of them when
    no confidence is given; may be empty): a dance may lose a wrist for a whole passage, and the speeds of the
    joints it does show still measure how it moves."""
    return tuple(j for j in joints if all(c is None or (c[:, j] > 0).any() for c in confidences))


def step_rate(keypoints: np.ndarray, fps: float, confidence: np.ndarray | None = None) -> float:
    """Motion beats per minute over the whole sequence (T, K, 2), from the body joints it shows."""
    joints = shown_joints(confidence)
    if not joints:
        raise Dance2DError("The dance never shows a body joint, so it has no step rate; check the model and reference.")
    beats = motion_beats(keypoints, fps, BeatConfig(joints=joints), confidence)
    return beat_rate_bpm(beats, (len(keypoints) - 1) / fps)


def motion_energy(keypoints: np.ndarray, fps: float, confidence: np.ndarray | None = None,
                  joints: tuple[int, ...] = BODY18_BODY_JOINTS) -> float:
    """Mean speed of `joints` (default: the body joints) in torso lengths per second of a sequence (T, K, 2)."""
    speed = joint_speed(keypoints, fps, joints, confidence)  # (T-1,)
    return float(speed.mean() / torso_length(keypoints))


def median_step(keypoints: np.ndarray, confidence: np.ndarray | None = None) -> float:
    """Median over frames of the mean body-joint displacement per frame, in torso lengths (jitter shows here)."""
    speed = joint_speed(keypoints, 1.0, BODY18_BODY_JOINTS, confidence)  # (T-1,) per frame
    return float(np.median(speed) / torso_length(keypoints))


def energy_ratio(keypoints: np.ndarray, fps: float, cut_s: float, margin_s: float = 1.0,
                 confidence: np.ndarray | None = None) -> float:
    """Motion energy after a music cut at cut_s over the energy before it, leaving margin_s out on both sides."""
    cut, m = int(round(cut_s * fps)), int(round(margin_s * fps))
    if cut - m < 3 or len(keypoints) - (cut + m) < 3:
        raise Dance2DError(f"The cut at {cut_s:.1f} s leaves too little motion on one side of a "
                           f"{len(keypoints) / fps:.1f} s sequence; use longer passages.")
    conf = (None, None) if confidence is None else (confidence[:cut - m], confidence[cut + m:])
    joints = shown_joints(*conf)  # both sides are measured on the body joints each of them shows at some point
    if not joints:
        raise Dance2DError(f"No body joint is shown both before and after the cut at {cut_s:.1f} s; "
                           "the energy ratio needs a dance that shows the body on both sides.")
    before = motion_energy(keypoints[:cut - m], fps, conf[0], joints)
    after = motion_energy(keypoints[cut + m:], fps, conf[1], joints)
    return float(after / max(before, 1e-9))
