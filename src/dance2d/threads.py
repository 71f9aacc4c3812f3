"""CPU thread policy for generation (issue 10): as many torch threads as there are idle cores, at least one.

Why: torch's intra-op threads meet at a barrier after every operation. When another CPU-bound process holds one of
those cores, every barrier waits for the thread that has to share a core, so two threads on a half-busy two-core
machine ran at a quarter of their quiet speed (and at 1/20–1/35 under heavier load), where one thread keeps its own
core and runs at full speed. So the default counts the cores this process may use (its CPU affinity) and subtracts
the ones other processes keep busy (the load average, and the processes running right now, whichever is lower),
and `--threads N` overrides it.
"""

from __future__ import annotations

import os
import time


def usable_cores() -> int:
    """Cores this process may run on (its affinity mask where the OS has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def busy_cores(samples: int = 5, interval: float = 0.02) -> float:
    """Cores other processes keep busy: the lower of the 1-minute load average and the fewest other processes
    seen running over a few samples of /proc/loadavg (so a brief burst or a run that just ended is not counted)."""
    try:
        load1 = os.getloadavg()[0]
    except (AttributeError, OSError):
        return 0.0
    running = []
    for i in range(samples):
        try:
            with open("/proc/loadavg") as f:
                running.append(int(f.read().split()[3].split("/")[0]) - 1)  # minus this process
        except (OSError, ValueError, IndexError):
            return 0.0 if not running else max(0.0, min(load1, min(running)))
        if i + 1 < samples:
            time.sleep(interval)
    return max(0.0, min(load1, float(min(running))))


def auto_threads() -> int:
    """The default thread count: usable cores minus busy ones, at least 1."""
    cores = usable_cores()
    return max(1, min(cores, cores - int(round(busy_cores()))))


def apply_threads(threads: int | None) -> int:
    """Set torch's intra-op threads (0 or None = auto_threads()); returns the number used."""
    import torch

    n = auto_threads() if not threads else int(threads)
    torch.set_num_threads(n)
    return n
