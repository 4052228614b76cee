"""Exceptions that the command line turns into one readable line and a non-zero exit."""


class TrainfreeError(Exception):
    """A user-facing error: bad input, missing data, unknown name, corrupt file."""


class NonFiniteScoreError(TrainfreeError):
    """A proxy produced NaN or inf; raised instead of silently storing it."""
