"""What every airtf command shares: quiet TensorFlow, one-line errors."""

import contextlib
import functools
import os
import sys
import warnings

from airtf.errors import AirtfError
from airtf.numbers import nonnegative, number, positive, probability, seed  # noqa: F401 (for the commands)


def quiet_tensorflow():
    """Silence TensorFlow's C++ start-up chatter (set before it is imported)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def reports_errors(program):
    """Decorate a command's main so that it never ends in a traceback for a user's doing.

    An AirtfError becomes one line on stderr and exit code 2; so does an
    OSError of not being able to write (full disk, read-only file system, no
    permission), naming the file and the fix. Ctrl-C ends the command with
    exit code 130, also when TensorFlow swallowed its KeyboardInterrupt
    (see :mod:`airtf.interrupts`).
    """
    def decorate(main):
        @functools.wraps(main)
        def wrapper(argv=None):
            from airtf import files, interrupts

            quiet_tensorflow()
            with interrupts.interruptible():
                try:
                    code = main(argv)
                    interrupts.raise_if_interrupted()
                    return code
                except AirtfError as error:
                    print(f"{program}: error: {error}", file=sys.stderr)
                    return 2
                except KeyboardInterrupt:
                    print(f"{program}: interrupted; finished outputs are kept", file=sys.stderr)
                    return 130
                except OSError as error:
                    if not files.is_write_error(error):
                        raise
                    print(f"{program}: error: {files.write_error(error.filename or 'output', error)}",
                          file=sys.stderr)
                    return 2
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


def add_replaced_weights(parser, applies_to):
    """--weights, --variant and --pca-params that replace a trained model's VGGish and PCA file.

    ``applies_to`` says what they replace, for the help.
    """
    from airtf import params

    group = parser.add_argument_group(f"features (replace those of {applies_to})")
    group.add_argument("--weights", metavar="FILE_OR_RUN_DIR",
                       help="compute the features with this VGGish instead: official, random, a .weights.h5, a TF1 "
                            "checkpoint or a pre-training run directory (e.g. random where the official checkpoint "
                            "is not on disk; the outputs then differ from the trained model's)")
    group.add_argument("--variant", choices=params.VGGISH_VARIANTS, help="the VGGish variant to use instead")
    group.add_argument("--pca-params", metavar="FILE",
                       help="vggish_pca_params.npz for pca features (default: the models folder)")
    return group
