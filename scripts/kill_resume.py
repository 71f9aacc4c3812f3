"""Training under faults: kill -9 a training run at random moments (and inside checkpoint writes), resume it each
time, and check it ends where an uninterrupted run ends (issue 10). Prints one JSON line with the tally.

    python scripts/kill_resume.py --cache /work/cache/dwm_raw --preset small --steps 150 --kills 10
    python scripts/kill_resume.py --preset tiny --steps 40        # prepares a small raw cache first

Every other kill waits for a checkpoint write to start (a temporary checkpoint file appears in the run folder)
and kills the process then; the others come after a random delay (startup, training steps or writes). After each
kill the run folder must hold a loadable checkpoint (or none yet), and the resumed run must continue from it.
At the end the killed run's last logged loss and its final weights are compared with the uninterrupted run's,
and its log.jsonl must list every logged step once, in order.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DWM = ROOT.parent / "shared" / "data" / "dance_with_melody"


def train_cmd(a: argparse.Namespace, out: Path) -> list[str]:
    cmd = [sys.executable, "-m", "dance2d", "train", "--cache", str(a.cache), "--out", str(out), "--preset", a.preset,
           "--steps", str(a.steps), "--batch", str(a.batch), "--frames", str(a.frames), "--seed", str(a.seed),
           "--threads", "1", "--ckpt-every", str(a.ckpt_every), "--log-every", str(a.log_every),
           "--sample-every", "0", "--warmup", "10"]
    return (["nice", "-n", str(a.nice)] if a.nice else []) + cmd


def run_to_end(a: argparse.Namespace, out: Path) -> float:
    t0 = time.time()
    subprocess.run(train_cmd(a, out), check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.time() - t0


def temp_files(out: Path) -> set[tuple[str, int]]:
    """(name, mtime) of the checkpoint temporaries in the run folder: they exist only while a checkpoint is written
    (or after a kill inside a write, until the resumed run removes them)."""
    found = set()
    try:
        names = os.listdir(out)
    except FileNotFoundError:
        return found
    for n in names:
        if (n.startswith(".train_state.pt.") and n.endswith(".tmp.pt")) or (
                n.startswith(".last.safetensors.") and n.endswith(".tmp.safetensors")):
            try:
                found.add((n, os.stat(out / n).st_mtime_ns))
            except FileNotFoundError:
                pass
    return found


def state_step(out: Path) -> int | None:
    """The step of the run folder's checkpoint after a kill (None: no checkpoint yet); raises if it cannot load."""
    import torch

    from dance2d.checkpoint import load_checkpoint

    if not (out / "train_state.pt").exists():
        return None
    load_checkpoint(out / "last.safetensors")
    return int(torch.load(out / "train_state.pt", map_location="cpu", weights_only=True)["step"])


def weights(path: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(str(path))


def log_steps(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cache", help="training cache (default: prepare a small raw cache of Dance with Melody)")
    p.add_argument("--preset", default="small")
    p.add_argument("--steps", type=int, default=150)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--frames", type=int, default=128)
    p.add_argument("--ckpt-every", type=int, default=5)
    p.add_argument("--log-every", type=int, default=5)
    p.add_argument("--kills", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--nice", type=int, default=10, help="niceness of the training processes (0 = none)")
    p.add_argument("--work", help="working folder (default: a temporary one, removed at the end)")
    a = p.parse_args()
    rnd = random.Random(a.seed)
    work = Path(a.work) if a.work else Path(tempfile.mkdtemp(prefix="dance2d_killtest_"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        if not a.cache:
            a.cache = work / "cache"
            if not (a.cache / "index.json").exists():
                subprocess.run([sys.executable, "-m", "dance2d", "prepare", "--dataset", "dwm", "--root", str(DWM),
                                "--out", str(a.cache), "--codec", "raw", "--views", "1", "--limit", "3",
                                "--frames", str(a.frames)], check=True, stdout=subprocess.DEVNULL)
        ref, killed = work / "uninterrupted", work / "killed"
        for d in (ref, killed):
            shutil.rmtree(d, ignore_errors=True)
        wall = run_to_end(a, ref)
        fit_s = log_steps(ref)[-1]["elapsed_s"]
        startup_s, step_s = max(0.0, wall - fit_s), fit_s / a.steps
        tally, attempts = [], 0
        while len(tally) < a.kills and attempts < 3 * a.kills:
            attempts += 1
            i = len(tally)
            # Odd kills wait for a checkpoint write of this process (the weights file or the optimizer state, in
            # turn; after skipping 0-2 writes so the run moves on) and kill inside it; even kills come at a random
            # moment (startup, a training step or a write).
            mode = ("checkpoint:weights" if i % 4 == 1 else "checkpoint:state") if i % 2 else "random"
            old = temp_files(killed)
            proc = subprocess.Popen(train_cmd(a, killed), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            t0 = time.time()
            if mode == "random":
                deadline = t0 + rnd.uniform(0.5, startup_s + 2 * a.ckpt_every * step_s)
                while time.time() < deadline and proc.poll() is None:
                    time.sleep(0.01)
            else:
                prefix = ".last.safetensors." if mode.endswith("weights") else ".train_state.pt."
                skip, seen, writes = rnd.randint(0, 2), set(old), 0
                while proc.poll() is None:
                    new = {f for f in temp_files(killed) - seen if f[0].startswith(prefix)}
                    if new:
                        seen |= new
                        writes += 1
                        if writes > skip:
                            break
                    time.sleep(0.0005)
            if proc.poll() is not None:  # it finished first: the run is too short for this many kills
                print(json.dumps({"kill": None, "mode": mode, "finished_before_kill": True}), file=sys.stderr)
                if state_step(killed) == a.steps:
                    break
                continue
            os.kill(proc.pid, signal.SIGKILL)
            in_write = bool(temp_files(killed) - old)  # a write of this process was under way
            proc.wait()
            step = state_step(killed)  # must load after every kill
            if step == a.steps:  # it had written its last checkpoint: nothing was left to interrupt
                print(json.dumps({"kill": None, "mode": mode, "finished_before_kill": True}), file=sys.stderr)
                break
            tally.append({"kill": i + 1, "mode": mode, "after_s": round(time.time() - t0, 2),
                          "inside_write": in_write, "checkpoint_step": step})
            print(json.dumps(tally[-1]), file=sys.stderr)
        run_to_end(a, killed)  # resume once more and finish
        w_ref, w_killed = weights(ref / "last.safetensors"), weights(killed / "last.safetensors")
        same_weights = all(bool((w_ref[k] == w_killed[k]).all()) for k in w_ref)
        log_ref, log_killed = log_steps(ref), log_steps(killed)
        steps = [r["step"] for r in log_killed]
        result = {
            "preset": a.preset, "steps": a.steps, "kills": len(tally),
            "kills_inside_checkpoint_writes": sum(t["inside_write"] for t in tally),
            "kills_before_first_checkpoint": sum(t["checkpoint_step"] is None for t in tally),
            "resumes_loaded": sum(t["checkpoint_step"] is not None for t in tally),
            "final_loss_uninterrupted": log_ref[-1]["loss"], "final_loss_killed": log_killed[-1]["loss"],
            "same_final_loss": log_ref[-1]["loss"] == log_killed[-1]["loss"],
            "same_final_weights": same_weights,
            "log_steps_once_in_order": steps == sorted(set(steps)) and steps == [r["step"] for r in log_ref],
            "all_logged_losses_equal": [r["loss"] for r in log_killed] == [r["loss"] for r in log_ref],
            "uninterrupted_wall_s": round(wall, 1),
        }
        print(json.dumps(result))
        ok = (result["same_final_loss"] and same_weights and result["log_steps_once_in_order"]
              and len(tally) == a.kills)
        sys.exit(0 if ok else 1)
    finally:
        if not a.work:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
