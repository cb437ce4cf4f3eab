"""Figures: F1 per instrument and over seeds, attention maps.

Drawn with matplotlib's object-oriented API on the Agg canvas (no pyplot,
no display, no global backend switch) and written atomically; an instrument
that cannot be scored (NaN) is marked ``n/a``. Only the jobs that draw import
this module (and so matplotlib).
"""

import math
import textwrap

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from airtf.classify.reporting import UNSCORED_NOTE
from airtf.runs.layout import INSTRUMENT_PLOT, SEEDS_PLOT
from airtf.support.files import atomic_path

from airtf.params import FIGURE_DPI as DPI


def _save(figure, path):
    """Write ``figure`` to ``path`` (PNG) atomically; returns the path."""
    FigureCanvasAgg(figure)
    with atomic_path(path) as temporary:
        figure.savefig(temporary, format="png", dpi=DPI, bbox_inches="tight")
    return path


def f1_plots(out, names, runs):
    """Draw :data:`INSTRUMENT_PLOT` and :data:`SEEDS_PLOT` of one or more runs in folder ``out``.

    Parameters
    ----------
    out : Path
    names : sequence of str
        Instruments, then "overall".
    runs : dict
        Label (e.g. the feature set) -> (F1 means, F1 stds, overall F1 per seed),
        the means and stds aligned with ``names``.

    Returns
    -------
    list of Path
    """
    seeds = sorted({len(overall) for *_, overall in runs.values()})
    over = f"{seeds[0]} seed{'s' if seeds[0] > 1 else ''}" if len(seeds) == 1 else "seeds"
    return [instrument_bars(out / INSTRUMENT_PLOT, names, {label: run[:2] for label, run in runs.items()},
                            title=f"Test F1-macro per instrument, mean ± std over {over}"),
            box_plot(out / SEEDS_PLOT, {label: run[2] for label, run in runs.items()},
                     title="Overall test F1-macro over seeds")]


def instrument_bars(path, names, groups, title, ylabel="F1-macro"):
    """Write :func:`instrument_figure` to ``path`` (PNG); returns the path."""
    return _save(instrument_figure(names, groups, title, ylabel), path)


def instrument_figure(names, groups, title, ylabel="F1-macro"):
    """Bars per instrument with error bars, one bar per group (run) side by side, the last name set apart.

    An instrument a group cannot score (NaN) shows ``n/a`` where its bar
    would stand, explained under the plot. The legend names every group,
    a single one included.

    Parameters
    ----------
    names : sequence of str
        Instruments, then "overall", left to right.
    groups : dict
        Label -> (means, stds), each a sequence aligned with ``names``.
    title, ylabel : str

    Returns
    -------
    matplotlib.figure.Figure
    """
    figure = Figure(figsize=(max(8.0, len(names) * (0.3 + 0.12 * len(groups)) + 2), 5.0), layout="constrained")
    axes = figure.add_subplot()
    positions = np.arange(len(names), dtype=float)
    positions[-1] += 0.5  # overall, apart from the instruments
    width = 0.8 / len(groups)
    tops, unscored = [1.0], False
    for index, (label, (means, stds)) in enumerate(groups.items()):
        means, stds = np.asarray(means, dtype=float), np.asarray(stds, dtype=float)
        scored = ~np.isnan(means)
        offsets = positions - 0.4 + width * (index + 0.5)
        axes.bar(offsets[scored], means[scored], width, yerr=stds[scored], capsize=2, label=_wrapped(label))
        tops.extend(means[scored] + stds[scored])
        for offset in offsets[~scored]:
            axes.text(offset, 0.01, "n/a", rotation=90, ha="center", va="bottom", fontsize="x-small", color="dimgray")
        unscored |= not scored.all()
    axes.axvline(positions[-1] - 0.75, color="gray", linewidth=0.8)
    axes.set_xticks(positions, names, rotation=60, ha="right")
    axes.set_xlim(positions[0] - 0.6, positions[-1] + 0.6)
    axes.set_ylim(0, max(tops) * 1.04)
    axes.set_ylabel(ylabel)
    axes.set_title(title)
    axes.grid(axis="y", alpha=0.3)
    figure.legend(loc="outside upper center", fontsize="small", ncol=min(4, len(groups)), frameon=False)
    if unscored:
        figure.text(0.01, 0.0, UNSCORED_NOTE, fontsize="x-small", color="dimgray", ha="left", va="top")
    return figure


def _wrapped(label, width=30):
    """``label`` in lines of at most ``width`` characters, so that long run names fit their figure."""
    return "\n".join(textwrap.wrap(label, width)) or label


def box_plot(path, groups, title, ylabel="F1-macro"):
    """Write :func:`box_figure` to ``path`` (PNG); returns the path."""
    return _save(box_figure(groups, title, ylabel), path)


def box_figure(groups, title, ylabel="F1-macro"):
    """One box per group (run) of its values over seeds, the values drawn as dots, with a key.

    Parameters
    ----------
    groups : dict
        Label -> values (one per seed).
    title, ylabel : str

    Returns
    -------
    matplotlib.figure.Figure
    """
    figure = Figure(figsize=(max(5.0, 1.4 * len(groups) + 2.5), 4.5), layout="constrained")
    axes = figure.add_subplot()
    values = [[value for value in column if not math.isnan(value)] for column in groups.values()]
    boxes = axes.boxplot(values, showmeans=True)
    for position, column in enumerate(values, start=1):
        axes.scatter(np.full(len(column), position), column, s=12, color="black", zorder=3)
    key = {"median": boxes["medians"][0], "mean": boxes["means"][0],
           "one seed": Line2D([], [], marker="o", markersize=4, color="black", linestyle="none"),
           "box: quartiles; whiskers: data within 1.5 IQR": boxes["boxes"][0]}
    axes.legend(key.values(), key.keys(), fontsize="x-small", loc="upper left", bbox_to_anchor=(1.02, 1.0))
    axes.set_xticks(np.arange(1, len(groups) + 1), [_wrapped(label, 16) for label in groups])
    axes.set_ylabel(ylabel)
    axes.set_title(title)
    axes.grid(axis="y", alpha=0.3)
    return figure


PRESENT, ABSENT = "+", "\u2013"
"""Marks after an instrument's name: annotated present, annotated absent (nothing: not annotated)."""


def attention_figure(attention, class_names, y_true, y_mask, seconds, title):
    """One clip's attention map: instruments on rows, time in seconds across, each row scaled to its maximum.

    Parameters
    ----------
    attention : array (T, C)
    class_names : sequence of str
    y_true, y_mask : arrays (C,)
        The clip's labels: each row's name is marked :data:`PRESENT` or
        :data:`ABSENT` where annotated.
    seconds : float
        The clip's length, spread over the T frames.
    title : str

    Returns
    -------
    matplotlib.figure.Figure
    """
    rows = np.transpose(attention) / np.maximum(np.transpose(attention).max(axis=1, keepdims=True), 1e-12)
    figure = Figure(figsize=(8, 0.25 * len(class_names) + 1.5), dpi=DPI, layout="constrained")
    axes = figure.add_subplot()
    image = axes.imshow(rows, aspect="auto", cmap="viridis", vmin=0, vmax=1, interpolation="nearest",
                        extent=(0, seconds, len(class_names) - 0.5, -0.5))
    marks = [f"{name} {PRESENT if present >= 0.5 else ABSENT}" if annotated else name
             for name, present, annotated in zip(class_names, y_true, y_mask)]
    axes.set_yticks(range(len(class_names)), labels=marks, fontsize=8)
    axes.set_xlabel("time (s)")
    axes.set_title(f"{title}\n(after each name: {PRESENT} annotated present, {ABSENT} annotated absent)",
                   fontsize=9)
    figure.colorbar(image, ax=axes, label="attention / the row's maximum")
    return figure
