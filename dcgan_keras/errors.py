"""The package's error for bad input from the person running it."""


class UsageError(ValueError):
    """Input that the user can fix: the message says what is wrong and how to fix it.

    The command line prints it as one line and exits with status 2; every
    other exception keeps its traceback, because it is a bug, not a mistake.
    It is a ``ValueError``, so scripts that catch those keep working.
    """
