"""The figures of airtf-eval and airtf-compare, as PNG files.

Figures are drawn with matplotlib's object-oriented API on the Agg canvas
(no pyplot, no display, no global backend switch) and written atomically.
NaN values (instruments that cannot be scored) get no bar.
"""

import math

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from airtf.files import atomic_path

DPI = 120


def _save(figure, path):
    """Write ``figure`` to ``path`` (PNG) atomically; returns the path."""
    FigureCanvasAgg(figure)
    with atomic_path(path) as temporary:
        figure.savefig(temporary, format="png", dpi=DPI, bbox_inches="tight")
    return path


def instrument_bars(path, names, groups, title, ylabel="F1-macro"):
    """Bars per instrument with error bars, one bar per group (run) side by side.

    Parameters
    ----------
    path : str or Path
        The PNG file.
    names : sequence of str
        Instruments (and "overall"), left to right.
    groups : dict
        Label -> (means, stds), each a sequence aligned with ``names``.
    title, ylabel : str

    Returns
    -------
    Path
    """
    figure = Figure(figsize=(max(8.0, len(names) * (0.3 + 0.12 * len(groups)) + 2), 4.5))
    axes = figure.add_subplot()
    positions = np.arange(len(names))
    width = 0.8 / len(groups)
    for index, (label, (means, stds)) in enumerate(groups.items()):
        means, stds = np.asarray(means, dtype=float), np.asarray(stds, dtype=float)
        scored = ~np.isnan(means)
        offsets = positions - 0.4 + width * (index + 0.5)
        axes.bar(offsets[scored], means[scored], width, yerr=stds[scored], capsize=2, label=label)
    axes.set_xticks(positions, names, rotation=60, ha="right")
    axes.set_ylim(0, 1)
    axes.set_ylabel(ylabel)
    axes.set_title(title)
    axes.grid(axis="y", alpha=0.3)
    if len(groups) > 1:
        axes.legend(fontsize="small", ncol=min(4, len(groups)))
    return _save(figure, path)


def box_plot(path, groups, title, ylabel="F1-macro"):
    """One box per group (run) of its values over seeds, the values drawn as dots.

    Parameters
    ----------
    path : str or Path
    groups : dict
        Label -> values (one per seed).
    title, ylabel : str

    Returns
    -------
    Path
    """
    figure = Figure(figsize=(max(4.0, 1.4 * len(groups) + 1.5), 4.5))
    axes = figure.add_subplot()
    values = [[value for value in column if not math.isnan(value)] for column in groups.values()]
    axes.boxplot(values, showmeans=True)
    for position, column in enumerate(values, start=1):
        axes.scatter(np.full(len(column), position), column, s=12, color="black", zorder=3)
    axes.set_xticks(np.arange(1, len(groups) + 1), list(groups), rotation=20, ha="right")
    axes.set_ylabel(ylabel)
    axes.set_title(title)
    axes.grid(axis="y", alpha=0.3)
    return _save(figure, path)
