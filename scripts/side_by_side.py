"""Ground truth and generated dances of one held-out song side by side: an mp4 with the music and a PNG strip
(top row: ground truth through the evaluation camera, one row per generated dance), to look at, not to score.

    python scripts/side_by_side.py --root ../shared/data/dance_with_melody --song DANCE_W_10 \
        --dance raw=runs/eval_final/seed0/raw/DANCE_W_10/poses.npz --seconds 20 --out docs/side_by_side_W_10
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from dance2d.evaluate import ground_truth
from dance2d.music.audio import load_audio
from dance2d.pose import PoseSequence
from dance2d.render import draw_frame, write_video


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--root", required=True, help="Dance with Melody folder")
    ap.add_argument("--song", required=True, help="held-out song folder name, e.g. DANCE_W_10")
    ap.add_argument("--dance", action="append", required=True, help="LABEL=poses.npz (repeatable)")
    ap.add_argument("--seconds", type=float, default=20.0, help="length to show")
    ap.add_argument("--skip-seconds", type=float, default=0.0,
                    help="the ground truth from this far into the song (dances made with eval_models --skip-seconds)")
    ap.add_argument("--fps", type=float, default=25.0, help="frame rate")
    ap.add_argument("--height", type=int, default=384, help="tile height in pixels")
    ap.add_argument("--out", required=True, help="output path without suffix (.mp4 and .png are written)")
    args = ap.parse_args()
    gt = next(seq for seq, _ in ground_truth("dwm", args.root, "test", args.fps, seed=0, with_music=False,
                                             skip_seconds=args.skip_seconds)
              if Path(seq.meta["source"]).name == args.song)
    seqs = [("ground truth", gt)] + [(lab, PoseSequence.load_npz(p)) for lab, p in
                                     (d.split("=", 1) for d in args.dance)]
    n = min(int(args.seconds * args.fps), *(len(s) for _, s in seqs))
    tiles = [(lab, s.resample(args.fps).keypoints[:n], s.canvas) for lab, s in seqs]
    sizes = [(max(2, round(c[0] * args.height / c[1]) // 2 * 2), args.height) for _, _, c in tiles]
    width = sum(w for w, _ in sizes)

    def frame(t: int) -> np.ndarray:
        img = Image.new("RGB", (width, args.height))
        x = 0
        for (lab, kp, _), (w, h) in zip(tiles, sizes, strict=True):
            img.paste(Image.fromarray(draw_frame(kp[t], (w, h))), (x, 0))
            ImageDraw.Draw(img).text((x + 6, 6), f"{lab}  {t / args.fps:.1f} s", fill=(255, 255, 255))
            x += w
        return np.asarray(img)

    song = Path(args.root) / args.song
    start = gt.meta["start"]  # the music under the ground truth's first frame shown
    wave, sr = load_audio(song / "audio.ogg", 44100)
    audio = (wave[int(start * sr):int((start + n / args.fps) * sr)], sr)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_video((frame(t) for t in range(n)), out.with_suffix(".mp4"), args.fps, (width, args.height), audio)
    picks = np.linspace(0, n - 1, 6).round().astype(int)
    strip = np.concatenate([frame(t) for t in picks], axis=0)  # one block per time, stacked vertically
    Image.fromarray(strip).save(out.with_suffix(".png"))
    print(f"wrote {out.with_suffix('.mp4')} and {out.with_suffix('.png')}")


if __name__ == "__main__":
    main()
