"""The denoising objective's TensorBoard image: a log-mel example clean, corrupted and reconstructed."""

import numpy as np
from matplotlib.figure import Figure

from airtf import params


def reconstruction_figure(views, title):
    """A log-mel example as several views side by side (clean | corrupted | reconstructed), on one colour scale.

    Parameters
    ----------
    views : dict of str to array (96, 64)
        Name -> frames x mel bands; the first view sets the colour scale.
    title : str

    Returns
    -------
    matplotlib.figure.Figure
        Time in seconds across, mel band upwards, one colour bar.
    """
    first = np.asarray(next(iter(views.values())))
    low, high = float(first.min()), float(first.max())
    figure = Figure(figsize=(3 * len(views) + 1, 3.2), dpi=params.FIGURE_DPI, layout="constrained")
    panels = figure.subplots(1, len(views), sharey=True)
    seconds = first.shape[0] * params.STFT_HOP_SECONDS
    for axes, (name, view) in zip(np.atleast_1d(panels), views.items()):
        image = axes.imshow(np.transpose(view), origin="lower", aspect="auto", cmap="magma", vmin=low, vmax=high,
                            extent=(0, seconds, 0, first.shape[1]), interpolation="nearest")
        axes.set_title(name, fontsize=9)
        axes.set_xlabel("time (s)")
    np.atleast_1d(panels)[0].set_ylabel("mel band")
    figure.suptitle(title, fontsize=10)
    figure.colorbar(image, ax=panels, label="log-mel (the clean example's range)")
    return figure
