"""Plumbing every stage shares, knowing nothing of audio, data sets or models.

``files``
    Atomic writes, JSON and .npz files, free space, paths as messages show them.
``array_cache``
    The one cache of arrays computed from audio files: one key, .npy entries read without pickle.
``downloads``
    The one download-and-verify path: resumable, size- and sha256-checked, disk checked first.
``archives``
    Unpacking release archives without leaving their folder.
``locks``
    One process at a time in a run directory or a download folder.
``numbers``, ``interrupts``, ``native_logs``, ``lean_imports``
    Checked command-line numbers, Ctrl-C that keeps finished work, TensorFlow's
    native log lines filtered, and Keras imported without scikit-learn and
    matplotlib.

May import: airtf.params, airtf.errors.
"""
