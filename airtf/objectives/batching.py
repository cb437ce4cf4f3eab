"""The batching every objective shares: shuffled training batches, validation batches in order."""

from airtf.datasets.pipeline import AUTOTUNE

SHUFFLE_BUFFER = 1024
"""Examples held by the training shuffle."""


def training_batches(dataset, batch_size, seed, buffer=SHUFFLE_BUFFER):
    """Shuffle (``buffer`` examples, reshuffled every epoch from ``seed``), batch and prefetch a training set."""
    return dataset.shuffle(buffer, seed=seed, reshuffle_each_iteration=True).batch(batch_size).prefetch(AUTOTUNE)


def validation_batches(dataset, batch_size):
    """Batch and prefetch a validation set, in its order, so that every evaluation sees the same batches."""
    return dataset.batch(batch_size).prefetch(AUTOTUNE)
