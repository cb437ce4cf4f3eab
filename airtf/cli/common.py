"""What every airtf command shares: quiet TensorFlow, one-line errors."""

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
