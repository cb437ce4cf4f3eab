"""Which examples of a sound become elements: what the NSynth and Freesound loaders share.

Which examples of a sound to use
--------------------------------
A sound gives one VGGish example per 0.96 s. The ``examples`` option of the
loaders chooses which of them become dataset elements:

``"first"`` (default)
    The example at 0 s only: NSynth notes and most tagged sounds start at
    their onset.
``"all"``
    Every example of the sound, in order.
a sequence of indices, e.g. ``[0, 2]``
    The examples at those positions (example ``i`` starts at ``0.96 i`` s);
    positions past the end of a sound are left out for that sound.

Each chosen example is its own element, carrying the labels of its sound, so
elements are always ``(96, 64)`` examples and batch directly.
"""

import numbers

from airtf.datasets.pipeline import AUTOTUNE

EXAMPLE_CHOICES = ("first", "all")
"""The named values of the ``examples`` option (see the module docstring)."""


def example_indices(examples, available=None):
    """Validate the ``examples`` option and return the positions it selects.

    Parameters
    ----------
    examples : {"first", "all"} or sequence of int
        See the module docstring.
    available : int or None
        Examples every sound has, where known (4 for NSynth's 4 s notes);
        positions beyond it are refused.

    Returns
    -------
    tuple of int or None
        The positions, or None for all of them.

    Raises
    ------
    ValueError
        An unknown name, an empty, negative, repeated or out-of-range index.
    """
    if isinstance(examples, str):
        if examples not in EXAMPLE_CHOICES:
            raise ValueError(f"examples={examples!r}: use 'first', 'all' or a list of example indices")
        return (0,) if examples == "first" else None
    indices = tuple(examples)
    if not indices or not all(_is_index(index) for index in indices):
        raise ValueError(f"examples={examples!r}: give one or more non-negative integer indices")
    if len(set(indices)) != len(indices):
        raise ValueError(f"examples={examples!r}: each index may be given once")
    if available is not None and max(indices) >= available:
        raise ValueError(
            f"examples={examples!r}: a sound here has {available} examples, indices 0 to {available - 1}"
        )
    return tuple(int(index) for index in indices)


def _is_index(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool) and value >= 0


def _chosen(examples, indices):
    """The examples at ``indices`` (None: all) that a sound has."""
    import tensorflow as tf

    if indices is None:
        return examples
    positions = tf.constant(indices, tf.int32)
    present = tf.boolean_mask(positions, positions < tf.shape(examples)[0])
    return tf.gather(examples, present)


def one_example_per_element(dataset, indices):
    """Turn elements ``(examples (n, 96, 64), labels)`` into one element per chosen example.

    Parameters
    ----------
    dataset : tf.data.Dataset
        One element per sound: its examples and its labels (any nest of tensors).
    indices : tuple of int or None
        From :func:`example_indices`.

    Returns
    -------
    tf.data.Dataset
        Elements ``(example (96, 64), labels)``, prefetched.
    """
    import tensorflow as tf

    def chosen_with_labels(examples, labels):
        chosen = _chosen(examples, indices)
        count = tf.shape(chosen)[0]
        repeated = tf.nest.map_structure(lambda label: tf.repeat(label[tf.newaxis], count, axis=0), labels)
        return chosen, repeated

    return dataset.map(chosen_with_labels, num_parallel_calls=AUTOTUNE).unbatch().prefetch(AUTOTUNE)
