"""The attention classifier of Gururani, Sharma and Lerch (ISMIR 2019), and its masked loss.

The model reads a clip as T frames of D features (OpenMIC-2018: 10 VGGish
embeddings of 128; log-mel: 960 frames of 64) and gives one probability per
instrument::

    x (batch, T, D) ─ BatchNorm ─┬─ [Dense(128, no bias) ─ Norm ─ ReLU ─ Dropout(0.6)] × 3 ─┐
                                 │                                                         + ─ h (batch, T, 128)
    x ─────────── (Dense(128, no bias) when D != 128) ───────────────────────────────────────┘
    a = clip(sigmoid(Dense(C)(h)), 1e-7, 1 - 1e-7);  att = a / Σ_t a     (sums to 1 over time)
    cla = sigmoid(Dense(C)(h))                                           (per-frame probabilities)
    probabilities = clip(Σ_t att · cla, 0, 1)

As in the original code, the residual adds the input itself (not its
normalised version), the per-frame Dense layers have no bias (a normalisation
follows), and weights start He-uniform with zero biases. "Norm" is
GroupNormalization (the paper; ``groups=32``, Wu and He's default: 4 channels
a group, statistics over those channels and the clip's T frames, so they
do not depend on the other clips of a batch) or BatchNormalization (the original
code). Normalisations use PyTorch's epsilon (1e-5) and batch-norm momentum
(0.1, i.e. Keras ``momentum=0.9``). Dropout is :class:`ThreefryDropout`:
Keras's, with masks drawn by Threefry, which XLA computes on CPU several
times faster than TensorFlow's default Philox. For D = 128, C = 20 the model has
55,336 trainable parameters (as the original), plus 256 (group) or 1,024
(batch) moving statistics. Model code uses keras.layers and keras.ops only,
so it runs under the JAX backend too; any T works, also unknown T in a
SavedModel.

Targets travel packed: ``y = [y_true, y_mask]`` of shape (batch, 2C), made by
:func:`pack_targets` (numpy arrays, or tensors in a tf.data map)::

    dataset = openmic.released_dataset(keys).map(lambda x, t, m: (x, attention.pack_targets(t, m)))

An entry is positive where ``y_true >= 0.5``; entries whose mask is False
count in neither the loss nor the scores.

API
---
``AttentionClassifier(num_classes=20, units=128, layers=3, dropout=0.6, norm="group", groups=32)``
    keras.Model. ``model(x)`` -> probabilities (batch, C);
    ``model.frame_outputs(x, training=False)`` -> ``{"probabilities": (batch, C),
    "attention": (batch, T, C), "frame_probabilities": (batch, T, C)}``;
    ``model.embed(x, training=False)`` -> the per-frame embedding h (batch, T, units).
``MaskedBinaryCrossentropy(name="masked_binary_crossentropy")``
    keras Loss on packed targets: mean binary cross-entropy over the annotated
    entries of the batch; 0 for a batch without any.
``pack_targets(y_true, y_mask) -> y``, ``unpack_targets(y) -> (y_true, y_mask)``
``compile_classifier(model, learning_rate=LEARNING_RATE, *, steps_per_execution=STEPS_PER_EXECUTION,
                   jit_compile=JIT_COMPILE)``
    Adam and the masked loss, compiled with XLA and 16 steps per execution:
    the fastest on CPU (tools/bench_attention.py). No metric is compiled in:
    :class:`airtf.classify.metrics.Validation` scores the validation set once an
    epoch, with the one F1 of :mod:`airtf.classify.metrics`.
    XLA compiles once per input shape (a few seconds): tests fitting tiny
    sets may pass ``jit_compile=False``.
``LEARNING_RATE, BATCH_SIZE, EPOCHS, THRESHOLD``
    Training defaults of the paper: Adam at 5e-4, batches of 128, 350 epochs.
"""

import functools

import keras
import numpy as np
from keras import ops

from airtf import params

NUM_CLASSES = 20
UNITS = 128
LAYERS = 3
DROPOUT = 0.6
NORMS = params.CLASSIFIER_NORMS
GROUPS = 32
ATTENTION_EPSILON = 1e-7
NORM_EPSILON = 1e-5
BATCH_NORM_MOMENTUM = 0.9

LEARNING_RATE = params.CLASSIFIER_LEARNING_RATE
BATCH_SIZE = params.CLASSIFIER_BATCH_SIZE
EPOCHS = params.CLASSIFIER_EPOCHS
THRESHOLD = params.THRESHOLD
"""An entry is positive where y_true >= THRESHOLD; a prediction where the probability is."""
STEPS_PER_EXECUTION = 16
"""Training steps per call of the compiled function (see tools/bench_attention.py)."""
JIT_COMPILE = True
"""Compile the steps with XLA, also on CPU, where Keras would not (see tools/bench_attention.py)."""


def _normalization(norm, groups, name):
    if norm == "group":
        return keras.layers.GroupNormalization(groups=groups, epsilon=NORM_EPSILON, name=name)
    return keras.layers.BatchNormalization(momentum=BATCH_NORM_MOMENTUM, epsilon=NORM_EPSILON, name=name)


@keras.saving.register_keras_serializable(package="airtf")
class ThreefryDropout(keras.layers.Dropout):
    """keras.layers.Dropout whose TensorFlow masks are drawn with Threefry instead of Philox.

    Same rate, seed generator and inverted scaling; only the generator of the
    uniform numbers differs. Under XLA on CPU, Philox made dropout a third of
    the classifier's training step and Threefry makes it a few per cent (see
    tools/bench_attention.py). Other backends draw as keras.layers.Dropout
    does (JAX already uses Threefry).
    """

    def call(self, inputs, training=False):
        if not training or self.rate == 0 or keras.backend.backend() != "tensorflow":
            return super().call(inputs, training=training)
        import tensorflow as tf

        seed = tf.cast(tf.math.floormod(self.seed_generator.next(), tf.int32.max - 1), tf.int32)
        kept = _threefry_uniform()(tf.shape(inputs), seed) >= self.rate
        return tf.where(kept, inputs / (1.0 - self.rate), tf.zeros_like(inputs))


@functools.cache
def _threefry_uniform():
    """tf.random.stateless_uniform with Threefry, compiled with XLA: TensorFlow's own kernels draw only Philox."""
    import tensorflow as tf

    @tf.function(jit_compile=True)
    def uniform(shape, seed):
        return tf.random.stateless_uniform(shape, seed, alg="threefry")

    return uniform


def _per_frame_dense(units, name, activation=None, use_bias=True):
    return keras.layers.Dense(units, activation=activation, use_bias=use_bias,
                              kernel_initializer="he_uniform", name=name)


@keras.saving.register_keras_serializable(package="airtf")
class AttentionClassifier(keras.Model):
    """Per-frame embedding layers and decision-level attention over time.

    Parameters
    ----------
    num_classes : int
        C, the number of instruments.
    units : int
        Channels of the per-frame embedding layers.
    layers : int
        Number of per-frame embedding layers.
    dropout : float
        Dropout rate after each embedding layer.
    norm : {"group", "batch"}
        Normalisation after each embedding layer: GroupNormalization (the
        paper) or BatchNormalization (the original code).
    groups : int
        Groups of GroupNormalization; must divide ``units``; unused with
        ``norm="batch"``.
    """

    def __init__(self, num_classes=NUM_CLASSES, units=UNITS, layers=LAYERS, dropout=DROPOUT, norm="group",
                 groups=GROUPS, **kwargs):
        super().__init__(**kwargs)
        if norm not in NORMS:
            raise ValueError(f"unknown norm {norm!r}; choose one of {NORMS}")
        if norm == "group" and units % groups:
            raise ValueError(f"groups={groups} must divide units={units} for GroupNormalization")
        self.num_classes = num_classes
        self.units = units
        self.num_layers = layers
        self.dropout = dropout
        self.norm = norm
        self.groups = groups
        self.input_norm = keras.layers.BatchNormalization(
            momentum=BATCH_NORM_MOMENTUM, epsilon=NORM_EPSILON, name="input_norm")
        self.embeddings = [_per_frame_dense(units, f"embedding_{i}", use_bias=False) for i in range(layers)]
        self.norms = [_normalization(norm, groups, f"{norm}_norm_{i}") for i in range(layers)]
        self.dropouts = [ThreefryDropout(dropout, name=f"dropout_{i}") for i in range(layers)]
        self.residual_projection = None
        self.attention = _per_frame_dense(num_classes, "attention", activation="sigmoid")
        self.classification = _per_frame_dense(num_classes, "classification", activation="sigmoid")

    def build(self, input_shape):
        """Create the weights for inputs (batch, T, D); D must be known."""
        batch, frames, features = input_shape
        if features is None:
            raise ValueError("AttentionClassifier needs a known feature size D in inputs (batch, T, D)")
        self.input_norm.build(input_shape)
        shape = input_shape
        for embedding, norm in zip(self.embeddings, self.norms):
            embedding.build(shape)
            shape = (batch, frames, self.units)
            norm.build(shape)
        if features != self.units:
            self.residual_projection = keras.layers.Dense(self.units, use_bias=False, name="residual_projection")
            self.residual_projection.build(input_shape)
        self.attention.build(shape)
        self.classification.build(shape)
        self.built = True

    def embed(self, x, training=False):
        """The per-frame embedding h (batch, T, units), residual included."""
        h = self.input_norm(x, training=training)
        for embedding, norm, dropout in zip(self.embeddings, self.norms, self.dropouts):
            h = dropout(ops.relu(norm(embedding(h), training=training)), training=training)
        residual = x if self.residual_projection is None else self.residual_projection(x)
        return h + residual

    def frame_outputs(self, x, training=False):
        """The probabilities with the attention and per-frame probabilities behind them.

        Parameters
        ----------
        x : array or tensor (batch, T, D)
        training : bool

        Returns
        -------
        dict
            ``probabilities`` (batch, C); ``attention`` (batch, T, C), each
            instrument's weights over time (sum 1); ``frame_probabilities``
            (batch, T, C), the per-frame ``cla``.
        """
        x = ops.convert_to_tensor(x, dtype=self.compute_dtype)
        if not self.built:
            self.build(x.shape)
        h = self.embed(x, training=training)
        attention = ops.clip(self.attention(h), ATTENTION_EPSILON, 1.0 - ATTENTION_EPSILON)
        attention = attention / ops.sum(attention, axis=1, keepdims=True)
        frame_probabilities = self.classification(h)
        probabilities = ops.clip(ops.sum(attention * frame_probabilities, axis=1), 0.0, 1.0)
        return {"probabilities": probabilities, "attention": attention, "frame_probabilities": frame_probabilities}

    def call(self, x, training=False):
        return self.frame_outputs(x, training=training)["probabilities"]

    # Inference in chunks of frames, for clips too long to hold their activations at once. GroupNormalization
    # takes its statistics over a clip's frames, so they are gathered first, one pass per layer (see
    # group_moments), then every chunk is scored with them (see chunk_scores); airtf.serve.predict drives the passes.

    @property
    def statistics_shape(self):
        """Shape of the clip statistics the chunked methods take: (layers, groups, 2) of mean and variance.

        With BatchNormalization nothing depends on the clip: (layers, 1, 2), unused.
        """
        return (self.num_layers, self.groups if self.norm == "group" else 1, 2)

    def _normalize(self, layer, z, statistics):
        """Layer ``layer``'s normalisation of ``z`` (1, T, units), group statistics given, at inference."""
        norm = self.norms[layer]
        if self.norm == "batch":
            return norm(z, training=False)
        size = self.units // self.groups
        mean, variance = statistics[layer, :, 0:1], statistics[layer, :, 1:2]
        inverse = ops.rsqrt(variance + norm.epsilon) * ops.reshape(norm.gamma, (self.groups, size))
        shift = ops.reshape(norm.beta, (self.groups, size)) - mean * inverse
        grouped = ops.reshape(z, (1, -1, self.groups, size))
        return ops.reshape(grouped * inverse + shift, (1, -1, self.units))

    def _activations(self, x, statistics, stop=None):
        """Inference of frames ``x`` (T, D) of one clip with given clip statistics.

        Returns the pre-normalisation activations of layer ``stop`` (T, units),
        or, with ``stop=None``, the embedding h (T, units), residual included.
        """
        x = ops.expand_dims(ops.convert_to_tensor(x, dtype=self.compute_dtype), 0)
        h = self.input_norm(x, training=False)
        for layer, embedding in enumerate(self.embeddings):
            z = embedding(h)
            if layer == stop:
                return z[0]
            h = ops.relu(self._normalize(layer, z, statistics))
        return (h + (x if self.residual_projection is None else self.residual_projection(x)))[0]

    def group_moments(self, x, statistics, layer):
        """Moments of one chunk of a clip's frames for layer ``layer``'s GroupNormalization.

        Parameters
        ----------
        x : tensor (T, D)
            Consecutive frames of one clip.
        statistics : tensor (layers, groups, 2)
            The clip's mean and variance of the layers before ``layer``.
        layer : int

        Returns
        -------
        mean, variance : tensors (groups,)
            Per group, over the chunk's frames and the group's channels (to
            be combined over chunks weighted by their frames, e.g. by
            Chan's formula).
        """
        z = self._activations(x, statistics, stop=layer)
        grouped = ops.reshape(z, (-1, self.groups, self.units // self.groups))
        mean = ops.mean(grouped, axis=(0, 2))
        return mean, ops.mean(ops.square(grouped - mean[:, None]), axis=(0, 2))

    def chunk_scores(self, x, statistics):
        """Per-frame attention and probabilities of one chunk of a clip, given the clip's statistics.

        Returns
        -------
        attention_weights, frame_probabilities : tensors (T, C)
            The attention before its normalisation over the clip (clipped to
            [1e-7, 1 - 1e-7]) and the per-frame probabilities; the clip's
            probability is ``sum(w * p) / sum(w)`` over all its frames.
        """
        h = self._activations(x, statistics)
        weights = ops.clip(self.attention(h), ATTENTION_EPSILON, 1.0 - ATTENTION_EPSILON)
        return weights, self.classification(h)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.num_classes)

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes, "units": self.units,
                "layers": self.num_layers, "dropout": self.dropout, "norm": self.norm, "groups": self.groups}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def pack_targets(y_true, y_mask):
    """Labels and mask as one float32 target ``[y_true, y_mask]`` (..., 2C).

    Numpy in, numpy out; TensorFlow tensors (as in a tf.data map) in,
    a tensor out.
    """
    if isinstance(y_true, np.ndarray) and isinstance(y_mask, np.ndarray):
        return np.concatenate([y_true.astype(np.float32), y_mask.astype(np.float32)], axis=-1)
    import tensorflow as tf

    return tf.concat([tf.cast(y_true, tf.float32), tf.cast(y_mask, tf.float32)], axis=-1)


def unpack_targets(y):
    """Split a packed target (..., 2C) into ``y_true`` (..., C) and a bool ``y_mask`` (..., C)."""
    if isinstance(y, np.ndarray):
        y_true, y_mask = np.split(y, 2, axis=-1)
        return y_true, y_mask > 0.5
    y_true, y_mask = ops.split(y, 2, axis=-1)
    return y_true, y_mask > 0.5


@keras.saving.register_keras_serializable(package="airtf")
class MaskedBinaryCrossentropy(keras.losses.Loss):
    """Binary cross-entropy over annotated entries only.

    Takes packed targets (see :func:`pack_targets`) and probabilities
    (batch, C). Targets are ``y_true >= 0.5``; probabilities are clipped to
    [1e-7, 1 - 1e-7]. The loss is the mean over the annotated entries of the
    batch (0 when the batch has none); unannotated entries change neither
    the loss nor its gradients.
    """

    def __init__(self, name="masked_binary_crossentropy", **kwargs):
        super().__init__(name=name, **kwargs)

    def call(self, y_true, y_pred):
        labels, mask = unpack_targets(y_true)
        targets = ops.cast(labels >= THRESHOLD, y_pred.dtype)
        weights = ops.cast(mask, y_pred.dtype)
        entries = ops.binary_crossentropy(targets, y_pred)
        return ops.sum(entries * weights) / ops.maximum(ops.sum(weights), 1.0)


def compile_classifier(model, learning_rate=LEARNING_RATE, *, steps_per_execution=STEPS_PER_EXECUTION,
                       jit_compile=JIT_COMPILE):
    """Compile ``model`` for training: Adam and the masked loss.

    Parameters
    ----------
    model : AttentionClassifier
    learning_rate : float
    steps_per_execution : int
        Training steps per call of the compiled function; batch-level
        callbacks then run every that many steps.
    jit_compile : bool
        Compile training, evaluation and prediction steps with XLA.

    Returns
    -------
    AttentionClassifier
        ``model``, compiled; fit it on packed targets.
    """
    model.compile(optimizer=keras.optimizers.Adam(learning_rate),
                  loss=MaskedBinaryCrossentropy(),
                  steps_per_execution=steps_per_execution, jit_compile=jit_compile)
    return model
