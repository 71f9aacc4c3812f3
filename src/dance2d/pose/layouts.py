"""Skeleton layouts: joint names, limbs and the left-right mirror permutation (the one body-18 limb table)."""

from __future__ import annotations

from dataclasses import dataclass

from dance2d.errors import Dance2DError

BODY18_JOINTS = (
    "nose", "neck", "r_shoulder", "r_elbow", "r_wrist", "l_shoulder", "l_elbow", "l_wrist",
    "r_hip", "r_knee", "r_ankle", "l_hip", "l_knee", "l_ankle", "r_eye", "l_eye", "r_ear", "l_ear",
)
FACE_JOINTS = ("nose", "r_eye", "l_eye", "r_ear", "l_ear")  # body-18's (and COCO-17's) face points, by name
# Joints a reference must show (confidence > 0.3, inside the canvas): the torso defines proportions and scale.
REQUIRED_JOINTS = ("neck", "r_shoulder", "l_shoulder", "r_hip", "l_hip")
# The lower joints of the arms' and legs' bones (upper arm, forearm, thigh, shin): rigid limbs that swing and are
# foreshortened, where the shoulders, hips and face narrow as the dancer turns
LIMB_ENDS = ("r_elbow", "r_wrist", "l_elbow", "l_wrist", "r_knee", "r_ankle", "l_knee", "l_ankle")
# OpenPose's 17 drawn limbs of body-18 (1-based in the original; 0-based here), in its drawing order.
BODY18_LIMBS = (
    (1, 2), (1, 5), (2, 3), (3, 4), (5, 6), (6, 7), (1, 8), (8, 9), (9, 10),
    (1, 11), (11, 12), (12, 13), (1, 0), (0, 14), (14, 16), (0, 15), (15, 17),
)
COCO17_JOINTS = (
    "nose", "l_eye", "r_eye", "l_ear", "r_ear", "l_shoulder", "r_shoulder", "l_elbow", "r_elbow",
    "l_wrist", "r_wrist", "l_hip", "r_hip", "l_knee", "r_knee", "l_ankle", "r_ankle",
)
COCO17_LIMBS = (
    (15, 13), (13, 11), (16, 14), (14, 12), (11, 12), (5, 11), (6, 12), (5, 6), (5, 7), (6, 8),
    (7, 9), (8, 10), (1, 2), (0, 1), (0, 2), (1, 3), (2, 4), (3, 5), (4, 6),
)
HAND21_JOINTS = ("wrist",) + tuple(f"{f}{i}" for f in ("thumb", "index", "middle", "ring", "pinky")
                                   for i in range(1, 5))
HAND21_LIMBS = tuple((0 if i % 4 == 1 else i - 1, i) for i in range(1, 21))


def _mirror_perm(joints: tuple[str, ...]) -> tuple[int, ...]:
    """Index permutation that swaps every l_/r_ (or left_/right_) joint with its partner."""
    index = {name: i for i, name in enumerate(joints)}

    def partner(name: str) -> str:
        for a, b in (("l_", "r_"), ("r_", "l_"), ("lh_", "rh_"), ("rh_", "lh_")):
            if name.startswith(a):
                return b + name[len(a):]
        return name

    return tuple(index[partner(n)] for n in joints)


@dataclass(frozen=True)
class Layout:
    """A keypoint layout: names (order = array order), limbs to draw, mirror permutation."""

    name: str  # registry name, e.g. "openpose18"
    joints: tuple[str, ...]  # joint names in array order
    limbs: tuple[tuple[int, int], ...]  # joint index pairs joined by a bone
    hand_slices: tuple[tuple[int, int], ...] = ()  # (start, stop) of each 21-joint hand block (left, right)

    @property
    def num_joints(self) -> int:
        return len(self.joints)

    @property
    def mirror(self) -> tuple[int, ...]:
        return _mirror_perm(self.joints)

    def index(self, joint: str) -> int:
        return self.joints.index(joint)


_HANDS_JOINTS = BODY18_JOINTS + tuple("lh_" + j for j in HAND21_JOINTS) + tuple("rh_" + j for j in HAND21_JOINTS)
_HANDS_LIMBS = (BODY18_LIMBS + tuple((a + 18, b + 18) for a, b in HAND21_LIMBS)
                + tuple((a + 39, b + 39) for a, b in HAND21_LIMBS))

LAYOUTS: dict[str, Layout] = {
    "openpose18": Layout("openpose18", BODY18_JOINTS, BODY18_LIMBS),
    "coco17": Layout("coco17", COCO17_JOINTS, COCO17_LIMBS),
    "openpose18_hands": Layout("openpose18_hands", _HANDS_JOINTS, _HANDS_LIMBS, ((18, 39), (39, 60))),
}


def get_layout(name: str | Layout) -> Layout:
    """Look up a layout by name; unknown names raise a Dance2DError listing the valid ones."""
    if isinstance(name, Layout):
        return name
    if name not in LAYOUTS:
        raise Dance2DError(f"Unknown pose layout {name!r}; use one of {sorted(LAYOUTS)}.")
    return LAYOUTS[name]
