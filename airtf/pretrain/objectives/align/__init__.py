"""``align``: pre-train VGGish by aligning audio with its Freesound tags, after COALA.

Two branches map a sound's log-mel example and its multi-hot tags (K = the
vocabulary size, 1000 by default) into one 1152-d space::

    log-mel (96, 64) ──VGGish──▶ (128,) ──Dense(1152)──────────────────────────▶ audio embedding
    tags (K,) ──[Dense ─ BatchNorm ─ ReLU ─ Dropout 0.25] × 3 (512, 512, 1152) ─┬─Dense(1152, no bias)─▶ tag embedding
                                                                               └─tag decoder (optional)─▶ tags (K,)

Reading of the issue's tag branch ("MLP 1000 → 512 → 512 → 1152
(BatchNormalization, ReLU, dropout 0.25) → Dense(1152, no bias)"), as in
COALA's code: three hidden Dense layers of 512, 512 and 1152 units, each
followed by BatchNormalization, ReLU and dropout 0.25, then a linear
projection Dense(1152) without bias. The audio branch's Dense(1152) is
affine (with bias), without activation. Unlike COALA, no dropout follows
the two projections.

Loss
----
NT-Xent (SimCLR's normalised temperature-scaled cross-entropy) over the 2N
embeddings of a batch of N sounds: each embedding's positive is the other
modality's embedding of the same sound, its negatives the 2N - 2 others;
similarity is the cosine divided by the temperature (0.1), and the loss is
the mean over the 2N anchors of ``-log softmax`` of the positive among all
but the anchor itself. Negatives come only from the batch (with
tf.distribute, from the replica's part of it).

With ``autoencoder=True`` (the default, as COALA trains it), a tag decoder
(Dense 512, 512 with BatchNorm, ReLU and dropout 0.25, then Dense(K)
with a sigmoid) reconstructs the tags from the 1152-d hidden tag code (before
the projection, as COALA), by binary cross-entropy; the loss is then
``10 · NT-Xent + 5 · BCE`` (COALA's weights). Without it the loss is
``10 · NT-Xent``: the weight only scales it.

Besides ``loss``, the model reports ``contrastive_loss`` (NT-Xent,
unweighted), ``retrieval_accuracy`` (how often an audio embedding's most
similar tag embedding within the batch is its own sound's) and, with the
autoencoder, ``reconstruction_loss`` (BCE, unweighted); Keras's TensorBoard
callback logs them all.

Data
----
Freesound sounds with an audio file and tags are split by sound into
training and validation (15 % of the sounds, drawn with the seed), so that
no sound's examples fall into both. The vocabulary (the K tags on most
training sounds) is made from the training sounds only; sounds with no tag
in it are left out, with a :class:`~airtf.datasets.freesound.SkippedSoundsWarning`.

This package's ``__init__`` declares the objective (its options and the
class ``airtf-pretrain`` lists) without importing Keras; the model and the
data pipeline are in :mod:`airtf.pretrain.objectives.align.model`, imported when the
objective is used.
"""

import dataclasses

import numpy as np

from airtf.datasets import freesound
from airtf.pretrain.objectives.base import Config, Objective, option, register
from airtf.pretrain.objectives.notes import CACHE_OPTION, EXAMPLES_OPTION
from airtf.support import numbers

TEMPERATURE = 0.1
CONTRASTIVE_WEIGHT = 10.0
RECONSTRUCTION_WEIGHT = 5.0

VOCABULARY_NAME = "vocabulary.json"
"""The tags of the targets, kept in the run directory beside the backbone."""


@dataclasses.dataclass(frozen=True)
class AlignConfig(Config):
    """Options of ``align``."""

    vocabulary_size: int = option(freesound.DEFAULT_VOCABULARY_SIZE, "tags kept, K", numbers.positive(int),
                                  metavar="K")
    autoencoder: bool = option(True, "without COALA's tag auto-encoder", flag="--no-autoencoder")
    temperature: float = option(TEMPERATURE, "NT-Xent temperature", numbers.positive(float), metavar="X")
    contrastive_weight: float = option(CONTRASTIVE_WEIGHT, "weight of the NT-Xent loss", numbers.nonnegative(float),
                                       metavar="X")
    reconstruction_weight: float = option(RECONSTRUCTION_WEIGHT, "weight of the tag reconstruction loss",
                                          numbers.nonnegative(float), metavar="X")
    examples: str = EXAMPLES_OPTION
    cache_dir: str = CACHE_OPTION


@register
class Align(Objective):
    """``align``: align audio with its Freesound tags, contrastively.

    The contrastive, reconstruction and retrieval scores are metrics, which
    Keras's TensorBoard callback logs.
    """

    name = "align"
    data = "Freesound tags"
    dataset = freesound.Freesound
    Config = AlignConfig
    saved_files = (VOCABULARY_NAME,)

    def datasets(self, data_dir, *, batch_size, seed, limit=None):
        return self.implementation.datasets(data_dir, batch_size=batch_size, seed=seed, limit=limit,
                                            vocabulary_size=self.config.vocabulary_size,
                                            examples=self.config.examples, cache_dir=self.config.cache_dir)

    def build(self, backbone, data, seed):
        return self.implementation.build(backbone, vocabulary_size=len(data.info["vocabulary"]),
                                         autoencoder=self.config.autoencoder, temperature=self.config.temperature,
                                         contrastive_weight=self.config.contrastive_weight,
                                         reconstruction_weight=self.config.reconstruction_weight)

    def example_counts(self, data_dir, data, limit):
        """The split's sounds times their examples: one each, or for "all" estimated from sounds' durations."""
        split = data.info["sounds"]
        if self.config.examples == "first":
            return {"train": split["train"], "validation": split["validation"], "exact": True}
        per_sound = self.implementation.examples_per_sound(data_dir)
        return {"train": round(split["train"] * per_sound), "validation": round(split["validation"] * per_sound),
                "exact": False}

    def projector_examples(self, data_dir, data, limit, count):
        """Validation examples with their sound's tags: "tag" (its most frequent, the first in vocabulary
        order) and "tags" (all of its vocabulary's)."""
        tags = data.info["vocabulary"].tags
        pairs = [(element["log_mel"].numpy(),
                  {"tag": tags[int(np.argmax(element["tags"]))],
                   "tags": ", ".join(tag for tag, bit in zip(tags, element["tags"].numpy()) if bit > 0.5)})
                 for element in data.validation.unbatch().take(count)]
        return np.stack([example for example, _ in pairs]), [row for _, row in pairs]

    def save(self, run, data):
        """The vocabulary of the targets, ``RUN_DIR/vocabulary.json``, for evaluating with the same tags."""
        data.info["vocabulary"].save(run.path / VOCABULARY_NAME)
