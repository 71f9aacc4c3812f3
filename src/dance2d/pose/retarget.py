"""Keep the reference person: frame the reference like the training data, then give every bone its length.

The model only saw dancers framed like its training views (torso ≈ 17 % of the canvas height, near the middle).
A reference framed otherwise (off-centre, much larger or smaller, another aspect ratio) is moved into that framing
by a similarity transform before generation and the dance is moved back by its inverse (`Framing`); then
`retarget_bones` rescales each bone's 2D vector by one constant per bone so its unforeshortened length (a high
percentile over the dance) equals the reference's, and the torso's typical (median) length the reference torso's,
keeping every bone's direction and foreshortening in every frame.
Joints are rebuilt from the neck outward along the layout's limb tree.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dance2d.errors import Dance2DError
from dance2d.pose.layouts import LIMB_ENDS, get_layout
from dance2d.pose.sequence import per_dance

CANONICAL_TORSO = 0.18  # neck-to-mid-hip length as a fraction of the model canvas height (training median 0.18)
CANONICAL_CENTRE = (0.5, 0.38)  # mid-torso position in the model canvas (training medians: neck 0.28, hips 0.48)
FULL_LENGTH_PERCENTILE = 90.0  # a bone's unforeshortened length over a dance: this percentile of its 2D lengths
MAX_BONE_FACTOR = 4.0  # a bone is scaled by at most this factor (or its inverse): beyond it the dance is not a body
# A limb's 2D length in a frame, as a fraction f of its full length, becomes f ** this: the model's limbs shrink and
# stretch far more than real dancers' (median / 90th-percentile arm length 0.5–0.7 against 0.65–0.9 in the held-out
# ground truth, legs 0.8–0.9 against 0.9–0.95); 0.5 brings both to the dancers' range and keeps the full length.
FORESHORTENING_EXPONENT = 0.5
# A bone's full 2D length as a multiple of the torso (neck → mid-hip), by its lower joint: the 90th percentile of
# its length over the dance's median torso in AIST++'s 9 real 2D sequences, mean of the two sides (`python
# scripts/bone_limits.py --dataset aistpp2d --root ../shared/data/aistpp --seeds 0`: 0.365, 0.546–0.549,
# 0.479–0.493, 0.792–0.806, 0.815–0.822), close to adult anthropometry (thigh ≈ shin ≈ 0.42 m, torso 0.52 m)
FULL_LIMB_PER_TORSO = {"shoulder": 0.37, "elbow": 0.55, "wrist": 0.49, "knee": 0.80, "ankle": 0.82}
# A reference bone shorter than this fraction of its full length for the reference's torso is foreshortened (an
# arm pointing at the camera, shoulders seen side-on): its 2D length is not the person's, so its full length is
# estimated (reference_limbs)
FORESHORTENED = 0.5
LIMB_NAMES = {"shoulder": "shoulder", "elbow": "upper arm", "wrist": "forearm", "knee": "thigh",
              "ankle": "shin"}  # by lower joint


def _torso(pose_px: np.ndarray, lay) -> tuple[np.ndarray, float]:
    """(mid-torso point, neck-to-mid-hip length) of one pose in isotropic pixels."""
    neck = pose_px[lay.index("neck")]
    hip = (pose_px[lay.index("r_hip")] + pose_px[lay.index("l_hip")]) / 2
    return (neck + hip) / 2, float(np.linalg.norm(neck - hip))


def _reference_torso(ref_px: np.ndarray, ok: np.ndarray, lay) -> float:
    """Neck-to-mid-hip length of a reference (K, 2 isotropic pixels; ok: joints shown), 0 without neck and hips."""
    return _torso(ref_px, lay)[1] if ok[[lay.index(j) for j in ("neck", "r_hip", "l_hip")]].all() else 0.0


@dataclass(frozen=True)
class Framing:
    """Similarity transform p_model = scale·p_user + offset between two canvases, in isotropic pixels."""

    user_canvas: tuple[int, int]
    model_canvas: tuple[int, int]
    scale: float
    offset: tuple[float, float]

    @classmethod
    def canonical(cls, ref_pose: np.ndarray, user_canvas, model_canvas, layout: str = "openpose18") -> Framing:
        """The transform that puts the reference's torso at CANONICAL_CENTRE with length CANONICAL_TORSO."""
        lay = get_layout(layout)
        centre, torso = _torso(ref_pose[:, :2] * np.asarray(user_canvas, np.float64), lay)
        if not torso > 0:
            raise Dance2DError("The reference pose has its neck on its hips (zero torso length); pass a pose of a "
                               "person with a visible neck and hips.")
        mw, mh = model_canvas
        scale = CANONICAL_TORSO * mh / torso
        target = np.array([CANONICAL_CENTRE[0] * mw, CANONICAL_CENTRE[1] * mh])
        off = target - scale * centre
        return cls(tuple(user_canvas), tuple(model_canvas), float(scale), (float(off[0]), float(off[1])))

    @classmethod
    def letterbox(cls, user_canvas, model_canvas) -> Framing:
        """The whole user canvas fitted inside the model canvas, centred, at one scale for x and y (a portrait or
        landscape frame shown on a square one keeps its people's proportions)."""
        (uw, uh), (mw, mh) = user_canvas, model_canvas
        scale = min(mw / uw, mh / uh)
        off = ((mw - scale * uw) / 2, (mh - scale * uh) / 2)
        return cls(tuple(user_canvas), tuple(model_canvas), float(scale), (float(off[0]), float(off[1])))

    def _map(self, kp: np.ndarray, src, dst, scale: float, off: np.ndarray) -> np.ndarray:
        out = np.array(kp, np.float32, copy=True)
        px = kp[..., :2] * np.asarray(src, np.float64)
        out[..., :2] = (scale * px + off) / np.asarray(dst, np.float64)
        out[..., :2] = np.where(kp[..., 2:] > 0, out[..., :2], 0.0)
        return out

    def to_model(self, kp: np.ndarray) -> np.ndarray:
        """Normalised keypoints (..., K, 3) of the user canvas → of the model canvas."""
        return self._map(kp, self.user_canvas, self.model_canvas, self.scale, np.asarray(self.offset))

    def to_user(self, kp: np.ndarray) -> np.ndarray:
        """Inverse of to_model."""
        return self._map(kp, self.model_canvas, self.user_canvas, 1.0 / self.scale,
                         -np.asarray(self.offset) / self.scale)


def typical_torso(px: np.ndarray, present: np.ndarray, lay) -> float:
    """Median neck-to-mid-hip length of a dance (T, K, 2) in isotropic pixels over the frames that show the neck and
    both hips (0 when none does): the dancer's on-screen size."""
    neck, hips = lay.index("neck"), [lay.index("r_hip"), lay.index("l_hip")]
    ok = present[:, [neck, *hips]].all(1)
    length = np.linalg.norm(px[ok][:, hips].mean(1) - px[ok, neck], axis=-1)
    length = length[length > 0]
    return float(np.median(length)) if length.size else 0.0


def reference_limbs(ref_pose: np.ndarray, canvas, layout: str = "openpose18") -> dict[int, tuple[float, str]]:
    """The full 2D length (isotropic pixels) of every shoulder, arm and leg bone a reference pose (K, 3) shows,
    keyed by the bone's lower joint, with where it comes from: "shown" (its own length) or, for a foreshortened bone
    (shorter than FORESHORTENED × its FULL_LIMB_PER_TORSO length for the reference's torso: an arm pointing at the
    camera, the shoulders of a person seen side-on), "other side" (the mirror bone's length, when that one is not
    foreshortened) or "typical" (its typical length for the torso). A foreshortened bone never gets shorter than
    it looks."""
    lay = get_layout(layout)
    ref = ref_pose[:, :2].astype(np.float64) * np.asarray(canvas, np.float64)
    ok = ref_pose[:, 2] > 0
    torso = _reference_torso(ref, ok, lay)
    shown = {ch: float(np.linalg.norm(ref[ch] - ref[p])) for p, ch in lay.limbs
             if lay.joints[ch][2:] in FULL_LIMB_PER_TORSO and ok[p] and ok[ch]}

    def typical(ch: int) -> float:
        return FULL_LIMB_PER_TORSO[lay.joints[ch][2:]] * torso

    out = {}
    for ch, length in shown.items():
        if length >= FORESHORTENED * typical(ch):
            out[ch] = (length, "shown")
            continue
        mirror = lay.mirror[ch]
        if mirror in shown and shown[mirror] >= FORESHORTENED * typical(mirror):
            out[ch] = (max(length, shown[mirror]), "other side")
        else:
            out[ch] = (max(length, typical(ch)), "typical")
    return out


def foreshortened_note(ref_pose: np.ndarray, canvas, layout: str = "openpose18") -> str | None:
    """One sentence naming the reference's foreshortened limbs and the length the dance gives them (None: none)."""
    lay = get_layout(layout)
    estimated = {j: src for j, (_, src) in reference_limbs(ref_pose, canvas, layout).items() if src != "shown"}
    if not estimated:
        return None

    def listed(joints) -> str:
        words = [f"{'right' if lay.joints[j][0] == 'r' else 'left'} {LIMB_NAMES[lay.joints[j][2:]]}" for j in joints]
        return " and ".join([", ".join(words[:-1]), words[-1]] if len(words) > 1 else words)

    whose = {"other side": "the other side's", "typical": "a typical"}
    how = [f"{whose[src]} length to the {listed(js)}"
           for src in whose if (js := [j for j, s in estimated.items() if s == src])]
    verb, its = ("looks", "its") if len(estimated) == 1 else ("look", "their")
    return (f"the {listed(estimated)} {verb} foreshortened (under half {its} usual length for the torso: turned "
            f"towards or away from the camera), so the dance gives {' and '.join(how)}.")


@per_dance
def retarget_bones(kp: np.ndarray, ref_pose: np.ndarray, canvas, layout: str = "openpose18") -> np.ndarray:
    """Give a dance (..., T, K, 3) the body proportions of the reference pose (K, 3), keeping every bone's direction
    and foreshortening: each bone vector is scaled by one constant per bone, joints rebuilt from the neck outward
    (limb table order). The two neck-to-hip bones are scaled together so the torso (neck to mid-hip) has the
    reference's length in the median frame (the on-screen scale); every other bone gets the reference's 2D length
    (a shoulder, arm or leg: its full length, reference_limbs, which estimates a foreshortened one) at its
    FULL_LENGTH_PERCENTILE over the dance (its unforeshortened length). Bones the reference lacks are scaled like
    the torso; joints whose parent is missing in a frame keep their position. Each dance of a batch is retargeted
    on its own."""
    lay = get_layout(layout)
    c = np.asarray(canvas, np.float64)
    px = kp[..., :2].astype(np.float64) * c  # (T, K, 2)
    ref = ref_pose[:, :2].astype(np.float64) * c
    present = kp[..., 2] > 0  # (T, K)
    ref_ok = ref_pose[:, 2] > 0
    neck, hips = lay.index("neck"), (lay.index("r_hip"), lay.index("l_hip"))
    ref_torso = _reference_torso(ref, ref_ok, lay)
    limbs = reference_limbs(ref_pose, canvas, layout)
    out_px = px.copy()

    def rebuild(p: int, ch: int, k: float, full: float = 0.0) -> None:
        """Child joint = new parent + k × the bone vector; with `full` (the bone's full length) the bone's length in
        each frame, as a fraction of `full`, is first raised to FORESHORTENING_EXPONENT."""
        k = float(np.clip(k, 1 / MAX_BONE_FACTOR, MAX_BONE_FACTOR))
        both = present[:, p] & present[:, ch]
        v = px[:, ch] - px[:, p]
        if full > 0:
            frac = np.linalg.norm(v, axis=-1, keepdims=True) / full
            v = v * np.where(frac > 0, frac, 1.0) ** (FORESHORTENING_EXPONENT - 1.0)
        out_px[:, ch] = np.where(both[:, None], out_px[:, p] + k * v, out_px[:, ch])

    def p90(values: np.ndarray) -> float:
        values = values[np.isfinite(values) & (values > 0)]
        return float(np.percentile(values, FULL_LENGTH_PERCENTILE)) if values.size else 0.0

    # the torso first, one factor for both neck-to-hip bones: its median length (a reference shows a typical torso,
    # as real dancers' first frames do: docs/RESULTS.md) becomes the reference's: the dancer's on-screen scale
    typical = typical_torso(px, present, lay)
    fallback = ref_torso / typical if typical > 0 and ref_torso > 0 else 1.0
    for h in hips:
        rebuild(neck, h, fallback)
    for p, ch in lay.limbs:  # parents come before children in the limb table (a tree rooted at the neck)
        if p == neck and ch in hips:
            continue
        k, full = fallback, 0.0
        if ref_ok[p] and ref_ok[ch]:
            both = present[:, p] & present[:, ch]
            full = p90(np.where(both, np.linalg.norm(px[:, ch] - px[:, p], axis=-1), np.nan))
            if full > 0:
                k = (limbs[ch][0] if ch in limbs else float(np.linalg.norm(ref[ch] - ref[p]))) / full
        rebuild(p, ch, k, full if lay.joints[ch] in LIMB_ENDS else 0.0)  # shoulders, hips, face narrow for real
    out = np.array(kp, np.float32, copy=True)
    out[..., :2] = np.where(present[..., None], out_px / c, kp[..., :2])
    return out
