"""The textual objective's model, its data pipeline and its TensorBoard view (declared in the package's ``__init__``)."""

import os

import keras
import numpy as np
from keras import ops

from airtf.datasets import nsynth
from airtf.pretrain import wordvectors
from airtf.pretrain.objectives import notes
from airtf.pretrain.objectives.base import Datasets
from airtf.pretrain.objectives.batching import training_batches, validation_batches
from airtf.pretrain.objectives.textual import MARGIN
from airtf.runs import summaries

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
        A source for :func:`airtf.pretrain.wordvectors.load` (default
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
    airtf.pretrain.wordvectors.MissingWordsError
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
