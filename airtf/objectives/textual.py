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
"""

import dataclasses
import os

import keras
import numpy as np
from keras import ops

from airtf import numbers, summaries, wordvectors
from airtf.datasets import nsynth
from airtf.objectives import notes
from airtf.objectives.base import Config, Datasets, Objective, option, register
from airtf.objectives.batching import training_batches, validation_batches
from airtf.objectives.notes import EXAMPLES_OPTION

MARGIN = 0.5
"""The margin of negative pairs (the paper's)."""

SHUFFLE_BUFFER = 4096
"""Training examples shuffled at once."""

LOGGED_EXAMPLES = 8
"""Validation examples whose nearest descriptions are logged each epoch."""

LOGGED_DESCRIPTIONS = 3
"""Descriptions listed per logged example, nearest first."""


def description_vectors(word_vectors=wordvectors.DEFAULT, word_map=None):
    """The word and the word vector describing each NSynth quality.

    Parameters
    ----------
    word_vectors : str, os.PathLike, gensim.models.KeyedVectors or mapping
        A source for :func:`airtf.wordvectors.load` (default
        "en_core_web_md"), or the vectors themselves (word -> vector).
    word_map : mapping of str to str or None
        Overrides of the paper's word map, keyed by quality, e.g.
        ``{"multiphonic": "polyphonic"}``.

    Returns
    -------
    words : dict
        Every quality of :data:`airtf.datasets.nsynth.QUALITIES`, in order, to its word.
    descriptions : np.ndarray
        float32 (10, D), one row per quality.

    Raises
    ------
    airtf.wordvectors.MissingWordsError
        A word has no vector (e.g. "multiphonic" in en_core_web_md).
    """
    words = nsynth.word_map(word_map)
    if isinstance(word_vectors, (str, os.PathLike)):
        return words, wordvectors.describe(words, wordvectors.load(word_vectors), source=str(word_vectors))
    return words, wordvectors.describe(words, word_vectors)


def cosine_similarities(predictions, descriptions):
    """Cosine similarity of each prediction (batch, D) to each description (Q, D): (batch, Q)."""
    return ops.matmul(ops.normalize(predictions, axis=-1), ops.transpose(ops.normalize(descriptions, axis=-1)))


class CosineEmbeddingLoss(keras.losses.Loss):
    """The cosine embedding loss of pairs, averaged over the pairs' weights.

    ``y_true`` holds pair labels (positive where > 0, negative otherwise) and
    ``y_pred`` the pairs' cosine similarities; ``sample_weight`` (same shape)
    chooses and weights pairs. The result is
    ``sum(weight * pair loss) / sum(weight)``.
    """

    def __init__(self, margin=MARGIN, name="cosine_embedding_loss", **kwargs):
        super().__init__(name=name, reduction="mean_with_sample_weight", **kwargs)
        self.margin = margin

    def call(self, y_true, y_pred):
        return ops.where(y_true > 0, 1.0 - y_pred, ops.relu(y_pred - self.margin))

    def get_config(self):
        return {**super().get_config(), "margin": self.margin}


def draw_pairs(qualities, seed):
    """Pair weights for training: one present and one absent quality per note, drawn uniformly.

    Parameters
    ----------
    qualities : tensor (batch, Q)
        Multi-hot qualities.
    seed : keras.random.SeedGenerator or int

    Returns
    -------
    tensor (batch, Q)
        1 at the drawn positive and the drawn negative of each note, 0 elsewhere.
    """
    present = ops.cast(qualities, "float32") > 0.5
    scores = keras.random.uniform(ops.shape(qualities), seed=seed)
    count = ops.shape(qualities)[-1]

    def one_drawn(allowed):
        drawn = ops.one_hot(ops.argmax(ops.where(allowed, scores, -1.0), axis=-1), count)
        return drawn * ops.cast(ops.any(allowed, axis=-1, keepdims=True), drawn.dtype)

    return one_drawn(present) + one_drawn(ops.logical_not(present))


def expected_pairs(qualities):
    """Pair weights for validation: every pair, present and absent qualities each summing to 1 per note."""
    present = ops.cast(ops.cast(qualities, "float32") > 0.5, "float32")
    absent = 1.0 - present
    return (ops.divide_no_nan(present, ops.sum(present, axis=-1, keepdims=True))
            + ops.divide_no_nan(absent, ops.sum(absent, axis=-1, keepdims=True)))


class TextualModel(keras.Model):
    """VGGish with a head predicting description word vectors (see the module docstring).

    Parameters
    ----------
    backbone : keras.Model
        (batch, 96, 64) log-mel -> (batch, 128).
    words : mapping of str to str
        Quality -> description word, in the order of the qualities vector.
    descriptions : array (Q, D)
        The word vector of each quality's description.
    margin : float
        Of negative pairs.
    seed : int
        Of the training pairs' draws.

    Inputs are log-mel examples; targets (``y``) are multi-hot qualities (batch, Q).
    """

    def __init__(self, backbone, words, descriptions, margin=MARGIN, seed=0, **kwargs):
        super().__init__(**kwargs)
        self.backbone = backbone
        self.words = dict(words)
        self.descriptions = np.asarray(descriptions, np.float32)
        size = self.descriptions.shape[1]
        self.head = keras.Sequential([
            keras.Input(backbone.output_shape[1:]),
            keras.layers.BatchNormalization(name="batch_norm"),
            keras.layers.Dense(size, activation="tanh", name="hidden"),
            keras.layers.Dense(size, name="description"),
        ], name="head")
        self.pair_loss = CosineEmbeddingLoss(margin)
        self.seed_generator = keras.random.SeedGenerator(seed, name="pairs")

    def call(self, log_mel, training=False):
        return self.head(self.backbone(log_mel, training=training), training=training)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """The cosine embedding loss of the batch's pairs (drawn when training, all when not)."""
        similarities = cosine_similarities(y_pred, self.descriptions)
        labels = ops.cast(y, similarities.dtype)
        weights = draw_pairs(labels, self.seed_generator) if training else expected_pairs(labels)
        return self.pair_loss(labels, similarities, sample_weight=weights)


def build(backbone, *, word_vectors=wordvectors.DEFAULT, word_map=None, margin=MARGIN, seed=0):
    """The textual model on ``backbone``, built.

    Parameters
    ----------
    backbone : keras.Model
        VGGish (e.g. from :func:`airtf.vggish.from_preset`).
    word_vectors, word_map
        See :func:`description_vectors`.
    margin : float
        Of negative pairs (default 0.5, the paper's).
    seed : int
        Of the training pairs' draws.

    Returns
    -------
    TextualModel
    """
    words, descriptions = description_vectors(word_vectors, word_map)
    model = TextualModel(backbone, words, descriptions, margin=margin, seed=seed, name="textual")
    model.build(backbone.input_shape)
    return model


def datasets(data_dir, *, batch_size, seed, limit=None, word_vectors=wordvectors.DEFAULT, word_map=None,
             examples="first"):
    """NSynth's train and valid splits as (log-mel, multi-hot qualities) batches.

    Parameters
    ----------
    data_dir : str or os.PathLike
        Holds nsynth-train and nsynth-valid in either released format.
    batch_size : int
    seed : int
        Of the training shuffle (:data:`SHUFFLE_BUFFER` examples, reshuffled
        every epoch).
    limit : int or None
        Use only the first ``limit`` notes of each split.
    word_vectors, word_map
        See :func:`description_vectors`; checked here, so that a missing
        word fails before any audio is read.
    examples : {"first", "all"} or sequence of int
        Which 0.96 s examples of each note (see :func:`airtf.datasets.nsynth.load`).

    Returns
    -------
    Datasets
        ``train`` (shuffled) and ``validation`` of elements (log-mel (batch,
        96, 64), qualities (batch, 10)); ``info`` with "qualities", "words"
        (quality -> word), "descriptions" ((10, D) vectors), "families" and
        "shown_notes" (the note of each of the first :data:`LOGGED_EXAMPLES`
        validation examples).
    """
    words, descriptions = description_vectors(word_vectors, word_map)

    def split(name):
        of_split = nsynth.load(data_dir, name, examples=examples, limit=limit)
        return of_split.map(lambda log_mel, labels: (log_mel, labels["qualities"]))

    info = {"qualities": nsynth.QUALITIES, "words": words, "descriptions": descriptions,
            "families": nsynth.FAMILIES, "shown_notes": notes.shown_notes(data_dir, examples, LOGGED_EXAMPLES)}
    train, order = training_batches(split("train"), batch_size, seed, SHUFFLE_BUFFER)
    return Datasets(train, validation_batches(split("valid"), batch_size), info, (order,))


def tensorboard_callbacks(run, model, datasets):
    """The nearest descriptions of the first validation examples, as TensorBoard text every epoch.

    Written to the run's validation logs.
    """
    return [NearestDescriptions(run.logs / summaries.VALIDATION, datasets.validation, datasets.info["shown_notes"])]


class NearestDescriptions(keras.callbacks.Callback):
    """Log, after every epoch, the descriptions nearest to the model's predictions for a few examples.

    A markdown table, tag ``nearest_descriptions``: each of the first
    validation examples, named by its note, with the words of its true
    qualities and the :data:`LOGGED_DESCRIPTIONS` nearest description words
    with their cosine similarity.
    """

    def __init__(self, log_dir, validation, notes):
        super().__init__()
        self.log_dir = log_dir
        self.validation = validation
        self.notes = list(notes)
        self.examples = len(self.notes)
        self._samples = None

    def _sample(self):
        """The first validation examples and their qualities, as numpy arrays."""
        if self._samples is None:
            log_mel, qualities = next(iter(self.validation.unbatch().batch(self.examples).take(1)))
            self._samples = log_mel.numpy(), qualities.numpy()
        return self._samples

    def table(self):
        """The markdown table for the model as it is now."""
        log_mel, qualities = self._sample()
        predictions = ops.convert_to_numpy(self.model(log_mel, training=False))
        words = self.model.words
        vectors = dict(zip(words.values(), self.model.descriptions))
        ranked = wordvectors.nearest(vectors, predictions, words.values(), count=LOGGED_DESCRIPTIONS)
        rows = ["| validation note | its qualities | nearest descriptions |", "|---|---|---|"]
        for note, present, nearest in zip(self.notes, qualities, ranked):
            described = ", ".join(word for word, bit in zip(words.values(), present) if bit > 0.5) or "(none)"
            listed = ", ".join(f"{word} ({similarity:.2f})" for word, similarity in nearest)
            rows.append(f"| {note} | {described} | {listed} |")
        return "\n".join(rows)

    def on_epoch_end(self, epoch, logs=None):
        import tensorflow as tf

        writer = summaries.writer(self.log_dir)
        with writer.as_default(step=epoch):
            tf.summary.text("nearest_descriptions", self.table())
        writer.flush()


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
class Textual(Objective):
    """``textual``: predict the word vectors of an NSynth note's quality descriptions."""

    name = "textual"
    data = "NSynth"
    dataset = nsynth.NSynth
    Config = TextualConfig

    def datasets(self, data_dir, *, batch_size, seed, limit=None):
        return datasets(data_dir, batch_size=batch_size, seed=seed, limit=limit,
                        word_vectors=self.config.word_vectors, word_map=self.config.word_map,
                        examples=self.config.examples)

    def build(self, backbone, data, seed):
        return build(backbone, word_vectors=self.config.word_vectors, word_map=self.config.word_map,
                     margin=self.config.margin, seed=seed)

    def tensorboard_callbacks(self, run, model, data):
        return tensorboard_callbacks(run, model, data)

    def example_counts(self, data_dir, data, limit):
        return notes.example_counts(data_dir, limit, self.config.examples)

    def projector_examples(self, data_dir, data, limit, count):
        return notes.projector_examples(data_dir, limit, self.config.examples, count)
