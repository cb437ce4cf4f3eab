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
"""

import dataclasses
import warnings

import keras
import numpy as np
from keras import ops

from airtf import audio as audio_files
from airtf import numbers, params
from airtf.datasets import freesound, pipeline, sounds
from airtf.datasets.pipeline import AUTOTUNE, DatasetError
from airtf.objectives.base import Config, Datasets, Objective, option, register
from airtf.objectives.batching import training_batches, validation_batches
from airtf.objectives.notes import CACHE_OPTION, EXAMPLES_OPTION

EMBEDDING_SIZE = 1152
HIDDEN_SIZES = (512, 512)
DROPOUT = 0.25
TEMPERATURE = 0.1
CONTRASTIVE_WEIGHT = 10.0
RECONSTRUCTION_WEIGHT = 5.0
VALIDATION_FRACTION = 0.15
SIZED_SOUNDS = 200
"""Sounds whose durations estimate the examples per sound of ``examples="all"`` (for plans)."""


def _hidden_blocks(x, sizes, name):
    """Dense, BatchNormalization, ReLU and dropout for each size in ``sizes``."""
    for number, units in enumerate(sizes, start=1):
        x = keras.layers.Dense(units, name=f"{name}_dense{number}")(x)
        x = keras.layers.BatchNormalization(name=f"{name}_batch_norm{number}")(x)
        x = keras.layers.ReLU(name=f"{name}_relu{number}")(x)
        x = keras.layers.Dropout(DROPOUT, name=f"{name}_dropout{number}")(x)
    return x


def build_tag_encoder(vocabulary_size, name="tag_encoder"):
    """The tag MLP: (batch, K) multi-hot -> (batch, 1152) hidden tag code (before the projection)."""
    tags = keras.Input((vocabulary_size,), name="tags")
    return keras.Model(tags, _hidden_blocks(tags, (*HIDDEN_SIZES, EMBEDDING_SIZE), "encoder"), name=name)


def build_tag_decoder(vocabulary_size, name="tag_decoder"):
    """The tag decoder: (batch, 1152) hidden tag code -> (batch, K) tag probabilities."""
    code = keras.Input((EMBEDDING_SIZE,), name="tag_code")
    hidden = _hidden_blocks(code, HIDDEN_SIZES, "decoder")
    probabilities = keras.layers.Dense(vocabulary_size, activation="sigmoid", name="decoder_output")(hidden)
    return keras.Model(code, probabilities, name=name)


def _cosine_logits(first, second, temperature):
    """Cosine similarities of every row of ``first`` with every row of ``second``, over the temperature."""
    return ops.matmul(ops.normalize(first, axis=-1), ops.transpose(ops.normalize(second, axis=-1))) / temperature


def nt_xent(audio, tags, temperature=TEMPERATURE):
    """NT-Xent of each of the 2N embeddings (see the module docstring).

    Parameters
    ----------
    audio, tags : tensors (N, D)
        Row i of each embeds sound i.
    temperature : float

    Returns
    -------
    tensor (2N,)
        The loss of each anchor: audio rows first, then tag rows.
    """
    embeddings = ops.concatenate([audio, tags], axis=0)
    logits = _cosine_logits(embeddings, embeddings, temperature)
    itself = ops.eye(ops.shape(embeddings)[0], dtype="bool")
    others = ops.where(itself, ops.full_like(logits, -1e9), logits)
    positive = ops.sum(ops.normalize(audio, axis=-1) * ops.normalize(tags, axis=-1), axis=-1) / temperature
    return ops.logsumexp(others, axis=-1) - ops.concatenate([positive, positive], axis=0)


def retrieval_hits(audio, tags):
    """1.0 where an audio embedding's most similar tag embedding in the batch is its own sound's, else 0.0."""
    best = ops.argmax(_cosine_logits(audio, tags, 1.0), axis=-1)
    return ops.cast(ops.equal(best, ops.arange(ops.shape(audio)[0], dtype=best.dtype)), audio.dtype)


@keras.saving.register_keras_serializable(package="airtf")
class NTXent(keras.losses.Loss):
    """NT-Xent as a Keras loss: ``loss(audio, tags)``, averaged over the 2N anchors (see :func:`nt_xent`)."""

    def __init__(self, temperature=TEMPERATURE, name="nt_xent", **kwargs):
        super().__init__(name=name, **kwargs)
        self.temperature = temperature

    def call(self, y_true, y_pred):
        return nt_xent(y_true, y_pred, self.temperature)

    def get_config(self):
        return {**super().get_config(), "temperature": self.temperature}


class AlignModel(keras.Model):
    """VGGish aligned with a tag encoder by contrastive learning (see the module docstring).

    Inputs are dicts ``{"log_mel": (batch, 96, 64), "tags": (batch, K)}``;
    calling the model returns ``{"audio": (batch, 1152), "tags": (batch, 1152)}``
    and, with the autoencoder, ``"reconstruction": (batch, K)``.

    Parameters
    ----------
    backbone : keras.Model
        VGGish: (batch, 96, 64) -> (batch, 128).
    vocabulary_size : int
        K, the length of the multi-hot tag vectors.
    autoencoder : bool
        Also reconstruct the tags from the tag code (default True).
    temperature : float
        NT-Xent temperature (0.1).
    contrastive_weight, reconstruction_weight : float
        Loss weights (10 and 5).
    """

    def __init__(self, backbone, vocabulary_size=freesound.DEFAULT_VOCABULARY_SIZE, autoencoder=True,
                 temperature=TEMPERATURE, contrastive_weight=CONTRASTIVE_WEIGHT,
                 reconstruction_weight=RECONSTRUCTION_WEIGHT, **kwargs):
        super().__init__(**kwargs)
        self.backbone = backbone
        self.audio_projection = keras.layers.Dense(EMBEDDING_SIZE, name="audio_projection")
        self.audio_projection.build((None, params.EMBEDDING_SIZE))
        self.tag_encoder = build_tag_encoder(vocabulary_size)
        self.tag_projection = keras.layers.Dense(EMBEDDING_SIZE, use_bias=False, name="tag_projection")
        self.tag_projection.build((None, EMBEDDING_SIZE))
        self.tag_decoder = build_tag_decoder(vocabulary_size) if autoencoder else None
        self.contrastive_weight = contrastive_weight
        self.reconstruction_weight = reconstruction_weight
        self.contrastive_loss = NTXent(temperature)
        self.reconstruction_loss = keras.losses.BinaryCrossentropy()
        self.contrastive_metric = keras.metrics.MeanMetricWrapper(
            nt_xent, name="contrastive_loss", temperature=temperature)
        self.retrieval_metric = keras.metrics.MeanMetricWrapper(retrieval_hits, name="retrieval_accuracy")
        self.reconstruction_metric = keras.metrics.BinaryCrossentropy(name="reconstruction_loss") if autoencoder \
            else None
        self.built = True  # every weight exists already: the branches are built above

    def call(self, inputs, training=False):
        code = self.tag_encoder(inputs["tags"], training=training)
        outputs = {
            "audio": self.audio_projection(self.backbone(inputs["log_mel"], training=training)),
            "tags": self.tag_projection(code),
        }
        if self.tag_decoder is not None:
            outputs["reconstruction"] = self.tag_decoder(code, training=training)
        return outputs

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        loss = self.contrastive_weight * self.contrastive_loss(y_pred["audio"], y_pred["tags"])
        if self.tag_decoder is not None:
            loss += self.reconstruction_weight * self.reconstruction_loss(x["tags"], y_pred["reconstruction"])
        return loss

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        self.contrastive_metric.update_state(y_pred["audio"], y_pred["tags"])
        self.retrieval_metric.update_state(y_pred["audio"], y_pred["tags"])
        if self.reconstruction_metric is not None:
            self.reconstruction_metric.update_state(x["tags"], y_pred["reconstruction"])
        return super().compute_metrics(x, y, y_pred, sample_weight)


def build(backbone, vocabulary_size=freesound.DEFAULT_VOCABULARY_SIZE, autoencoder=True, temperature=TEMPERATURE,
          contrastive_weight=CONTRASTIVE_WEIGHT, reconstruction_weight=RECONSTRUCTION_WEIGHT):
    """The alignment model around ``backbone`` (see :class:`AlignModel`)."""
    return AlignModel(backbone, vocabulary_size=vocabulary_size, autoencoder=autoencoder, temperature=temperature,
                 contrastive_weight=contrastive_weight, reconstruction_weight=reconstruction_weight, name="align")


def split_sounds(sound_ids, seed, fraction=VALIDATION_FRACTION):
    """Split sounds into training and validation at random.

    Parameters
    ----------
    sound_ids : sequence of str
    seed : int
    fraction : float
        Share of the sounds for validation, rounded, at least one.

    Returns
    -------
    (list, list)
        Training and validation sound ids, each in the order of ``sound_ids``.
        The split depends on the seed and the set of ids, not on their order.
    """
    if len(sound_ids) < 2:
        raise DatasetError(f"{len(sound_ids)} sound(s) with audio and tags: a training and a validation split "
                           "need at least 2; add sounds or raise --limit")
    count = max(1, round(fraction * len(sound_ids)))
    chosen = set(np.random.default_rng(seed).permutation(sorted(sound_ids))[:count])
    return [i for i in sound_ids if i not in chosen], [i for i in sound_ids if i in chosen]


def _tagged_sounds(root):
    """The sound ids with audio and tags (tags-file order), their tags and audio files, and how many lack either."""
    tags_file = freesound.find_tags_file(root)
    tags, audio = freesound.read_tags(tags_file), freesound.find_audio(root)
    usable = [sound_id for sound_id, sound_tags in tags.items() if sound_tags and sound_id in audio]
    if not usable:
        raise DatasetError(f"{tags_file}: no sound has both tags and an audio file under {root}; "
                           "check that the sound ids match the audio file names")
    return usable, tags, audio, len(set(tags) | set(audio)) - len(usable)


def _examples_in(path):
    """The 0.96 s examples of an audio file (at least one: a shorter sound is padded)."""
    found = audio_files.info(path)
    samples = found.frames * params.SAMPLE_RATE / found.sample_rate
    return max(1, 1 + int((samples - params.EXAMPLE_SAMPLES) // params.EXAMPLE_HOP_SAMPLES))


def _with_vocabulary_tags(sound_ids, tags, vocabulary):
    """The sounds that have a tag of the vocabulary."""
    return [sound_id for sound_id in sound_ids if vocabulary.indices(tags[sound_id])]


def _examples_with_tags(sound_ids, tags, audio, vocabulary, indices, cache_dir):
    """Elements {"log_mel": (96, 64), "tags": multi-hot (K,)}, one per chosen example of each sound."""
    import tensorflow as tf

    from airtf.vggish.audio_converter import LogMelExamples

    positions = [vocabulary.indices(tags[sound_id]) for sound_id in sound_ids]
    ragged = tf.RaggedTensor.from_row_lengths(
        np.asarray([p for sound in positions for p in sound], np.int64), [len(sound) for sound in positions])
    multi_hot = tf.data.Dataset.from_tensor_slices(ragged).map(
        lambda sound: tf.reduce_max(tf.one_hot(sound, len(vocabulary)), axis=0), num_parallel_calls=AUTOTUNE)
    log_mel = pipeline.log_mel_dataset([audio[sound_id] for sound_id in sound_ids],
                                       frontend=LogMelExamples(pad=True), cache_dir=cache_dir)
    per_example = sounds.one_example_per_element(tf.data.Dataset.zip((log_mel, multi_hot)), indices)
    return per_example.map(lambda example, target: {"log_mel": example, "tags": target})


def datasets(data_dir, *, batch_size, seed, limit=None, vocabulary_size=freesound.DEFAULT_VOCABULARY_SIZE,
             examples="first", cache_dir=None):
    """Freesound sounds split into training and validation batches of log-mel and tags.

    Parameters
    ----------
    data_dir : str or os.PathLike
        A Freesound folder as :func:`airtf.datasets.freesound.load` reads it.
    batch_size : int
    seed : int
        Draws the validation sounds and the training shuffle.
    limit : int or None
        Use only the first ``limit`` sounds with audio and tags (before the split).
    vocabulary_size : int
        K, the number of tags kept (those on most training sounds).
    examples : {"first", "all"} or sequence of int
        Which 0.96 s examples of each sound (see :mod:`airtf.datasets.sounds`).
    cache_dir : str or os.PathLike or None
        Keep the log-mel of each audio file there, so later epochs skip decoding.

    Returns
    -------
    Datasets
        ``train`` and ``validation`` of ``{"log_mel": (batch, 96, 64),
        "tags": (batch, K)}``; ``info`` holds ``"vocabulary"`` (the
        :class:`~airtf.datasets.freesound.Vocabulary`; save it with its ``save``)
        and ``"sounds"`` ({"train": n, "validation": n, "left_out": n}).

    Warns
    -----
    SkippedSoundsWarning
        Sounds lack audio, tags or a tag in the vocabulary.
    """
    indices = sounds.example_indices(examples)
    usable, tags, audio, lacking = _tagged_sounds(data_dir)
    train_ids, validation_ids = split_sounds(usable[:limit], seed)
    vocabulary = freesound.Vocabulary.from_tags([tags[sound_id] for sound_id in train_ids], vocabulary_size)
    splits = {"train": _with_vocabulary_tags(train_ids, tags, vocabulary),
              "validation": _with_vocabulary_tags(validation_ids, tags, vocabulary)}
    left_out = lacking + len(train_ids) + len(validation_ids) - sum(map(len, splits.values()))
    if left_out:
        warnings.warn(f"{data_dir}: {left_out} sound(s) left out: without audio, tags or a tag in the training "
                      f"vocabulary of {len(vocabulary)} tags", freesound.SkippedSoundsWarning, stacklevel=2)
    if not splits["validation"]:
        raise DatasetError(f"{data_dir}: no validation sound has a tag of the training vocabulary; "
                           "use more sounds (raise --limit) or a larger vocabulary")
    train, validation = (_examples_with_tags(splits[name], tags, audio, vocabulary, indices, cache_dir)
                         for name in ("train", "validation"))
    info = {"vocabulary": vocabulary, "sounds": {**{name: len(ids) for name, ids in splits.items()},
                                                 "left_out": left_out}}
    train, order = training_batches(train, batch_size, seed)
    return Datasets(train, validation_batches(validation, batch_size), info, (order,))


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
        return datasets(data_dir, batch_size=batch_size, seed=seed, limit=limit,
                        vocabulary_size=self.config.vocabulary_size, examples=self.config.examples,
                        cache_dir=self.config.cache_dir)

    def build(self, backbone, data, seed):
        return build(backbone, vocabulary_size=len(data.info["vocabulary"]), autoencoder=self.config.autoencoder,
                     temperature=self.config.temperature, contrastive_weight=self.config.contrastive_weight,
                     reconstruction_weight=self.config.reconstruction_weight)

    def example_counts(self, data_dir, data, limit):
        """The split's sounds times their examples: one each, or for "all" estimated from sounds' durations."""
        split = data.info["sounds"]
        if self.config.examples == "first":
            return {"train": split["train"], "validation": split["validation"], "exact": True}
        usable, _, audio, _ = _tagged_sounds(data_dir)
        per_sound = np.mean([_examples_in(audio[sound_id]) for sound_id in usable[:SIZED_SOUNDS]])
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
