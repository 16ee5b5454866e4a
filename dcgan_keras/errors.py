"""The package's error for bad input from the person running it."""

import numbers


class UsageError(ValueError):
    """Input that the user can fix: the message says what is wrong and how to fix it.

    The command line prints it as one line and exits with status 2; every
    other exception keeps its traceback, because it is a bug, not a mistake.
    It is a ``ValueError``, so scripts that catch those keep working.
    """


def check_whole_number(name, value, minimum, hint=""):
    """``value`` as an int if it is a whole number (numpy's too, not a bool) >= ``minimum``, else a ``UsageError``.

    ``hint`` (a few words) follows the rule in the message: what the number counts.
    """
    if isinstance(value, numbers.Integral) and not isinstance(value, bool) and value >= minimum:
        return int(value)
    hint = f" ({hint})" if hint else ""
    raise UsageError(f"{name} must be a whole number of {minimum} or more{hint}, got {value!r}.")


def check_path(name, value):
    """``value`` unless it is an empty string, which ``pathlib.Path`` would read as the working folder."""
    if isinstance(value, str) and not value.strip():
        raise UsageError(f"{name} is an empty string; give a path (. for the working folder).")
    return value
