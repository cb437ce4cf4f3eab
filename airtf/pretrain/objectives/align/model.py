"""The align objective's model and data pipeline (see :mod:`airtf.pretrain.objectives.align`)."""

import warnings

import keras
import numpy as np
from keras import ops

from airtf import audio as audio_files, params
from airtf.datasets import freesound, pipeline, sounds
from airtf.datasets.pipeline import AUTOTUNE, DatasetError
from airtf.pretrain.objectives.align import CONTRASTIVE_WEIGHT, RECONSTRUCTION_WEIGHT, TEMPERATURE
from airtf.pretrain.objectives.base import Datasets
from airtf.pretrain.objectives.batching import training_batches, validation_batches

EMBEDDING_SIZE = 1152
HIDDEN_SIZES = (512, 512)
DROPOUT = 0.25
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


def examples_per_sound(data_dir):
    """The mean number of 0.96 s examples of the first SIZED_SOUNDS usable sounds (for plans of ``examples="all"``)."""
    usable, _, audio, _ = _tagged_sounds(data_dir)
    return np.mean([_examples_in(audio[sound_id]) for sound_id in usable[:SIZED_SOUNDS]])


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
