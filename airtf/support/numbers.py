"""Checked numbers: one type per kind of option, shared by the command lines and the typed configs.

Each ``number(...)`` returns a parser that takes text (from a command line)
or a number (from Python) and returns it as ``kind``, or raises
``argparse.ArgumentTypeError`` saying what a valid value is.
NaN and infinities are never valid.
"""

import argparse
import math


def number(kind=float, *, minimum=None, maximum=None, above=None, below=None):
    """An argparse type: a finite number of ``kind`` within the bounds given.

    ``minimum``/``maximum`` are inclusive bounds, ``above``/``below``
    exclusive ones. NaN and infinities are refused, as is a float where
    ``kind`` is int.
    """
    def parse(text):
        try:
            value = kind(text)
            if kind is int and not isinstance(text, (str, int)) and value != text:
                raise ValueError(text)
        except (TypeError, ValueError):
            raise argparse.ArgumentTypeError(f"{text!r} is not {'an integer' if kind is int else 'a number'}") \
                from None
        if not math.isfinite(value) or not _within(value, minimum, maximum, above, below):
            raise argparse.ArgumentTypeError(f"{text} is not {_bounds_text(minimum, maximum, above, below)}")
        return value
    parse.__name__ = kind.__name__  # argparse names the type in some messages
    return parse


def _within(value, minimum, maximum, above, below):
    return ((minimum is None or value >= minimum) and (maximum is None or value <= maximum)
            and (above is None or value > above) and (below is None or value < below))


def _bounds_text(minimum, maximum, above, below):
    """E.g. "a finite number greater than 0", "a finite number in (0, 1]"."""
    low = (f"[{minimum}" if minimum is not None else f"({above}" if above is not None else None)
    high = (f"{maximum}]" if maximum is not None else f"{below})" if below is not None else None)
    if low and high:
        return f"a finite number in {low}, {high}"
    if low:
        return f"a finite number {'of' if minimum is not None else 'greater than'} {low[1:]}" + \
            (" or more" if minimum is not None else "")
    if high:
        return f"a finite number {'of' if maximum is not None else 'less than'} {high[:-1]}" + \
            (" or less" if maximum is not None else "")
    return "a finite number"


def positive(kind=int):
    """An argparse type: a finite number of ``kind`` greater than zero."""
    return number(kind, above=0)


def nonnegative(kind=int):
    """An argparse type: a finite number of ``kind``, zero or more."""
    return number(kind, minimum=0)


probability = number(float, minimum=0, maximum=1)
"""An argparse type: a probability in [0, 1]."""

seed = number(int, minimum=0)
"""An argparse type: a seed, an integer of 0 or more."""
