"""TF1 checkpoints read once: their values kept in a faster form, keyed by the checkpoint's content.

Reading the official V1 checkpoint through TensorFlow's reader takes seconds
per process (most of it in the kernel). The first load of a checkpoint
writes its values as a TensorFlow object checkpoint of the backbone's
variables, ``<models folder>/converted/<sha256>/`` (a ``weights.index`` and
one data file), which TensorFlow restores straight into the variables in a
fraction of that; the key is the SHA-256 of the checkpoint's files (the V1
file, or a V2 prefix's index and data files), hashed again at every load.
A checkpoint whose bytes change gets another key, so a converted copy is
never used for other values than its own. A converted copy that does not
restore (truncated, say) is written again; where the folder cannot be
written, the checkpoint is read each time, with a warning saying so.
"""

import hashlib
import warnings
from pathlib import Path

from airtf.errors import AirtfWarning, first_line
from airtf.support.files import atomic_directory, display

FOLDER = "converted"
FORMAT = "tf2-v1"
"""Part of each copy's name: changed when the copy's layout changes, so that old copies are not read."""
PREFIX = "weights"


class UncachedCheckpointWarning(AirtfWarning):
    """The converted copy of a checkpoint cannot be written: every process reads the checkpoint itself."""

    kind = "checkpoints read without a converted copy"


def checkpoint_files(path):
    """The files holding a checkpoint's bytes: the V1 file, or a V2 prefix's index and data files."""
    path = Path(path)
    if path.is_file():
        return [path]
    return [Path(f"{path}.index"), *sorted(path.parent.glob(f"{path.name}.data-*"))]


def content_key(path):
    """SHA-256 of the checkpoint's files, read in order (the key of its converted copy)."""
    hasher = hashlib.sha256()
    for file in checkpoint_files(path):
        with open(file, "rb") as stream:
            for chunk in iter(lambda: stream.read(1 << 22), b""):
                hasher.update(chunk)
    return hasher.hexdigest()


def converted_path(path):
    """Where the converted copy of the checkpoint at ``path`` lives (whether or not it exists yet)."""
    from airtf.vggish.presets import models_dir

    return models_dir() / FOLDER / f"{FORMAT}-{content_key(path)}"


def _variables(model):
    """The model's weights as one TensorFlow checkpointable object."""
    import tensorflow as tf

    return tf.train.Checkpoint(weights=[weight.value for weight in model.weights])


def load(model, path):
    """Set a VGGish model's weights from a TF1 checkpoint, through its converted copy.

    Raises :class:`~airtf.errors.CheckpointError` as
    :func:`airtf.vggish.checkpoint.load_checkpoint` does for a checkpoint
    that is missing, damaged or not VGGish's.
    """
    from airtf.vggish import checkpoint

    if not checkpoint_files(path)[0].is_file():
        return checkpoint.load_checkpoint(model, path)  # raises its "not found" error
    copy = converted_path(path)
    if (copy / f"{PREFIX}.index").is_file():
        try:
            _variables(model).read(str(copy / PREFIX)).assert_consumed()
            return model
        except Exception:  # noqa: BLE001 (a damaged copy, whatever TensorFlow raises, is written again below)
            pass
    checkpoint.load_checkpoint(model, path)
    try:
        copy.parent.mkdir(parents=True, exist_ok=True)
        with atomic_directory(copy) as temporary:
            _variables(model).write(str(temporary / PREFIX))
    except Exception as error:  # noqa: BLE001 (OSError, WriteError or TensorFlow's own: the copy is optional)
        warnings.warn(UncachedCheckpointWarning(
            f"{display(path)}: its converted copy cannot be written to {display(copy.parent)} "
            f"({first_line(error)}), so each process reads the checkpoint itself (seconds)",
            "make that folder writable, or set AIRTF_MODELS to a writable folder"), stacklevel=2)
    return model
