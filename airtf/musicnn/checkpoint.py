"""musicnn's released TF1 checkpoints read into the Keras ports by variable name.

A checkpoint is a V2 prefix: in musicnn's wheel the folder ``MTT_musicnn/``
holds ``.index`` and ``.data-00000-of-00001`` (an empty file name), so the
prefix is the folder with a trailing separator. Adam's slots and the other
training variables in the file are ignored.
"""

from pathlib import Path

from airtf.errors import CheckpointError, first_line
from airtf.musicnn.backbone import CHECKPOINT_NAMES
from airtf.musicnn.presets import CHECKPOINT_FILES

WEIGHT_NAMES = {"Conv2D": ("kernel", "bias"), "Dense": ("kernel", "bias"),
                "BatchNormalization": ("gamma", "beta", "moving_mean", "moving_variance")}
"""Keras layer class -> the TF1 variable names of its weights, in Keras's order."""


def checkpoint_prefix(folder):
    """The V2 prefix of the checkpoint in ``folder``; a CheckpointError when its files are not there."""
    folder = Path(folder)
    missing = [name for name in CHECKPOINT_FILES if not (folder / name).is_file()]
    if missing:
        raise CheckpointError(f"{folder}: no musicnn checkpoint here ({', '.join(missing)} missing); pass a folder "
                              "of musicnn's wheel such as MTT_musicnn/, or run `airtf-weights fetch musicnn`")
    return f"{folder}/"


def load_checkpoint(model, architecture, folder):
    """Set a port's weights from the musicnn checkpoint in ``folder``; returns the model.

    Raises
    ------
    CheckpointError
        Unreadable files, a missing variable or a shape that does not fit,
        naming the folder and the variable.
    """
    import tensorflow as tf

    prefix = checkpoint_prefix(folder)
    try:
        reader = tf.compat.v1.train.NewCheckpointReader(prefix)  # the folder as a prefix, not its "checkpoint" file
        shapes = reader.get_variable_to_shape_map()
    except Exception as error:  # TensorFlow raises several kinds for a bad file
        raise CheckpointError(f"{folder}: not a readable TensorFlow checkpoint ({first_line(error)}); fetch the "
                              "musicnn files again (`airtf-weights fetch musicnn`)") from None
    for layer_name, scope in CHECKPOINT_NAMES[architecture].items():
        layer = model.get_layer(layer_name)
        for variable, kind in zip(layer.weights, WEIGHT_NAMES[type(layer).__name__]):
            name = f"{scope}/{kind}"
            if name not in shapes:
                raise CheckpointError(f"{folder}: variable {name} is missing; this is not a {architecture} "
                                      "checkpoint of musicnn: pass the folder of the right model")
            if tuple(shapes[name]) != tuple(variable.shape):
                raise CheckpointError(f"{folder}: variable {name} has shape {shapes[name]}, the {architecture} "
                                      f"port needs {list(variable.shape)}; pass the folder of a {architecture} model")
            try:
                variable.assign(reader.get_tensor(name))
            except Exception as error:  # a truncated data file
                raise CheckpointError(f"{folder}: cannot read variable {name} ({first_line(error)}); the data file "
                                      "is damaged: fetch the musicnn files again") from None
    return model
