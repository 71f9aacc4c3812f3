"""User-facing errors: one clear sentence naming the file or value and what to do."""


class Dance2DError(Exception):
    """An error caused by user input (a file, a value, a setting); the CLI prints it without a traceback."""
