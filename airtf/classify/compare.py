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
import json
from pathlib import Path

from airtf.classify import figures, metrics, reporting
from airtf.runs.layout import COMPARISON_CSV, COMPARISON_JSON, INSTRUMENT_PLOT, SCORES_NAME, SEEDS_PLOT
from airtf.errors import AirtfError
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
    """What :func:`compare` made: the runs, the table printed, the files written."""

    runs: list
    table: str
    files: list


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


def compare(run_dirs, out, overwrite=False):
    """Compare airtf-eval runs: a table, CSV, JSON and plots in ``out``.

    Parameters
    ----------
    run_dirs : sequence of str or Path
        Finished airtf-eval run directories, all on the same classes.
    out : str or Path
        Folder for the outputs (created if needed).
    overwrite : bool
        Replace an earlier comparison in ``out``.

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
    write_json(out / COMPARISON_JSON, reporting.json_ready({"classes": classes,
                                                            "runs": [_run_entry(run) for run in runs]}))
    reporting.write_csv(out / COMPARISON_CSV, csv_rows(runs, names))
    figures.f1_plots(out, names, {run.label: ([run.mean[name]["f1"] for name in names],
                                              [run.std[name]["f1"] for name in names],
                                              list(run.overall_f1.values())) for run in runs})
    return Comparison(runs, format_table(runs, names), files)


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
