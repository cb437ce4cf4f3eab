"""Pre-train VGGish on one of the paper's objectives: everything ``airtf-pretrain`` does.

:func:`train` builds the objective (:mod:`airtf.pretrain.objectives`) around a VGGish
backbone, fits it on the objective's data and leaves in the run directory
(see :mod:`airtf.runs.run_directory`)::

    RUN_DIR/
        config.json          the arguments of :func:`train` and the software versions
        history.csv          one row per epoch, across resumes
        logs/                TensorBoard, two runs (airtf.runs.summaries): train/ (losses and
                             metrics per epoch, a histogram of every weight per epoch) and
                             validation/ (the same metrics; the objective's own images or
                             text; the embedding projector: projector_config.pbtxt,
                             embeddings.tsv, metadata.tsv)
        backup/              the state to resume from (gone once the run ends)
        checkpoints/         best.weights.h5 and last.weights.h5 of the whole objective
                             (without the optimizer's state)
        vggish.weights.h5    the trained backbone (the best epoch's), for any ``--weights``
        vocabulary.json      align only: the tags its targets are made of

Defaults are the paper's: every parameter Glorot-uniform initialised (the
Keras default, ``weights="random"``), Adam with learning rate 1e-4, batches of
64, at most 50 epochs, early stopping on ``val_loss`` with patience 5 and
the best epoch's weights kept.

Rerunning the same arguments in the same directory continues an interrupted
run from its last finished epoch, the best value and the patience count
carried over from history.csv. A run that has ended (finished, stopped early
or diverged) is not trained again unless ``overwrite`` is given, which
clears what it made and starts afresh.
"""

import contextlib
import dataclasses
import importlib.metadata
import json
import os
import platform
import shutil
import tempfile
import time
import warnings
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from tensorboard.plugins import projector

from airtf import params, vggish
from airtf.errors import AirtfError, CheckpointError, WriteError
from airtf.pretrain import objectives
from airtf.runs import backup, layout, plans, reproducible, run_directory, summaries
from airtf.support import locks
from airtf.support.files import display, is_write_error, write_error

STRATEGIES = params.PRETRAIN_STRATEGIES
"""Values of ``strategy``: no distribution, MirroredStrategy, MultiWorkerMirroredStrategy."""


COMMAND = "airtf-pretrain"
MONITOR = "val_loss"
PROJECTOR_EXAMPLES = 1000
"""Validation examples shown in the TensorBoard embedding projector (at most)."""

PLANNED_EPOCHS = 2
"""Epochs of one batch a plan fits to time what an epoch costs besides its steps."""
HISTOGRAM_BYTES = 2048
"""About what one weight's histogram adds to the TensorBoard logs per epoch."""
FIGURE_BYTES = 512 << 10
"""What an objective's figures add to the TensorBoard logs per epoch, at most (den-add's four: 375 KB)."""
PROJECTOR_TENSOR = "embeddings.tsv"
PROJECTOR_METADATA = "metadata.tsv"
VERSIONED_PACKAGES = ("tensorflow", "keras", "numpy", "tensorboard")

UNKNOWN_LENGTH_WARNING = "Your input ran out of data"
"""Keras warns so at the end of every epoch of a dataset of unknown length (ours: they are read lazily)."""

_MADE_BY_A_RUN = (layout.LOGS_FOLDER, layout.BACKUP_FOLDER, layout.CHECKPOINTS_FOLDER, layout.HISTORY_NAME,
                  layout.BACKBONE_NAME)
"""What :func:`train` writes into a run directory besides config.json and the objectives' own files
(``overwrite`` clears them)."""


class PretrainError(AirtfError):
    """The pre-training cannot run as asked."""


@dataclasses.dataclass(frozen=True)
class Settings:
    """What a pre-training run does; all of it goes into config.json.

    Attributes
    ----------
    objective : a registered objective's name ("textual", "den-add",
        "den-mul", "align", ...; see :func:`airtf.pretrain.objectives.classes`),
        or an objective.
    data : the data set in its released layout: NSynth (textual, den-*) or
        Freesound tags (align).
    epochs : at most this many epochs (50); may grow between resumes.
    batch_size : examples per step over all replicas (64).
    lr : Adam's learning rate (1e-4).
    patience : epochs without a lower ``val_loss`` before stopping early (5);
        0 or None never stops early.
    limit : use only the first ``limit`` notes or sounds (see the objective's
        ``datasets``).
    seed : seeds initialisation, shuffling, noise and pair draws.
    weights : the backbone's starting weights: "random" (Glorot-uniform, the
        default), "official", or anything else :func:`airtf.vggish.from_preset`
        takes (a .weights.h5 file, a TF1 checkpoint, a run directory).
    variant : the VGGish variant (default: :data:`airtf.vggish.DEFAULT_VARIANT`).
    strategy : tf.distribute strategy, one of :data:`airtf.params.PRETRAIN_STRATEGIES`:
        none, MirroredStrategy over the local devices, or
        MultiWorkerMirroredStrategy configured by the TF_CONFIG environment
        variable (made before anything else touches TensorFlow). Every
        worker writes the run directory (Keras's callbacks know no chief),
        so workers must not share it.
    options : with an objective's name, its own options, the fields of its
        config (e.g. ``{"word_map": {"multiphonic": "polyphonic"}}``).
    """

    objective: object
    data: str
    epochs: int = 50
    batch_size: int = 64
    lr: float = 1e-4
    patience: int | None = 5
    limit: int | None = None
    seed: int = 0
    weights: str = "random"
    variant: str | None = None
    strategy: str = "default"
    options: dict | None = None


@dataclasses.dataclass(frozen=True)
class Result:
    """What :func:`train` returns.

    Attributes
    ----------
    run : airtf.runs.run_directory.Run
        The run directory.
    history : dict
        history.csv as columns (``epoch``, ``loss``, ``val_loss``, ...), one
        value per epoch of the whole run, resumed parts included.
    resumed_at : int
        Epochs that earlier, interrupted attempts had finished (0 for a fresh start).
    replicas : int
        Model replicas that trained in sync (devices times workers).
    """

    run: run_directory.Run
    history: dict
    resumed_at: int
    replicas: int

    @property
    def epochs(self):
        """Epochs the run has finished."""
        return len(self.history.get("epoch", ()))

    @property
    def best_epoch(self):
        """The epoch (from 0) with the lowest finite validation loss; None when none was finite."""
        return run_directory.best_epoch(self.history, MONITOR)

    @property
    def best_val_loss(self):
        """The lowest finite validation loss of the run (NaN when none was finite)."""
        return float("nan") if self.best_epoch is None else self.history[MONITOR][self.best_epoch]

    @property
    def backbone(self):
        """Path of the trained backbone, ``RUN_DIR/vggish.weights.h5``."""
        return self.run.backbone_weights


def train(settings, run_dir, overwrite=False, verbose="auto"):
    """Pre-train VGGish as ``settings`` say and save the backbone into ``run_dir``.

    Parameters
    ----------
    settings : Settings
    run_dir : str or os.PathLike
        The run directory (made if missing).
    overwrite : bool
        Clear a run directory holding another configuration or an ended run
        and train afresh.
    verbose : "auto", 0, 1 or 2
        Keras's progress output.

    Returns
    -------
    Result

    Raises
    ------
    PretrainError
        An unknown objective or strategy, a missing data folder, an
        option the objective does not take, or a run directory that holds
        an ended run.
    airtf.runs.run_directory.RunError
        ``run_dir`` holds a run with another configuration.
    airtf.runs.run_directory.TrainingDiverged
        The loss became NaN or infinite; the last good weights are in
        ``RUN_DIR/checkpoints``.
    airtf.support.locks.FolderInUseError
        Another process is writing ``run_dir``.
    """
    with locks.holding(run_dir, COMMAND):
        return _train(settings, run_dir, overwrite, verbose)


def _train(settings, run_dir, overwrite, verbose):
    """:func:`train`, holding the lock of ``run_dir``."""
    chosen, data_dir, backbone_source = _resolve(settings)
    distribution = make_strategy(settings.strategy)
    config = {"command": COMMAND, "objective": chosen.name, "data": str(data_dir), "epochs": settings.epochs,
              "batch_size": settings.batch_size, "lr": settings.lr, "patience": settings.patience,
              "limit": settings.limit, "seed": settings.seed, "weights": backbone_source.reference,
              "variant": backbone_source.variant, "strategy": settings.strategy,
              "options": chosen.config.to_json(), "deterministic": reproducible.enabled(), "versions": versions()}
    run = open_run(run_dir, config, overwrite)
    resumed_at = run.settle()
    data = _datasets(settings, chosen, data_dir)
    chosen.save(run, data)
    with distribution.scope():
        model = build_model(chosen, data, backbone_source, settings.seed, settings.lr)
    plans.check_disk(run.path, disk_needs(model, settings.epochs, run))
    _fit(model, run, chosen, data_dir, data, settings.epochs, settings.patience, verbose)
    with _naming_what_is_kept(run):
        _save_backbone(run, model)
        _log_result(run, config, run_directory.read_history(run.history))
        examples, labels = chosen.projector_examples(data_dir, data, settings.limit, PROJECTOR_EXAMPLES)
        write_projector(run.logs / summaries.VALIDATION, examples, labels, model.backbone, settings.batch_size,
                        f"{chosen.name} VGGish embeddings of {len(labels)} {chosen.data} validation examples")
    run.finish()
    return Result(run, run_directory.read_history(run.history), resumed_at, distribution.num_replicas_in_sync)


def _resolve(settings):
    """The objective, the data folder and the backbone's source that ``settings`` name, checked; no TensorFlow."""
    return (_objective(settings.objective, settings.options), _existing_folder(settings.data),
            _backbone_source(settings.weights, settings.variant, settings.seed))


def _datasets(settings, objective, data_dir):
    """The objective's training and validation data, after seeding everything with the run's seed."""
    keras.utils.set_random_seed(settings.seed)
    return objective.datasets(data_dir, batch_size=settings.batch_size, seed=settings.seed, limit=settings.limit)


def plan(settings, run_dir, measure=True):
    """What :func:`train` with these settings will do and cost, writing nothing (see :mod:`airtf.runs.plans`).

    The objective's model is built and, with ``measure``, a few real
    training and validation steps on the data are timed (data loading
    included) and extrapolated to the whole run.

    Returns
    -------
    airtf.runs.plans.Plan
    """
    chosen, data_dir, backbone_source = _resolve(settings)
    data = _datasets(settings, chosen, data_dir)
    model = build_model(chosen, data, backbone_source, settings.seed, settings.lr)
    counts = chosen.example_counts(data_dir, data, settings.limit)
    about = "" if counts["exact"] else "about "
    batch_size, epochs = settings.batch_size, settings.epochs
    steps = {split: plans.steps_of(counts[split], batch_size) for split in ("train", "validation")}
    stopping = f"; stops after {settings.patience} without a lower {MONITOR}" if settings.patience else ""
    lines = [f"data: {chosen.data} at {display(data_dir)}: {about}{counts['train']:,} training and "
             f"{counts['validation']:,} validation examples per epoch" + ("" if counts["exact"] else
                                                                          " (counted from the files' sizes)"),
             f"steps: {steps['train']:,} training and {steps['validation']:,} validation steps of {batch_size} "
             f"per epoch, at most {epochs} epochs{stopping}",
             f"model: {chosen.name} on a VGGish ({backbone_source.reference}), {model.count_params():,} parameters"]
    seconds = None
    if measure:
        train_step, validation_step = _step_seconds(model, data)
        fixed = _epoch_fixed_seconds(chosen, model, data, train_step + validation_step)
        epoch = steps["train"] * train_step + steps["validation"] * validation_step + fixed
        lines.append(f"measured: {train_step:.3g} s per training step, {validation_step:.3g} s per validation "
                     f"step, data loading included (median of {plans.MEASURED_STEPS} after {plans.WARMUP_STEPS}), "
                     f"{fixed:.3g} s per epoch for checkpoints, backup and TensorBoard; one epoch about "
                     f"{plans.duration_text(epoch)}")
        seconds = epochs * epoch
    command = f"{COMMAND} --objective {chosen.name}"
    return plans.Plan(command, Path(run_dir), lines, seconds, disk_needs(model, epochs))


def _step_seconds(model, data):
    """Seconds of one training and of one validation step, each fetching its batch."""
    def stepper(dataset, step):
        batches = iter(dataset.repeat())

        def one_step():
            batch = next(batches)
            step(*(batch if isinstance(batch, tuple) else (batch,)))
        return one_step

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", UNKNOWN_LENGTH_WARNING)
        return (plans.seconds_per_step(stepper(data.train, model.train_on_batch)),
                plans.seconds_per_step(stepper(data.validation, model.test_on_batch)))


def _epoch_fixed_seconds(objective, model, data, step_seconds):
    """What an epoch costs besides its steps: the run's callbacks, timed in a temporary run directory.

    :data:`PLANNED_EPOCHS` epochs of one training and one validation batch
    are fitted with every callback a run has; the directory is then deleted.
    """
    with tempfile.TemporaryDirectory(prefix="airtf-plan-") as folder, warnings.catch_warnings():
        warnings.filterwarnings("ignore", UNKNOWN_LENGTH_WARNING)
        run = run_directory.start(Path(folder) / "run", {"command": COMMAND, "planned": True})
        callbacks = run.callbacks(monitor=MONITOR, histograms=True,
                                  extra=objective.tensorboard_callbacks(run, model, data))
        start = time.perf_counter()
        model.fit(data.train.take(1), validation_data=data.validation.take(1), epochs=PLANNED_EPOCHS,
                  callbacks=callbacks, shuffle=False, verbose=0)
        epoch = (time.perf_counter() - start) / PLANNED_EPOCHS
    return max(0.0, epoch - step_seconds)


def disk_needs(model, epochs, run=None):
    """What a run of ``model`` holds on disk at its peak, name -> bytes, less what ``run`` holds already.

    At the end of a run, before its backup goes: the two backup slots, the
    best and the last checkpoint, the backbone and the TensorBoard logs;
    during it, a new best checkpoint is staged beside the old one (as many
    bytes as the last one). A rerun in ``run`` counts only what its files on
    disk do not already hold (the slots are rewritten in place, the rest
    replaced).
    """
    weights = plans.weights_bytes(model)
    needs = {"checkpoints": 2 * weights, "resume backup": plans.backup_bytes(model),
             "backbone": plans.weights_bytes(model.backbone),
             "TensorBoard logs": epochs * (len(model.weights) * HISTOGRAM_BYTES + FIGURE_BYTES)
             + PROJECTOR_EXAMPLES * model.backbone.output_shape[-1] * 4}
    if run is not None:
        held = {"checkpoints": plans.bytes_on_disk(run.best_weights, run.last_weights),
                "resume backup": plans.bytes_on_disk(*(run.backup / slot for slot in backup.SLOTS)),
                "backbone": plans.bytes_on_disk(run.backbone_weights)}
        needs = {name: max(0, count - held.get(name, 0)) for name, count in needs.items()}
    return needs


def _objective(objective, options):
    """The objective to train: ``objective`` itself, or the one it names with ``options``."""
    if isinstance(objective, objectives.Objective):
        if options:
            raise PretrainError("options go with an objective's name; an objective holds its own config")
        return objective
    try:
        return objectives.get(objective, **dict(options or {}))
    except objectives.ObjectiveError as error:
        raise PretrainError(str(error)) from None


def _existing_folder(path):
    """``path`` made absolute, or a PretrainError if it is not a folder."""
    path = Path(path).resolve()
    if not path.is_dir():
        raise PretrainError(f"{path}: no such data folder; pass the folder holding the data set in its released "
                            "layout (`airtf-data demo --out DIR` renders demo sets)")
    return path


def _backbone_source(weights, variant, seed):
    """The :class:`airtf.vggish.WeightsSource` to start from; official weights must be on disk."""
    try:
        source = vggish.WeightsSource.parse(weights, variant, seed)
        source.file()
    except CheckpointError as error:
        raise PretrainError(str(error)) from None
    return source


def make_strategy(name):
    """The tf.distribute strategy called ``name`` (see :data:`STRATEGIES`).

    ``mirrored`` replicates over every local GPU, or where there is none
    over every logical CPU device (TensorFlow's own default would take one
    CPU). ``multi-worker`` reads the cluster from TF_CONFIG (without it, this
    process is the only worker) and must be made before TensorFlow runs
    anything else in the process.
    """
    if name not in STRATEGIES:
        raise PretrainError(f"unknown strategy {name!r}; choose one of {', '.join(STRATEGIES)}")
    if name == "mirrored":
        devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
        return tf.distribute.MirroredStrategy([device.name for device in devices])
    if name == "multi-worker":
        _check_tf_config()
        return tf.distribute.MultiWorkerMirroredStrategy()
    return tf.distribute.get_strategy()


def _check_tf_config():
    """Refuse a TF_CONFIG that is not JSON, with a message saying what it should hold."""
    text = os.environ.get("TF_CONFIG")
    if text is None:
        return
    try:
        json.loads(text)
    except json.JSONDecodeError as error:
        raise PretrainError(f"TF_CONFIG is not JSON ({error.msg}); set it to "
                            '{"cluster": {"worker": ["host:port", ...]}, "task": {"type": "worker", "index": N}}'
                            ) from None


def shard_by_data(dataset):
    """``dataset`` set to be split between workers by element (it is not read from sharded files)."""
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return dataset.with_options(options)


def versions():
    """Python, airtf and the versions of the packages a run depends on."""
    return {"python": platform.python_version(), "airtf": params.VERSION,
            **{name: importlib.metadata.version(name) for name in VERSIONED_PACKAGES}}


def open_run(run_dir, config, overwrite=False):
    """The run directory for ``config``: new, one to resume, or, with ``overwrite``, one cleared.

    Raises
    ------
    airtf.runs.run_directory.RunError
        It holds a run with another configuration (and not ``overwrite``).
    PretrainError
        It holds a run that ended (and not ``overwrite``): training it
        again would append a second run to its history.
    """
    run = run_directory.start(run_dir, config, overwrite=overwrite)
    if overwrite:
        _clear(run)
    elif not run.resuming and run_directory.read_history(run.history):
        ended = len(run_directory.read_history(run.history)["epoch"])
        raise PretrainError(f"{run.path}: holds a run that ended after {ended} epoch(s) (see its history.csv); "
                            f"choose another --out (--weights {run.path} starts from its backbone), or pass "
                            "--overwrite to train it again from the start")
    return run


def _clear(run):
    """Remove what an earlier run left in the directory (config.json stays: it is the new one)."""
    saved = {name for cls in objectives.classes().values() for name in cls.saved_files}
    for name in (*_MADE_BY_A_RUN, *sorted(saved)):
        path = run.path / name
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)


def build_model(objective, data, backbone_source, seed, lr):
    """The objective's model around a VGGish, compiled with Adam (call within the strategy's scope).

    The backbone is built (with the source's seed) and loaded from
    ``backbone_source``, a :class:`airtf.vggish.WeightsSource`; ``seed``
    also seeds the objective's own draws. XLA is off: on CPU it compiles VGGish for seconds, again for
    the last, smaller batch, and then runs no faster.
    """
    backbone = vggish.from_preset(backbone_source)
    model = objective.build(backbone, data, seed)
    model.compile(optimizer=keras.optimizers.Adam(lr), jit_compile=False)
    return model


def _fit(model, run, objective, data_dir, data, epochs, patience, verbose):
    """Fit ``model`` with the run's callbacks (they continue a resumed run); raise if it diverged.

    An error tf.data meets in the data as it streams (a corrupt record, a
    file that fails to decode) becomes one line naming the file (see
    :meth:`airtf.datasets.base.Dataset.streaming_problem`).
    """
    callbacks = run.callbacks(monitor=MONITOR, patience=patience, histograms=True,
                              extra=(*data.callbacks, *objective.tensorboard_callbacks(run, model, data)))
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", UNKNOWN_LENGTH_WARNING)
            model.fit(shard_by_data(data.train), validation_data=shard_by_data(data.validation), epochs=epochs,
                      callbacks=callbacks, shuffle=False, verbose=verbose)
    except tf.errors.OpError as error:
        problem = objective.dataset(data_dir).streaming_problem(error) if objective.dataset else None
        if problem is None:
            raise
        raise PretrainError(f"{problem}; the state after the last finished epoch is kept: rerun the same command "
                            "once the data is mended") from None
    run_directory.check_diverged(callbacks, run)


@contextlib.contextmanager
def _naming_what_is_kept(run):
    """Within the block (what a run writes after training), a write error says what is kept and what resumes."""
    kept = (f"kept: the trained checkpoints in {display(run.best_weights.parent)} and the backup in "
            f"{display(run.backup)}, from which the same command writes the rest without training again")
    try:
        yield
    except OSError as error:
        if not is_write_error(error):
            raise
        raise WriteError(f"{write_error(error.filename or run.path, error)}; {kept}") from None
    except WriteError as error:
        raise WriteError(f"{error}; {kept}") from None


def _save_backbone(run, model):
    """Load the best epoch's weights (of the whole run, resumes included) and save the backbone."""
    if run.best_weights.is_file():
        run_directory.load_model_weights(model, run.best_weights)
    run.save_weights(model.backbone, run.backbone_weights)


def _log_result(run, config, history):
    """The run's settings as TensorBoard HParams and its best validation loss as ``best/val_loss``."""
    folder = run.logs / summaries.VALIDATION
    summaries.hparams(folder, {"objective": config["objective"], "weights": config["weights"],
                               "seed": config["seed"], "epochs": config["epochs"],
                               "batch_size": config["batch_size"], "learning_rate": config["lr"]},
                      f"{config['objective']} seed {config['seed']}")
    best = run_directory.best_epoch(history, MONITOR)
    if best is not None:
        summaries.scalars(folder, {"best/val_loss": history[MONITOR][best]}, best)


def write_projector(log_dir, examples, labels, backbone, batch_size, title):
    """Write the TensorBoard embedding projector of ``backbone``'s embeddings of ``examples``.

    Into ``log_dir``, a run TensorBoard lists (the job's validation logs):
    ``embeddings.tsv`` (one embedding a line), ``metadata.tsv`` (a header of
    the columns of ``labels``, dicts column -> str, then one row an example,
    for colouring and search) and ``projector_config.pbtxt`` naming them
    ``title``; so the projector finds them with ``--logdir`` at the run
    directory or any folder above it.
    """
    log_dir = Path(log_dir)
    log_dir.mkdir(parents=True, exist_ok=True)
    embeddings = backbone.predict(examples, batch_size=batch_size, verbose=0)
    np.savetxt(log_dir / PROJECTOR_TENSOR, embeddings, fmt="%.6g", delimiter="\t")
    columns = list(labels[0])
    lines = [columns, *([" ".join(str(row[column]).split()) for column in columns] for row in labels)]
    (log_dir / PROJECTOR_METADATA).write_text("".join("\t".join(line) + "\n" for line in lines))
    config = projector.ProjectorConfig()
    embedding = config.embeddings.add()
    embedding.tensor_name = title
    embedding.tensor_path = PROJECTOR_TENSOR
    embedding.metadata_path = PROJECTOR_METADATA
    projector.visualize_embeddings(str(log_dir), config)
