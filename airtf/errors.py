"""airtf's own error and warning classes.

Every error that a user can cause (a bad file, a wrong checkpoint, a malformed
label file) is an :class:`AirtfError` whose message names the file and the fix,
so command-line tools can print it as one line.

May import: airtf.params.
"""


class AirtfError(Exception):
    """Base class of the errors airtf raises for bad input."""


class AudioError(AirtfError):
    """An audio file is missing, empty, corrupt or cannot be decoded."""


class CheckpointError(AirtfError):
    """A weights file is missing, of the wrong kind, or lacks a variable."""


class WeightsNotFoundError(CheckpointError):
    """An official weights file is not on disk and cannot be downloaded."""


class AirtfWarning(UserWarning):
    """Base class of airtf's warnings.

    Parameters
    ----------
    message : str
        What is odd, naming the file.
    fix : str
        What to do about it (optional); a command shows it once per kind of
        warning, however many files have it (``airtf.cli.common.one_line_warnings``).
    """

    kind = "warnings of this kind"
    """What many of them are, as a count names them ("files shorter than one example")."""

    def __init__(self, message, fix=""):
        super().__init__(message)
        self.message, self.fix = str(message), fix

    def __str__(self):
        return f"{self.message}; {self.fix}" if self.fix else self.message


class AudioTooShortWarning(AirtfWarning):
    """Audio shorter than one example (0.96 s of frames, read from 0.975 s of audio) gives no examples."""

    kind = "files shorter than one example"

    @staticmethod
    def describe(samples, needed=None):
        """``0.960 s is shorter than one example, which needs 0.975 s`` for ``samples`` at 16 kHz.

        ``needed``: the samples one example needs, when not VGGish's (musicnn's 3 s patch: 47,616).
        """
        from airtf.params import EXAMPLE_SAMPLES, SAMPLE_RATE

        detail = " (96 frames 10 ms apart, each 25 ms long)" if needed is None else ""
        return (f"{samples / SAMPLE_RATE:.3f} s is shorter than one example, which needs "
                f"{(needed or EXAMPLE_SAMPLES) / SAMPLE_RATE:.3f} s{detail}")


class SilentAudioWarning(AirtfWarning):
    """Audio is digital silence; its features are those of log(0.01)."""

    kind = "files of digital silence"


class BrokenLinkWarning(AirtfWarning):
    """A symbolic link with an audio suffix, in a folder searched for audio, points nowhere: it is skipped."""

    kind = "broken symbolic links"


class WriteError(AirtfError):
    """An output cannot be written: the disk is full, read-only, or the folder not writable."""


def first_line(error):
    """The first line of an exception's message (its type's name when it has none), for one-line errors."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
