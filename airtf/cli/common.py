"""What every airtf command shares: quiet TensorFlow, one-line errors."""

import functools
import os
import sys

from airtf.errors import AirtfError


def quiet_tensorflow():
    """Silence TensorFlow's C++ start-up chatter (set before it is imported)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


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
