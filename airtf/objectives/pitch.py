"""``pitch``: pre-train VGGish to name the pitch class (C, C#, ..., B) of an NSynth note.

Not one of the paper's objectives: it is the worked example of README's
"Adding an objective", and a cheap supervised baseline. The whole objective
is this module: its config (the options ``airtf-pretrain`` offers), its data
(NSynth notes labelled by ``pitch % 12``), its model (VGGish, a hidden layer,
12 logits, cross-entropy) and the labels of its projector view.
"""

import dataclasses

import keras

from airtf import numbers
from airtf.datasets import nsynth
from airtf.objectives import notes
from airtf.objectives.base import Config, Datasets, Objective, option, register
from airtf.objectives.batching import training_batches, validation_batches
from airtf.objectives.notes import CACHE_OPTION, EXAMPLES_OPTION

PITCH_CLASSES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
"""Names of the classes, by MIDI pitch modulo 12."""
HIDDEN_UNITS = 256


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


@dataclasses.dataclass(frozen=True)
class PitchConfig(Config):
    """Options of ``pitch``."""

    hidden_units: int = option(HIDDEN_UNITS, "units of the hidden layer", numbers.positive(int), metavar="N")
    examples: str = EXAMPLES_OPTION
    cache_dir: str = CACHE_OPTION


@register
class Pitch(Objective):
    """``pitch``: name the pitch class of an NSynth note (the example of adding an objective)."""

    name = "pitch"
    data = "NSynth"
    dataset = nsynth.NSynth
    Config = PitchConfig

    def datasets(self, data_dir, *, batch_size, seed, limit=None):
        def split(name):
            notes_of_split = nsynth.load(data_dir, name, examples=self.config.examples, limit=limit,
                                         cache_dir=self.config.cache_dir)
            return notes_of_split.map(lambda log_mel, labels: (log_mel, labels["pitch"] % len(PITCH_CLASSES)))

        train, order = training_batches(split("train"), batch_size, seed)
        return Datasets(train, validation_batches(split("valid"), batch_size), {"classes": PITCH_CLASSES}, (order,))

    def build(self, backbone, data, seed):
        return PitchModel(backbone, self.config.hidden_units, name="pitch")

    def example_counts(self, data_dir, data, limit):
        return notes.example_counts(data_dir, limit, self.config.examples)

    def projector_examples(self, data_dir, data, limit, count):
        """Validation examples labelled by their note's instrument family."""
        return notes.projector_examples(data_dir, limit, self.config.examples, count)
