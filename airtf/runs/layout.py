"""Every file name in airtf's run directories, in one place.

Every run directory (:class:`airtf.runs.run_directory.Run`)::

    config.json                      what the run does; a rerun must match it
    logs/train/, logs/validation/    TensorBoard (:mod:`airtf.runs.summaries`)
    history.csv                      one row per epoch
    backup/                          the training state until the run has written everything
    checkpoints/best.weights.h5      the best epoch's weights; last.weights.h5 the last one's

airtf-pretrain adds ``vggish.weights.h5``, the trained backbone (what
``--weights RUN_DIR`` loads). airtf-eval's folder holds ``split.json`` (its
clips, :mod:`airtf.datasets.openmic`), ``feature_spec.json``,
``classes.json``, ``scores.json``, ``scores.csv``, ``attention.keras`` (the
best seed's classifier), the two plots, and one run directory per seed,
``seed-<s>/``, with ``test_predictions.npz``, ``scores.json`` and
``checkpoints/best-val-loss.weights.h5``. airtf-compare writes
``comparison.json``, ``comparison.csv`` and the two plots.
"""

CONFIG_NAME = "config.json"
LOGS_FOLDER = "logs"
HISTORY_NAME = "history.csv"
BACKUP_FOLDER = "backup"
CHECKPOINTS_FOLDER = "checkpoints"
BEST_WEIGHTS = "best.weights.h5"
LAST_WEIGHTS = "last.weights.h5"

BACKBONE_NAME = "vggish.weights.h5"
"""The backbone a pre-training run directory holds."""

SCORES_NAME = "scores.json"
SCORES_CSV_NAME = "scores.csv"
FEATURE_SPEC_NAME = "feature_spec.json"
CLASSES_NAME = "classes.json"
MODEL_NAME = "attention.keras"
PREDICTIONS_NAME = "test_predictions.npz"
BEST_LOSS_WEIGHTS = "best-val-loss.weights.h5"
INSTRUMENT_PLOT = "f1_per_instrument.png"
SEEDS_PLOT = "f1_over_seeds.png"
COMPARISON_JSON = "comparison.json"
COMPARISON_CSV = "comparison.csv"
