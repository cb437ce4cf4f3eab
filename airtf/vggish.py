"""The VGGish backbone, the official checkpoint reader, and its post-processing.

The backbone is a Keras functional model whose layers carry the names of the
official TF1 scopes (conv1 ... fc2), so that a weight maps to one checkpoint
variable by name. Two variants exist:

``audioset-2017``
    The original release: ReLU after fc2. It computed the AudioSet and
    OpenMIC-2018 released features, and it is what the paper describes.
    The default.
``audioset-2020``
    Today's official code: fc2 is linear.

Both load the same checkpoint; only the activation of fc2 differs.
"""

from pathlib import Path

import keras
import numpy as np

from airtf import params
from airtf.errors import CheckpointError, first_line

VARIANTS = dict(zip(params.VGGISH_VARIANTS, ("relu", None)))
"""Variant -> activation of fc2."""
DEFAULT_VARIANT = params.DEFAULT_VARIANT

CONV_LAYERS = (  # (name, filters, pool after it)
    ("conv1", 64, "pool1"),
    ("conv2", 128, "pool2"),
    ("conv3_1", 256, None),
    ("conv3_2", 256, "pool3"),
    ("conv4_1", 512, None),
    ("conv4_2", 512, "pool4"),
)
CHECKPOINT_SCOPES = {
    "conv1": "vggish/conv1",
    "conv2": "vggish/conv2",
    "conv3_1": "vggish/conv3/conv3_1",
    "conv3_2": "vggish/conv3/conv3_2",
    "conv4_1": "vggish/conv4/conv4_1",
    "conv4_2": "vggish/conv4/conv4_2",
    "fc1_1": "vggish/fc1/fc1_1",
    "fc1_2": "vggish/fc1/fc1_2",
    "fc2": "vggish/fc2",
}
"""Keras layer name -> official variable scope (``<scope>/weights``, ``<scope>/biases``)."""


def build_vggish(variant=DEFAULT_VARIANT, name="vggish"):
    """Build the VGGish backbone, randomly initialised (Glorot uniform).

    Parameters
    ----------
    variant : {"audioset-2017", "audioset-2020"}
        Whether fc2 has a ReLU (2017) or is linear (2020).
    name : str
        The model's name.

    Returns
    -------
    keras.Model
        Input (batch, 96, 64) log-mel examples, output (batch, 128).
    """
    if variant not in VARIANTS:
        raise ValueError(f"unknown VGGish variant {variant!r}; choose one of {sorted(VARIANTS)}")
    log_mel = keras.Input((params.EXAMPLE_FRAMES, params.NUM_MEL_BINS), name="log_mel")
    x = keras.layers.Reshape((params.EXAMPLE_FRAMES, params.NUM_MEL_BINS, 1), name="add_channel")(log_mel)
    for layer_name, filters, pool_name in CONV_LAYERS:
        x = keras.layers.Conv2D(filters, 3, padding="same", activation="relu", name=layer_name)(x)
        if pool_name:
            x = keras.layers.MaxPooling2D(2, strides=2, padding="same", name=pool_name)(x)
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dense(4096, activation="relu", name="fc1_1")(x)
    x = keras.layers.Dense(4096, activation="relu", name="fc1_2")(x)
    embedding = keras.layers.Dense(params.EMBEDDING_SIZE, activation=VARIANTS[variant], name="fc2")(x)
    return keras.Model(log_mel, embedding, name=name)


def read_checkpoint(path):
    """Read the official VGGish variables from a TF1 checkpoint (V1 or V2).

    Parameters
    ----------
    path : str or Path
        The V1 file (``vggish_model.ckpt``) or a V2 prefix (``x.ckpt`` with
        ``x.ckpt.index`` and ``x.ckpt.data-*`` beside it).

    Returns
    -------
    dict
        Keras layer name -> [kernel, bias] as float32 arrays.
    """
    import tensorflow as tf

    path = Path(path)
    if not path.exists() and not Path(f"{path}.index").exists():
        raise CheckpointError(
            f"{path}: checkpoint not found; run `airtf-weights fetch` or pass the path of vggish_model.ckpt")
    try:
        reader = tf.train.load_checkpoint(str(path))
    except Exception as error:  # TensorFlow raises several kinds for a bad file
        raise CheckpointError(
            f"{path}: not a TensorFlow checkpoint ({first_line(error)}); pass the official vggish_model.ckpt "
            "(check it with `airtf-weights verify`) or a .weights.h5 written by airtf") from None
    available = reader.get_variable_to_shape_map()
    return {
        layer: [_checkpoint_variable(reader, available, f"{scope}/{kind}", path) for kind in ("weights", "biases")]
        for layer, scope in CHECKPOINT_SCOPES.items()
    }


def _checkpoint_variable(reader, available, name, path):
    if name not in available:
        scopes = sorted(key for key in available if key.startswith("vggish/"))[:6]
        raise CheckpointError(
            f"{path}: variable {name} is missing (found {len(available)} variables, e.g. {scopes}); "
            "this is not a VGGish checkpoint: pass the official vggish_model.ckpt")
    try:
        return reader.get_tensor(name).astype(np.float32)
    except Exception as error:  # a truncated data file: IndexError, DataLossError, ...
        raise CheckpointError(f"{path}: cannot read variable {name} ({first_line(error)}); the checkpoint's data "
                              "file is truncated or damaged: download or write it again (check the official one "
                              "with `airtf-weights verify`)") from None


def load_checkpoint(model, path):
    """Set a VGGish model's weights from an official TF1 checkpoint.

    A missing variable or a shape that does not match the backbone raises
    :class:`~airtf.errors.CheckpointError` naming the variable.
    """
    for layer_name, values in read_checkpoint(path).items():
        layer = model.get_layer(layer_name)
        for variable, value, kind in zip(layer.weights, values, ("weights", "biases")):
            if tuple(variable.shape) != value.shape:
                raise CheckpointError(
                    f"{path}: variable {CHECKPOINT_SCOPES[layer_name]}/{kind} has shape {list(value.shape)}, "
                    f"VGGish needs {list(variable.shape)}; pass the official vggish_model.ckpt")
            variable.assign(value)
    return model


def load_pca_params(path):
    """Read the official PCA parameters (``vggish_pca_params.npz``).

    Returns
    -------
    (means, eigen_vectors) : (np.ndarray (128,), np.ndarray (128, 128)), float64
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(
            f"{path}: PCA parameters not found; run `airtf-weights fetch` or pass the path of vggish_pca_params.npz")
    try:
        with np.load(path) as archive:
            stored = {key: archive[key] for key in archive.files}
    except Exception as error:
        raise CheckpointError(f"{path}: not a NumPy .npz archive ({error}); pass vggish_pca_params.npz") from None
    size = params.EMBEDDING_SIZE
    expected = {params.PCA_MEANS_NAME: (size,), params.PCA_EIGEN_VECTORS_NAME: (size, size)}
    for key, shape in expected.items():
        if key not in stored:
            raise CheckpointError(f"{path}: array {key!r} is missing (found {sorted(stored)}); pass vggish_pca_params.npz")
        if stored[key].size != np.prod(shape):
            raise CheckpointError(
                f"{path}: array {key!r} has shape {list(stored[key].shape)}, expected {list(shape)}; "
                "pass vggish_pca_params.npz")
    return (stored[params.PCA_MEANS_NAME].reshape(size).astype(np.float64),
            stored[params.PCA_EIGEN_VECTORS_NAME].reshape(size, size).astype(np.float64))


@keras.saving.register_keras_serializable(package="airtf")
class PCAQuantize(keras.layers.Layer):
    """The official VGGish post-processing as a layer.

    Subtract ``pca_means``, project onto ``pca_eigen_vectors``, clip to
    [-2, 2] and quantise ``(x + 2) * 255 / 4`` to 0..255 by truncation, as the
    official ``Postprocessor`` does (computed in float64 like its numpy code).
    The parameters are non-trainable weights, so they travel with saved
    weights and SavedModels.

    Parameters
    ----------
    quantize : bool
        False returns the clipped float PCA projection instead of 0..255.
    """

    def __init__(self, quantize=True, **kwargs):
        kwargs.setdefault("dtype", "float64")
        super().__init__(**kwargs)
        self.quantize = quantize
        size = params.EMBEDDING_SIZE
        self.means = self.add_weight(shape=(size,), initializer="zeros", trainable=False, name="pca_means")
        self.eigen_vectors = self.add_weight(
            shape=(size, size), initializer="identity", trainable=False, name="pca_eigen_vectors")

    @classmethod
    def from_file(cls, path, **kwargs):
        """A layer holding the parameters of an official ``vggish_pca_params.npz``."""
        layer = cls(**kwargs)
        means, eigen_vectors = load_pca_params(path)
        layer.means.assign(means)
        layer.eigen_vectors.assign(eigen_vectors)
        return layer

    def call(self, embeddings):
        ops = keras.ops
        projected = ops.matmul(embeddings - self.means, ops.transpose(self.eigen_vectors))
        clipped = ops.clip(projected, params.QUANTIZE_MIN, params.QUANTIZE_MAX)
        if not self.quantize:
            return clipped
        scale = 255.0 / (params.QUANTIZE_MAX - params.QUANTIZE_MIN)
        return ops.floor((clipped - params.QUANTIZE_MIN) * scale)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "quantize": self.quantize}


@keras.saving.register_keras_serializable(package="airtf")
class MinMaxNormalize(keras.layers.Layer):
    """Min-max normalisation to [0, 1] with statistics fitted on a training set.

    The paper's "norm" features: raw VGGish embeddings scaled per dimension by
    the minimum and maximum seen in the training split. Call :meth:`adapt`
    on training embeddings before use; dimensions that never vary map to 0.

    Parameters
    ----------
    size : int
        Feature dimension.
    clip : bool
        Clip outputs to [0, 1] (values outside the training range otherwise
        fall outside it).
    """

    def __init__(self, size=params.EMBEDDING_SIZE, clip=False, **kwargs):
        super().__init__(**kwargs)
        self.size = size
        self.clip = clip
        self.minimum = self.add_weight(shape=(size,), initializer="zeros", trainable=False, name="minimum")
        self.maximum = self.add_weight(shape=(size,), initializer="ones", trainable=False, name="maximum")

    def adapt(self, features):
        """Fit the minimum and maximum on ``features`` (..., size), array or iterable of arrays."""
        batches = [features] if isinstance(features, np.ndarray) else features
        low, high = None, None
        for batch in batches:
            batch = np.asarray(batch, dtype=np.float64).reshape(-1, self.size)
            if len(batch) == 0:
                continue
            low = batch.min(0) if low is None else np.minimum(low, batch.min(0))
            high = batch.max(0) if high is None else np.maximum(high, batch.max(0))
        if low is None:
            raise ValueError("MinMaxNormalize.adapt got no features; pass the training-set embeddings")
        self.minimum.assign(low.astype(self.minimum.dtype))
        self.maximum.assign(high.astype(self.maximum.dtype))
        return self

    def call(self, features):
        ops = keras.ops
        span = self.maximum - self.minimum
        span = ops.where(span > 0, span, ops.ones_like(span))
        scaled = (features - self.minimum) / span
        return ops.clip(scaled, 0.0, 1.0) if self.clip else scaled

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "size": self.size, "clip": self.clip}
