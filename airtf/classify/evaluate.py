"""airtf-eval's library: the attention classifier trained on one feature set, over seeds.

With ``classifier="random-forest"`` each seed fits the cosmir baseline
instead (:mod:`airtf.classify.forest`): no epochs, checkpoints, TensorBoard
logs or attention.keras, the same scores, predictions and comparisons.

:func:`evaluate` trains an :class:`airtf.classify.attention.AttentionClassifier` on
the training split of OpenMIC-2018, keeps the epoch with the best validation
F1-macro, scores it on the test partition (split01_test), once per seed, and
writes everything into a run directory::

    RUN_DIR/
        config.json          the command's settings and the FeatureSpec (see airtf.runs.run_directory)
        split.json           train / validation / test keys (airtf.datasets.openmic.write_split)
        feature_spec.json    the FeatureSpec with its fitted statistics (airtf.features.feature_sets)
        classes.json         instrument names in class-map order
        seed-<s>/            one airtf.runs.run_directory.Run per seed:
            config.json, history.csv, backup/ (while unfinished)
            logs/train, logs/validation   TensorBoard (airtf.runs.summaries): loss per epoch;
                                          validation also f1/overall, f1/<instrument>,
                                          f1/instruments_scored and the attention maps of a
                                          few validation clips (images)
            checkpoints/best.weights.h5           best validation F1-macro (the epoch kept)
            checkpoints/best-val-loss.weights.h5  best validation loss
            checkpoints/last.weights.h5
            attention.keras       the classifier at the kept epoch (model.save)
            test_predictions.npz  sample_key, y_prob of the test clips
            scores.json           test scores per instrument; written last: the seed is done
        scores.json          per seed, mean and std over seeds, the best seed
        scores.csv           per instrument: mean and std of each score, F1 of each seed
        f1_per_instrument.png, f1_over_seeds.png
        attention.keras      the classifier of the seed with the best validation F1-macro

Rerunning the same command skips finished seeds and resumes an interrupted
one from its last finished epoch. A different configuration is refused;
``overwrite=True`` deletes what an earlier airtf-eval wrote there and starts
afresh.
"""

import dataclasses
import math
import shutil
import tempfile
import time
import warnings
from pathlib import Path

import keras
import numpy as np

from airtf import params
from airtf.classify import attention, figures, forest, metrics, reporting
from airtf.datasets import openmic
from airtf.datasets.openmic import EXAMPLES_PER_CLIP, OpenMIC
from airtf.errors import AirtfError, AirtfWarning
from airtf.features import feature_sets
from airtf.runs import plans, reproducible, run_directory, summaries
from airtf.runs.layout import (BEST_LOSS_WEIGHTS, CLASSES_NAME, CONFIG_NAME, FEATURE_SPEC_NAME, INSTRUMENT_PLOT,
                               MODEL_NAME, PREDICTIONS_NAME, SCORES_CSV_NAME, SCORES_NAME, SEEDS_PLOT)
from airtf.support import locks
from airtf.support.files import atomic_path, check_writable, display, feature_cache, write_json, write_npz

SEEDS = params.CLASSIFIER_SEEDS
NORMS = attention.NORMS
OUTPUTS = (CONFIG_NAME, openmic.SPLIT_NAME, FEATURE_SPEC_NAME, CLASSES_NAME, SCORES_NAME, SCORES_CSV_NAME,
           INSTRUMENT_PLOT, SEEDS_PLOT, MODEL_NAME)
"""Top-level files an airtf-eval run writes (seed-<s>/ folders besides)."""
COMMAND = "airtf-eval"
MONITOR = "val_f1_macro"
TIE_BREAKER = "val_loss"
"""The epoch kept has the best validation F1-macro; of equal ones, the lowest validation loss."""
ATTENTION_CLIPS = 4
"""Validation clips whose attention maps go to TensorBoard."""
PLANNED_BATCHES = 8
"""Batches a plan fits to time the classifier's training steps."""
PLANNED_EPOCHS = 3
"""Epochs a plan fits with the seed's callbacks to time an epoch's fixed cost."""
CLIP_SECONDS = EXAMPLES_PER_CLIP * params.EXAMPLE_HOP_SECONDS
"""What the frames of a clip's features span, for the time axis of the attention maps."""
IMAGE_EVERY = 10
"""Epochs between two attention-map images (the first and last epochs are always written)."""


class SparseValidationWarning(AirtfWarning):
    """The validation split cannot score every instrument (no positive or no negative annotation)."""


@dataclasses.dataclass(frozen=True)
class Settings:
    """What an airtf-eval run does; all of it goes into config.json.

    Attributes
    ----------
    features : "pca", "norm", "random", "logmel", or a pre-training run
        directory or weights file (see :mod:`airtf.features.feature_sets`).
    data : the OpenMIC-2018 folder.
    seeds : one classifier is trained per seed.
    epochs, batch_size, learning_rate : training (the paper: 350, 128, 5e-4).
    norm : "group" (the paper) or "batch" normalisation in the classifier.
    classifier : "attention" (the paper) or "random-forest" (the cosmir baseline).

    Every seed also scores the test clips with thresholds tuned per instrument
    on the validation split (scores.json: ``tuned_thresholds``, ``test_tuned``;
    the summary's ``tuned``), apart from the 0.5 ones; ``airtf-eval
    --thresholds tuned`` prints them.
    weights : the VGGish of ``norm`` ("official" when None).
    variant : VGGish variant for norm, random and pre-trained backbones.
    feature_seed : seed of a random VGGish.
    layer : the layer of a musicnn feature set (default: its model's, max_pool for musicnn).
    hop : seconds from one example to the next (default: the model's own; see :func:`feature_sets.parse`).
    limit : use at most this many clips of each of train, validation and
        test (the first in split order), for smoke runs.
    """

    features: str
    data: str
    seeds: tuple = SEEDS
    epochs: int = attention.EPOCHS
    batch_size: int = attention.BATCH_SIZE
    learning_rate: float = attention.LEARNING_RATE
    norm: str = "group"
    weights: str | None = None
    variant: str | None = None
    feature_seed: int = 0
    limit: int | None = None
    layer: str | None = None
    classifier: str = "attention"
    hop: float | None = None


@dataclasses.dataclass
class Outcome:
    """What :func:`evaluate` did: the summary written to scores.json, and which seeds it trained."""

    summary: dict
    trained: list
    skipped: list


class ClipSet:
    """Features and labels of one set of clips (train, validation or test)."""

    def __init__(self, keys, x, y_true, y_mask):
        self.keys, self.x, self.y_true, self.y_mask = list(keys), x, y_true, y_mask

    @property
    def targets(self):
        """Packed targets, as the classifier's loss takes them."""
        return attention.pack_targets(self.y_true, self.y_mask)


def evaluate(settings, out, cache_dir=None, overwrite=False, verbose="auto"):
    """Train and score the attention classifier on one feature set, once per seed.

    Parameters
    ----------
    settings : Settings
    out : str or Path
        The run directory (see the module docstring).
    cache_dir : str or Path or None
        Feature cache (default :func:`airtf.support.files.feature_cache`).
    overwrite : bool
        Delete an earlier airtf-eval's outputs in ``out`` and start afresh.
    verbose : "auto", 0, 1 or 2
        Keras progress output.

    Returns
    -------
    Outcome

    Raises
    ------
    airtf.support.locks.FolderInUseError
        Another process is writing ``out``.
    """
    with locks.holding(out, COMMAND):
        return _evaluate(settings, Path(out), cache_dir, overwrite, verbose)


def _evaluate(settings, out, cache_dir, overwrite, verbose):
    """:func:`evaluate`, holding the lock of ``out``."""
    dataset, feature_set, split, used = _prepare(settings, out, keep_split=not overwrite)
    classes = dataset.classes
    config = run_config(settings, feature_set.spec, classes)
    check_scorable(dataset, used.validation, classes)
    run_directory.check_run_folder(out, inputs=(openmic.SPLIT_NAME,), command=COMMAND)
    if overwrite:
        clear(out)
    run_directory.start(out, config, inputs=(openmic.SPLIT_NAME,))
    openmic.write_split(out, split)
    write_json(out / CLASSES_NAME, classes)
    if feature_set.reads_audio:
        check_writable(cache_dir or feature_cache())
    plans.check_disk(out, disk_needs(settings, feature_set, dataset, used, cache_dir,
                                     [seed for seed in settings.seeds if not _seed_done(out, seed)]))
    feature_set = feature_set.fitted(dataset, used.train, cache_dir)
    write_json(out / FEATURE_SPEC_NAME, feature_set.spec)
    sets = {name: load_set(dataset, getattr(used, name), feature_set, cache_dir)
            for name in ("train", "validation", "test")}
    trained, skipped = [], []
    for seed in settings.seeds:
        seed_run = run_directory.start(out / f"seed-{seed}", seed_config(config, seed))
        if _seed_done(out, seed):
            seed_run.finish()  # a kill after its scores were written may have left the backup
            skipped.append(seed)
            continue
        if settings.classifier == "random-forest":
            forest_seed(seed_run, seed, sets, classes)
        else:
            train_seed(seed_run, seed, sets, classes, settings, verbose, feature_set.spec)
        trained.append(seed)
    return Outcome(summarize(out, settings.seeds, classes, feature_set, config["data"]), trained, skipped)


def _prepare(settings, out, keep_split=True):
    """What a run and its plan start from: the data set, the feature set (checked), the split and its used part.

    The split is the one ``out`` holds (unless not ``keep_split``), else drawn.
    """
    dataset = OpenMIC(settings.data)
    feature_set = feature_sets.parse(settings.features, settings.weights, settings.variant, settings.feature_seed,
                                     settings.layer, settings.hop)
    feature_set.check_available(dataset)
    kept = keep_split and (out / openmic.SPLIT_NAME).is_file()
    split = openmic.read_split(out) if kept else dataset.draw_split()
    return dataset, feature_set, split, limited(split, settings.limit)


def _seed_done(out, seed):
    return (Path(out) / f"seed-{seed}" / SCORES_NAME).is_file()


def plan(settings, out, cache_dir=None, measure=True):
    """What :func:`evaluate` will do and cost, writing nothing (see :mod:`airtf.runs.plans`).

    Counts the clips whose features are not cached yet and, with
    ``measure``, times their computation on a few clips and the
    classifier's training and validation on data of the run's shapes.

    Returns
    -------
    airtf.runs.plans.Plan
    """
    out = Path(out)
    dataset, feature_set, _, used = _prepare(settings, out)
    seeds = [seed for seed in settings.seeds if not _seed_done(out, seed)]
    clips = {name: list(getattr(used, name)) for name in ("train", "validation", "test")}
    every = [key for keys in clips.values() for key in keys]
    pending, _ = feature_set.uncomputed(dataset, every, cache_dir)
    finished = f" ({len(settings.seeds) - len(seeds)} finished already)" if len(seeds) < len(settings.seeds) else ""
    lines = [f"data: OpenMIC-2018 at {display(settings.data)}: {len(clips['train']):,} training, "
             f"{len(clips['validation']):,} validation and {len(clips['test']):,} test clips",
             f"features: {feature_set.describe()}, {feature_set.frame_shape} per clip; " +
             (f"{len(pending):,} of {len(every):,} clips to compute, the others cached" if feature_set.reads_audio
              else "read from the release, nothing to compute")]
    seeds_text = f"seeds {', '.join(map(str, seeds)) or 'none'} to train{finished}"
    if settings.classifier == "random-forest":
        model = None
        lines.append(f"classifier: a random forest per instrument (max_depth {forest.MAX_DEPTH}, {forest.TREES} "
                     f"trees) on time-averaged features, {seeds_text}")
    else:
        model = _classifier(settings, feature_set, len(dataset.classes))
        steps = plans.steps_of(len(clips["train"]), settings.batch_size)
        lines.append(f"classifier: {model.count_params():,} parameters; {steps:,} step{'s' * (steps != 1)} of "
                     f"{settings.batch_size} per epoch, {settings.epochs} epochs, {seeds_text}")
    seconds = None
    if measure:
        per_clip = feature_set.seconds_per_clip(dataset, pending) if pending else 0.0
        per_seed, measured = _seed_seconds(settings, model, dataset.classes, feature_set.frame_shape,
                                           {name: len(keys) for name, keys in clips.items()})
        lines.append(f"measured: {per_clip:.3g} s per clip of features, {measured}; one seed about "
                     f"{plans.duration_text(per_seed)}")
        seconds = len(pending) * per_clip + len(seeds) * per_seed
    command = f"{COMMAND} --features {settings.features}"
    return plans.Plan(command, out, lines, seconds, disk_needs(settings, feature_set, dataset, used, cache_dir, seeds,
                                                               model))


def _seed_seconds(settings, model, classes, frame_shape, clips):
    """Seconds one seed takes, timed on random data of the run's shapes, and what was measured, in words."""
    if model is None:  # the random forests
        rng = np.random.default_rng(0)
        y_true = rng.integers(0, 2, (max(2, clips["train"]), len(classes))).astype(np.float32)
        x = rng.random((len(y_true), *frame_shape), dtype=np.float32)
        start = time.perf_counter()
        forest.probabilities(forest.fit(x, y_true, np.ones_like(y_true)), x[:1])
        seconds = time.perf_counter() - start
        return seconds, f"fitting the forests {seconds:.3g} s"
    compile_once, epoch, per_step, per_validation_clip = _classifier_seconds(model, classes, frame_shape, clips,
                                                                             settings.batch_size)
    return compile_once + epoch * settings.epochs, (
        f"{per_step:.3g} s per training step, {per_validation_clip * 1e3:.3g} ms per validation clip, an epoch "
        f"with its callbacks {epoch:.3g} s, compiling {compile_once:.3g} s once")


def disk_needs(settings, feature_set, dataset, used, cache_dir, seeds, model=None):
    """What a run writes, name -> bytes: the features' cache and each seed's checkpoints, backup and model."""
    every = [*used.train, *used.validation, *used.test]
    _, cache = feature_set.uncomputed(dataset, every, cache_dir)
    predictions = 4 * len(used.test) * len(dataset.classes)
    if settings.classifier == "random-forest":  # no model is kept
        return {**cache, "seed runs": len(seeds) * predictions}
    model = model or _classifier(settings, feature_set, len(dataset.classes))
    weights = plans.weights_bytes(model)
    # best, best-val-loss and last checkpoints, attention.keras, a new best of each kind staged, the backup
    per_seed = 6 * weights + plans.backup_bytes(model) + predictions
    return {**cache, "seed runs": len(seeds) * per_seed, "best model": weights}


def _classifier(settings, feature_set, num_classes):
    """The attention classifier a seed trains, built and compiled as :func:`train_seed` does."""
    model = attention.AttentionClassifier(num_classes=num_classes, norm=settings.norm)
    model.build((None, *feature_set.frame_shape))
    return attention.compile_classifier(model, learning_rate=settings.learning_rate,
                                        jit_compile=attention.JIT_COMPILE and not reproducible.enabled())


def _classifier_seconds(model, classes, frame_shape, clips, batch_size):
    """Seconds of one training epoch of the run's size, timed on random data of its shapes.

    A few batches (at most :data:`PLANNED_BATCHES`) are fitted, with the
    validation and the seed's callbacks (scores, checkpoints, TensorBoard)
    writing into a temporary run directory that is then deleted; the
    steps and the validation clips are timed apart, so that the epoch's
    fixed cost is what remains.

    Returns
    -------
    compile, epoch, per_step, per_validation_clip : float
        Seconds: the first epoch's tracing and compiling (once per seed), an epoch, ...
    """
    rng = np.random.default_rng(0)

    def clip_set(count):
        count = max(1, count)
        y_true = rng.integers(0, 2, (count, len(classes))).astype(np.float32)
        return ClipSet([f"{index:06d}_0" for index in range(count)], rng.random((count, *frame_shape),
                       dtype=np.float32), y_true, np.ones_like(y_true))

    train = clip_set(min(clips["train"], PLANNED_BATCHES * batch_size))
    validation = clip_set(min(clips["validation"], PLANNED_BATCHES * batch_size))

    def fit(callbacks=(), epochs=1):
        model.fit(train.x, train.targets, batch_size=batch_size, epochs=epochs, verbose=0, callbacks=list(callbacks))

    def validate():  # what metrics.Validation does with the predictions is in the epoch's fixed cost
        model.predict(validation.x, batch_size=attention.BATCH_SIZE, verbose=0)

    start = time.perf_counter()
    fit()  # traces and compiles, as each seed's first epoch does
    first_fit = time.perf_counter() - start
    per_fit = plans.seconds_per_step(fit, warmup=0, steps=2)
    per_step = per_fit / plans.steps_of(len(train.keys), batch_size)
    per_validation_clip = plans.seconds_per_step(validate, warmup=1, steps=2) / len(validation.keys)
    with tempfile.TemporaryDirectory(prefix="airtf-plan-") as folder:
        run = run_directory.start(Path(folder) / "seed-0", {"command": COMMAND, "planned": True})
        callbacks = seed_callbacks(run, validation, classes)
        start = time.perf_counter()
        fit(callbacks, epochs=PLANNED_EPOCHS)
        measured_epoch = (time.perf_counter() - start) / PLANNED_EPOCHS
    fixed = max(0.0, measured_epoch - plans.steps_of(len(train.keys), batch_size) * per_step
                - len(validation.keys) * per_validation_clip)
    epoch = (plans.steps_of(clips["train"], batch_size) * per_step + clips["validation"] * per_validation_clip
             + fixed)
    return max(0.0, first_fit - per_fit), epoch, per_step, per_validation_clip


def run_config(settings, spec, classes):
    """The run's config.json: everything needed to rerun it.

    Training settings sit in a nested "training" entry so that a rerun with
    other epochs is refused: the kept epoch depends on them.
    """
    return {
        "command": COMMAND,
        "airtf": params.VERSION,
        "features": spec,
        "data": str(Path(settings.data).resolve()),
        "classes": classes,
        "seeds": list(settings.seeds),
        "limit": settings.limit,
        "training": {"epochs": settings.epochs, "batch_size": settings.batch_size,
                     "learning_rate": settings.learning_rate},
        "model": {"norm": settings.norm, "num_classes": len(classes),
                  # named only when not the attention classifier, so that earlier runs still resume
                  **({"classifier": settings.classifier} if settings.classifier != "attention" else {})},
        "deterministic": reproducible.enabled(),
    }


def seed_config(config, seed):
    """The config.json of one seed's run: the run's, for that seed alone."""
    return {**{key: value for key, value in config.items() if key != "seeds"}, "seed": seed}


def clear(out):
    """Delete what an earlier airtf-eval wrote in ``out`` (other files are kept)."""
    out = Path(out)
    for name in OUTPUTS:
        (out / name).unlink(missing_ok=True)
    for folder in out.glob("seed-*"):
        if (folder / CONFIG_NAME).is_file():
            shutil.rmtree(folder)


def limited(split, limit):
    """The split with each set cut to its first ``limit`` keys (unchanged when None)."""
    if limit is None:
        return split
    return dataclasses.replace(split, train=split.train[:limit], validation=split.validation[:limit],
                               test=split.test[:limit])


def load_set(dataset, keys, feature_set, cache_dir):
    """A :class:`ClipSet` of ``keys``: features (cached) and labels."""
    x = feature_set.compute(dataset, keys, cache_dir)
    labels = dataset.labels(keys)
    return ClipSet(keys, x, labels.y_true, labels.y_mask)


def check_scorable(dataset, validation_keys, classes):
    """Check which instruments the validation split can score, before any training.

    An instrument is scored where its annotated validation clips hold both
    a positive and a negative; the kept epoch is chosen on those alone.

    Returns
    -------
    list of str
        The instruments the validation split cannot score.

    Raises
    ------
    AirtfError
        When it can score none (the kept epoch would be arbitrary).

    Warns
    -----
    SparseValidationWarning
        When it cannot score some instruments.
    """
    labels = dataset.labels(validation_keys)
    y_true, y_mask = labels.y_true, labels.y_mask
    truth = (y_true >= attention.THRESHOLD).astype(np.float32)
    scores = metrics.instrument_scores(y_true, y_mask, truth, classes)
    unscored = [name for name in classes if math.isnan(scores[name]["f1"])]
    if len(unscored) == len(classes):
        raise AirtfError(f"the validation split ({len(validation_keys)} clips) has no instrument annotated both "
                         "present and absent, so no epoch can be selected; use more annotated clips (a larger "
                         "--limit where one is given)")
    if unscored:
        warnings.warn(f"the validation split ({len(validation_keys)} clips) scores {len(classes) - len(unscored)} of "
                      f"{len(classes)} instruments; {', '.join(unscored)} lack a positive or a negative annotation "
                      "there, so epochs are chosen on the others (ties to the lower validation loss); use more "
                      "annotated clips (a larger --limit where one is given) to score them all",
                      SparseValidationWarning, stacklevel=2)
    return unscored


# ---------------------------------------------------------------- one seed

def train_seed(run, seed, sets, classes, settings, verbose="auto", spec=None):
    """Train one classifier in ``run``, keep its best epoch and score it on the test set.

    ``spec`` (the feature set's FeatureSpec) names the weights in the run's
    TensorBoard HParams. Returns the dict written to ``run/scores.json``.
    """
    keras.utils.set_random_seed(seed)
    train, validation, test = sets["train"], sets["validation"], sets["test"]
    summaries.hparams(run.logs / summaries.VALIDATION, hparams(settings, seed, spec),
                      f"{settings.features} seed {seed}")
    model = attention.AttentionClassifier(num_classes=len(classes), norm=settings.norm)
    model.build((None, *train.x.shape[1:]))
    attention.compile_classifier(model, learning_rate=settings.learning_rate,
                                 jit_compile=attention.JIT_COMPILE and not reproducible.enabled())
    callbacks = seed_callbacks(run, validation, classes)
    model.fit(train.x, train.targets, batch_size=settings.batch_size, epochs=settings.epochs,
              callbacks=callbacks, verbose=verbose)
    run_directory.check_diverged(callbacks, run)
    run_directory.load_model_weights(model, run.best_weights)
    with atomic_path(run.path / MODEL_NAME) as temporary:
        model.save(temporary)
    result = _write_scores(run, seed, test, predict(model, test.x), predict(model, validation.x), validation,
                           classes, best_epoch(run.history), settings.epochs)
    summaries.scalars(run.logs / summaries.VALIDATION,
                      {f"test/f1/{name}": scores["f1"] for name, scores in result["test"].items()},
                      result["best_epoch"] or 0)
    write_json(run.path / SCORES_NAME, reporting.json_ready(result))
    run.finish()
    return result


def forest_seed(run, seed, sets, classes):
    """Fit the cosmir baseline's forests (``random_state=seed``) in ``run`` and score them on the test set.

    Returns the dict written to ``run/scores.json``.
    """
    train, validation, test = sets["train"], sets["validation"], sets["test"]
    forests = forest.fit(train.x, train.y_true, train.y_mask, seed)
    result = _write_scores(run, seed, test, forest.probabilities(forests, test.x),
                           forest.probabilities(forests, validation.x), validation, classes, None, None)
    write_json(run.path / SCORES_NAME, reporting.json_ready(result))
    run.finish()
    return result


def _write_scores(run, seed, test, test_probabilities, validation_probabilities, validation, classes, epoch, epochs):
    """Write a seed's test predictions; its scores, as scores.json holds them."""
    write_npz(run.path / PREDICTIONS_NAME, sample_key=np.array(test.keys, dtype=str), y_prob=test_probabilities,
              y_true=np.asarray(test.y_true, np.float32), y_mask=np.asarray(test.y_mask, bool))
    validation_scores = metrics.instrument_scores(validation.y_true, validation.y_mask, validation_probabilities,
                                                  classes)
    thresholds = metrics.tuned_thresholds(validation.y_true, validation.y_mask, validation_probabilities)
    return {"seed": seed, "best_epoch": epoch, "epochs": epochs,
            "validation_f1_macro": validation_scores[metrics.OVERALL]["f1"],
            "test": metrics.instrument_scores(test.y_true, test.y_mask, test_probabilities, classes),
            "tuned_thresholds": dict(zip(classes, thresholds.tolist())),
            "test_tuned": metrics.instrument_scores(test.y_true, test.y_mask, test_probabilities, classes,
                                                    thresholds)}


def hparams(settings, seed, spec=None):
    """A seed's settings as TensorBoard HParams: the feature set, its weights (from its ``spec``), the seed and
    the training."""
    weights = (spec or {}).get("weights") or ("the release's" if settings.features == "pca" else "none")
    return {"features": settings.features, "weights": str(weights), "seed": seed,
            "epochs": settings.epochs, "batch_size": settings.batch_size,
            "learning_rate": settings.learning_rate, "norm": settings.norm}


def predict(model, x):
    """Probabilities (N, C) of the classifier, float32."""
    return np.asarray(model.predict(x, batch_size=attention.BATCH_SIZE, verbose=0), np.float32)


def seed_callbacks(run, validation, classes):
    """The validation pass first (the others read its scores from the logs), then the run's callbacks.

    Best checkpoints continue from the best epoch in history.csv when the
    run resumes (run_directory.KeepWeights), so that a resumed run keeps its best epoch.
    """
    scorer = metrics.Validation((validation.x, validation.targets), classes)
    best_loss = run_directory.KeepWeights(run.best_weights.parent / BEST_LOSS_WEIGHTS, monitor="val_loss",
                                          history=run.history)
    shown = ClipSet(validation.keys[:ATTENTION_CLIPS], validation.x[:ATTENTION_CLIPS],
                    validation.y_true[:ATTENTION_CLIPS], validation.y_mask[:ATTENTION_CLIPS])
    images = AttentionImages(shown, classes, run.logs / summaries.VALIDATION)
    return [scorer, *run.callbacks(monitor=MONITOR, mode="max", tie_breaker=TIE_BREAKER, extra=(best_loss, images))]


def best_epoch(history):
    """The epoch (from 0) kept: the best validation F1-macro, ties to the lower validation loss."""
    return run_directory.best_epoch(run_directory.read_history(history), MONITOR, "max", TIE_BREAKER)


class AttentionImages(keras.callbacks.Callback):
    """Write the attention maps of a few clips to TensorBoard.

    One figure per clip (tag ``attention/<sample key>``, see
    :func:`airtf.classify.figures.attention_figure`): a row per instrument, named
    and marked with the clip's labels, time in seconds across, each row
    scaled to its maximum (bright: where the instrument's decision looks),
    with a colour bar. Written at the first and last epochs and every
    :data:`IMAGE_EVERY` epochs between.
    """

    def __init__(self, clips, class_names, log_dir):
        super().__init__()
        self.clips, self.class_names, self.log_dir = clips, list(class_names), log_dir

    def on_epoch_end(self, epoch, logs=None):
        if epoch % IMAGE_EVERY and epoch != self.params.get("epochs", 0) - 1:
            return
        import tensorflow as tf

        maps = keras.ops.convert_to_numpy(self.model.frame_outputs(self.clips.x)["attention"])
        writer = summaries.writer(self.log_dir)
        with writer.as_default(step=epoch):
            for key, attention_map, y_true, y_mask in zip(self.clips.keys, maps, self.clips.y_true, self.clips.y_mask):
                figure = figures.attention_figure(attention_map, self.class_names, y_true, y_mask,
                                                  CLIP_SECONDS, f"clip {key}, epoch {epoch + 1}")
                tf.summary.image(f"attention/{key}", summaries.figure_pixels(figure)[np.newaxis])
        writer.flush()


# ---------------------------------------------------------------- over seeds

def summarize(out, seeds, classes, feature_set, data):
    """Aggregate the seeds' scores; write scores.json, scores.csv, the plots and attention.keras.

    Returns the summary written to scores.json.
    """
    out = Path(out)
    per_seed = {seed: reporting.read_scores(out / f"seed-{seed}" / SCORES_NAME) for seed in seeds}
    names = [*classes, metrics.OVERALL]
    mean, std = _over_seeds([per_seed[seed]["test"] for seed in seeds], names)
    best = max(seeds, key=lambda seed: _nan_low(per_seed[seed]["validation_f1_macro"]))
    summary = {"features": feature_set.describe(), "data": data,
               "classes": list(classes), "seeds": {str(seed): per_seed[seed] for seed in seeds},
               "mean": mean, "std": std, "best_seed": best}
    if all("test_tuned" in per_seed[seed] for seed in seeds):  # seeds scored before tuning existed have none
        tuned_mean, tuned_std = _over_seeds([per_seed[seed]["test_tuned"] for seed in seeds], names)
        summary["tuned"] = {"mean": tuned_mean, "std": tuned_std}
    write_json(out / SCORES_NAME, reporting.json_ready(summary))
    reporting.write_csv(out / SCORES_CSV_NAME, reporting.summary_csv_rows(summary))
    # labelled by the run directory's name, as airtf-compare labels runs
    figures.f1_plots(out, names, {out.name: ([mean[name]["f1"] for name in names],
                                             [std[name]["f1"] for name in names],
                                             [per_seed[seed]["test"][metrics.OVERALL]["f1"] for seed in seeds])})
    if (out / f"seed-{best}" / MODEL_NAME).is_file():  # a random-forest run keeps no model
        with atomic_path(out / MODEL_NAME) as temporary:
            shutil.copyfile(out / f"seed-{best}" / MODEL_NAME, temporary)
    return summary


def _over_seeds(scores, names):
    """Mean and std over seeds of every score of every name: two dicts {name: {score: float}}."""
    mean, std = {}, {}
    for name in names:
        values = {score: [seed_scores[name][score] for seed_scores in scores] for score in metrics.COLUMNS}
        mean[name] = {score: float(np.mean(column)) for score, column in values.items()}
        std[name] = {score: float(np.std(column)) for score, column in values.items()}
    return mean, std


def _nan_low(value):
    return -math.inf if math.isnan(value) else value
