"""A TF1 VGGish graph with the official variable names, for the tests.

It writes checkpoints in the official format (tf.compat.v1 Saver, V1 or V2)
and computes embeddings the way the official slim graph does, so the Keras
backbone can be checked against it without the real 288 MB file.
"""

import numpy as np
import tensorflow as tf

v1 = tf.compat.v1

CONV_STACK = [  # (scope inside "vggish", filters, max-pool after it)
    ("conv1", 64, True),
    ("conv2", 128, True),
    ("conv3/conv3_1", 256, False),
    ("conv3/conv3_2", 256, True),
    ("conv4/conv4_1", 512, False),
    ("conv4/conv4_2", 512, True),
]
DENSE_STACK = [("fc1/fc1_1", 4096), ("fc1/fc1_2", 4096), ("fc2", 128)]
WRITE_VERSIONS = {"V1": v1.train.SaverDef.V1, "V2": v1.train.SaverDef.V2}


def _variables(scope, kernel_shape, rng, values):
    """Kernel and bias variables; their random values (none without ``rng``) are fed in after initialisation."""
    fan_in = int(np.prod(kernel_shape[:-1]))
    with v1.variable_scope(scope):
        kernel = v1.get_variable("weights", kernel_shape, initializer=v1.zeros_initializer())
        bias = v1.get_variable("biases", kernel_shape[-1:], initializer=v1.zeros_initializer())
    if rng is None:
        return kernel, bias
    values[kernel] = rng.standard_normal(kernel_shape, dtype=np.float32) * np.float32(np.sqrt(2.0 / fan_in))
    values[bias] = rng.standard_normal(kernel_shape[-1:], dtype=np.float32) * np.float32(0.05)
    return kernel, bias


def _build(seed):
    """Inputs placeholder, embedding tensor and random variable values (none for seed None) of a VGGish graph."""
    rng = None if seed is None else np.random.default_rng(seed)
    values = {}
    features = v1.placeholder(tf.float32, (None, 96, 64), name="input_features")
    x = tf.reshape(features, (-1, 96, 64, 1))
    with v1.variable_scope("vggish"):
        channels = 1
        for scope, filters, pool in CONV_STACK:
            kernel, bias = _variables(scope, (3, 3, channels, filters), rng, values)
            x = tf.nn.relu(tf.nn.conv2d(x, kernel, strides=1, padding="SAME") + bias)
            if pool:
                x = tf.nn.max_pool2d(x, ksize=2, strides=2, padding="SAME")
            channels = filters
        x = tf.reshape(x, (-1, 6 * 4 * 512))
        for scope, units in DENSE_STACK:
            kernel, bias = _variables(scope, (int(x.shape[-1]), units), rng, values)
            x = tf.matmul(x, kernel) + bias
            if scope != "fc2":
                x = tf.nn.relu(x)
    return features, x, values


def write_checkpoint(path, examples, version="V1", seed=0):
    """Save a random VGGish in the official checkpoint format.

    Returns the embeddings of ``examples`` (N, 96, 64) computed by the TF1
    graph, for both fc2 variants: {"audioset-2017": ..., "audioset-2020": ...}.
    """
    graph = tf.Graph()
    with graph.as_default():
        features, linear, values = _build(seed)
        saver = v1.train.Saver(write_version=WRITE_VERSIONS[version])
        with v1.Session(graph=graph) as session:
            for variable, value in values.items():
                variable.load(value, session)
            saver.save(session, str(path), write_meta_graph=False)
            embeddings = session.run(linear, {features: examples})
    return {"audioset-2020": embeddings, "audioset-2017": np.maximum(embeddings, 0.0)}


def write_variables(path, arrays, version="V1"):
    """Save arbitrary named arrays as a TF1 checkpoint (for malformed-checkpoint tests)."""
    graph = tf.Graph()
    with graph.as_default():
        variables = {v1.get_variable(name, initializer=value): value for name, value in arrays.items()}
        with v1.Session(graph=graph) as session:
            session.run(v1.global_variables_initializer())
            v1.train.Saver(list(variables), write_version=WRITE_VERSIONS[version]).save(
                session, str(path), write_meta_graph=False)


def restored_session(path, variant="audioset-2017"):
    """The graph restored from the checkpoint at ``path`` by a Saver, as the official code does.

    Returns ``(session, input placeholder, embedding tensor)``; the 2017
    variant has a ReLU after fc2.
    """
    graph = tf.Graph()
    with graph.as_default():
        features, linear, _ = _build(None)
        embedding = tf.nn.relu(linear) if variant == "audioset-2017" else linear
        session = v1.Session(graph=graph)
        v1.train.Saver().restore(session, str(path))
    return session, features, embedding


def official_postprocess(embeddings, means, eigen_vectors):
    """The official numpy post-processing, written from its definition: PCA, clip to [-2, 2], 8 bits."""
    projected = np.dot(eigen_vectors, embeddings.T - means.reshape(-1, 1)).T
    clipped = np.clip(projected, -2.0, 2.0)
    return ((clipped + 2.0) * (255.0 / 4.0)).astype(np.uint8)
