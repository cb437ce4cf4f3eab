"""Data sets read in their released layouts, into tf.data pipelines.

``openmic``, ``nsynth`` and ``freesound`` read one data set each, behind
the one base class of ``base`` (validate, splits, labels, log-mel and
feature views); ``pipeline`` holds what they share (audio files to log-mel
examples, with an on-disk cache), ``sounds`` which examples of a sound become
elements, ``npz`` reading a user's .npz without pickle. Nothing here imports
model, extraction, training or evaluation code: whoever needs a model's
features of a data set hands the model to its feature view.
"""
