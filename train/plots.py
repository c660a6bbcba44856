"""The four figures of a model directory (PNG, matplotlib's Agg backend: no display needed).

They answer the questions a maintenance engineer asks before trusting a model:
did training converge (loss), where does the threshold sit among healthy
errors (distribution), when would it have alarmed (timeline), and what did the
raw features do around the split (features).
"""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # before pyplot: headless servers and CI have no display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from edge_agent.atomic import atomic_output  # noqa: E402

PLOT_FILES = {
    "loss": "loss.png",
    "error_distribution": "training_error_distribution.png",
    "timeline": "error_timeline.png",
    "features": "features.png",
}


def _finish(fig: plt.Figure, ax: plt.Axes, path: Path, title: str, xlabel: str | None, ylabel: str,
            legend_loc: str = "best", dates: bool = False) -> Path:
    """Label, grid, legend and save: the common tail of every plot."""
    if xlabel:
        ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(loc=legend_loc, ncol=2 if dates and len(ax.get_legend_handles_labels()[0]) > 4 else 1)
    if dates:
        fig.autofmt_xdate()
    return _save(fig, path)


def _save(fig: plt.Figure, path: Path) -> Path:
    with atomic_output(path, "wb") as fh:
        fig.savefig(fh, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


def plot_loss(loss: list[float], val_loss: list[float], path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(7, 4))
    epochs = np.arange(1, len(loss) + 1)
    ax.plot(epochs, loss, label="training loss (MAE)")
    if val_loss:
        ax.plot(epochs, val_loss, label="validation loss (MAE)")
    return _finish(fig, ax, path, "Training and validation loss", "epoch", "mean absolute error (scaled features)")


def plot_error_distribution(train_errors: np.ndarray, threshold: float, rule: str, path: Path,
                            validation_errors: np.ndarray | None = None) -> Path:
    fig, ax = plt.subplots(figsize=(7, 4))
    hi = max(float(np.max(train_errors)), threshold) * 1.1
    bins = np.linspace(0, hi, 50)
    ax.hist(train_errors, bins=bins, alpha=0.7, label=f"training snapshots (n={len(train_errors)})")
    if validation_errors is not None and len(validation_errors):
        ax.hist(validation_errors, bins=bins, alpha=0.7, label=f"validation snapshots (n={len(validation_errors)})")
    ax.axvline(threshold, color="red", linestyle="--", label=f"threshold {threshold:.4g} ({rule})")
    return _finish(fig, ax, path, "Reconstruction error in the healthy period", "reconstruction error (MAE)",
                   "snapshots")


def plot_timeline(timestamps: np.ndarray, errors: np.ndarray, alarm: np.ndarray, threshold: float,
                  train_until: np.datetime64, path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(11, 4.5))
    t = timestamps.astype("datetime64[s]").astype(object)
    ax.plot(t, errors, lw=0.8, label="reconstruction error")
    ax.axhline(threshold, color="red", linestyle="--", lw=1, label=f"threshold {threshold:.4g}")
    ax.axvline(np.datetime64(train_until).astype(object), color="grey", linestyle=":", label="end of training period")
    if alarm.any():
        ymax = np.nanmax(errors) if np.isfinite(errors).any() else 1.0
        ax.fill_between(t, 0, ymax * 1.05, where=alarm, color="red", alpha=0.15, step="post",
                        label="debounced alarm")
        first = t[int(np.argmax(alarm))]
        ax.annotate(f"first alarm\n{first:%Y-%m-%d %H:%M}", xy=(first, threshold), xytext=(-120, 40),
                    textcoords="offset points", arrowprops={"arrowstyle": "->"})
    ax.set_yscale("log")
    return _finish(fig, ax, path, "Reconstruction error over the whole recording", None,
                   "reconstruction error (MAE, log scale)", "upper left", dates=True)


def plot_features(timestamps: np.ndarray, values: np.ndarray, names: list[str],
                  train_until: np.datetime64, path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(11, 4.5))
    t = timestamps.astype("datetime64[s]").astype(object)
    for j, name in enumerate(names):
        ax.plot(t, values[:, j], lw=0.8, label=name)
    ax.axvspan(t[0], np.datetime64(train_until).astype(object), color="green", alpha=0.08,
               label="training period (healthy)")
    return _finish(fig, ax, path, "Raw features", None, "mean |x| per snapshot", "upper left", dates=True)
