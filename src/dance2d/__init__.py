"""dance2d: music-driven 2D dance pose generation (one-hot pose images + image codec + time-shared DiT)."""

__version__ = "0.1.0"
