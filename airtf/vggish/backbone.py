"""The VGGish backbone: a Keras functional model of log-mel examples to 128-d embeddings.

Its layers carry the names of the official TF1 scopes (conv1 ... fc2), so
that a weight maps to one checkpoint variable by name
(:mod:`airtf.vggish.checkpoint`). Two variants exist:

``audioset-2017``
    The original release: ReLU after fc2. It computed the AudioSet and
    OpenMIC-2018 released features, and it is what the paper describes.
    The default.
``audioset-2020``
    Today's official code: fc2 is linear.

Both load the same checkpoint; only the activation of fc2 differs.
"""

import keras

from airtf import params

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


def build_backbone(variant=DEFAULT_VARIANT, name="vggish", kernel_initializer="glorot_uniform"):
    """Build the VGGish backbone, randomly initialised (Glorot uniform).

    Parameters
    ----------
    variant : {"audioset-2017", "audioset-2020"}
        Whether fc2 has a ReLU (2017) or is linear (2020).
    name : str
        The model's name.
    kernel_initializer : str
        ``"zeros"`` for a model whose weights are loaded next: drawing
        72 M random values takes seconds.

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
        x = keras.layers.Conv2D(filters, 3, padding="same", activation="relu", name=layer_name,
                                kernel_initializer=kernel_initializer)(x)
        if pool_name:
            x = keras.layers.MaxPooling2D(2, strides=2, padding="same", name=pool_name)(x)
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dense(4096, activation="relu", name="fc1_1", kernel_initializer=kernel_initializer)(x)
    x = keras.layers.Dense(4096, activation="relu", name="fc1_2", kernel_initializer=kernel_initializer)(x)
    embedding = keras.layers.Dense(params.EMBEDDING_SIZE, activation=VARIANTS[variant], name="fc2",
                                   kernel_initializer=kernel_initializer)(x)
    return keras.Model(log_mel, embedding, name=name)
