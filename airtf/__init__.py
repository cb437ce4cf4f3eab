"""airtf: VGGish features, pre-training objectives and the attention classifier
for music instrument recognition, in Keras/TensorFlow."""

__version__ = "0.1.0"
