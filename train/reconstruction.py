"""Did the autoencoder learn to reconstruct, or collapse to a constant?

The default model (ReLU LSTMs, a 4-unit bottleneck) can end training with every bottleneck unit
dead: its output is then one fixed point whatever the input, and its "reconstruction error" is just
the distance of the scaled features from that point. Detection on IMS test 2 still works that way
(the failure moves the features far from the healthy region), but such a model has learned nothing
about how the features vary together, and two seeds of one fit could be two different detectors.
With the default settings before this check, seeds 0 and 4 of 0-4 collapsed on IMS test 2.

Two measures over the healthy windows, in the scaled units the model sees:

- ``spread_ratio``: per feature, the standard deviation of the model's output over that of its
  input. A model that reconstructs follows its input (0.4-0.9 for the seeds that learned on IMS
  test 2); a collapsed one does not move (about 1e-5).
- ``error_vs_median``: the model's mean healthy error over the mean healthy distance to the
  healthy median (a constant at the median, the best a constant can do under an absolute error).
  Learned: 0.52-0.67; collapsed: 1.00.

A model is **collapsed** when its output spread stays under :data:`MIN_SPREAD_RATIO` of the input's
in every feature, or its error is no better than :data:`MAX_ERROR_VS_MEDIAN` x the distance to the
median. ``fit`` then trains again with the next seed, at most :data:`MAX_TRIES` seeds in all (fits of
at least :data:`MIN_EPOCHS_TO_RETRY` epochs), and says plainly when none learned (summary, ``report``,
``metadata.json``, the bundle's manifest).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

#: Below this output/input spread ratio in every feature, the model ignores its input.
MIN_SPREAD_RATIO = 0.05
#: At or above this ratio of its error to the distance-to-median, the model does no better than a constant.
MAX_ERROR_VS_MEDIAN = 0.95
#: Seeds tried by one fit: the one asked for, then the next ones (seed + 1, seed + 2, ...).
MAX_TRIES = 3
#: Shorter trainings are measured and reported but not retried: a retry costs a whole training run, and
#: a seed that learns needs tens of epochs to show it (IMS test 2, seed 1: output spread 0.08 of the
#: input's after 3 epochs, 0.64 after 10, 0.85 after 100), so a quick trial fit would retry every seed.
MIN_EPOCHS_TO_RETRY = 50
#: When a fit may retry, a run whose output spread is still under :data:`DEAD_SPREAD_RATIO` of the input's
#: in every feature after :data:`CHECK_EPOCH` epochs is stopped there: its units are dead and stay dead
#: (IMS test 2: the collapsed seeds 0 and 4 measured 0.0 at every epoch from 1 to 100; the seeds that
#: learn, 0.58-0.64 at epoch 10), and the next seed starts ~90 % of a training run sooner.
CHECK_EPOCH = 10
DEAD_SPREAD_RATIO = 1e-3


@dataclass(frozen=True)
class Reconstruction:
    """How well one trained model reconstructs its healthy windows."""

    spread_ratio: tuple[float, ...]  # per feature: std(output) / std(input) over the healthy windows
    error_vs_median: float  # mean healthy error / mean healthy distance to the healthy median
    correlation_with_median: float  # of the healthy errors with the healthy distances to the median

    @property
    def collapsed(self) -> bool:
        return max(self.spread_ratio) < MIN_SPREAD_RATIO or self.error_vs_median >= MAX_ERROR_VS_MEDIAN

    def describe(self) -> str:
        verdict = "COLLAPSED to a constant" if self.collapsed else "learned"
        return (f"{verdict}: output spread {min(self.spread_ratio):.2g}-{max(self.spread_ratio):.2g} of the "
                f"input's, error {self.error_vs_median:.2f} x the distance to the healthy median")

    def to_dict(self) -> dict[str, Any]:
        return {"collapsed": self.collapsed, "spread_ratio": [round(r, 6) for r in self.spread_ratio],
                "error_vs_median": round(self.error_vs_median, 4),
                "correlation_with_median": round(self.correlation_with_median, 6)}


def measure_reconstruction(windows: np.ndarray, reconstructions: np.ndarray) -> Reconstruction:
    """:class:`Reconstruction` of the healthy ``windows`` ``(n, T, f)`` from the model's ``reconstructions``."""
    x = np.asarray(windows, dtype=np.float64)
    y = np.asarray(reconstructions, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 3:
        raise ValueError(f"windows {x.shape} and reconstructions {y.shape} must be the same (n, T, f)")
    flat_x, flat_y = x.reshape(-1, x.shape[2]), y.reshape(-1, y.shape[2])
    spread_in = flat_x.std(axis=0)
    ratio = np.divide(flat_y.std(axis=0), spread_in, out=np.zeros_like(spread_in), where=spread_in > 0)
    error = np.abs(x - y).reshape(len(x), -1).mean(axis=1)
    to_median = np.abs(x - np.median(flat_x, axis=0)).reshape(len(x), -1).mean(axis=1)
    vs_median = float(error.mean() / to_median.mean()) if to_median.mean() > 0 else 1.0
    both_vary = error.std() > 0 and to_median.std() > 0
    correlation = float(np.corrcoef(error, to_median)[0, 1]) if both_vary else 1.0
    return Reconstruction(tuple(float(r) for r in ratio), vs_median, correlation)


def stop_when_dead(windows: np.ndarray, at_epoch: int = CHECK_EPOCH):
    """A Keras callback that stops training at ``at_epoch`` when the output does not follow ``windows``."""
    from train.quiet_tensorflow import quiet_tensorflow

    quiet_tensorflow()  # this can be fit's first import of TensorFlow
    import keras

    class StopWhenDead(keras.callbacks.Callback):
        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            if epoch + 1 == at_epoch:
                out = self.model.predict(windows, batch_size=1024, verbose=0)
                if max(measure_reconstruction(windows, out).spread_ratio) < DEAD_SPREAD_RATIO:
                    self.model.stop_training = True

    return StopWhenDead()


@dataclass
class Attempt:
    """One training run of :func:`train_until_learned`."""

    seed: int
    reconstruction: Reconstruction
    seconds: float
    epochs_run: int


def train_until_learned(train: Callable[[int], tuple[Any, dict, float]], windows: np.ndarray, seed: int,
                        tries: int = MAX_TRIES, on_collapse: Callable[[int, int], None] | None = None,
                        ) -> tuple[Any, dict, Attempt, list[Attempt]]:
    """Train with ``seed``, then ``seed + 1``, ... until a model learned, at most ``tries`` seeds.

    ``train(seed)`` returns ``(model, history, seconds)``; ``on_collapse(seed, next_seed)`` is called
    before each new try. Returns the first model that learned (or, when none did, the one whose error
    came closest to learning), its history, its attempt and every attempt.
    """
    attempts, models = [], []
    for s in range(seed, seed + max(1, tries)):
        if attempts and on_collapse is not None:
            on_collapse(attempts[-1].seed, s)
        model, history, seconds = train(s)
        recon = measure_reconstruction(windows, model.predict(windows, batch_size=1024, verbose=0))
        attempts.append(Attempt(s, recon, seconds, len(history.get("loss", []))))
        models.append((model, history))
        if not recon.collapsed:
            break
    best = min(range(len(attempts)), key=lambda i: (attempts[i].reconstruction.collapsed,
                                                     attempts[i].reconstruction.error_vs_median))
    return models[best][0], models[best][1], attempts[best], attempts


def learning_metadata(chosen: Attempt, attempts: list[Attempt]) -> dict[str, Any]:
    """``metadata.json``'s ``reconstruction``: the written model's measures, the seeds tried and the rule."""
    return {"learned": not chosen.reconstruction.collapsed, "seed": chosen.seed, **chosen.reconstruction.to_dict(),
            "seeds_tried": [{"seed": a.seed, "collapsed": a.reconstruction.collapsed,
                             "error_vs_median": round(a.reconstruction.error_vs_median, 4),
                             "max_spread_ratio": round(max(a.reconstruction.spread_ratio), 6),
                             "epochs_run": a.epochs_run, "seconds": round(a.seconds, 3)} for a in attempts],
            "rule": {"min_spread_ratio": MIN_SPREAD_RATIO, "max_error_vs_median": MAX_ERROR_VS_MEDIAN,
                     "max_tries": MAX_TRIES, "min_epochs_to_retry": MIN_EPOCHS_TO_RETRY,
                     "check_epoch": CHECK_EPOCH, "dead_spread_ratio": DEAD_SPREAD_RATIO}}


def collapse_warning(chosen: Attempt, attempts: list[Attempt]) -> str | None:
    """The plain warning when no seed learned (about the model written, ``chosen``), or None."""
    if not chosen.reconstruction.collapsed:
        return None
    seeds = ("seed " if len(attempts) == 1 else "seeds ") + ", ".join(str(a.seed) for a in attempts)
    return (f"the model did not learn to reconstruct: with {seeds} its output stayed constant (the "
            f"autoencoder collapsed; the model written, seed {chosen.seed}, {chosen.reconstruction.describe()}). "
            "Its error is only the distance from a fixed healthy point, so its alarms say 'far from normal' and "
            "nothing about how the features vary together. Fit again with other seeds (--seed) or more epochs, "
            "and check the 'reconstruction' line of 'bearing-train report'")
