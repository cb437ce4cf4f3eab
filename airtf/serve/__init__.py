"""Shipping a trained recogniser: export it, and predict with it on files of any length.

``export``
    airtf-export: a SavedModel that takes a 16 kHz waveform of any length.
``predict``
    Streaming prediction (airtf-predict, :meth:`airtf.Recognizer.predict`) in
    flat memory.
``portable``
    LiteRT and ONNX recognisers and embedders (airtf-export --format litert|onnx), builtin operations only.
``runtimes``
    Running those recognisers (airtf-predict --model FILE.tflite|FILE.onnx) without TensorFlow.
``signatures``
    The names of the exports' entry points and outputs, shared by the writers and the runners.
``tags``
    A music tagger's own tags for files (airtf-predict --tags).

May import: airtf.params, airtf.errors, airtf.support, airtf.audio, airtf.vggish, airtf.musicnn, airtf.features,
airtf.runs, airtf.classify.
"""
