"""Stage one: pre-training the VGGish backbone on an objective other than instrument recognition.

``training``
    The pre-training run (airtf-pretrain): data, model, callbacks, resume, plans.
``objectives``
    One package per objective (textual, den-add/den-mul, align, pitch),
    discovered, declared without Keras.
``wordvectors``
    Word vectors for the textual objective.

May import: airtf.params, airtf.errors, airtf.support, airtf.audio, airtf.vggish, airtf.datasets, airtf.runs.
"""
