"""dance2d: music-driven 2D dance pose generation (one-hot pose images + image codec + time-shared DiT).

    from dance2d import Dance2D          # imported on first use: `import dance2d` stays light (no torch)
"""

__version__ = "0.1.0"
__all__ = ["Dance2D", "__version__"]


def __getattr__(name: str):
    if name == "Dance2D":
        from dance2d.pipeline import Dance2D

        return Dance2D
    raise AttributeError(f"module 'dance2d' has no attribute {name!r}")
