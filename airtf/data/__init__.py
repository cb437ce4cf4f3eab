"""Dataset loaders: each reads one data set in its released layout into tf.data.

``pipeline`` holds what they share (audio files to log-mel examples, with an
on-disk cache); ``openmic``, ``nsynth`` and ``freesound`` read one data set
each; ``demo`` renders demo data sets in those layouts.
"""
