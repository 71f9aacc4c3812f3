"""Generate dances for the held-out test songs of a dataset (default: Dance with Melody) with several checkpoints,
then evaluate them against the ground truth (docs/RESULTS.md). Each test song is danced from its own first
ground-truth pose (seen by the same seeded virtual camera as the ground-truth rows), for its first --seconds of music
(or from --skip-seconds on, from the ground truth's pose there).

    python scripts/eval_models.py --root ../shared/data/dance_with_melody --seconds 30 \
        --model bundled=raw \
        --model ablation-base=runs/abl_base/last.safetensors --out runs/eval
    python scripts/eval_models.py --root ../shared/data/dance_with_melody --seeds 0,1,2 --smooth 1.5 \
        --model raw=raw --model onehot=onehot --out runs/eval_final \
        --tempo-music ../shared/music/nexuiz/sixtyfour_.ogg --tempo-start 30 \
        --energy ../shared/music/nexuiz/chaos-fog.ogg ../shared/music/nexuiz/chaos-fog.ogg --energy-starts 0 160

With several seeds every metric is reported as mean ± std over the seeds (the ground-truth row does not depend on
the generation seed: its cameras use --camera-seed).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from dance2d.data import GT_DATASETS, get_dataset
from dance2d.diffusion import SAMPLERS
from dance2d.evaluate import energy_test, first_full_pose, ground_truth, run_evaluation, save_results, tempo_test
from dance2d.metrics import format_table
from dance2d.pipeline import STEPS, Dance2D


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dataset", default="dwm", choices=GT_DATASETS, help="dataset with a held-out test split")
    ap.add_argument("--root", required=True, help="dataset folder")
    ap.add_argument("--model", action="append", required=True, help="LABEL=checkpoint.safetensors (repeatable)")
    ap.add_argument("--out", default="runs/eval", help="folder for generated dances and results.json")
    ap.add_argument("--seconds", type=float, default=30.0, help="music seconds per test song")
    ap.add_argument("--skip-seconds", type=float, default=0.0,
                    help="dance (and score) each test song from this far in, from the ground truth's pose there "
                         "(music no selection has seen; songs that end within 5 s of it are left out)")
    ap.add_argument("--reference-from", choices=("window", "song"), default="window",
                    help="with --skip-seconds, the reference pose: the ground truth's first full pose in the danced "
                         "window (default) or in the whole song (its dancer standing before the dance, as window 0's)")
    ap.add_argument("--fps", type=float, default=25.0, help="evaluation frame rate")
    ap.add_argument("--steps", type=int, default=STEPS, help="sampler steps")
    ap.add_argument("--sampler", choices=sorted(SAMPLERS), help="sampler (default: the pipeline's, dpmpp_2m)")
    ap.add_argument("--guidance", type=float, help="classifier-free guidance scale (default: the model's own)")
    ap.add_argument("--seeds", default="0", help="comma-separated generation seeds (mean ± std over them)")
    ap.add_argument("--camera-seed", type=int, default=0, help="seed of the ground-truth virtual cameras")
    ap.add_argument("--no-retarget", action="store_true", help="generate without per-bone retargeting")
    ap.add_argument("--no-reframe", action="store_true", help="generate without canonical reference framing")
    ap.add_argument("--tempo-music", help="also run the tempo test on this music (evaluate.tempo_test)")
    ap.add_argument("--tempo-start", type=float, default=30.0, help="start (s) of the tempo test's excerpt")
    ap.add_argument("--tempo-bpm", type=float, help="the tempo test music's own tempo (default: estimated)")
    ap.add_argument("--energy", nargs=2, metavar=("CALM", "ENERGETIC"), help="also run the energy test")
    ap.add_argument("--energy-starts", nargs=2, type=float, default=(0.0, 0.0), metavar=("CALM_S", "ENERGETIC_S"),
                    help="start (s) of the calm and the energetic passage")
    ap.add_argument("--threads", type=int, default=1, help="torch threads")
    ap.add_argument("--plain-stitch", action="store_true", help="no cross-fade at seams (the paper's stitching)")
    ap.add_argument("--smooth", type=float, help="temporal smoothing in frames (default: the model's; 0 = its output)")
    ap.add_argument("--no-tempo-sync", action="store_true", help="generate without tempo sync (music/drive.py)")
    ap.add_argument("--dynamics", type=float, help="loudness-to-movement strength (default: the model's own; 0 = off)")
    ap.add_argument("--no-keep-in-frame", action="store_true", help="let the dancer step out of the picture")
    ap.add_argument("--beat-accent", type=float, help="pace dip on each beat (0 = even pace; default: the model's)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    seeds = [int(x) for x in args.seeds.split(",")]
    split = get_dataset(args.dataset).gt_split
    if split is None:
        raise SystemExit(f"{args.dataset} has no held-out test split to generate for.")
    tests = ground_truth(args.dataset, args.root, split, args.fps, seed=args.camera_seed, with_music=False,
                         skip_seconds=args.skip_seconds)
    poses = {seq.meta["source"]: first_full_pose(seq) for seq, _ in tests}
    if args.reference_from == "song":
        whole = ground_truth(args.dataset, args.root, split, args.fps, seed=args.camera_seed, with_music=False)
        poses.update({seq.meta["source"]: first_full_pose(seq) for seq, _ in whole if seq.meta["source"] in poses})
    per_seed, response = [], {}
    specs = [spec.split("=", 1) for spec in args.model]
    options = dict(steps=args.steps, sampler=args.sampler, guidance=args.guidance, blend=not args.plain_stitch,
                   smooth=args.smooth, retarget=not args.no_retarget, reframe=not args.no_reframe,
                   tempo_sync=not args.no_tempo_sync, dynamics=args.dynamics,
                   beat_accent=args.beat_accent,
                   keep_in_frame=not args.no_keep_in_frame)  # for the held-out songs and the tests
    for seed in seeds:
        folders = []
        for label, path in specs:
            pipe = Dance2D.from_pretrained(path)
            for seq, _ in tests:
                start = seq.meta["start"]  # the music under the sequence's first frame
                end = start + min(args.seconds, seq.duration)
                [dance] = pipe.generate(seq.meta["music"], seq.replace(poses[seq.meta["source"]][None]), seed=seed,
                                        start=start, end=end, **options)
                target = out / f"seed{seed}" / label / Path(seq.meta["source"]).name
                target.mkdir(parents=True, exist_ok=True)
                dance.resample(args.fps).save_npz(target / "poses.npz")
            folders.append(str(out / f"seed{seed}" / label))
            print(f"generated {label} seed {seed}: {len(tests)} songs", flush=True)
        rows, settings = run_evaluation(folders, args.dataset, args.root, fps=args.fps, clip_seconds=args.seconds,
                                        seed=args.camera_seed, labels=[label for label, _ in specs],
                                        skip_seconds=args.skip_seconds)
        per_seed.append(rows)
    if args.tempo_music or args.energy:
        for label, path in specs:
            pipe = Dance2D.from_pretrained(path)
            response[label] = {}
            if args.tempo_music:
                response[label]["tempo"] = tempo_test(pipe, args.tempo_music, start=args.tempo_start,
                                                      seeds=tuple(seeds), options=options,
                                                      music_bpm=args.tempo_bpm)
            if args.energy:
                response[label]["energy"] = energy_test(pipe, args.energy[0], args.energy[1], seeds=tuple(seeds),
                                                        calm_start=args.energy_starts[0],
                                                        energetic_start=args.energy_starts[1], options=options)
    rows = aggregate(per_seed)
    save_results(out / "results.json", rows, dict(settings, seeds=seeds, music_response=response,
                                                   per_seed=per_seed))
    print(format_table(rows))
    print(markdown_rows(rows, per_seed))
    for label, r in response.items():
        for test, v in r.items():
            print(f"{label} {test} test: ratio {v['ratio_mean']:.2f} ± {v['ratio_std']:.2f} ({v['ratios']})")


MARKDOWN_COLUMNS = {"FID_k": ".1f", "FID_k_win": ".1f", "DIV_k": ".2f", "BAS_music_to_motion": ".3f",
                    "median_step": ".4f", "facing_width": ".3f"}  # column: number format


def markdown_rows(rows: dict[str, dict], per_seed: list[dict[str, dict]]) -> str:
    """docs/RESULTS.md table rows, one per label: FID_k as mean ± std (each seed's), FID_k_win as mean ± std and
    plain means for the rest (a row that does not vary by seed, plain), so the tables are pasted, not typed."""
    lines = [f"| label | {' | '.join(MARKDOWN_COLUMNS)} |", "|" + "---|" * (len(MARKDOWN_COLUMNS) + 1)]
    for label, row in rows.items():
        cells = [format(row.get(col, float("nan")), fmt) for col, fmt in MARKDOWN_COLUMNS.items()]
        for i, col in enumerate(("FID_k", "FID_k_win")):
            if f"{col}_sd" in row:  # the ground truth's row does not vary by seed
                cells[i] += f" ± {row[f'{col}_sd']:.1f}"
        if "FID_k_sd" in row:
            cells[0] += " (" + " / ".join(f"{float(r[label]['FID_k']):.1f}" for r in per_seed) + ")"
        lines.append(f"| {label} | {' | '.join(cells)} |")
    return "\n".join(lines)


def aggregate(per_seed: list[dict[str, dict]]) -> dict[str, dict]:
    """Mean and std over seeds of every numeric metric (std columns are named `<metric>_sd`)."""
    if len(per_seed) == 1:
        return per_seed[0]
    out = {}
    for label in per_seed[0]:
        row = {}
        for metric in per_seed[0][label]:
            vals = np.array([float(r[label][metric]) for r in per_seed], dtype=np.float64)
            row[metric] = float(vals.mean())
            if np.ptp(vals) > 0:
                row[f"{metric}_sd"] = float(vals.std())
        out[label] = row
    return out


if __name__ == "__main__":
    main()
