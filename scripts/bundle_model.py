"""Copy a trained checkpoint into the package as the bundled model, or to --out (weights stored as float16, config
kept).

    python scripts/bundle_model.py runs/raw_x/last.safetensors raw
    python scripts/bundle_model.py runs/onehot_x/last.safetensors onehot --smooth 4 --guidance 1
    python scripts/bundle_model.py runs/onehot_s3c/last.safetensors --smooth 4 --guidance 1 \
        --out weights/onehot_stage3c_33songs.safetensors      # a warm start kept in the repo, not bundled
    python scripts/bundle_model.py runs/oh_s16b/last.safetensors onehot \
        --average runs/oh_s15/last.safetensors --average OLD_ONEHOT.safetensors   # a weight average of a lineage

--cache sets the model's home tempo (music/drive.py) to the median tempo of the cache it was trained on, for
checkpoints written before training stored it; --home-tempo sets it to a value calibrated for speed
(scripts/calibrate_tempo.py), e.g. to re-bundle a released model with only that changed:

    python scripts/bundle_model.py src/dance2d/assets/model/raw.safetensors raw --home-tempo 86

The training recipe stays in the config, with the local paths it names (cache, run
folder, warm start) cut to their last component: a released file carries no path of the machine it was made on.
"""

import argparse
from pathlib import Path

import torch

from dance2d import validate
from dance2d.checkpoint import average_checkpoints, save_checkpoint
from dance2d.data.windows import WindowDataset
from dance2d.errors import Dance2DError
from dance2d.pipeline import bundled_model_path, model_representation
from dance2d.train import home_tempo


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("checkpoint", help="trained checkpoint (.safetensors or sharded folder)")
    ap.add_argument("name", nargs="?", help="bundled model name (raw | onehot); leave out with --out")
    home = ap.add_mutually_exclusive_group()
    home.add_argument("--cache", help="the training cache, to set the home tempo the checkpoint lacks")
    home.add_argument("--home-tempo", type=float,
                    help="the model's home tempo in BPM, calibrated for speed (scripts/calibrate_tempo.py)")
    ap.add_argument("--smooth", type=float,
                    help="the model's default temporal smoothing in frames (for a model that jitters; default: none)")
    ap.add_argument("--guidance", type=float, help="the model's default guidance scale (default: the pipeline's)")
    ap.add_argument("--beat-accent", type=float,
                    help="the model's default beat accent (default: the pipeline's, music/drive.py BEAT_ACCENT)")
    ap.add_argument("--dynamics", type=float,
                    help="the model's default loudness-to-movement strength (default: the pipeline's, "
                         "pose/dynamics.py STRENGTH)")
    ap.add_argument("--presence", type=float,
                    help="a one-hot model's presence fraction: a decoded joint is kept where its peak is this "
                         "fraction of the window's typical peak (default: codec/base.py PRESENCE_FRACTION)")
    ap.add_argument("--track", type=float,
                    help="a one-hot model's peak-tracking cost per bin a decoded peak moves between frames (0 = each "
                         "frame's argmax; default: pose/onehot.py TRACK_COST)")
    ap.add_argument("--average", action="append", default=[], metavar="CHECKPOINT",
                    help="average the weights of this checkpoint of the same model in (uniformly; repeatable); the "
                         "settings stay the first checkpoint's")
    ap.add_argument("--out", help="write here instead of into the package (a checkpoint kept for --init only)")
    a = ap.parse_args()
    if (a.name is None) == (a.out is None):
        ap.error("give exactly one of a bundled model name (raw | onehot) and --out PATH.")
    try:
        state, config = average_checkpoints([a.checkpoint, *a.average])
    except Dance2DError as e:
        raise SystemExit(str(e)) from None
    if a.cache:
        config["data"]["home_tempo"] = home_tempo(WindowDataset(a.cache, config["data"]["frames"]))
    if a.home_tempo is not None:
        try:
            config["data"]["home_tempo"] = validate.tempo("--home-tempo", a.home_tempo, example="86")
        except Dance2DError as e:
            raise SystemExit(str(e)) from None
    own = {k: v for k, v in (("smooth", a.smooth), ("guidance", a.guidance), ("beat_accent", a.beat_accent),
                             ("dynamics", a.dynamics), ("presence", a.presence), ("track", a.track)) if v is not None}
    if own:
        config["generation"] = dict(config.get("generation") or {}, **own)
        try:  # the representation checks its own settings: refuse to write a file that would not load
            model_representation(config)
        except Dance2DError as e:
            raise SystemExit(str(e)) from None
    train = config.get("train") or {}
    for key in ("cache", "out", "init"):
        if train.get(key):
            train[key] = Path(train[key]).name
    if a.average:  # the weights are these checkpoints' average: the recipe above is the first one's
        config["train"] = dict(train, averaged_with=[Path(p).name for p in a.average])
    if not config["data"].get("home_tempo"):
        raise SystemExit(f"{a.checkpoint} has no home tempo; pass --cache with the cache it was trained on.")
    half = {k: v.to(torch.float16) if v.is_floating_point() else v for k, v in state.items()}
    out = a.out or bundled_model_path(a.name)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    save_checkpoint(out, half, config)
    print(f"{out}: {Path(out).stat().st_size / 2**20:.1f} MiB, home tempo {config['data']['home_tempo']:.1f} BPM")


if __name__ == "__main__":
    main()
