"""The official TF1 checkpoint (V1 or V2) read into the Keras backbone.

Each layer of :func:`airtf.vggish.backbone.build_backbone` maps to one
official variable scope (``<scope>/weights``, ``<scope>/biases``).
"""

from pathlib import Path

import numpy as np

from airtf.errors import CheckpointError, first_line

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
