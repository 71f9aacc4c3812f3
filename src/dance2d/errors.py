"""User-facing errors: one clear sentence naming the file or value and what to do."""


class Dance2DError(Exception):
    """An error caused by user input (a file, a value, a setting); the CLI prints it without a traceback."""


class Dance2DNotice(UserWarning):
    """Something the user should know about a result that is still written (a completed pose, a short file);
    the CLI prints it as one `dance2d: note:` line."""


def notice(message: str) -> None:
    """Tell the user one sentence about how their input was interpreted (a Dance2DNotice warning)."""
    import warnings

    warnings.warn(message, Dance2DNotice, stacklevel=2)
