"""Keras ports of musicnn's two architectures, with every feature layer its authors expose.

Both take log-mel patches (batch, 187, 96) and return a dict of named
outputs: the tag probabilities (``taggram``, the sigmoid of the last
layer) and the feature layers of musicnn's ``extractor``:

``musicnn`` (Pons & Serra 2019)
    A musically motivated front end (``timbral``: vertical filters
    spanning 38 and 67 mel bands; ``temporal``: horizontal filters of 128,
    64 and 32 frames), each max-pooled over frequency; a dense mid-end of
    three 1-D convolutions over time (``cnn1`` .. ``cnn3``, residual); a
    back-end pooling the concatenated 753 features over time (``max_pool``,
    ``mean_pool``), then a dense layer (``penultimate``) and the tags.
``vgg``
    Five 3x3 convolutions with max pooling (``pool1`` .. ``pool5``) and a
    dense layer to the tags.

Layers are named by their role; :data:`CHECKPOINT_NAMES` maps each to the
variable scope of musicnn's TF1 checkpoints. Batch normalisation keeps
TensorFlow 1's epsilon (1e-3), which is Keras's.
"""

import functools

import keras

from airtf.musicnn.audio_converter import NUM_MEL_BINS, PATCH_FRAMES

ARCHITECTURES = ("musicnn", "vgg")
LAYERS = {
    "musicnn": ("timbral", "temporal", "cnn1", "cnn2", "cnn3", "mean_pool", "max_pool", "penultimate", "taggram"),
    "vgg": ("pool1", "pool2", "pool3", "pool4", "pool5", "taggram"),
}
"""Architecture -> its outputs, in musicnn's order."""

TIMBRAL_FILTERS = (("timbral_74", 38), ("timbral_77", 67))  # (name, mel bands spanned): 0.4 and 0.7 of 96
TEMPORAL_FILTERS = (("temporal_128", 128), ("temporal_64", 64), ("temporal_32", 32))  # (name, frames)
FRONT_FILTERS = (204, 51)  # timbral, temporal: musicnn's 1.6 x 128 and 1.6 x 32
VGG_POOLS = ((4, 1), (2, 2), (2, 2), (2, 2), (4, 4))  # pool size of each block
VGG_POOL_STRIDES = ((2, 2), (2, 2), (2, 2), (2, 2), (4, 4))


def _musicnn_checkpoint_names():
    convolutions = [name for name, _ in TIMBRAL_FILTERS + TEMPORAL_FILTERS] + ["midend_1", "midend_2", "midend_3"]
    names = {"input_bn": "batch_normalization"}
    for index, name in enumerate(convolutions):
        names[name] = "conv2d" if index == 0 else f"conv2d_{index}"
        names[f"{name}_bn"] = f"batch_normalization_{index + 1}"
    names.update(pooled_bn="batch_normalization_9", dense="dense", penultimate="batch_normalization_10",
                 logits="dense_1")
    return names


def _vgg_checkpoint_names():
    names = {"input_bn": "batch_normalization", "logits": "dense"}
    for block in range(1, 6):
        names[f"conv{block}"] = f"{block}CNN"
        names[f"conv{block}_bn"] = f"batch_normalization_{block}"
    return names


CHECKPOINT_NAMES = {"musicnn": _musicnn_checkpoint_names(), "vgg": _vgg_checkpoint_names()}
"""Architecture -> {Keras layer name: TF1 variable scope} of every layer with weights, in creation order."""


def _conv_block(x, name, filters, kernel, padding, initializer):
    """Convolution with ReLU, then batch normalisation (musicnn's order)."""
    x = keras.layers.Conv2D(filters, kernel, padding=padding, activation="relu", name=name,
                            kernel_initializer=initializer)(x)
    return keras.layers.BatchNormalization(epsilon=1e-3, name=f"{name}_bn")(x)


def _max_over_frequency(x, name):
    """(batch, time, bands, channels) -> (batch, time, channels): the maximum over bands."""
    x = keras.layers.MaxPooling2D((1, x.shape[2]), name=f"{name}_pool")(x)
    return keras.layers.Reshape((-1, x.shape[-1]), name=f"{name}_frames")(x)


def _time_padded(x, name):
    """Three frames of zeros before and after: a 'same' 7-frame convolution made 'valid'."""
    return keras.layers.ZeroPadding2D(((3, 3), (0, 0)), name=f"{name}_padded")(x)


def _as_image(x, name):
    """(batch, time, features) -> (batch, time, features, 1)."""
    return keras.layers.Reshape((-1, x.shape[-1], 1), name=name)(x)


def build_musicnn(num_tags=50, midend_filters=64, backend_units=200, initializer="glorot_uniform"):
    """The musicnn architecture: log-mel patches (batch, 187, 96) to a dict of its outputs (:data:`LAYERS`)."""
    patches = keras.Input((PATCH_FRAMES, NUM_MEL_BINS), name="log_mel_patches")
    x = keras.layers.BatchNormalization(epsilon=1e-3, name="input_bn")(_as_image(patches, "add_channel"))
    padded = _time_padded(x, "front")
    timbral = [_max_over_frequency(_conv_block(padded, name, FRONT_FILTERS[0], (7, bands), "valid", initializer),
                                   name) for name, bands in TIMBRAL_FILTERS]
    temporal = [_max_over_frequency(_conv_block(x, name, FRONT_FILTERS[1], (frames, 1), "same", initializer),
                                    name) for name, frames in TEMPORAL_FILTERS]
    front = keras.layers.Concatenate(name="front_end")(timbral + temporal)
    midend = [front]
    previous = _as_image(front, "front_image")
    for index in (1, 2, 3):
        name = f"midend_{index}"
        x = _conv_block(_time_padded(previous, name), name, midend_filters, (7, previous.shape[2]), "valid",
                        initializer)
        x = keras.layers.Reshape((-1, midend_filters), name=f"cnn{index}")(x)
        if index > 1:
            x = keras.layers.Add(name=f"cnn{index}_residual")([x, midend[-1]])
        midend.append(x)
        previous = _as_image(x, f"{name}_image")
    features = keras.layers.Concatenate(name="midend")(midend)
    max_pool = keras.layers.GlobalMaxPooling1D(name="max_pool")(features)
    mean_pool = keras.layers.GlobalAveragePooling1D(name="mean_pool")(features)
    # musicnn flattens [max, mean] stacked on a last axis: the two interleave feature by feature
    pooled = keras.layers.Concatenate(name="pooled_pairs")([keras.layers.Reshape((-1, 1))(max_pool),
                                                             keras.layers.Reshape((-1, 1))(mean_pool)])
    pooled = keras.layers.BatchNormalization(epsilon=1e-3, name="pooled_bn")(keras.layers.Flatten()(pooled))
    dense = keras.layers.Dense(backend_units, activation="relu", name="dense", kernel_initializer=initializer)(
        keras.layers.Dropout(0.5)(pooled))
    penultimate = keras.layers.BatchNormalization(epsilon=1e-3, name="penultimate")(dense)
    logits = keras.layers.Dense(num_tags, name="logits", kernel_initializer=initializer)(
        keras.layers.Dropout(0.5)(penultimate))
    outputs = {"timbral": keras.layers.Concatenate(name="timbral")(timbral),
               "temporal": keras.layers.Concatenate(name="temporal")(temporal),
               "cnn1": midend[1], "cnn2": midend[2], "cnn3": midend[3], "mean_pool": mean_pool,
               "max_pool": max_pool, "penultimate": penultimate,
               "taggram": keras.layers.Activation("sigmoid", name="taggram")(logits)}
    return keras.Model(patches, outputs, name="musicnn")


def build_vgg(num_tags=50, filters=128, initializer="glorot_uniform"):
    """musicnn's vgg baseline: log-mel patches (batch, 187, 96) to a dict of its outputs (:data:`LAYERS`)."""
    patches = keras.Input((PATCH_FRAMES, NUM_MEL_BINS), name="log_mel_patches")
    x = keras.layers.BatchNormalization(epsilon=1e-3, name="input_bn")(_as_image(patches, "add_channel"))
    outputs = {}
    for block, (size, strides) in enumerate(zip(VGG_POOLS, VGG_POOL_STRIDES), start=1):
        x = _conv_block(x, f"conv{block}", filters, 3, "same", initializer)
        x = keras.layers.MaxPooling2D(size, strides=strides, name=f"pool{block}")(x)
        outputs[f"pool{block}"] = x
        x = keras.layers.Dropout(0.25 if block < 5 else 0.5)(x)
    logits = keras.layers.Dense(num_tags, name="logits", kernel_initializer=initializer)(keras.layers.Flatten()(x))
    outputs["taggram"] = keras.layers.Activation("sigmoid", name="taggram")(logits)
    return keras.Model(patches, outputs, name="vgg")


@functools.lru_cache(maxsize=None)
def output_shapes(architecture, num_tags=50):
    """Output name -> the shape of one patch's output (without the batch axis)."""
    model = build(architecture, num_tags, initializer="zeros")
    return {name: tuple(tensor.shape[1:]) for name, tensor in model.output.items()}


def build(architecture, num_tags=50, initializer="glorot_uniform"):
    """The model of ``architecture`` ("musicnn" or "vgg") as musicnn's released checkpoints hold it."""
    builders = {"musicnn": build_musicnn, "vgg": build_vgg}
    if architecture not in builders:
        raise ValueError(f"unknown musicnn architecture {architecture!r}; choose one of {ARCHITECTURES}")
    return builders[architecture](num_tags=num_tags, initializer=initializer)
