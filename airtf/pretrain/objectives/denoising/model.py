"""The denoising objectives' model, data pipeline and TensorBoard view (declared in the package's ``__init__``)."""

import keras
import numpy as np
from keras import ops

from airtf import params
from airtf.datasets import nsynth
from airtf.datasets.pipeline import AUTOTUNE
from airtf.pretrain.objectives import notes
from airtf.pretrain.objectives.base import Datasets
from airtf.pretrain.objectives.batching import training_batches, validation_batches
from airtf.pretrain.objectives.denoising import figures, KEEP_PROBABILITY, NOISES, STDDEV
from airtf.runs import summaries

DECODER_LAYERS = (  # (filters, kernel size, LeakyReLU negative slope or None for linear)
    (128, 10, 0.1),
    (64, 21, 0.25),
    (64, 31, 0.5),
    (params.NUM_MEL_BINS, 37, None),
)
IMAGE_EXAMPLES = 4
"""Validation examples shown in TensorBoard."""


def build_decoder(name="decoder"):
    """The decoder from a 128-d embedding to a (96, 64) log-mel example.

    Returns
    -------
    keras.Model
        Input (batch, 128), output (batch, 96, 64); its layers are named
        ``deconv1`` ... ``deconv4`` (and ``leaky_relu1`` ... ``leaky_relu3``).
    """
    embedding = keras.Input((params.EMBEDDING_SIZE,), name="embedding")
    x = keras.layers.Reshape((1, params.EMBEDDING_SIZE), name="as_sequence")(embedding)
    for number, (filters, kernel_size, slope) in enumerate(DECODER_LAYERS, start=1):
        x = keras.layers.Conv1DTranspose(filters, kernel_size, strides=1, padding="valid", name=f"deconv{number}")(x)
        if slope is not None:
            x = keras.layers.LeakyReLU(negative_slope=slope, name=f"leaky_relu{number}")(x)
    return keras.Model(embedding, x, name=name)


def corrupt(log_mel, noise, seed, stddev=STDDEV, keep_probability=KEEP_PROBABILITY, rescale=False):
    """Corrupt log-mel examples with additive Gaussian or multiplicative Bernoulli noise.

    Parameters
    ----------
    log_mel : tensor (..., 96, 64)
    noise : {"additive", "multiplicative"}
    seed : int or keras.random.SeedGenerator
        An int draws the same noise on every call (for a given shape).
    stddev : float
        Standard deviation of the additive noise (mean 0).
    keep_probability : float
        Probability that multiplicative noise keeps a bin (others become 0).
    rescale : bool
        Divide the kept bins by ``keep_probability`` (multiplicative only).

    Returns
    -------
    tensor
        The corrupted examples, of the shape and dtype of ``log_mel``.
    """
    shape = ops.shape(log_mel)
    if noise == "additive":
        return log_mel + keras.random.normal(shape, stddev=stddev, dtype=log_mel.dtype, seed=seed)
    kept = ops.cast(keras.random.uniform(shape, dtype=log_mel.dtype, seed=seed) < keep_probability, log_mel.dtype)
    return log_mel * kept / keep_probability if rescale else log_mel * kept


class DenoisingModel(keras.Model):
    """VGGish trained to reconstruct clean log-mel examples from corrupted ones.

    Calling the model corrupts its input (fresh noise with ``training=True``,
    the fixed validation noise otherwise) and returns the reconstruction;
    the loss is the mean squared error between the reconstruction and the
    clean input.

    Parameters
    ----------
    backbone : keras.Model
        VGGish: (batch, 96, 64) -> (batch, 128).
    noise : {"additive", "multiplicative"}
        See the module docstring.
    stddev : float
        Additive noise standard deviation (0.1).
    keep_probability : float
        Multiplicative noise: probability of keeping a bin (0.5).
    rescale : bool
        Multiplicative noise: divide kept bins by ``keep_probability`` (False).
    seed : int
        Seeds the training noise; validation noise uses ``seed + 1``.
    """

    def __init__(self, backbone, noise="additive", stddev=STDDEV, keep_probability=KEEP_PROBABILITY, rescale=False,
                 seed=0, **kwargs):
        if noise not in NOISES:
            raise ValueError(f"noise={noise!r}: choose one of {NOISES}")
        if not 0 < keep_probability <= 1:
            raise ValueError(f"keep_probability={keep_probability}: give a probability in (0, 1]")
        super().__init__(**kwargs)
        self.backbone = backbone
        self.decoder = build_decoder()
        self.noise = noise
        self.stddev = stddev
        self.keep_probability = keep_probability
        self.rescale = rescale
        self.noise_seed = keras.random.SeedGenerator(seed)
        self.validation_seed = seed + 1
        self.reconstruction_loss = keras.losses.MeanSquaredError()
        self.built = True  # every weight exists already: the backbone and decoder are built functional models

    def corrupt(self, log_mel, training=False):
        """The corrupted examples: fresh noise when ``training``, else the fixed validation noise."""
        seed = self.noise_seed if training else self.validation_seed
        return corrupt(log_mel, self.noise, seed, self.stddev, self.keep_probability, self.rescale)

    def reconstruct(self, log_mel, training=False):
        """Decode the VGGish embedding of (already corrupted) examples."""
        return self.decoder(self.backbone(log_mel, training=training), training=training)

    def call(self, log_mel, training=False):
        return self.reconstruct(self.corrupt(log_mel, training), training)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        return self.reconstruction_loss(x, y_pred)


def build(backbone, noise="additive", stddev=STDDEV, keep_probability=KEEP_PROBABILITY, rescale=False, seed=0):
    """The denoising model around ``backbone`` (see :class:`DenoisingModel`)."""
    return DenoisingModel(backbone, noise=noise, stddev=stddev, keep_probability=keep_probability, rescale=rescale,
                          seed=seed, name=f"denoising_{noise}")


def datasets(data_dir, *, batch_size, seed, limit=None, examples="first", cache_dir=None):
    """NSynth's train and valid splits as batches of clean log-mel examples.

    Parameters
    ----------
    data_dir : str or os.PathLike
        The folder holding NSynth's train and valid splits (either format).
    batch_size : int
    seed : int
        Seeds the training shuffle.
    limit : int or None
        Use only the first ``limit`` notes of each split.
    examples : {"first", "all"} or sequence of int
        Which 0.96 s examples of each note (see :func:`airtf.datasets.nsynth.load`).
    cache_dir : str or os.PathLike or None
        json/wav format only: keep the log-mel of each wav there, so later
        epochs skip decoding.

    Returns
    -------
    Datasets
        ``train`` and ``validation`` of float32 (batch, 96, 64) inputs (the
        model corrupts them itself); ``info`` holds ``"shown_notes"``, the
        note of each of the first :data:`IMAGE_EXAMPLES` validation examples.
    """
    def clean_examples(split):
        of_split = nsynth.load(data_dir, split, examples=examples, limit=limit, cache_dir=cache_dir)
        return of_split.map(lambda example, labels: example, num_parallel_calls=AUTOTUNE)

    train, order = training_batches(clean_examples("train"), batch_size, seed)
    return Datasets(train, validation_batches(clean_examples("valid"), batch_size),
                    {"shown_notes": notes.shown_notes(data_dir, examples, IMAGE_EXAMPLES)}, (order,))


class ReconstructionImages(keras.callbacks.Callback):
    """TensorBoard figures of clean, corrupted and reconstructed validation examples, every epoch.

    One figure per example (tag ``reconstruction/<index> <note>``, see
    :func:`airtf.pretrain.objectives.denoising.figures.reconstruction_figure`): the three views side by
    side on the colour scale of the clean example, so that noise and
    reconstruction errors show against it, with time and mel axes and a
    colour bar. The corruption is the fixed validation noise.

    Parameters
    ----------
    log_dir : str or os.PathLike
    examples : array (n, 96, 64)
        The clean examples shown.
    notes : sequence of str
        The note of each example.
    """

    def __init__(self, log_dir, examples, notes):
        super().__init__()
        self.log_dir = log_dir
        self.examples = np.asarray(examples, np.float32)
        self.notes = list(notes)

    def on_epoch_end(self, epoch, logs=None):
        import tensorflow as tf

        corrupted = self.model.corrupt(self.examples, training=False)
        views = {
            "clean": self.examples,
            "corrupted": ops.convert_to_numpy(corrupted),
            "reconstructed": ops.convert_to_numpy(self.model.reconstruct(corrupted)),
        }
        writer = summaries.writer(self.log_dir)
        with writer.as_default(step=epoch):
            for index, note in enumerate(self.notes):
                figure = figures.reconstruction_figure({name: view[index] for name, view in views.items()},
                                                       f"validation note {note}, epoch {epoch + 1}")
                tf.summary.image(f"reconstruction/{index} {note}", summaries.figure_pixels(figure)[np.newaxis])
        writer.flush()


def tensorboard_callbacks(run, model, datasets):
    """Images of :data:`IMAGE_EXAMPLES` validation examples per epoch, in the run's validation logs.

    See :class:`ReconstructionImages`; ``model`` is the :class:`DenoisingModel`
    that fit trains (the callback reads it from Keras).
    """
    shown = datasets.info["shown_notes"]
    batch = next(iter(datasets.validation.unbatch().take(len(shown)).batch(len(shown))))
    return [ReconstructionImages(run.logs / summaries.VALIDATION, ops.convert_to_numpy(batch), shown)]
