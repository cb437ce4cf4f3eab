"""airtf: VGGish features, pre-training objectives and the attention classifier
for music instrument recognition, in Keras/TensorFlow.

The public API (TensorFlow is imported on first use, not here)::

    import airtf

    features, time_points = airtf.embed("clip.ogg", output="pca")        # as airtf-extract writes them
    recognizer = airtf.load_recognizer("export/")                        # an airtf-export folder
    prediction = recognizer.predict("clip.ogg")                          # instruments and when they play

May import: airtf.params, airtf.api.
"""

from airtf.api import Recognizer, embed, load_recognizer
from airtf.params import VERSION as __version__

__all__ = ["Recognizer", "embed", "load_recognizer", "__version__"]
