"""Run directories: everything a training run made, kept whole through kills and full disks.

``layout``
    Every file name of every run directory, in one place.
``run_directory``
    The config a rerun must match, history.csv and the best
    epoch, the training callbacks that keep weights and stop early, loading
    and saving weights.
``backup``
    The per-epoch commit that makes a killed run resume exactly.
``summaries``
    TensorBoard logs: one writer per folder, NaN never drawn, images, HParams.
``plans``
    What a run will take (time, disk) before it starts (``--dry-run``).
``reproducible``
    Deterministic runs (``--deterministic``).

May import: airtf.params, airtf.errors, airtf.support.
"""
