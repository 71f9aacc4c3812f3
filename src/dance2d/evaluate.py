"""`dance2d evaluate`: 2D pose-space metrics (supplementary §8) of generated folders against a ground-truth split.

Every row — each generated folder and the "GT test vs GT train" reference row — is scored by the same
`dance2d.metrics.evaluate_set` call against the same reference distribution (the GT train split), so each number
has its reference. The ground truth comes from the dataset registry (dance2d.data: `DanceDataset.ground_truth`).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from collections import Counter
from pathlib import Path

import numpy as np

from dance2d import validate
from dance2d.atomic import atomic_path
from dance2d.data import GT_DATASETS, get_dataset
from dance2d.data.dataset import DEFAULT_CANVAS, MIN_WINDOW_SECONDS, Beats, DanceDataset, crop_seconds
from dance2d.errors import Dance2DError
from dance2d.metrics import EvalConfig, evaluate_set, format_table
from dance2d.music.audio import load_audio
from dance2d.music.features import beat_times
from dance2d.pose import PoseSequence, get_layout
from dance2d.pose.layouts import REQUIRED_JOINTS
from dance2d.pose.sequence import as_layout

GT_ROW = "GT test vs GT train"  # label of the ground-truth reference row
EVAL_LAYOUT = "openpose18"  # every sequence is scored in body-18 (the metric defaults' joint indices)
RESULTS_FORMAT = "dance2d.evaluate/1"  # "format" field of the results JSON


def _gt_dataset(name: str) -> DanceDataset:
    """A registered dataset that has ground truth for evaluation."""
    if name not in GT_DATASETS:
        raise Dance2DError(f"Unknown ground-truth dataset {name!r}; use one of {', '.join(GT_DATASETS)}.")
    return get_dataset(name)


def _find_music(value: object, npz: Path) -> Path:
    """The music file named in a poses.npz meta: as written, else relative to the npz's folder."""
    if not isinstance(value, str) or not value:
        raise Dance2DError(f"{npz} names no music file in its meta ('music'); regenerate it with dance2d generate "
                           "or add the path of its music.")
    for p in (Path(value), npz.parent / value):
        if p.is_file():
            return p
    raise Dance2DError(f"The music file {value!r} named by {npz} does not exist; put it back at that path "
                       "(or beside poses.npz).")


def music_beats(music: Path, start: float, end: float | None, fps: float, clip_seconds: float | None,
                cache: dict | None = None) -> np.ndarray:
    """Beat times (s, from `start`) of the [start, end) seconds of a music file, cut to `clip_seconds` (§8 BAS)."""
    key = (str(music.resolve()), float(start), None if end is None else float(end), float(fps), clip_seconds)
    if cache is not None and key in cache:
        return cache[key]
    wave, sr = load_audio(music)
    stop = len(wave) if end is None else min(len(wave), int(round(float(end) * sr)))
    if clip_seconds is not None:
        stop = min(stop, int(round(float(start) * sr)) + int(round(clip_seconds * sr)))
    seg = wave[int(round(float(start) * sr)):stop]
    if len(seg) < sr:  # the beat tracker needs some music to find a tempo
        raise Dance2DError(f"The range start={start} end={end} of {music} holds {len(seg) / sr:.2f} s of music; "
                           "generated dances need at least 1 s of it.")
    beats = beat_times(seg, sr, fps)
    if cache is not None:
        cache[key] = beats
    return beats


def collect_generated(folder: str | os.PathLike, *, clip_seconds: float | None = None,
                      beat_cache: dict | None = None) -> list[tuple[PoseSequence, np.ndarray]]:
    """Every poses.npz below a folder (sorted) in body-18, with the beats of the music range it was made for."""
    root = Path(folder)
    if not root.is_dir():
        raise Dance2DError(f"Generated folder {root} does not exist; pass a folder written by dance2d generate.")
    files = sorted(root.rglob("poses.npz"))
    if not files:
        raise Dance2DError(f"No poses.npz below {root}; pass a folder written by dance2d generate.")
    cache = {} if beat_cache is None else beat_cache
    out = []
    for npz in files:
        seq = PoseSequence.load_npz(npz)
        meta = seq.meta
        music = _find_music(meta.get("music"), npz)
        beats = music_beats(music, float(meta.get("start") or 0.0), meta.get("end"), seq.fps, clip_seconds, cache)
        ref = _reference_body18(seq, npz)
        seq = crop_seconds(as_layout(seq, EVAL_LAYOUT), clip_seconds)
        seq.meta.update(source=str(npz), reference=ref)
        out.append((seq, beats))
    return out


def _reference_body18(seq: PoseSequence, npz: Path) -> list | None:
    """The meta reference pose of a generated sequence (its own layout) converted to body-18, (18, 3) list."""
    ref = seq.meta.get("reference")
    if ref is None:
        return None
    try:
        raw = np.asarray(ref, dtype=np.float32).reshape(seq.num_joints, 3)  # (K, 3) in the sequence's layout
        one = as_layout(PoseSequence(raw[None], seq.fps, seq.layout, seq.canvas), EVAL_LAYOUT)
    except (ValueError, Dance2DError) as e:
        raise Dance2DError(f"The reference pose in the meta of {npz} is not a ({seq.num_joints}, 3) pose "
                           f"({e}); regenerate the folder.") from None
    return one.keypoints[0].tolist()


def _reference_pixels(seq: PoseSequence) -> np.ndarray | None:
    """The body-18 reference pose of a collected sequence with x and y in pixels of its canvas, (18, 3)."""
    ref = seq.meta.get("reference")
    return None if ref is None else PoseSequence(np.asarray(ref, np.float32)[None], seq.fps, EVAL_LAYOUT,
                                                 seq.canvas).pixels()[0]


def _seams(seq: PoseSequence) -> list[int] | None:
    """The meta seam frames that lie inside the (possibly cropped) sequence."""
    seams = [int(s) for s in seq.meta.get("seams") or []]
    seams = [s for s in seams if 1 <= s <= len(seq) - 1]
    return seams or None


NECK = 1  # body-18 neck: stands in for a joint that a sequence never shows


def _pixels(seq: PoseSequence, filled: Counter) -> np.ndarray:
    """Keypoints (T, 18, 3) with x, y in pixels; a joint invisible in every frame copies the neck's track.

    Short clips of 3D-projected or generated dances can hide a face point for the whole clip (dancer seen from
    behind); the kinetic features cannot interpolate a joint that is never seen, and the neck is the nearest
    always-present point of the head's motion. `filled` counts the replaced joints.
    """
    kp = seq.pixels()  # (T, 18, 3)
    unseen = [j for j in range(kp.shape[1]) if j != NECK and not (kp[:, j, 2] > 0).any()]
    kp[:, unseen] = kp[:, NECK : NECK + 1]
    filled.update(unseen)
    return kp


def ground_truth(dataset: str, root: str | os.PathLike, split: str, fps: float,
                 canvas: tuple[int, int] = DEFAULT_CANVAS, seed: int = 0, *, with_music: bool = True,
                 clip_seconds: float | None = None, skip_seconds: float = 0.0) -> list[tuple[PoseSequence, Beats]]:
    """Ground-truth body-18 sequences of a split at `fps` with their music beats (None where there is no music):
    clip_seconds of each (all for None) from skip_seconds on, leaving out those that end too soon after the skip."""
    out = _gt_dataset(dataset).ground_truth(root, split, fps=fps, canvas=canvas, seed=seed, with_music=with_music,
                                            clip_seconds=clip_seconds, skip_seconds=skip_seconds)
    if not out:
        after = f" that lasts {MIN_WINDOW_SECONDS:g} s past {skip_seconds:g} s" if skip_seconds else ""
        raise Dance2DError(f"The {split!r} split of {dataset} under {root} holds no sequence{after}; check --root"
                           f"{' or skip less' if skip_seconds else ''}.")
    return out


def first_full_pose(seq: PoseSequence) -> np.ndarray:
    """The first frame (K, 3) of a sequence whose torso joints are all visible: the reference a user would give."""
    lay = get_layout(seq.layout)
    idx = [lay.index(j) for j in REQUIRED_JOINTS]
    ok = (seq.keypoints[:, idx, 2] > 0.3).all(1)
    return seq.keypoints[int(np.argmax(ok))]


def _labels(folders: list[str], labels: list[str] | None) -> list[str]:
    """Row labels: the given ones, else folder names (with the parent folder where names repeat)."""
    if labels is not None:
        if len(labels) != len(folders) or len(set(labels)) != len(labels) or GT_ROW in labels:
            raise Dance2DError(f"labels {labels} must be {len(folders)} distinct names, one per generated folder, "
                               f"other than {GT_ROW!r}.")
        return list(labels)
    names = [Path(f).resolve().name for f in folders]
    counts = Counter(names)
    names = [str(Path(*Path(f).resolve().parts[-2:])) if counts[n] > 1 else n for f, n in zip(folders, names,
                                                                                             strict=True)]
    if len(set(names)) != len(names):
        raise Dance2DError(f"The generated folders {folders} repeat; pass each folder once.")
    return names


def _common(values: list, default):
    """The most frequent value (first seen on ties), or `default` for an empty list."""
    return Counter(values).most_common(1)[0][0] if values else default


def run_evaluation(generated_folders: list[str], dataset: str, root: str | os.PathLike, *,
                   fps: float | None = None, clip_seconds: float | None = None, labels: list[str] | None = None,
                   seed: int = 0, canvas: tuple[int, int] | None = None, cfg: EvalConfig | None = None,
                   skip_seconds: float = 0.0) -> tuple[dict[str, dict], dict]:
    """One metrics row per generated folder plus the GT reference row, all against the GT train split (§8).

    fps: frame rate of the evaluation (ground truth is loaded at it, kinetic features resample to it); None =
    the most common frame rate of the generated dances. clip_seconds: score only the first N seconds of every
    sequence (poses and music). skip_seconds: score the ground truth (test and reference rows) from this far into
    every song, for dances generated from there (`--start`); the generated dances are scored from their first frame.
    canvas: GT virtual-camera canvas; None = the generated dances' most common one.
    Returns (rows, settings); settings holds everything needed to reproduce the table.
    """
    if not generated_folders:
        raise Dance2DError("No generated folder given; pass at least one folder written by dance2d generate.")
    ds = _gt_dataset(dataset)
    names = _labels([str(f) for f in generated_folders], labels)
    cache: dict = {}
    generated = {n: collect_generated(f, clip_seconds=clip_seconds, beat_cache=cache)
                 for n, f in zip(names, generated_folders, strict=True)}
    for n, f in zip(names, generated_folders, strict=True):
        if len(generated[n]) < 2:
            raise Dance2DError(f"{f} holds {len(generated[n])} poses.npz; FID_k and DIV_k need at least 2 dances "
                               "per method (generate with --num-samples or several songs).")
    seqs = [s for items in generated.values() for s, _ in items]
    eval_fps = float(fps) if fps is not None else float(_common([s.fps for s in seqs], 30.0))
    gt_canvas = tuple(canvas) if canvas is not None else _common([s.canvas for s in seqs], DEFAULT_CANVAS)
    cfg = cfg or EvalConfig()
    cfg = dataclasses.replace(cfg, canvas=None, kinetic_fps=eval_fps)  # sequences are passed in pixels

    gt_split, ref_split = ds.gt_split, ds.reference_split
    reference = ground_truth(dataset, root, ref_split, eval_fps, gt_canvas, seed, with_music=False,
                             clip_seconds=clip_seconds, skip_seconds=skip_seconds)
    filled: dict[str, Counter] = {n: Counter() for n in ["reference", *names, GT_ROW]}
    ref_set = [(_pixels(s, filled["reference"]), s.fps) for s, _ in reference]

    rows: dict[str, dict] = {}
    for name, items in generated.items():
        gen = [(_pixels(s, filled[name]), s.fps, b, _reference_pixels(s), _seams(s)) for s, b in items]
        rows[name] = evaluate_set(gen, ref_set, cfg)
    notes = []
    if gt_split is not None:
        test = ground_truth(dataset, root, gt_split, eval_fps, gt_canvas, seed, with_music=True,
                            clip_seconds=clip_seconds, skip_seconds=skip_seconds)
        gen = [(_pixels(s, filled[GT_ROW]), s.fps, b, None, None) for s, b in test]
        rows[GT_ROW] = evaluate_set(gen, ref_set, cfg)
    else:
        notes.append(f"{dataset} has no held-out test split here: no '{GT_ROW}' row.")
    notes.extend(ds.eval_notes)
    notes.append("GT rows have no reference pose or seams: their fidelity columns are empty.")
    settings = {
        "dataset": dataset, "root": str(root), "gt_split": gt_split, "reference_split": ref_split,
        "fps": eval_fps, "canvas": list(gt_canvas), "camera_seed": seed, "clip_seconds": clip_seconds,
        "skip_seconds": skip_seconds,
        "layout": EVAL_LAYOUT, "units": "pixels of each sequence's own canvas",
        "music_beats": "dance2d.music.features.beat_times on the [start, end) range named in each poses.npz meta",
        "metrics": dataclasses.asdict(cfg),
        "generated": {n: {"folder": str(f), "files": [s.meta["source"] for s, _ in generated[n]]}
                      for n, f in zip(names, generated_folders, strict=True)},
        "joints_filled_from_neck": {n: {str(j): c for j, c in sorted(cnt.items())} for n, cnt in filled.items()
                                    if cnt},  # per row: joint → sequences where it was never visible
        "notes": notes,
    }
    return rows, settings


def _json_safe(v):
    """NaN / inf → None and numpy scalars → Python, recursively (strict JSON)."""
    if isinstance(v, dict):
        return {str(k): _json_safe(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_json_safe(x) for x in v]
    if isinstance(v, (np.floating, float)):
        return float(v) if math.isfinite(v) else None
    if isinstance(v, np.integer):
        return int(v)
    return v


def save_results(path: str | os.PathLike, rows: dict[str, dict], settings: dict) -> None:
    """Write rows + settings as JSON atomically (missing values as null)."""
    text = json.dumps({"format": RESULTS_FORMAT, "rows": _json_safe(rows), "settings": _json_safe(settings)},
                      indent=2, allow_nan=False)
    with atomic_path(path, suffix=".json") as tmp:
        tmp.write_text(text + "\n")


def evaluate_command(args) -> None:
    """CLI: the metrics table of `args.generated` against `args.dataset` at `args.root`, and/or the music-response
    tests of a model (`--tempo-test`, `--energy-test`); everything is saved to `args.out`."""
    tempo, energy = getattr(args, "tempo_test", None), getattr(args, "energy_test", None)
    framing = getattr(args, "framing_test", None)
    if not args.generated and not (tempo or energy or framing):
        raise Dance2DError("Nothing to evaluate: pass folders of generated dances, --tempo-test MUSIC, "
                           "--energy-test CALM ENERGETIC or --framing-test MUSIC.")
    rows, settings = {}, {}
    window = getattr(args, "window_seconds", EvalConfig.window_seconds)
    validate.number("--window-seconds", window, lo=0, example="2.5")  # before any dance is read
    skip = validate.number("--skip-seconds", getattr(args, "skip_seconds", 0.0), lo=0, example="30")
    if args.generated:
        if not args.root:
            raise Dance2DError("Scoring generated folders needs the ground truth: pass --root DATASET_FOLDER.")
        rows, settings = run_evaluation(list(args.generated), args.dataset, args.root,
                                        fps=getattr(args, "fps", None),
                                        clip_seconds=getattr(args, "clip_seconds", None),
                                        labels=getattr(args, "labels", None), seed=getattr(args, "seed", 0) or 0,
                                        cfg=EvalConfig(window_seconds=window or None), skip_seconds=skip)
        print(format_table(rows))
    if tempo or energy or framing:
        from dance2d.pipeline import Dance2D

        if getattr(args, "tempo_bpm", None) is not None:  # before the model loads
            validate.tempo("--tempo-bpm", args.tempo_bpm)
        dynamics = getattr(args, "dynamics", None)
        validate.generation_options(dynamics=dynamics, prefix="--")
        tempo_start = validate.number("--tempo-start", getattr(args, "tempo_start", 0.0), lo=0, example="30")
        calm_start, energetic_start = (validate.number("--energy-starts", v, lo=0, example="0 160")
                                       for v in getattr(args, "energy_starts", (0.0, 0.0)))
        options = {} if dynamics is None else {"dynamics": dynamics}
        pipe = Dance2D.from_pretrained(getattr(args, "model", None))
        seeds = tuple(range(int(getattr(args, "response_seeds", 3))))
        response = {}
        if tempo:
            response["tempo"] = tempo_test(pipe, tempo, args.ref, start=tempo_start, seeds=seeds, options=options,
                                           music_bpm=getattr(args, "tempo_bpm", None))
            t = response["tempo"]
            print(f"tempo test ({t['tempi'][0]:g} → {t['tempi'][1]:g} BPM): step-rate ratio "
                  f"{t['ratio_mean']:.2f} ± {t['ratio_std']:.2f} over {len(seeds)} seeds")
        if energy:
            response["energy"] = energy_test(pipe, energy[0], energy[1], args.ref, calm_start=calm_start,
                                             energetic_start=energetic_start, seeds=seeds, options=options)
            e = response["energy"]
            print(f"energy test (calm → energetic): motion-energy ratio {e['ratio_mean']:.2f} ± {e['ratio_std']:.2f}"
                  f" over {len(seeds)} seeds")
        if framing:
            response["framing"] = framing_test(pipe, framing, args.ref, seeds=seeds, options=options)
            for name, r in response["framing"].items():
                print(f"framing test, reference {name}: limb length error max {r['limb_error_max']:.3f} mean "
                      f"{r['limb_error_mean']:.3f}, scale error {r['scale_error']:.3f} (at median length "
                      f"{r['limb_error_at_median']:.3f}, bounding box {r['bbox_scale_error']:.3f}; "
                      f"{r['limbs_estimated']:.0f} foreshortened reference limbs left out)")
        settings = dict(settings, music_response=response)
    save_results(args.out, rows, settings)
    print(f"wrote {args.out}")


# ---------------------------------------------------------------------------------------------- music response
def _dance_pixels(pipe, wave: np.ndarray, sr: int, reference, seed: int,
                  options: dict | None = None) -> tuple[np.ndarray, np.ndarray, float]:
    """Generate one dance for a waveform with generate's options: (isotropic pixel xy (T, K, 2), confidence (T, K),
    fps)."""
    [seq] = pipe.generate((wave, sr), reference, seed=seed, **(options or {}))
    return seq.keypoints[..., :2] * np.asarray(seq.canvas, np.float64), seq.keypoints[..., 2], seq.fps


def tempo_test(pipe, music, reference=None, *, start: float = 0.0, seconds: float = 20.0,
               tempi: tuple[float, float] = (96.0, 150.0), seeds: tuple[int, ...] = (0, 1, 2),
               options: dict | None = None, music_bpm: float | None = None) -> dict:
    """The same excerpt time-stretched to two tempi: ratio of the dances' step rates (slow → fast), per seed;
    options: Dance2D.generate's keyword arguments (defaults: the tool's).

    The excerpt's own tempo is `music_bpm` when given (music whose tempo is known), else the tempo the tool itself
    hears in it (`music.drive.tempo_bpm`: librosa's beat tracker hears `chaos-fog`'s 141 BPM at 160 s as 112, a
    4:5 mistake that no octave folding undoes, and the test then plays the excerpt at 123 and 192 BPM where it
    says 96 and 150); each version lasts `seconds` after stretching."""
    from dance2d.metrics.response import step_rate
    from dance2d.music.audio import load_audio
    from dance2d.music.drive import tempo_bpm
    from dance2d.music.tokens import time_stretch

    if music_bpm is not None:  # checked before the music is decoded
        music_bpm = validate.tempo("--tempo-bpm", music_bpm)
    sr = 22050
    wave, sr = load_audio(music, sr)
    a = int(start * sr)
    bpm = music_bpm if music_bpm is not None else tempo_bpm(wave[a:a + int(seconds * sr)], sr)
    if not bpm:
        raise Dance2DError(f"No beat found in {music} from {start:g} s; choose a passage with a clear pulse.")
    need = seconds * max(tempi) / bpm  # source seconds the fastest version plays in `seconds`
    if len(wave) - a < need * sr:
        raise Dance2DError(f"{music} has {len(wave) / sr - start:.1f} s after {start:g} s but the tempo test needs "
                           f"{need:.1f} s (its tempo is {bpm:.0f} BPM); start earlier or use a shorter test.")
    excerpt = wave[a:a + int((need + 1.0) * sr)]
    versions = [time_stretch(excerpt, sr, t / bpm)[:int(seconds * sr)] for t in tempi]  # the same for every seed
    rates, ratios = {}, []
    for seed in seeds:
        r = []
        for stretched in versions:
            xy, conf, fps = _dance_pixels(pipe, stretched, sr, reference, seed, options)
            r.append(step_rate(xy, fps, conf))
        rates[seed] = r
        ratios.append(r[1] / r[0])
    return {"music_bpm": bpm, "tempi": list(tempi), "step_rates": rates, "ratio_mean": float(np.mean(ratios)),
            "ratio_std": float(np.std(ratios)), "ratios": ratios}


def energy_test(pipe, calm, energetic, reference=None, *, seconds: float = 10.0, calm_start: float = 0.0,
                energetic_start: float = 0.0, seeds: tuple[int, ...] = (0, 1, 2), options: dict | None = None) -> dict:
    """A calm passage spliced to an energetic one: motion energy after the cut over before it, per seed."""
    from dance2d.metrics.response import energy_ratio
    from dance2d.music.audio import load_audio

    sr = 22050
    a, _ = load_audio(calm, sr)
    b, _ = load_audio(energetic, sr)
    a = a[int(calm_start * sr):int((calm_start + seconds) * sr)]
    b = b[int(energetic_start * sr):int((energetic_start + seconds) * sr)]
    if len(a) < seconds * sr * 0.9 or len(b) < seconds * sr * 0.9:
        raise Dance2DError(f"The calm or energetic music is shorter than the {seconds:g} s the energy test needs; "
                           "pass longer files or a smaller duration.")
    ratios = []
    for seed in seeds:
        xy, conf, fps = _dance_pixels(pipe, np.concatenate([a, b]), sr, reference, seed, options)
        ratios.append(energy_ratio(xy, fps, len(a) / sr, confidence=conf))
    return {"ratio_mean": float(np.mean(ratios)), "ratio_std": float(np.std(ratios)), "ratios": ratios}


# ---------------------------------------------------------------------------------------------- reference fidelity
FRAMINGS = {"as given": (1.0, (0.0, 0.0)), "off-centre": (1.0, (-0.3, -0.12)), "larger": (1.6, (0.0, 0.0)),
            "smaller": (0.5, (0.0, 0.0))}  # scale about the person's centre, shift in canvas widths/heights


def reframe_reference(ref: np.ndarray, canvas, scale: float, shift: tuple[float, float]) -> np.ndarray:
    """A reference pose (K, 3) in [0, 1] moved as a photo framed otherwise would show it: scaled by `scale` about
    the body's centre (isotropic pixels) and shifted by `shift` (fractions of the canvas width and height)."""
    c = np.asarray(canvas, np.float64)
    px = ref[:, :2] * c
    seen = ref[:, 2] > 0
    centre = (px[seen].min(0) + px[seen].max(0)) / 2
    out = ref.copy()
    out[:, :2] = np.where(seen[:, None], ((px - centre) * scale + centre) / c + np.asarray(shift), 0.0)
    return out


def limb_fidelity(kp: np.ndarray, ref: np.ndarray, canvas, layout: str = "openpose18") -> dict[str, float]:
    """How well a dance (T, K, 3) keeps a reference (K, 3): the worst and mean relative error of the limbs' 2D
    lengths at their 90th percentile over the dance (a limb is at full length in a tenth of the frames at least;
    2D projection only shortens it), and the on-screen scale as the median torso length over the reference's.
    Limbs the reference shows foreshortened (retarget.reference_limbs) are left out, as their length is not the
    person's, and counted in limbs_estimated. For comparison under other definitions: the limbs' median lengths
    (foreshortening included) and the median bounding-box height (posture included) against the reference's."""
    from dance2d.metrics.fidelity import scale_fidelity
    from dance2d.metrics.kinetic import torso_length
    from dance2d.pose.layouts import LIMB_ENDS
    from dance2d.pose.retarget import reference_limbs

    lay = get_layout(layout)
    c = np.asarray(canvas, np.float64)
    px = np.where(kp[..., 2:] > 0, kp[..., :2] * c, np.nan)  # missing joints are NaN
    rp = np.where(ref[:, 2:] > 0, ref[:, :2] * c, np.nan)
    shown = {j: source == "shown" for j, (_, source) in reference_limbs(ref, canvas, layout).items()
             if lay.joints[j] in LIMB_ENDS}
    full, typical = [], []
    for i, j in lay.limbs:
        if not shown.get(j, False):  # arms and legs the reference shows at full length only
            continue
        lengths = np.linalg.norm(px[:, j] - px[:, i], axis=-1) / np.linalg.norm(rp[j] - rp[i])
        lengths = lengths[np.isfinite(lengths)]
        if lengths.size > 10:
            full.append(abs(np.percentile(lengths, 90) - 1))
            typical.append(abs(np.median(lengths) - 1))
    if not full:
        raise Dance2DError("The dance shows no arm or leg that the reference shows at full length in more than 10 "
                           "frames; limb fidelity needs a longer dance and a reference with its arms and legs.")
    box = scale_fidelity(kp[..., :2] * c, ref[:, :2] * c, confidence=kp[..., 2], reference_confidence=ref[:, 2])
    return {"limb_error_max": float(max(full)), "limb_error_mean": float(np.mean(full)),
            "scale_error": abs(torso_length(px) / torso_length(rp[None]) - 1),
            "limb_error_at_median": float(np.mean(typical)),
            "limbs_estimated": sum(not v for v in shown.values()),
            "bbox_scale_error": box["scale_error"]}


def framing_test(pipe, music, reference=None, *, seconds: float = 20.0, seeds: tuple[int, ...] = (0, 1, 2),
                 options: dict | None = None) -> dict:
    """The same person framed four ways (FRAMINGS: as given, off-centre, larger, smaller): limb and scale errors of
    each dance against its own reference (limb_fidelity), per framing, mean over seeds."""
    from dance2d.music.audio import load_audio
    from dance2d.pose import PoseSequence

    ref_pose, canvas = pipe.reference_pose(reference)
    sr = 22050
    wave, _ = load_audio(music, sr)
    wave = wave[:int(seconds * sr)]
    out = {}
    for name, (scale, shift) in FRAMINGS.items():
        ref = reframe_reference(ref_pose, canvas, scale, shift)
        rows = []
        for seed in seeds:
            [seq] = pipe.generate((wave, sr), PoseSequence(ref[None], pipe.fps, pipe.data.layout, canvas),
                                  seed=seed, **(options or {}))
            rows.append(limb_fidelity(seq.keypoints, ref, canvas, pipe.data.layout))
        out[name] = {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}
    return out
