"""dance2d: music-driven 2D dance pose generation (one-hot pose images + image codec + time-shared DiT).

`from dance2d import Dance2D` loads the pipeline (and torch) on first use, so `import dance2d` stays light.
"""

__version__ = "0.1.0"
__all__ = ["Dance2D", "PoseSequence", "__version__"]


def __getattr__(name: str):
    if name == "Dance2D":
        from dance2d.pipeline import Dance2D

        return Dance2D
    if name == "PoseSequence":
        from dance2d.pose import PoseSequence

        return PoseSequence
    raise AttributeError(f"module 'dance2d' has no attribute {name!r}")
