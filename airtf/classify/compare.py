"""airtf-compare's library: several airtf-eval runs side by side.

:func:`compare` reads each run directory's scores.json and writes into OUT::

    comparison.json        per run: label, path, feature set, seeds, mean and std
                           of every score per instrument, overall F1 of each seed
    comparison.csv         per instrument: F1 mean and std of each run
    f1_per_instrument.png  grouped bars: F1 per instrument, one bar per run
    f1_over_seeds.png      box plots: overall F1 over seeds, one box per run

Runs are labelled by their directory names (paths where names repeat), so
``airtf-compare runs/pca runs/norm runs/random runs/logmel --out fig2`` is
the paper's Fig. 2.
"""

import dataclasses
import itertools
import json
from pathlib import Path

import numpy as np

from airtf.classify import figures, metrics, reporting, statistics
from airtf.errors import AirtfError, first_line
from airtf.runs.layout import (COMPARISON_CSV, COMPARISON_JSON, CONFIG_NAME, INSTRUMENT_PLOT, PREDICTIONS_NAME,
                               SCORES_NAME, SEEDS_PLOT)
from airtf.support.files import check_writable, write_json


class CompareError(AirtfError):
    """Run directories that cannot be compared."""


@dataclasses.dataclass
class RunScores:
    """The test scores of one airtf-eval run directory."""

    label: str
    path: Path
    features: str
    classes: list
    mean: dict
    std: dict
    overall_f1: dict
    """Seed -> overall test F1-macro."""


@dataclasses.dataclass
class Comparison:
    """What :func:`compare` made: the runs, the tables printed, the files written."""

    runs: list
    table: str
    files: list
    statistics: str = ""
    """The intervals and paired tests (see :mod:`airtf.classify.statistics`), as printed."""


def load_run(path, label=None):
    """Read an airtf-eval run directory's scores.json.

    Raises
    ------
    CompareError
        When the directory holds no finished airtf-eval run.
    """
    path = Path(path)
    scores = path / SCORES_NAME
    if not scores.is_file():
        problem = "no such folder" if not path.is_dir() else f"no {SCORES_NAME}"
        raise CompareError(f"{path}: {problem}; pass run directories of finished airtf-eval runs "
                           "(rerun airtf-eval to finish this one)")
    try:
        summary = reporting.read_scores(scores)
        overall = {seed: result["test"][metrics.OVERALL]["f1"] for seed, result in summary["seeds"].items()}
        return RunScores(label or path.name, path, summary["features"], summary["classes"], summary["mean"],
                         summary["std"], overall)
    except (json.JSONDecodeError, KeyError, TypeError) as error:
        raise CompareError(f"{scores}: not an airtf-eval scores file ({type(error).__name__}: {error}); "
                           "rerun airtf-eval to rewrite it") from None


def labels_for(paths):
    """Directory names as labels; full paths for the names that repeat."""
    names = [Path(path).name for path in paths]
    return [name if names.count(name) == 1 else str(path) for name, path in zip(names, paths)]


def compare(run_dirs, out, overwrite=False, resamples=statistics.RESAMPLES):
    """Compare airtf-eval runs: a table, CSV, JSON and plots in ``out``.

    Parameters
    ----------
    run_dirs : sequence of str or Path
        Finished airtf-eval run directories, all on the same classes.
    out : str or Path
        Folder for the outputs (created if needed).
    overwrite : bool
        Replace an earlier comparison in ``out``.
    resamples : int
        Resamplings of the test clips for the intervals and the paired tests.

    Returns
    -------
    Comparison
    """
    if not run_dirs:
        raise CompareError("no run directories given; pass one or more airtf-eval run directories")
    runs = [load_run(path, label) for path, label in zip(run_dirs, labels_for(run_dirs))]
    classes = runs[0].classes
    for run in runs[1:]:
        if run.classes != classes:
            raise CompareError(f"{run.path}: its classes differ from those of {runs[0].path}; "
                               "compare runs on the same data set")
    out = Path(out)
    files = [out / name for name in (COMPARISON_JSON, COMPARISON_CSV, INSTRUMENT_PLOT, SEEDS_PLOT)]
    present = [path for path in files if path.exists()]
    if present and not overwrite:
        raise CompareError(f"{present[0]}: a comparison is there already; pass --overwrite to replace it "
                           "or choose another --out")
    if present and not (out / COMPARISON_JSON).is_file():
        raise CompareError(f"{present[0]}: is not part of an earlier comparison (no {COMPARISON_JSON} beside it), so "
                           "--overwrite does not replace it; choose another --out")
    check_writable(out)
    names = [*classes, metrics.OVERALL]
    text, values = statistics_text(runs, [predictions_of(run) for run in runs], resamples)
    write_json(out / COMPARISON_JSON, reporting.json_ready({"classes": classes, "runs": [_run_entry(run) for run in runs],
                                                            "statistics": values}))
    reporting.write_csv(out / COMPARISON_CSV, csv_rows(runs, names))
    figures.f1_plots(out, names, {run.label: ([run.mean[name]["f1"] for name in names],
                                              [run.std[name]["f1"] for name in names],
                                              list(run.overall_f1.values())) for run in runs})
    return Comparison(runs, format_table(runs, names), files, text)


def _run_entry(run):
    return {"label": run.label, "path": str(run.path.resolve()), "features": run.features,
            "seeds": list(run.overall_f1), "overall_f1": run.overall_f1, "mean": run.mean, "std": run.std}


def csv_rows(runs, names):
    """A header, then per instrument (and overall) the F1 mean and std of each run."""
    header = ["instrument", *(f"{run.label}_{what}" for run in runs for what in ("mean", "std"))]
    return [header, *([name, *(getattr(run, what)[name]["f1"] for run in runs for what in ("mean", "std"))]
                      for name in names)]


def format_table(runs, names):
    """Test F1-macro, mean ± std over seeds, per instrument (rows) and run (columns)."""
    header = ["instrument", *(run.label for run in runs)]
    rows = [[name, *(reporting.mean_std(run.mean[name]["f1"], run.std[name]["f1"], len(run.overall_f1))
                     for run in runs)]
            for name in names]
    width = max(len(run.label) for run in runs)
    legend = [f"{run.label.ljust(width)}  {run.features} (seeds {', '.join(run.overall_f1)})" for run in runs]
    return "\n".join([reporting.text_table(header, rows), "", *legend])


def predictions_of(run):
    """The run's :class:`~airtf.classify.statistics.Predictions`: labels and each seed's predictions.

    Runs written before airtf-eval kept the labels beside the predictions
    take them from the OpenMIC-2018 folder their config.json names.

    Raises
    ------
    CompareError
        A seed's predictions are missing or damaged, or the seeds were
        tested on different clips, or the labels cannot be found.
    """
    predictions = [_read_predictions(run.path / f"seed-{seed}" / PREDICTIONS_NAME) for seed in run.overall_f1]
    first = predictions[0]
    for stored in predictions[1:]:
        if not np.array_equal(stored["sample_key"], first["sample_key"]):
            raise CompareError(f"{run.path}: its seeds were tested on different clips; rerun airtf-eval there")
    keys = tuple(first["sample_key"].tolist())
    y_true, y_mask = (first["y_true"], first["y_mask"]) if "y_true" in first else _labels_from_data(run, keys)
    return statistics.Predictions(keys, y_true, y_mask, np.stack([stored["y_prob"] for stored in predictions]))


def _read_predictions(path):
    """A seed's test_predictions.npz as {name: array}, holding at least sample_key and y_prob."""
    try:
        with np.load(path, allow_pickle=False) as stored:
            arrays = {name: stored[name] for name in stored.files}
    except (OSError, ValueError) as error:
        raise CompareError(f"{path}: unreadable test predictions ({first_line(error)}); rerun airtf-eval with "
                           "--overwrite in that folder to write them") from None
    missing = {"sample_key", "y_prob"} - set(arrays)
    if missing:
        raise CompareError(f"{path}: test predictions without {', '.join(sorted(missing))}; rerun airtf-eval with "
                           "--overwrite in that folder to write them")
    return arrays


def _labels_from_data(run, keys):
    """The test clips' labels from the data set the run's config.json names."""
    from airtf.datasets.openmic import OpenMIC

    try:
        labels = OpenMIC(json.loads((run.path / CONFIG_NAME).read_text())["data"]).labels(list(keys))
    except (OSError, KeyError, ValueError, AirtfError) as error:
        raise CompareError(f"{run.path}: its test predictions were written without their labels, and the data "
                           f"set it names cannot give them ({first_line(error)}); rerun airtf-eval with "
                           "--overwrite there") from None
    return labels.y_true, labels.y_mask


def statistics_text(runs, clips, resamples=statistics.RESAMPLES):
    """Both overall scores of every run with their intervals, then a paired test of every pair of runs.

    Returns
    -------
    (str, dict)
        The text to print and its values for comparison.json.
    """
    level = f"{statistics.LEVEL:.0%}"
    intervals = {}
    for run, clip in zip(runs, clips):
        values, ends = statistics.statistic(clip), statistics.bootstrap_interval(clip, resamples)
        intervals[run.label] = {score: (float(value), *ends[score]) for score, value in zip(statistics.SCORES, values)}
    header = ["run", f"F1-macro [{level} interval]", f"masked mAP [{level} interval]"]
    rows = [[label, *(f"{value:.3f} [{low:.3f}, {high:.3f}]" for value, low, high in scores.values())]
            for label, scores in intervals.items()]
    lines = [f"overall test scores, mean over seeds, with {level} bootstrap intervals over the "
             f"{len(clips[0].keys)} test clips ({resamples} resamplings)",
             reporting.text_table(header, rows, footer=0)]
    tests = []
    for (first, first_clips), (second, second_clips) in itertools.combinations(zip(runs, clips), 2):
        if first_clips.keys != second_clips.keys or first_clips.y_prob.shape != second_clips.y_prob.shape:
            lines.append(f"{first.label} vs {second.label}: not paired (other test clips or another number of "
                         "seeds), so not tested")
            continue
        results = statistics.paired_test(first_clips, second_clips, resamples)
        tests.append({"first": first.label, "second": second.label,
                      **{score: {"difference": difference, "p": p} for score, (difference, p) in results.items()}})
        verdicts = [f"{name} {difference:+.3f} ({_p_text(p, resamples)}"
                    f"{'' if p < statistics.SIGNIFICANCE else ', not significant'})"
                    for name, (difference, p) in zip(("F1-macro", "mAP"), results.values())]
        lines.append(f"{first.label} vs {second.label}: " + ", ".join(verdicts))
    if tests and all(test[score]["p"] >= statistics.SIGNIFICANCE for test in tests for score in statistics.SCORES):
        lines.append(f"none of the differences is significant at {statistics.SIGNIFICANCE:.0%} with "
                     f"{len(clips[0].keys)} test clips: the test split is too small to tell these runs apart")
    values = {"intervals": {label: {score: dict(zip(("value", "low", "high"), triple))
                                    for score, triple in scores.items()} for label, scores in intervals.items()},
              "level": statistics.LEVEL, "resamples": resamples, "paired_tests": tests}
    return "\n".join(lines), values


def _p_text(p, resamples):
    """A p-value as printed; at its floor, 1 / (resamples + 1), as a bound."""
    return f"p <= {p:.2g}" if p <= 1 / (resamples + 1) + 1e-12 else f"p = {p:.2g}"
