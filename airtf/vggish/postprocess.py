"""The official VGGish post-processing (PCA and 8-bit quantisation) and min-max normalisation, as layers."""

from pathlib import Path

import keras
import numpy as np

from airtf import params
from airtf.errors import CheckpointError


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
