"""Demo data sets rendered from a General MIDI soundfont, in the released layouts.

``sets`` renders OpenMIC-2018, NSynth and Freesound sets; ``synth`` plays
parts with tinysoundfont, ``music`` writes the parts, ``gm`` maps General
MIDI programs to instrument classes and families, ``qualities`` and
``effects`` give NSynth notes their qualities.

May import: airtf.params, airtf.errors, airtf.support, airtf.datasets.
"""

SETS = ("openmic", "nsynth", "freesound")
DEFAULT_SIZES = {"openmic": 300, "nsynth": 200, "freesound": 200}
"""Clips, notes and clips of each set (NSynth with 4 notes per instrument)."""
