"""A run's TensorBoard logs: two runs per job, train and validation, each metric once, NaN never drawn.

::

    RUN_DIR/logs/
        train/        the epoch's training metrics (loss, ...); weight histograms
        validation/   the same metrics on the validation split, so that TensorBoard draws train and
                      validation in one chart; f1/<instrument>, f1/overall and f1/instruments_scored;
                      the images, text and embedding projector of the job; the job's
                      settings as HParams and its results (test/..., best/...), so that
                      TensorBoard's HParams dashboard compares jobs side by side

Every airtf callback writes through :func:`writer`, one summary writer per
folder and process, so each run folder holds one event file per process
(TensorBoard follows the newest file of a folder). A metric that is NaN or
infinite at an epoch (an instrument the validation split cannot score) is
left out there, never drawn as a number.
"""

import math
from pathlib import Path

import keras
import numpy as np

TRAIN, VALIDATION = "train", "validation"
VALIDATION_PREFIX = "val_"
GROUPS = {"f1_macro": "f1/overall", "f1_instruments_scored": "f1/instruments_scored"}
"""Metric names (without ``val_``) logged under another tag; ``f1_<instrument>`` becomes ``f1/<instrument>``."""

_WRITERS = {}


def writer(folder):
    """The summary writer of ``folder``, made once per process."""
    import tensorflow as tf

    key = str(Path(folder).absolute())
    if key not in _WRITERS:
        _WRITERS[key] = tf.summary.create_file_writer(key)
    return _WRITERS[key]


def close(logs):
    """Close the writers of the folders under ``logs`` (a later write opens a new event file)."""
    root = Path(logs).absolute()
    for key in [key for key in _WRITERS if Path(key).is_relative_to(root)]:
        _WRITERS.pop(key).close()


def tag(name):
    """The TensorBoard tag of a metric name (without ``val_``): grouped as :data:`GROUPS` says."""
    if name in GROUPS:
        return GROUPS[name]
    return f"f1/{name[len('f1_'):]}" if name.startswith("f1_") else name


def scalars(folder, values, step):
    """Write ``values`` (tag -> number) as scalars of ``folder`` at ``step``; NaN and infinities are left out."""
    import tensorflow as tf

    with writer(folder).as_default(step=step):
        for name, value in values.items():
            if value is not None and math.isfinite(float(value)):
                tf.summary.scalar(name, float(value))
    writer(folder).flush()


def hparams(folder, settings, trial):
    """Record a job's ``settings`` (name -> str, int, float or bool) as the HParams of the run ``folder``."""
    from tensorboard.plugins.hparams import api as hp

    with writer(folder).as_default():
        hp.hparams({name: value for name, value in settings.items() if value is not None}, trial_id=trial)
    writer(folder).flush()


class EpochScalars(keras.callbacks.Callback):
    """Each epoch's logs as scalars: ``val_<name>`` into ``logs/validation``, the others into ``logs/train``.

    Put it after the callbacks that add to the logs (:class:`airtf.classify.metrics.Validation`).
    """

    def __init__(self, logs):
        super().__init__()
        self.logs = Path(logs)

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        scalars(self.logs / TRAIN, {tag(name): value for name, value in logs.items()
                                    if not name.startswith(VALIDATION_PREFIX)}, epoch)
        scalars(self.logs / VALIDATION, {tag(name[len(VALIDATION_PREFIX):]): value for name, value in logs.items()
                                         if name.startswith(VALIDATION_PREFIX)}, epoch)

    def on_train_end(self, logs=None):
        close(self.logs)


def figure_pixels(figure):
    """The RGB pixels (height, width, 3) uint8 of ``figure``, drawn on the Agg canvas (for TensorBoard)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()
