"""The console scripts: argparse only at module level, so that every ``--help`` loads no TensorFlow.

Each command module parses its arguments with ``common``'s helpers and
imports the stage it runs inside ``main``.

May import: airtf.params, airtf.errors, airtf.support, airtf.audio, airtf.vggish, airtf.musicnn, airtf.datasets,
airtf.features, airtf.runs, airtf.pretrain, airtf.classify, airtf.serve, airtf.demo.
"""
