"""What every airtf command shares: quiet TensorFlow, one-line errors."""

import argparse
import contextlib
import functools
import os
import sys
import warnings

from airtf.errors import AirtfError


def quiet_tensorflow():
    """Silence TensorFlow's C++ start-up chatter (set before it is imported)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def reports_errors(program):
    """Decorate a command's main: an AirtfError becomes one line on stderr and exit code 2."""
    def decorate(main):
        @functools.wraps(main)
        def wrapper(argv=None):
            quiet_tensorflow()
            try:
                return main(argv)
            except AirtfError as error:
                print(f"{program}: error: {error}", file=sys.stderr)
                return 2
            except KeyboardInterrupt:
                print(f"{program}: interrupted; finished outputs are kept", file=sys.stderr)
                return 130
        return wrapper
    return decorate


@contextlib.contextmanager
def one_line_warnings(program):
    """Within the block, show airtf's warnings as ``program: warning: message`` lines."""
    from airtf.errors import AirtfWarning

    with warnings.catch_warnings():
        default = warnings.showwarning

        def show(message, category, filename, lineno, file=None, line=None):
            if issubclass(category, AirtfWarning):
                print(f"{program}: warning: {message}", file=file or sys.stderr)
            else:
                default(message, category, filename, lineno, file, line)

        warnings.simplefilter("always", AirtfWarning)
        warnings.showwarning = show
        yield


def positive(kind=int):
    """An argparse type: a number of ``kind`` greater than zero."""
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not value > 0:
            raise argparse.ArgumentTypeError(f"{text} is not positive")
        return value
    return parse


def seed(text):
    """An argparse type: a seed, an integer of 0 or more."""
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text} is negative; a seed is 0 or more")
    return value
