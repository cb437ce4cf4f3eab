"""Reporting in one place: the files of an evaluation run, text tables, JSON and CSV.

``airtf-eval`` writes, ``airtf-compare`` and ``airtf-export`` read, and
everybody prints through here:

- the names of the files an airtf-eval run directory holds;
- :func:`text_table`, the one table formatter (numbers right-aligned, the
  last rows, e.g. ``overall``, set off by a rule), with :func:`cell` and
  :func:`mean_std` for its cells (NaN shown as ``n/a``);
- :func:`json_ready` / :func:`read_scores` (NaN as JSON null and back) and
  :func:`write_csv`.

Figures are in :mod:`airtf.classify.figures`, so that reading a run imports no matplotlib.
"""

import csv
import json
import math
from pathlib import Path

import numpy as np

from airtf.classify import metrics
from airtf.support.files import atomic_path

UNSCORED_NOTE = ("n/a: the test clips annotated for this instrument are all positive or all negative, so its F1 "
                 "is undefined; overall leaves it out")


# ---------------------------------------------------------------- text

def cell(value):
    """A table cell: ints as they are, floats to 3 decimals, NaN as ``n/a``, text as it is."""
    if isinstance(value, str):
        return value
    if isinstance(value, (int, np.integer)):
        return str(value)
    return "n/a" if math.isnan(value) else f"{value:.3f}"


def mean_std(mean, std, seeds):
    """``0.712 ± 0.013`` over several seeds, ``0.712`` over one, ``n/a`` for NaN."""
    if math.isnan(mean):
        return "n/a"
    return f"{mean:.3f} ± {std:.3f}" if seeds > 1 else f"{mean:.3f}"


def text_table(header, rows, footer=1):
    """An aligned text table: the first column left-aligned, the others right-aligned.

    Parameters
    ----------
    header : sequence
    rows : sequence of sequences
        Cells are passed through :func:`cell`.
    footer : int
        How many last rows (``overall``) are set off by a rule.

    Returns
    -------
    str
        The table, followed by :data:`UNSCORED_NOTE` when a cell is ``n/a``.
    """
    rows = [[cell(value) for value in row] for row in [header, *rows]]
    note = [UNSCORED_NOTE] if any(text == "n/a" for row in rows for text in row) else []
    widths = [max(len(row[index]) for row in rows) for index in range(len(header))]

    def line(cells):
        aligned = (text.rjust(width) for text, width in zip(cells[1:], widths[1:]))
        return "  ".join([cells[0].ljust(widths[0]), *aligned])

    rule = "-" * len(line(rows[0]))
    body = [line(row) for row in rows[1:]]
    split = len(body) - footer
    return "\n".join([line(rows[0]), rule, *body[:split], *([rule] if footer else []), *body[split:], *note])


# ---------------------------------------------------------------- the tables of airtf-eval

def summary_csv_rows(summary):
    """CSV rows: instrument, mean and std of each score, then the F1 of each seed."""
    seeds = list(summary["seeds"])
    header = ["instrument", *(f"{score}_{what}" for score in metrics.COLUMNS for what in ("mean", "std")),
              *(f"f1_seed{seed}" for seed in seeds)]
    rows = [header]
    for name in summary["mean"]:
        statistics = [summary[what][name][score] for score in metrics.COLUMNS for what in ("mean", "std")]
        rows.append([name, *statistics, *(summary["seeds"][seed]["test"][name]["f1"] for seed in seeds)])
    return rows


def summary_table(summary):
    """The per-instrument table of a summary: mean ± std over seeds of each score."""
    header = ["instrument", *metrics.SCORES, "present", "absent"]
    rows = []
    for name in summary["mean"]:
        cells = [mean_std(summary["mean"][name][score], summary["std"][name][score], len(summary["seeds"]))
                 for score in metrics.SCORES]
        supports = [str(int(summary["mean"][name][support])) for support in metrics.SUPPORTS]
        rows.append([name, *cells, *supports])
    return text_table(header, rows)


def tuned_text(summary):
    """The test scores with thresholds tuned on the validation split, with the thresholds, below a title line."""
    if "tuned" not in summary:
        return ("thresholds tuned on the validation split: not in this run's scores (seeds scored before airtf "
                "tuned them); rerun in a new --out to have them")
    seeds = list(summary["seeds"].values())
    thresholds = {name: [seed["tuned_thresholds"][name] for seed in seeds] for name in summary["classes"]}
    header = ["instrument", "threshold", *metrics.SCORES]
    rows = []
    mean, std = summary["tuned"]["mean"], summary["tuned"]["std"]
    for name in mean:
        chosen = ", ".join(f"{value:.2f}" for value in thresholds[name]) if name in thresholds else ""
        rows.append([name, chosen, *(mean_std(mean[name][score], std[name][score], len(seeds))
                                     for score in metrics.SCORES)])
    return ("test scores with each instrument's threshold tuned on the validation split (one per seed; above: "
            "0.5 for all)\n" + text_table(header, rows))


# ---------------------------------------------------------------- files

def json_ready(value):
    """``value`` with NaN replaced by None (null), so that scores files are strict JSON."""
    if isinstance(value, dict):
        return {key: json_ready(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(item) for item in value]
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _from_json(value):
    """Inverse of :func:`json_ready`: None back to NaN."""
    if isinstance(value, dict):
        return {key: _from_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_from_json(item) for item in value]
    return math.nan if value is None else value


def read_scores(path):
    """A scores or comparison JSON file, NaN restored."""
    return _from_json(json.loads(Path(path).read_text()))


def write_csv(path, rows):
    """Write CSV rows atomically."""
    with atomic_path(path) as temporary:
        with open(temporary, "w", newline="") as stream:
            csv.writer(stream).writerows(rows)
