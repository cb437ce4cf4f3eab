"""What every airtf command shares: quiet TensorFlow, one-line errors."""

import argparse
import collections
import contextlib
import functools
import os
import shlex
import sys
import warnings

from airtf.errors import AirtfError
from airtf.support.numbers import nonnegative, number, positive, probability, seed  # noqa: F401 (for the commands)


def quiet_tensorflow(from_command_line):
    """Silence TensorFlow's C++ chatter: its log level (set before it is imported) and, for a command run
    from the command line, the native log lines that ignore it (see :mod:`airtf.support.native_logs`); there,
    Keras is also imported without its optional scikit-learn and matplotlib (see :mod:`airtf.support.lean_imports`)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if from_command_line:
        from airtf.support import lean_imports, native_logs

        native_logs.filter_native_logs()
        lean_imports.keras_without_optional_imports()


def printable_streams():
    """Let stdout and stderr print anything: what their encoding lacks (a file name that is not UTF-8, say)
    is escaped instead of ending the command in a UnicodeEncodeError."""
    for stream in (sys.stdout, sys.stderr):
        if getattr(stream, "errors", None) == "strict" and hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")


DEBUG_VARIABLE = "AIRTF_DEBUG"
"""Set to 1, a command prints the traceback behind its one-line error (for a bug report)."""


def show_traceback_when_debugging(error):
    """With AIRTF_DEBUG=1, print ``error``'s traceback to stderr, with the errors ``raise ... from None`` hid."""
    if os.environ.get(DEBUG_VARIABLE, "0") in ("", "0"):
        return
    import traceback

    seen, chained = set(), error
    while chained is not None and id(chained) not in seen:
        seen.add(id(chained))
        chained.__suppress_context__ = False
        chained = chained.__cause__ or chained.__context__
    traceback.print_exception(error, file=sys.stderr)


def reports_errors(program):
    """Decorate a command's main so that it never ends in a traceback for a user's doing.

    An AirtfError becomes one line on stderr and exit code 2; so does an
    OSError of not being able to write (full disk, read-only file system, no
    permission), naming the file and the fix. With ``AIRTF_DEBUG=1`` the
    traceback behind the line comes first. Ctrl-C ends the command with
    exit code 130, also when TensorFlow swallowed its KeyboardInterrupt
    (see :mod:`airtf.support.interrupts`).
    """
    def decorate(main):
        @functools.wraps(main)
        def wrapper(argv=None):
            from airtf.support import files, interrupts

            quiet_tensorflow(from_command_line=argv is None)
            printable_streams()
            with interrupts.interruptible():
                try:
                    code = main(argv)
                    interrupts.raise_if_interrupted()
                    return code
                except AirtfError as error:
                    show_traceback_when_debugging(error)
                    print(f"{program}: error: {error}", file=sys.stderr)
                    return 2
                except KeyboardInterrupt:
                    print(f"{program}: interrupted; finished outputs are kept", file=sys.stderr)
                    return 130
                except OSError as error:
                    if not files.is_write_error(error):
                        raise
                    show_traceback_when_debugging(error)
                    print(f"{program}: error: {files.write_error(error.filename or 'output', error)}",
                          file=sys.stderr)
                    return 2
        return wrapper
    return decorate


@contextlib.contextmanager
def naming_the_resume(program, argv):
    """Within the block, a write error (which says what is kept) ends with the command that resumes: this one."""
    from airtf.errors import WriteError
    from airtf.support.files import printable

    try:
        yield
    except WriteError as error:
        resume = [program, *(argument for argument in argv if argument != "--overwrite")]
        raise WriteError(f"{error}: {printable(shlex.join(resume))}") from None


SHOWN_PER_KIND = 3
"""Warnings of one kind shown in full; the rest are counted (:func:`one_line_warnings`)."""


@contextlib.contextmanager
def one_line_warnings(program, shown=SHOWN_PER_KIND):
    """Within the block, show airtf's warnings as ``program: warning: message`` lines, a few of each kind.

    The first ``shown`` warnings of each class are printed, the first of
    them with its fix; the others are counted, and when the block ends one
    line says how many more there were, with the fix again, so that 10,000
    short files make four lines, not 10,000.
    """
    from airtf.errors import AirtfWarning

    counts, fixes = collections.Counter(), {}
    with warnings.catch_warnings():
        default = warnings.showwarning

        def show(message, category, filename, lineno, file=None, line=None):
            if not issubclass(category, AirtfWarning):
                default(message, category, filename, lineno, file, line)
                return
            counts[category] += 1
            fix = getattr(message, "fix", "")
            fixes.setdefault(category, fix)
            if counts[category] <= shown:
                text = getattr(message, "message", str(message))
                print(f"{program}: warning: {text}" + (f"; {fix}" if fix and counts[category] == 1 else ""),
                      file=file or sys.stderr)

        warnings.simplefilter("always", AirtfWarning)
        warnings.showwarning = show
        try:
            yield
        finally:
            for category, count in counts.items():
                if count > shown:
                    fix = f"; {fixes[category]}" if fixes[category] else ""
                    print(f"{program}: warning: and {count - shown:,} more {category.kind} ({count:,} in all){fix}",
                          file=sys.stderr)


class OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line (the usage is under --help)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def command_parser(program, description):
    """The parser of a command: its docstring as description, kept as written; one-line errors."""
    return OneLineParser(prog=program, description=description, formatter_class=argparse.RawDescriptionHelpFormatter)


WEIGHTS_METAVAR = "FILE_OR_RUN_DIR"
WEIGHTS_KINDS = ("official, audioset-2017, audioset-2020, random, a .weights.h5, a TF1 checkpoint or a run "
                 "directory; or a musicnn model: musicnn-mtt, musicnn-msd, vgg-mtt, vgg-msd or a folder of its "
                 "checkpoint")


def add_weights(parser, help, default=None, pca=True):
    """--weights, --variant and (with ``pca``) --pca-params: a VGGish and its PCA file, named as everywhere.

    ``help`` says what the weights are for; ``default`` is shown in it.
    """
    from airtf import params

    group = parser.add_argument_group("model")
    shown = f" (default {default})" if default else ""
    group.add_argument("--weights", default=default, metavar=WEIGHTS_METAVAR,
                       help=f"{help}: {WEIGHTS_KINDS}{shown}")
    group.add_argument("--variant", choices=params.VGGISH_VARIANTS,
                       help="audioset-2017 has a ReLU after fc2 (OpenMIC-2018's features), audioset-2020 not "
                            "(default: the weights' own, else audioset-2017)")
    if pca:
        group.add_argument("--pca-params", metavar="FILE",
                           help="vggish_pca_params.npz for PCA features (default: the models folder's)")
    return group


def add_layer(group):
    """--layer: the musicnn layer whose outputs are the embeddings."""
    group.add_argument("--layer", metavar="NAME",
                       help="with a musicnn model: its layer (musicnn: timbral, temporal, cnn1-cnn3, mean_pool, "
                            "max_pool, penultimate, taggram; vgg: pool1-pool5, taggram; default max_pool for musicnn, "
                            "pool5 for vgg)")


def add_hop(parser, default):
    """--hop SECONDS: examples closer than the model's own hop (``default`` says whose hop is the default)."""
    parser.add_argument("--hop", type=positive(float), metavar="SECONDS",
                        help=f"seconds from one example to the next, instead of {default} (0.96 for VGGish, "
                             "2.992 for musicnn); shorter ones overlap, a multiple of the front end's frame step "
                             "(10 ms; musicnn 16 ms)")


def add_replaced_weights(parser, applies_to):
    """:func:`add_weights` for the commands that replace a trained model's VGGish (export, predict)."""
    return add_weights(parser, f"compute the features with this VGGish instead of {applies_to}'s, e.g. random where "
                               "the official checkpoint is not on disk (the outputs then differ from the trained "
                               "model's)")


def add_out(parser, help, metavar="DIR"):
    """--out, required: where the command writes."""
    parser.add_argument("--out", required=True, metavar=metavar, help=help)


def add_overwrite(parser, help):
    """--overwrite: what it replaces (never anything but the command's own earlier outputs)."""
    parser.add_argument("--overwrite", action="store_true", help=help)


def add_dry_run(parser):
    """--dry-run: print the plan (what the run does, its time measured and extrapolated, its disk) and stop."""
    parser.add_argument("--dry-run", action="store_true",
                        help="print what the run will do and cost on this machine (a few steps timed and "
                             "extrapolated, the disk it needs against the free space), then stop; writes nothing")


def add_quiet(parser):
    """--quiet: no progress bars."""
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def add_deterministic(parser):
    """--deterministic: results equal on any CPU machine (see :mod:`airtf.runs.reproducible`)."""
    parser.add_argument("--deterministic", action="store_true",
                        help="equal results on any x86-64 CPU with AVX2, not only on this machine (slower: see README)")


def deterministic_if_asked(argv):
    """Turn on :func:`airtf.runs.reproducible.enable` when ``--deterministic`` is among the arguments.

    Read before the arguments are parsed, since parsing may import TensorFlow.
    """
    if "--deterministic" in (sys.argv[1:] if argv is None else argv):
        from airtf.runs import reproducible

        reproducible.enable()


def add_seed(parser, help, flag="--seed", default=0):
    """A seed option: an integer of 0 or more."""
    parser.add_argument(flag, type=seed, default=default, metavar="N", help=f"{help} (default {default})")


def download_progress_bar(name):
    """A (done, total) callback drawing a tqdm bar of bytes and rate for the download of ``name``."""
    from tqdm import tqdm

    bars = []

    def update(done, total):
        if not bars:  # made at the first report, which knows the total and any resumed bytes
            bars.append(tqdm(desc=name, total=total, initial=done, unit="B", unit_scale=True, unit_divisor=1024))
        bars[0].update(done - bars[0].n)
        if total is not None and done >= total:
            bars[0].close()
    return update
