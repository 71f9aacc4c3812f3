"""Draw a model's training loss curve as a PNG with Pillow, chaining the runs of its stages.

    python scripts/plot_loss.py docs/loss_onehot.png runs/stage1/log.jsonl runs/stage2/log.jsonl --title "one-hot"

Each later log (a warm-started run counts its steps from 0) is shifted to continue where the previous one ended, and a
grey vertical line marks where each stage starts. `--overlay LABEL=LOG` (repeatable) draws another run of the last
stage's place in the lineage (an A/B twin: same start, another recipe) over it, in its own colour:

    python scripts/plot_loss.py ab.png runs/s12/log.jsonl --overlay "stage 11=runs/s11/log.jsonl" --label "stage 12"
"""

import argparse
import json
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from dance2d.atomic import atomic_path

W, H, PAD = 720, 360, 48


def chain(logs: list[str]) -> tuple[np.ndarray, np.ndarray, list[float]]:
    """(steps, losses, stage starts) of the logs played one after another."""
    steps, losses, starts, offset = [], [], [], 0.0
    for log in logs:
        recs = [json.loads(line) for line in Path(log).read_text().splitlines() if line.strip()]
        recs = [r for r in recs if "loss" in r]
        if not recs:
            raise SystemExit(f"{log} has no loss lines; pass the log.jsonl of a training run.")
        starts.append(offset)
        steps += [offset + r["step"] for r in recs]
        losses += [r["loss"] for r in recs]
        offset = steps[-1]
    return np.array(steps, float), np.array(losses, float), starts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", help="PNG to write")
    ap.add_argument("logs", nargs="+", help="log.jsonl of each stage, in training order")
    ap.add_argument("--title", default="", help="what the curve is of (default: none)")
    ap.add_argument("--overlay", action="append", default=[], metavar="LABEL=LOG",
                    help="another run started where the last stage starts, drawn over it (repeatable)")
    ap.add_argument("--label", default="", help="legend name of the main curve when there are overlays")
    a = ap.parse_args()
    steps, loss, starts = chain(a.logs)
    others = []
    for spec in a.overlay:
        label, sep, log = spec.partition("=")
        if not sep:
            raise SystemExit(f"--overlay {spec} is not LABEL=LOG; e.g. --overlay \"stage 11=runs/s11/log.jsonl\".")
        o_steps, o_loss, _ = chain([log])
        others.append((label, starts[-1] + o_steps, o_loss))
    all_steps = np.concatenate([steps] + [o[1] for o in others])
    all_loss = np.concatenate([loss] + [o[2] for o in others])
    img = Image.new("RGB", (W, H), "white")
    d = ImageDraw.Draw(img)
    lo, hi = 0.0, float(all_loss.max()) * 1.05
    sx = lambda s: PAD + (W - 2 * PAD) * s / all_steps.max()  # noqa: E731
    sy = lambda v: H - PAD - (H - 2 * PAD) * (v - lo) / (hi - lo)  # noqa: E731
    d.line([(PAD, PAD), (PAD, H - PAD), (W - PAD, H - PAD)], fill="black")
    for v in np.linspace(lo, hi, 6):
        d.line([(PAD - 4, sy(v)), (W - PAD, sy(v))], fill=(225, 225, 225))
        d.text((4, sy(v) - 6), f"{v:.2f}", fill="black")
    for s in np.linspace(0, all_steps.max(), 6):
        d.text((sx(s) - 12, H - PAD + 6), f"{int(s)}", fill="black")
    for s in starts[1:]:
        d.line([(sx(s), PAD), (sx(s), H - PAD)], fill=(160, 160, 160))
    colours = [(40, 90, 200), (40, 160, 70), (150, 60, 170)]
    for i, (label, o_steps, o_loss) in enumerate(others):  # under the main curve
        c = colours[i % len(colours)]
        d.line([(sx(s), sy(v)) for s, v in zip(o_steps, o_loss, strict=True)], fill=c, width=2)
        d.text((W - PAD - 150, PAD + 14 * (i + 1)), f"- {label}", fill=c)
    d.line([(sx(s), sy(v)) for s, v in zip(steps, loss, strict=True)], fill=(200, 40, 40), width=2)
    if others:
        d.text((W - PAD - 150, PAD), f"- {a.label or 'this run'}", fill=(200, 40, 40))
    title = f"{a.title}: " if a.title else ""
    d.text((PAD, 12), f"{title}training loss (the run's own loss space) vs step, {len(a.logs)} stage(s)", fill="black")
    with atomic_path(a.out) as tmp:
        img.save(tmp, format="PNG")
    print(a.out)


if __name__ == "__main__":
    main()
