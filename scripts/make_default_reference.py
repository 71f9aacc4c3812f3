"""Write the bundled default reference pose: a neutral standing body-18 pose with the Dance with Melody
dancer's mean segment lengths (thigh 47 cm, shank 33, upper arm 30, forearm 25, hip width 21), seen from the
front on a 576×1024 portrait canvas (the size MimicMotion uses), about 55 % of the canvas tall.

    python scripts/make_default_reference.py
"""

from pathlib import Path

import numpy as np

from dance2d.pose import PoseSequence

# body-18 joints in cm, y up, x towards the dancer's left (which the camera shows on the image right).
JOINTS_CM = {
    0: (0.0, 156.0), 1: (0.0, 141.0), 2: (-14.5, 140.0), 3: (-19.0, 111.0), 4: (-21.0, 86.0),
    5: (14.5, 140.0), 6: (19.0, 111.0), 7: (21.0, 86.0), 8: (-10.5, 92.0), 9: (-11.0, 45.0), 10: (-11.5, 12.0),
    11: (10.5, 92.0), 12: (11.0, 45.0), 13: (11.5, 12.0), 14: (-3.2, 160.0), 15: (3.2, 160.0),
    16: (-7.5, 158.0), 17: (7.5, 158.0),
}
CANVAS = (576, 1024)
HEIGHT_FRACTION = 0.55  # on-screen height of the 165 cm dancer as a fraction of the canvas height
FEET_Y = 0.86  # where the feet stand, as a fraction of the canvas height


def main() -> None:
    w, h = CANVAS
    s = HEIGHT_FRACTION * h / 165.0  # pixels per cm
    kp = np.zeros((1, 18, 3), np.float32)
    for j, (x, y) in JOINTS_CM.items():
        kp[0, j] = ((w / 2 + s * x) / w, (FEET_Y * h - s * y) / h, 1.0)
    out = Path(__file__).resolve().parents[1] / "src" / "dance2d" / "assets"
    tmp = out / "_ref"
    PoseSequence(kp, 25.0, "openpose18", CANVAS).save_openpose(tmp)
    (tmp / "000000.json").replace(out / "default_reference.json")
    tmp.rmdir()
    print(out / "default_reference.json")


if __name__ == "__main__":
    main()
