"""The pitch objective's data and model (see :mod:`airtf.pretrain.objectives.pitch`)."""

import keras

from airtf.datasets import nsynth
from airtf.pretrain.objectives.base import Datasets
from airtf.pretrain.objectives.batching import training_batches, validation_batches
from airtf.pretrain.objectives.pitch import HIDDEN_UNITS

PITCH_CLASSES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
"""Names of the classes, by MIDI pitch modulo 12."""


class PitchModel(keras.Model):
    """VGGish, then Dense(hidden_units, ReLU) and Dense(12) logits; sparse categorical cross-entropy.

    Inputs are log-mel examples (batch, 96, 64), targets pitch classes
    (batch,); it reports ``loss`` and ``accuracy``.
    """

    def __init__(self, backbone, hidden_units=HIDDEN_UNITS, **kwargs):
        super().__init__(**kwargs)
        self.backbone = backbone
        self.head = keras.Sequential([keras.Input(backbone.output_shape[1:]),
                                      keras.layers.Dense(hidden_units, activation="relu", name="hidden"),
                                      keras.layers.Dense(len(PITCH_CLASSES), name="logits")], name="head")
        self.cross_entropy = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        self.accuracy = keras.metrics.SparseCategoricalAccuracy(name="accuracy")
        self.built = True  # the backbone and the head are built functional models

    def call(self, log_mel, training=False):
        return self.head(self.backbone(log_mel, training=training), training=training)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        return self.cross_entropy(y, y_pred)

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        self.accuracy.update_state(y, y_pred)
        return super().compute_metrics(x, y, y_pred, sample_weight)


def datasets(data_dir, *, batch_size, seed, limit=None, examples="first", cache_dir=None):
    """NSynth's training and validation notes labelled by pitch class (``pitch % 12``), batched."""

    def split(name):
        notes = nsynth.load(data_dir, name, examples=examples, limit=limit, cache_dir=cache_dir)
        return notes.map(lambda log_mel, labels: (log_mel, labels["pitch"] % len(PITCH_CLASSES)))

    train, order = training_batches(split("train"), batch_size, seed)
    return Datasets(train, validation_batches(split("valid"), batch_size), {"classes": PITCH_CLASSES}, (order,))
