"""Draw a run's loss curve (log.jsonl) as a PNG with Pillow.

    python scripts/plot_loss.py runs/bundled_small/log.jsonl docs/bundled_loss.png
"""

import json
import sys

import numpy as np
from PIL import Image, ImageDraw

W, H, PAD = 720, 360, 48


def main(log: str, out: str) -> None:
    recs = [json.loads(line) for line in open(log)]
    steps = np.array([r["step"] for r in recs], float)
    loss = np.array([r["loss"] for r in recs], float)
    img = Image.new("RGB", (W, H), "white")
    d = ImageDraw.Draw(img)
    lo, hi = 0.0, float(loss.max()) * 1.05
    sx = lambda s: PAD + (W - 2 * PAD) * s / steps.max()  # noqa: E731
    sy = lambda v: H - PAD - (H - 2 * PAD) * (v - lo) / (hi - lo)  # noqa: E731
    d.line([(PAD, PAD), (PAD, H - PAD), (W - PAD, H - PAD)], fill="black")
    for v in np.linspace(lo, hi, 6):
        d.line([(PAD - 4, sy(v)), (W - PAD, sy(v))], fill=(225, 225, 225))
        d.text((4, sy(v) - 6), f"{v:.2f}", fill="black")
    for s in np.linspace(0, steps.max(), 6):
        d.text((sx(s) - 12, H - PAD + 6), f"{int(s)}", fill="black")
    d.line([(sx(s), sy(v)) for s, v in zip(steps, loss, strict=True)], fill=(200, 40, 40), width=2)
    d.text((PAD, 12), f"training loss (the run's own loss space) vs  step: {log}", fill="black")
    img.save(out)
    print(out)


if __name__ == "__main__":
    main(*sys.argv[1:3])
