"""Fit: feature table -> model directory (model, scaler, threshold, scores, metadata, plots).

The steps, each a short function below:

1. read the feature table and split it at ``train_until`` (inclusive: healthy);
2. fit scikit-learn's ``MinMaxScaler`` on the healthy rows only and export it
   (``scaler.json``); scale every row with the exported parameters, i.e. the
   exact arithmetic the device will use;
3. build windows of ``T`` consecutive snapshots (``make_windows``; T=1 is the seed);
4. train the default autoencoder, seeded and deterministic (Adam, MAE, 100
   epochs, batch 10, validation split 0.05: Keras takes the *last* 5 % of the
   healthy windows, unshuffled, as validation); a model that collapsed to a
   constant output is trained again with the next seed (:mod:`train.reconstruction`);
5. score every window, set the threshold from the healthy errors
   (:mod:`train.threshold`) and debounce (``edge_agent.scoring.scores.alarm_series``,
   the same function the parity gate and the benchmarks use);
6. write everything atomically into a fresh directory that replaces ``out``
   (:mod:`train.model_dir` owns its files).

Snapshots before the first full window (the first ``T - 1`` when ``T > 1``)
have no score: ``scores.csv`` lists them with an empty ``error``,
``over_threshold = 0`` and ``alarm = 0`` and they are not fed to the
debouncer. The device behaves the same: it cannot score until it has
collected ``T`` snapshots.
"""
from __future__ import annotations

import math
import platform
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from edge_agent.features.registry import DEFAULT_FEATURES
from edge_agent.features.spec import FeatureSpec
from edge_agent.features.table import FeatureTable, format_timestamp, read_feature_table
from edge_agent.scoring.bundle import sha256_file
from edge_agent.scoring.detection import make_windows, reconstruction_error
from edge_agent.scoring.diagnosis import far_over, feature_contributions
from edge_agent.scoring.scaler import ScalerParams
from edge_agent.scoring.baseline import Baseline
from edge_agent.scoring.judge import judge_series
from edge_agent.scoring.levels import NORMAL, Decision, LevelRules
from edge_agent.scoring.machine_state import MachineRules
from edge_agent.scoring.scores import ScoreTable, alarm_series
from firmware_io.errors import BearingEdgeError
from firmware_io.recordings.ims import (FEATURES_TEST2, IMS_SAMPLE_RATE_HZ, IMS_SAMPLES_PER_SNAPSHOT,
                                      RAW_TEST2_DIR, TEST2_TRAIN_UNTIL)
from firmware_io.recordings.reader import RecordingError
from firmware_io.time_text import parse_time
from train import model_dir
from train.drift import IN_SERVICE, ON_DRIFT, TimeScale, drift_caveat, drift_refusal, measure_drift
from train.ingest import read_table_spec, select_features, table_spec_path
from train.reconstruction import (MAX_TRIES, MIN_EPOCHS_TO_RETRY, collapse_warning, learning_metadata,
                                  stop_when_dead, train_until_learned)
from train.threshold import DEFAULT_DEBOUNCE, DEFAULT_MARGIN, DEFAULT_RULE, ThresholdRule

DEFAULT_EPOCHS = 100
DEFAULT_BATCH_SIZE = 10
DEFAULT_VALIDATION_SPLIT = 0.05
#: Batches run per call into the compiled graph. Pure speed: the update sequence is
#: the same as one batch per call (same batches, same order, same loss values).
STEPS_PER_EXECUTION = 64


class FitError(BearingEdgeError, ValueError):
    """Training cannot proceed with this input; the message says why and what to do."""


@dataclass
class FitResult:
    """What :func:`fit_model_dir` produced; everything is also on disk in ``out``."""

    out: Path
    threshold: dict[str, Any]
    scores: ScoreTable  # with its split: "train" | "validation" | "test" | "excluded"
    metadata: dict[str, Any]
    history: dict[str, list[float]] = field(default_factory=dict)

    @property
    def threshold_value(self) -> float:
        return float(self.threshold["value"])

    @property
    def first_alarm(self) -> np.datetime64 | None:
        return self.scores.first_alarm()

    @property
    def false_alarms(self) -> int:
        """Alarm onsets at or before the end of the healthy (training) period."""
        until = np.datetime64(self.metadata["split"]["train_until"].replace(" ", "T"))
        return int((self.scores.alarm_onsets() <= until).sum())

    @property
    def training_seconds(self) -> float:
        return float(self.metadata["training_seconds"])


def fit_model_dir(table_path: str | Path, out: str | Path, train_until: str | np.datetime64, *,
                  timesteps: int = 1, seed: int = 0, epochs: int = DEFAULT_EPOCHS,
                  batch_size: int = DEFAULT_BATCH_SIZE, validation_split: float = DEFAULT_VALIDATION_SPLIT,
                  rule: str = DEFAULT_RULE, margin: float = DEFAULT_MARGIN, debounce: int = DEFAULT_DEBOUNCE,
                  threshold: float | None = None, exclude: Sequence[tuple[str, str]] = (),
                  sample_rate_hz: int | None = None, samples_per_snapshot: int | None = None,
                  make_plots: bool = True, verbose: int = 0, on_drift: str = "flag",
                  features: Sequence[str] | None = None, immediate: float | None = None,
                  on_epoch: Callable[[int, int, dict[str, float]], None] | None = None,
                  seed_tries: int | None = None, on_collapse: Callable[[int, int], None] | None = None,
                  levels: LevelRules | None = None, machine: MachineRules | None = None,
                  time_scale: TimeScale = IN_SERVICE) -> FitResult:
    """Train on ``table_path`` up to ``train_until`` (inclusive) and write the model directory ``out``.

    ``threshold`` given fixes the threshold (rule ``fixed``); otherwise ``rule``
    sets it from the healthy errors. ``exclude`` lists ``(start, end)`` periods
    (inclusive) that are not healthy although before ``train_until``, e.g.
    maintenance: they are scored but neither trained on nor used for the
    threshold. ``sample_rate_hz`` and ``samples_per_snapshot`` describe the
    stream the features came from (``bearing-agent export`` prints them); they go
    into the feature spec, and the agent refuses a bundle whose rate differs
    from the live stream's. A table ingest wrote with its spec states them: a value given
    here that disagrees is refused (the features were computed at the spec's rate); a
    table without a spec is IMS's (20 kHz, 20,480 samples) unless they are given. ``out`` is replaced only when everything succeeded; it must be
    empty, absent, or an earlier model directory. ``on_drift`` says what a healthy period whose
    level still rises does (:mod:`train.drift`): ``refuse`` (FitError before training, what
    ``bearing-train fit`` does), ``flag`` (written with the refusal as its first warning) or ``accept``.
    ``features`` chooses columns of a table that ``bearing-train ingest --features`` wrote with
    its spec beside it (default: all of them); the model's spec names exactly those, with the bearing.
    ``immediate`` turns on the two-level rule (:class:`train.threshold.ThresholdRule`).
    ``on_epoch(epoch, epochs, logs)`` is called after each training epoch (1-based), for a progress display.
    A model that collapsed to a constant (:mod:`train.reconstruction`) is trained again with the next seed, at
    most ``seed_tries`` seeds (default ``MAX_TRIES`` from ``MIN_EPOCHS_TO_RETRY`` epochs on, else 1: a short
    trial fit is only measured); ``on_collapse(seed, next_seed)`` is called before each new try.
    ``time_scale`` (:mod:`train.drift`): a machine in service (default), or an accelerated test judged
    on its own time scale (drift check, and the span of healthy data asked for).
    """
    table_path, out = Path(table_path), Path(out)
    _check_out(out)
    table = read_feature_table(table_path)
    try:  # a table of chosen features carries its spec (channels, features, bearing) beside it
        table_spec = read_table_spec(table_path)
        if table_spec is not None:
            table, table_spec = select_features(table, table_spec, features)
    except RecordingError as exc:
        raise FitError(str(exc)) from None
    if table_spec is None and features and tuple(features) != DEFAULT_FEATURES:
        raise FitError(f"{table_path}: --features needs a table written by 'bearing-train ingest --features', "
                       f"with its spec {table_spec_path(table_path).name} beside it")
    sample_rate_hz, samples_per_snapshot = _stream_facts(table_path, table_spec, sample_rate_hz,
                                                         samples_per_snapshot)
    until = _parse_until(train_until)
    excluded = excluded_mask(table.timestamps, exclude)
    healthy = (table.timestamps <= until) & ~excluded
    _check_split(table, healthy, until, timesteps, validation_split, table_path)
    if on_drift not in ON_DRIFT:
        raise FitError(f"on_drift must be one of {ON_DRIFT}, got {on_drift!r}")
    drift = measure_drift(table.timestamps[healthy], table.values[healthy], table.channel_names, time_scale)
    refusal = drift_refusal(drift)
    if refusal and on_drift == "refuse":
        raise FitError(f"{table_path}: {refusal}")
    try:  # before training: a bad rate must not cost a training run
        spec = FeatureSpec(channel_names=table_spec.channel_names if table_spec else tuple(table.channel_names),
                           sample_rate_hz=sample_rate_hz, samples_per_snapshot=samples_per_snapshot,
                           timesteps=timesteps, features=table_spec.features if table_spec else DEFAULT_FEATURES,
                           extra=table_spec.extra if table_spec else {})
    except ValueError as exc:
        raise FitError(f"{table_path}: {exc}") from None
    try:  # a bad --threshold, --margin or --debounce, also before training
        rule_obj = ThresholdRule("fixed", debounce, value=threshold, immediate=immediate) if threshold is not None \
            else ThresholdRule(rule, debounce, margin=margin, immediate=immediate)
    except ValueError as exc:
        raise FitError(str(exc)) from None

    scaler = fit_scaler(table, healthy)
    X = scaler.transform(table.values)
    windows = make_windows(X, timesteps)
    ends = np.arange(timesteps - 1, len(table))  # the snapshot each window belongs to
    # A window is healthy only if every snapshot in it is: no excluded period leaks in.
    healthy_windows = np.lib.stride_tricks.sliding_window_view(healthy, timesteps).all(axis=1)
    train_windows = windows[healthy_windows]
    # A model collapsed to a constant is trained again with the next seed (train.reconstruction).
    tries = seed_tries or (MAX_TRIES if epochs >= MIN_EPOCHS_TO_RETRY else 1)
    model, history, chosen, attempts = train_until_learned(
        lambda s: train_autoencoder(train_windows, seed=s, epochs=epochs, batch_size=batch_size,
                                    validation_split=validation_split, verbose=verbose, on_epoch=on_epoch,
                                    callbacks=[stop_when_dead(train_windows)] if tries > 1 else []),
        train_windows, seed, tries=tries, on_collapse=on_collapse)
    seed, seconds = chosen.seed, sum(a.seconds for a in attempts)
    reconstructions = model.predict(windows, batch_size=1024, verbose=0)
    errors = reconstruction_error(windows, reconstructions)
    contributions = feature_contributions(windows, reconstructions)

    rule_obj.fit(errors[healthy_windows], contributions[healthy_windows])
    split = _split(len(table), ends, healthy_windows, excluded, validation_split, healthy)
    scores = alarm_series(table.timestamps, errors, rule_obj.value_, rule_obj.debounce, split,
                          far_over=far_over(contributions, rule_obj.limits_))
    # The frozen commissioning baseline and the rules of the levels and machine states (edge_agent.scoring.judge):
    # the same judgement as the device, so scores.csv's state, level and alarm are what the Pi will show.
    decision = Decision(Baseline.fit(spec, table.values[healthy], table.timestamps[healthy]),
                        levels or LevelRules(enter=debounce, danger_enter=debounce, leave=debounce),
                        machine or MachineRules())
    scores.state, scores.level = judge_series(spec, decision, debounce, table.timestamps, table.values,
                                              scores.over_threshold, np.concatenate(
                                                  [np.zeros(timesteps - 1, bool), far_over(contributions, rule_obj.limits_)]),
                                              ~np.isnan(scores.error))
    scores.alarm = scores.level != NORMAL
    metadata = _metadata(table_path, table, until, healthy, scores, seed, timesteps, spec, seconds,
                         epochs, batch_size, validation_split, history, model)
    metadata["split"]["excluded"] = [[format_timestamp(a), format_timestamp(b)] for a, b in _periods(exclude)]
    metadata["split"]["n_excluded_snapshots"] = int(excluded.sum())
    warning = healthy_data_warning(table.timestamps[ends][healthy_windows], time_scale)
    metadata["warnings"] = [w for w in (past_end_warning(table, until), warning, drift_caveat(drift),
                                        collapse_warning(chosen, attempts)) if w]
    metadata["reconstruction"] = learning_metadata(chosen, attempts)
    metadata["drift"] = {"refused": bool(refusal) and on_drift == "flag",
                         "accepted": bool(refusal) and on_drift == "accept", **drift.to_dict()}
    if refusal:
        metadata["warnings"].insert(0, refusal if on_drift == "flag" else f"drift accepted by the user: {refusal}")
    threshold_d = rule_obj.to_dict() | decision.to_dict()
    draw = (lambda folder: _write_plots(folder, table, scores, history, rule_obj, until)) if make_plots else None
    model_dir.write_model_dir(out, model=model, scaler=scaler, threshold=threshold_d, scores=scores,
                              metadata=metadata, history=history, draw_plots=draw)
    return FitResult(out, threshold_d, scores, metadata, history)


def _stream_facts(table_path: Path, table_spec: FeatureSpec | None, sample_rate_hz: int | None,
                  samples_per_snapshot: int | None) -> tuple[int, int]:
    """The rate and snapshot length of the model: the table's spec's, checked against what the user gave."""
    if table_spec is None:
        return (IMS_SAMPLE_RATE_HZ if sample_rate_hz is None else sample_rate_hz,
                IMS_SAMPLES_PER_SNAPSHOT if samples_per_snapshot is None else samples_per_snapshot)
    for given, stated, option, unit in ((sample_rate_hz, table_spec.sample_rate_hz, "--sample-rate", " Hz"),
                                        (samples_per_snapshot, table_spec.samples_per_snapshot,
                                         "--snapshot-length", " samples")):
        if given is not None and given != stated:
            raise FitError(f"{table_path}: {option} {given} disagrees with the table's spec "
                           f"({table_spec_path(table_path).name}: {stated}{unit}), which ingest computed every "
                           f"feature at; leave {option} out, or ingest the recordings again at the true value")
    return table_spec.sample_rate_hz, table_spec.samples_per_snapshot


def fit_scaler(table: FeatureTable, healthy: np.ndarray) -> ScalerParams:
    """scikit-learn's MinMaxScaler on the healthy rows only, exported for the edge."""
    from sklearn.preprocessing import MinMaxScaler

    try:
        return ScalerParams.from_fitted(MinMaxScaler().fit(table.values[healthy]), table.channel_names)
    except ValueError as exc:
        raise FitError(f"cannot scale the training period: {exc}") from None


def train_autoencoder(windows: np.ndarray, *, seed: int, epochs: int = DEFAULT_EPOCHS,
                      batch_size: int = DEFAULT_BATCH_SIZE, validation_split: float = DEFAULT_VALIDATION_SPLIT,
                      verbose: int = 0, steps_per_execution: int = STEPS_PER_EXECUTION,
                      on_epoch: Callable[[int, int, dict[str, float]], None] | None = None,
                      callbacks: Sequence = ()):
    """The default model, trained to reconstruct ``windows``: returns (model, history, seconds).

    Deterministic on CPU for a given seed: Python, NumPy and TensorFlow RNGs are
    seeded and TensorFlow's deterministic ops are enabled. ``steps_per_execution``
    only changes how many batches run per call into the compiled graph (speed),
    not which updates are made. ``on_epoch`` as in :func:`fit_model_dir` (it observes, changes nothing);
    ``callbacks`` are more Keras callbacks (``train.reconstruction.stop_when_dead`` ends a collapsed run early).
    """
    from train.quiet_tensorflow import quiet_tensorflow

    quiet_tensorflow()
    import keras
    import tensorflow as tf

    from train.model import build_autoencoder

    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
    model = build_autoencoder(windows.shape[1], windows.shape[2])
    model.compile(optimizer=keras.optimizers.Adam(), loss="mae", steps_per_execution=steps_per_execution)
    x = windows.astype(np.float32)
    t0 = time.perf_counter()
    callbacks = list(callbacks) + ([] if on_epoch is None else [keras.callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: on_epoch(epoch + 1, epochs, dict(logs or {})))])
    hist = model.fit(x, x, epochs=epochs, batch_size=batch_size, validation_split=validation_split,
                     shuffle=True, verbose=verbose, callbacks=callbacks)
    seconds = time.perf_counter() - t0
    history = {k: [float(v) for v in vals] for k, vals in hist.history.items()}
    return model, history, seconds


#: Below this much healthy data, fit warns (see :func:`healthy_data_warning`).
MIN_HEALTHY_WINDOWS = 288


def healthy_data_warning(healthy_times: np.ndarray, time_scale: TimeScale = IN_SERVICE) -> str | None:
    """A warning when the healthy period is too short to trust the threshold, else None.

    The rule: at least 288 healthy windows spanning at least two of the machine's slowest cycles
    (``time_scale.cycle_hours``: 48 hours in service). Measured on
    IMS test 2 (docs/training.md): training on the first 48, 96 or 144 snapshots
    (8 to 24 h) gave false alarms later in the healthy period for some of 3 seeds;
    216 and more gave none. 288 (2 days at one snapshot per 10 minutes) leaves a
    margin, and the 48 h span makes sure a daily cycle of load or temperature has
    been seen twice, whatever the snapshot interval. An accelerated test has no such cycle:
    only the windows count (its own time scale, :data:`train.drift.ACCELERATED`).
    """
    n = len(healthy_times)
    hours = float((healthy_times[-1] - healthy_times[0]) / np.timedelta64(1, "h")) if n > 1 else 0.0
    min_hours = 2.0 * time_scale.cycle_hours
    if n >= MIN_HEALTHY_WINDOWS and hours >= min_hours:
        return None
    span = f" spanning {min_hours:g} h" if min_hours > 0 else f" ({time_scale.name} time scale: no span asked)"
    return (f"only {n} healthy windows over {hours:.1f} h: the kit asks for at least {MIN_HEALTHY_WINDOWS}"
            f"{span} (less gave false alarms on IMS test 2); record longer "
            "before trusting this model's alarms")


def _periods(exclude: Sequence[tuple[str, str]]) -> list[tuple[np.datetime64, np.datetime64]]:
    periods = []
    for start, end in exclude:
        a, b = _parse_until(start, "--exclude"), _parse_until(end, "--exclude")
        if b < a:
            raise FitError(f"excluded period {start} .. {end} ends before it starts")
        periods.append((a, b))
    return periods


def excluded_mask(timestamps: np.ndarray, exclude: Sequence[tuple[str, str]]) -> np.ndarray:
    """True for snapshots inside any ``(start, end)`` period (inclusive)."""
    mask = np.zeros(len(timestamps), dtype=bool)
    for a, b in _periods(exclude):
        mask |= (timestamps >= a) & (timestamps <= b)
    return mask


def _parse_until(value: str | np.datetime64, option: str = "--train-until") -> np.datetime64:
    if isinstance(value, np.datetime64):
        return value.astype("datetime64[s]")
    return parse_time(value, option).astype("datetime64[s]")


def _check_split(table: FeatureTable, healthy: np.ndarray, until: np.datetime64, timesteps: int,
                 validation_split: float, path: Path) -> None:
    n = int(healthy.sum())
    if timesteps < 1:
        raise FitError(f"--timesteps must be >= 1, got {timesteps}")
    if not 0 <= validation_split < 1:
        raise FitError(f"validation split must be in [0, 1), got {validation_split}")
    first, last = format_timestamp(table.timestamps[0]), format_timestamp(table.timestamps[-1])
    n_windows = n - timesteps + 1
    needed = 2 if validation_split == 0 else max(2, math.ceil(1 / validation_split) + 1)
    if n_windows < needed:
        raise FitError(f"{path}: only {n} snapshots ({max(n_windows, 0)} windows of {timesteps}) at or before "
                       f"{format_timestamp(until)} (the table runs {first} .. {last}); need at least {needed} "
                       f"windows to train with a validation split. {_more_healthy_data_advice(table)}")


def past_end_warning(table: FeatureTable, until: np.datetime64) -> str | None:
    """A warning when ``until`` is after the table's last snapshot: the whole table was trained on.

    A warning, not a refusal: a commissioning export is healthy to its end, and "until the end of
    the day" is a natural way to say so. But the same option on a run-to-failure table trains on
    the failure, silently before this warning: the message names the last snapshot.
    """
    last = table.timestamps[-1]
    if until <= last:
        return None
    return (f"--train-until {format_timestamp(until)} is after the table's last snapshot, {format_timestamp(last)}: "
            "every snapshot was trained on as healthy, nothing was left to test the threshold on. If the table "
            "ends in a failure, fit again with --train-until at the end of the healthy period")


def _more_healthy_data_advice(table: FeatureTable) -> str:
    """What to do about too short a healthy period: never "train later", which may train on a failure."""
    if _is_bundled_raw_sample(table):
        return (f"This table is the {len(table)} raw IMS snapshots bundled in {RAW_TEST2_DIR.name}/, a sample "
                "of test 2 for the ingest example and the virtual accelerometer (bearing-replay), not a training "
                f"set: train on the bundled features of all 984 snapshots, {_repo_relative(FEATURES_TEST2)} "
                f"(--train-until '{TEST2_TRAIN_UNTIL}'), as 'make demo' does")
    return ("Record more of the healthy machine (the agent's learning mode, then 'bearing-agent export', see "
            "docs/commissioning.md); move --train-until later only if the machine was still healthy until "
            "then: what is trained on is taken as normal, a starting failure included")


def _is_bundled_raw_sample(table: FeatureTable) -> bool:
    """True if every snapshot of ``table`` is one of the raw IMS files bundled with the kit."""
    if not RAW_TEST2_DIR.is_dir():
        return False
    bundled = {p.name for p in RAW_TEST2_DIR.iterdir()}
    names = {str(t.astype("datetime64[s]")).replace("-", ".").replace("T", ".").replace(":", ".")
             for t in table.timestamps}
    return bool(names) and names <= bundled


def _repo_relative(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _split(n: int, ends: np.ndarray, healthy_windows: np.ndarray, excluded: np.ndarray,
           validation_split: float, healthy_rows: np.ndarray | None = None) -> np.ndarray:
    """Per snapshot: ``train``, ``validation`` (Keras's last healthy windows), ``test`` or ``excluded``.

    ``healthy_rows`` (the rows up to ``--train-until``, not excluded): with T > 1 the first T-1 of them end
    no window but are trained on inside the first windows, so they are ``train``, never ``test``."""
    healthy = np.zeros(n, dtype=bool)
    healthy[ends] = healthy_windows
    if healthy_rows is not None:
        healthy |= np.asarray(healthy_rows, dtype=bool)
    split = np.where(healthy, "train", "test").astype(object)
    split[excluded] = "excluded"
    healthy_ends = ends[healthy_windows]
    split_at = int(math.floor(len(healthy_ends) * (1.0 - validation_split)))  # Keras's own formula
    split[healthy_ends[split_at:]] = "validation"
    return split.astype(str)


def _metadata(table_path: Path, table: FeatureTable, until: np.datetime64, healthy: np.ndarray,
              scores: ScoreTable, seed: int, timesteps: int, spec: FeatureSpec, seconds: float, epochs: int,
              batch_size: int, validation_split: float, history: dict, model) -> dict[str, Any]:
    first = scores.first_alarm()
    scored = ~np.isnan(scores.error)
    return {
        "created_utc": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "data": {"path": str(table_path), "sha256": sha256_file(table_path), "n_snapshots": len(table),
                 "first": format_timestamp(table.timestamps[0]), "last": format_timestamp(table.timestamps[-1])},
        "split": {"train_until": format_timestamp(until), "n_healthy_snapshots": int(healthy.sum()),
                  # windows, not snapshots: for T > 1 the first T-1 snapshots are in no window
                  "n_train": int(((scores.split == "train") & scored).sum()),
                  "n_validation": int(((scores.split == "validation") & scored).sum()),
                  "n_test": int((scores.split == "test").sum())},
        "seed": seed,
        "timesteps": timesteps,
        "feature_spec": spec.to_dict(),
        "training": {"epochs": epochs, "batch_size": batch_size, "validation_split": validation_split,
                     "optimizer": "adam", "loss": "mae", "n_parameters": int(model.count_params()),
                     "final_loss": history["loss"][-1], "final_val_loss": history.get("val_loss", [None])[-1]},
        "training_seconds": round(seconds, 3),
        "result": {"first_alarm": None if first is None else format_timestamp(first),
                   "alarm_onsets": [format_timestamp(t) for t in scores.alarm_onsets()]},
        "versions": versions(),
    }


def versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for pkg in ("bearing-edge", "tensorflow", "tensorflow-cpu", "keras", "scikit-learn", "numpy"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            pass
    return out


def _write_plots(folder: Path, table: FeatureTable, scores: ScoreTable, history: dict, rule: ThresholdRule,
                 until: np.datetime64) -> None:
    from train import plots  # matplotlib: imported only when plotting

    p = plots.PLOT_FILES
    plots.plot_loss(history["loss"], history.get("val_loss", []), folder / p["loss"])
    ok = ~np.isnan(scores.error)
    plots.plot_error_distribution(scores.error[ok & (scores.split == "train")], rule.value_, rule.rule,
                                  folder / p["error_distribution"],
                                  scores.error[ok & (scores.split == "validation")])
    plots.plot_timeline(scores.timestamps, scores.error, scores.alarm, rule.value_, until, folder / p["timeline"])
    plots.plot_features(table.timestamps, table.values, table.channel_names, until, folder / p["features"])


def _check_out(out: Path) -> None:
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not model_dir.is_model_dir(out))):
        raise FitError(f"{out}: exists and is not an empty folder or an earlier model directory; "
                       "refusing to overwrite it: choose another --out")
