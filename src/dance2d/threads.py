"""CPU thread policy for generation (issue 10): as many torch threads as there are idle cores, at least one.

Why: torch's intra-op threads meet at a barrier after every operation. When another CPU-bound process holds one of
those cores, every barrier waits for the thread that has to share a core, so two threads on a half-busy two-core
machine ran at a quarter of their quiet speed (and at 1/20–1/35 under heavier load), where one thread keeps its own
core and runs at full speed. So the default counts the cores this process may use (its CPU affinity) and subtracts
the ones other processes keep busy (the runnable tasks of /proc/loadavg, the fewest over 0.1 s),
and `--threads N` overrides it. The count is checked again between segments, so load that starts or ends during a
long song is followed. The BLAS and OpenMP pools numpy and librosa use (the music features) get the same count
through threadpoolctl, which librosa's scikit-learn dependency brings.
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
    """Cores other processes keep busy: the fewest other runnable tasks seen over a few samples of /proc/loadavg
    (so a brief burst is not counted, while a CPU-bound process is runnable in every sample). Without /proc, the
    1-minute load average."""
    running = []
    for i in range(samples):
        try:
            with open("/proc/loadavg") as f:
                running.append(int(f.read().split()[3].split("/")[0]) - 1)  # minus this process
        except (OSError, ValueError, IndexError):
            break
        if i + 1 < samples:
            time.sleep(interval)
    if running:
        return float(max(0, min(running)))
    try:
        return max(0.0, os.getloadavg()[0])
    except (AttributeError, OSError):
        return 0.0


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


class ThreadPolicy:
    """Threads for a long generation: fixed if given, else auto_threads() re-checked between segments every
    `every` seconds, so load that starts (or ends) during a long song is followed."""

    def __init__(self, threads: int | None = 0, every: float = 5.0):
        import torch

        self.before = torch.get_num_threads()
        self.fixed = int(threads or 0)
        self.every = every
        self.threads = apply_threads(self.fixed)
        self.checked = time.monotonic()
        self.pools = None
        try:
            from threadpoolctl import threadpool_limits

            self.pools = threadpool_limits(limits=self.threads)  # numpy's BLAS, OpenMP: restored by close()
        except ImportError:
            pass

    def update(self) -> int:
        """Call between segments; returns the threads now in use."""
        if not self.fixed and time.monotonic() - self.checked >= self.every:
            import torch

            cores = usable_cores()
            n = max(1, min(cores, cores - int(round(busy_cores(samples=3, interval=0.01)))))
            if n != self.threads:
                torch.set_num_threads(n)
                self.threads = n
            self.checked = time.monotonic()
        return self.threads

    def close(self) -> None:
        """Give torch back the thread count it had before (matters when dance2d runs inside another program)."""
        import torch

        torch.set_num_threads(self.before)
        if self.pools is not None:
            self.pools.restore_original_limits()

    def wrap(self, progress):
        """A progress(done, total) callback that also updates the threads (progress may be None)."""
        def update(done: int, total: int) -> None:
            self.update()
            if progress is not None:
                progress(done, total)

        return update
