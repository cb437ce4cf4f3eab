"""Data sets read in their released layouts, into tf.data pipelines.

``openmic``, ``nsynth`` and ``freesound`` read one data set each, behind
the one base class of ``base`` (validate, splits, labels, log-mel and
feature views); ``pipeline`` holds what they share (audio files to log-mel
examples, with an on-disk cache), ``sounds`` which examples of a sound become
elements, ``npz`` reading a user's .npz without pickle, ``releases``
downloading the published releases. Nothing here imports model, extraction,
training or evaluation code: whoever needs a model's features of a data set
hands the model to its feature view. The log-mel views take VGGish's front
end (its audio converter) until the feature engine owns them.

May import: airtf.params, airtf.errors, airtf.support, airtf.audio, airtf.vggish.audio_converter.
"""
