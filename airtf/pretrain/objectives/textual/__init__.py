"""The textual objective: predict the word vectors of a note's quality descriptions (NSynth).

Model
-----
VGGish (128) -> BatchNormalization -> Dense(D, tanh) -> Dense(D), with D the
size of the word vectors (300 for en_core_web_md). Kernels are
Glorot-uniform initialised and biases zero (the Keras defaults).

Targets
-------
Each of NSynth's ten qualities is described by one word (the paper's word
map, :func:`airtf.datasets.nsynth.word_map`, with the user's overrides), and the
description's vector is that word's vector. A *pair* joins the prediction for
a note with the description of one quality: positive when the note has the
quality, negative when it has not.

Loss
----
The cosine embedding loss with margin 0.5: ``1 - cos(prediction, target)`` for
a positive pair, ``max(0, cos(prediction, target) - 0.5)`` for a negative one,
averaged over the pairs of a batch.

Which pairs
-----------
Training
    Every time a note is seen (so every epoch), one of its present qualities
    is drawn uniformly as its positive pair and one of its absent qualities
    as its negative pair, with ``keras.random`` and the model's seeded
    SeedGenerator. A note without qualities gives only a negative pair (and a
    note with all ten only a positive one).
Validation
    Deterministic: every pair is used, a present quality weighted
    ``1 / (number present)`` and an absent one ``1 / (number absent)``. A note
    thus contributes its expected positive and expected negative loss, and
    the validation loss is exactly the expectation of the training loss over
    the draws (at the same weights), free of their noise, so early stopping
    compares epochs fairly.

This package's ``__init__`` declares the objective (its options and the
class ``airtf-pretrain`` lists) without importing Keras; the model, the data
pipeline and the TensorBoard views are in :mod:`airtf.pretrain.objectives.textual.model`,
imported when the objective is used.
"""

import dataclasses

from airtf.datasets import nsynth
from airtf.pretrain import wordvectors
from airtf.pretrain.objectives.base import Config, option, register
from airtf.pretrain.objectives.notes import EXAMPLES_OPTION, NSynthObjective
from airtf.support import numbers

MARGIN = 0.5
"""The margin of negative pairs (the paper's)."""


def _word_map_entry(text):
    """``QUALITY=WORD`` (or a pair) -> (quality, word)."""
    if isinstance(text, (tuple, list)) and len(text) == 2:
        return tuple(text)
    quality, separator, word = str(text).partition("=")
    if not separator or not quality or not word:
        raise ValueError(f"{text!r} is not QUALITY=WORD (e.g. multiphonic=polyphonic)")
    return quality, word


def _word_map(value):
    """A word map from a mapping, or from QUALITY=WORD entries; checked against NSynth's qualities."""
    entries = value.items() if isinstance(value, dict) else map(_word_map_entry, value)
    overrides = dict(entries)
    nsynth.word_map(overrides)  # refuses unknown qualities and empty words
    return overrides


@dataclasses.dataclass(frozen=True)
class TextualConfig(Config):
    """Options of ``textual``."""

    word_vectors: str = option(wordvectors.DEFAULT, "en_core_web_md, a word2vec/GloVe file or a spaCy folder",
                               metavar="SOURCE")
    word_map: dict = option({}, "describe a quality by another word (repeatable)", _word_map,
                            metavar="QUALITY=WORD")
    margin: float = option(MARGIN, "of negative pairs", numbers.number(float, minimum=-1, below=1), metavar="X")
    examples: str = EXAMPLES_OPTION


@register
class Textual(NSynthObjective):
    """``textual``: predict the word vectors of an NSynth note's quality descriptions."""

    name = "textual"
    Config = TextualConfig

    def datasets(self, data_dir, *, batch_size, seed, limit=None):
        return self.implementation.datasets(data_dir, batch_size=batch_size, seed=seed, limit=limit,
                                            word_vectors=self.config.word_vectors, word_map=self.config.word_map,
                                            examples=self.config.examples)

    def build(self, backbone, data, seed):
        return self.implementation.build(backbone, word_vectors=self.config.word_vectors,
                                         word_map=self.config.word_map, margin=self.config.margin, seed=seed)

    def tensorboard_callbacks(self, run, model, data):
        return self.implementation.tensorboard_callbacks(run, model, data)
