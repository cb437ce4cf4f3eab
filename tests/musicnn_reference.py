"""Run musicnn's own TF1 graph (the installed musicnn 0.1.0 package) on given log-mel patches.

Usage: python musicnn_reference.py MODEL PATCHES.npz OUT.npz, MODEL being MTT_musicnn, MTT_vgg, ...
Reads ``patches`` (n, 187, 96) float32 and writes the taggram (the sigmoid of
its logits) and every feature layer its ``models.define_model`` returns,
under the names of musicnn's extractor. Run in a process of its own: musicnn
needs graph mode and the legacy Keras layers (TF_USE_LEGACY_KERAS=1, tf_keras).
"""

import os
import sys
from pathlib import Path

os.environ["TF_USE_LEGACY_KERAS"] = "1"

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

FEATURES = {"musicnn": ("timbral", "temporal", "cnn1", "cnn2", "cnn3", "mean_pool", "max_pool", "penultimate"),
            "vgg": ("pool1", "pool2", "pool3", "pool4", "pool5")}


def main(model, patches_file, out_file):
    tf.compat.v1.disable_eager_execution()
    from musicnn import models

    patches = np.load(patches_file)["patches"]
    inputs = tf.compat.v1.placeholder(tf.float32, [None, *patches.shape[1:]])
    training = tf.compat.v1.placeholder(tf.bool)
    logits, *features = models.define_model(inputs, training, model, 50)
    session = tf.compat.v1.Session()
    tf.compat.v1.train.Saver().restore(session, f"{Path(models.__file__).parent / model}/")
    values = session.run([tf.nn.sigmoid(logits), *features], {inputs: patches, training: False})
    names = ("taggram", *FEATURES["vgg" if "vgg" in model else "musicnn"])
    np.savez(out_file, **dict(zip(names, values)))


if __name__ == "__main__":
    main(*sys.argv[1:])
