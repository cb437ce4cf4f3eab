"""The batching every objective shares: shuffled training batches, validation batches in order."""

import keras

from airtf.datasets.pipeline import AUTOTUNE

SHUFFLE_BUFFER = 1024
"""Examples held by the training shuffle."""


class EpochOrder(keras.callbacks.Callback):
    """Shuffles a training set anew every epoch, in an order given by the seed and the epoch alone.

    tf.data's ``reshuffle_each_iteration`` draws each epoch's order from a
    generator that starts over in every process, so a run resumed in epoch
    3 would see epoch 1's order again; here the epoch (set as each begins)
    picks the order, so a resumed epoch sees the examples an uninterrupted
    one does.

    Parameters
    ----------
    seed : int
    """

    def __init__(self, seed):
        super().__init__()
        import tensorflow as tf

        self.seed = seed
        self.epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="shuffled_epoch")

    def shuffled(self, dataset, buffer):
        """``dataset`` shuffled through ``buffer`` examples in the current epoch's order."""
        import tensorflow as tf

        def in_epoch_order(_):
            # Within this function's graph the seed pair is (seed + 1, epoch): a graph seed of 0 (Keras's
            # set_random_seed(0)) would make TensorFlow compare the epoch tensor as a Python bool.
            tf.random.set_seed(self.seed + 1)
            return dataset.shuffle(buffer, seed=self.epoch, reshuffle_each_iteration=False)

        return tf.data.Dataset.from_tensors(0).flat_map(in_epoch_order)

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch.assign(epoch)


def training_batches(dataset, batch_size, seed, buffer=SHUFFLE_BUFFER):
    """Shuffle (``buffer`` examples, in an order of ``seed`` and the epoch), batch and prefetch a training set.

    Returns
    -------
    batches : tf.data.Dataset
    order : EpochOrder
        The callback that sets the epoch: fit must have it (in ``Datasets.callbacks``).
    """
    order = EpochOrder(seed)
    return order.shuffled(dataset, buffer).batch(batch_size).prefetch(AUTOTUNE), order


def validation_batches(dataset, batch_size):
    """Batch and prefetch a validation set, in its order, so that every evaluation sees the same batches."""
    return dataset.batch(batch_size).prefetch(AUTOTUNE)
