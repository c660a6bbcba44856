"""Detection quality: the kit's LSTM autoencoder against classical baselines, on two real runs.

Every method gets the same treatment: the same healthy period, the scaler
fitted on it, the kit's threshold rule applied to the method's own healthy
scores, and the kit's debounce. Only the scoring function differs. For each
method and test we report, over 5 training seeds (min / median / max): the
first debounced alarm after the healthy period, its lead time before the end
of the recording, and the false alarms (alarm onsets inside the healthy period).

Run: ``python -m benchmarks.bench_baselines`` (or ``bearing-bench --only baselines``).
"""
from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchmarks.baselines import DenseAutoencoder, IsolationForestDetector, PCAMahalanobis, ZScoreDetector
from benchmarks import fits
from benchmarks.fits import fitted
from benchmarks.harness import BenchResult
from edge_agent.features.table import FeatureTable, format_timestamp, parse_timestamp, read_feature_table
from edge_agent.scoring.scores import alarm_onsets, alarm_series, first_alarm
from firmware_io.recordings import ims as datasets
from train.fit import fit_scaler
from train.threshold import ThresholdRule

def _out_dir() -> Path:
    """Where ``bearing-bench --out`` writes (the plot goes beside RESULTS.md)."""
    return Path(os.environ.get("BEARING_BENCH_OUT", Path(__file__).resolve().parent))


@dataclass(frozen=True)
class Run:
    """One run-to-failure recording and how it is split."""

    name: str
    table: Path
    train_until: str
    healthy_until: str  # an alarm asserting before this time is false (issue 2's "never before")
    skip_before: str | None = None  # snapshots before this are left out entirely
    note: str = ""


RUNS = [
    Run("IMS test 2", datasets.FEATURES_TEST2, datasets.TEST2_TRAIN_UNTIL, "2004-02-16 03:12:39",
        note="bearing 1 outer race; all 984 snapshots, including the run-in at the start"),
    Run("IMS test 1", datasets.FEATURES_TEST1, "2003-11-15 23:59:59", "2003-11-18 00:00:00",
        skip_before="2003-10-29 00:00:00",
        note="bearings 3 (inner race) and 4 (roller); the first segment (2003-10-22/23), recorded at a "
             "different vibration level before a 6-day pause, is left out as break-in"),
]

#: The T > 1 setting: half an hour of history at the IMS cadence (one snapshot per 10 min).
LONG_T = 3
METHODS = ["LSTM AE (T=1)", f"LSTM AE (T={LONG_T})", "dense AE", "PCA + Mahalanobis", "IsolationForest", "z-score"]
#: Methods whose result does not depend on the seed are fitted once.
DETERMINISTIC = {"PCA + Mahalanobis", "z-score"}


def _load(run: Run) -> FeatureTable:
    table = read_feature_table(run.table)
    if run.skip_before:
        table = table.select(table.timestamps >= parse_timestamp(run.skip_before))
    return table


def _prepare(run: Run, tmp: Path) -> tuple[FeatureTable, Path]:
    """The run's table, and a file with exactly those rows for training."""
    table = _load(run)
    if not run.skip_before:
        return table, run.table
    path = tmp / f"{run.table.stem}-from-{run.skip_before[:10]}.csv"
    table.write(path)
    return table, path


def _lstm_scores(table_path: Path, run: Run, timesteps: int, seed: int, epochs: int) -> tuple[np.ndarray, float]:
    result = fitted(table_path, run.train_until, timesteps=timesteps, seed=seed, epochs=epochs)
    return result.scores.error, result.threshold_value


def _baseline_scores(method: str, table: FeatureTable, healthy: np.ndarray, seed: int,
                     epochs: int) -> tuple[np.ndarray, float]:
    X = fit_scaler(table, healthy).transform(table.values)
    detector = {
        "dense AE": lambda: DenseAutoencoder(epochs=epochs, seed=seed),
        "PCA + Mahalanobis": PCAMahalanobis,
        "IsolationForest": lambda: IsolationForestDetector(random_state=seed),
        "z-score": ZScoreDetector,
    }[method]().fit(X[healthy])
    scores = detector.score_samples(X)
    return scores, ThresholdRule().fit(scores[healthy]).value_


def evaluate(timestamps: np.ndarray, scores: np.ndarray, threshold: float, k: int, healthy_until: np.datetime64,
             end: np.datetime64) -> dict:
    """First alarm after the healthy period, its lead time, and false alarms inside it."""
    alarm = alarm_series(timestamps, scores, threshold, k).alarm  # T > 1: the first T-1 (NaN) are not fed
    first = first_alarm(timestamps, alarm & (timestamps >= healthy_until))
    return {
        "threshold": float(threshold),
        "false_alarms": int((alarm_onsets(timestamps, alarm) < healthy_until).sum()),
        "first_alarm": format_timestamp(first) if first is not None else None,
        "lead_time_h": float((end - first) / np.timedelta64(1, "h")) if first is not None else None,
    }


def _summarise(per_seed: list[dict]) -> dict:
    leads = [r["lead_time_h"] for r in per_seed if r["lead_time_h"] is not None]
    firsts = sorted(r["first_alarm"] for r in per_seed if r["first_alarm"])
    fa = [r["false_alarms"] for r in per_seed]
    return {
        "first_alarm_min": firsts[0] if firsts else None,
        "first_alarm_median": firsts[len(firsts) // 2] if firsts else None,
        "first_alarm_max": firsts[-1] if firsts else None,
        "missed": len(per_seed) - len(firsts),
        "lead_h_min": min(leads) if leads else None,
        "lead_h_median": float(np.median(leads)) if leads else None,
        "lead_h_max": max(leads) if leads else None,
        "false_alarms_min": min(fa), "false_alarms_median": float(np.median(fa)), "false_alarms_max": max(fa),
        "seeds": per_seed,
    }


def _plot(curves: dict, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = list(curves)
    fig, axes = plt.subplots(len(METHODS), len(runs), figsize=(7 * len(runs), 2.1 * len(METHODS)),
                             sharex="col", squeeze=False)
    for c, run_name in enumerate(runs):
        for r, method in enumerate(METHODS):
            ax = axes[r][c]
            ts, scores, thr, healthy_until = curves[run_name][method]
            ax.plot(ts, scores, lw=0.8, color="tab:blue")
            ax.axhline(thr, color="tab:red", lw=1, label="threshold")
            ax.axvline(healthy_until, color="grey", ls="--", lw=0.8)
            ax.set_yscale("log")
            ax.set_title(f"{run_name}: {method} (seed 0)", fontsize=9)
            ax.tick_params(labelsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def run(quick: bool = False) -> BenchResult:
    from rich.progress import Progress

    # Quick: one seed, test 2 only; the same 100 epochs, so the detection benchmark's fit is reused.
    seeds = [0] if quick else [0, 1, 2, 3, 4]
    epochs = 100
    runs = RUNS[:1] if quick else RUNS
    figures: dict = {"seeds": seeds, "epochs": epochs, "runs": {}}
    curves: dict = {}
    with Progress(transient=True) as progress, tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        task = progress.add_task("detection", total=len(runs) * len(METHODS) * len(seeds))
        tables = {run_.name: _prepare(run_, tmp) for run_ in runs}
        progress.update(task, description=f"training {len(runs) * 2 * len(seeds)} LSTM autoencoders")
        fits.prefit(fits.key(tables[r.name][1], r.train_until, T, seed, epochs)
                    for r in runs for T in (1, LONG_T) for seed in seeds)
        for run_ in runs:
            table, table_path = tables[run_.name]
            until, healthy_until = parse_timestamp(run_.train_until), parse_timestamp(run_.healthy_until)
            healthy = table.timestamps <= until
            end = table.timestamps[-1]
            k = ThresholdRule().debounce
            figures["runs"][run_.name] = {"n_snapshots": len(table), "n_healthy": int(healthy.sum()),
                                          "train_until": run_.train_until, "healthy_until": run_.healthy_until,
                                          "end": format_timestamp(end), "methods": {}}
            curves[run_.name] = {}
            for method in METHODS:
                per_seed = []
                for seed in seeds:
                    progress.update(task, description=f"{run_.name}: {method}, seed {seed}")
                    if method in DETERMINISTIC and per_seed:
                        per_seed.append(per_seed[0] | {"seed": seed})
                        progress.advance(task)
                        continue
                    if method.startswith("LSTM"):
                        T = 1 if "T=1" in method else LONG_T
                        scores, thr = _lstm_scores(table_path, run_, T, seed, epochs)
                    else:
                        scores, thr = _baseline_scores(method, table, healthy, seed, epochs)
                    if seed == seeds[0]:
                        curves[run_.name][method] = (table.timestamps.astype("datetime64[s]").astype(object),
                                                     scores, thr, healthy_until.astype(object))
                    per_seed.append(evaluate(table.timestamps, scores, thr, k, healthy_until, end) | {"seed": seed})
                    progress.advance(task)
                figures["runs"][run_.name]["methods"][method] = _summarise(per_seed)
    plot_path = _out_dir() / "detection_timelines.png"
    _plot(curves, plot_path)
    figures["plot"] = str(plot_path.name)
    return BenchResult("baselines", "Detection quality: LSTM autoencoder vs classical baselines",
                       figures, _markdown(figures))


def _fmt_h(v: float | None) -> str:
    return "-" if v is None else f"{v:.1f}"


def _markdown(fig: dict) -> str:
    lines = [
        f"Same split, same scaler, same threshold rule (the kit's default, applied to each method's own "
        f"healthy scores) and the same debounce for every method; {len(fig['seeds'])} training seeds "
        f"({fig['epochs']} epochs for the autoencoders). Cells are min / median / max over the seeds. "
        "Lead time is measured to the last snapshot of the recording; false alarms are alarm onsets "
        "before the end of the healthy period, the first alarm is the first at or after it.",
        "",
    ]
    for run_name, r in fig["runs"].items():
        lines += [f"**{run_name}**: {r['n_snapshots']} snapshots, trained on {r['n_healthy']} up to "
                  f"{r['train_until']}, healthy until {r['healthy_until']}, recording ends {r['end']}.", "",
                  "| method | first alarm from the end of the healthy period | lead time (h) | false alarms | missed |",
                  "|---|---|---|---|---|"]
        for method, s in r["methods"].items():
            first = " / ".join(str(s[f"first_alarm_{q}"] or "-") for q in ("min", "median", "max"))
            lead = " / ".join(_fmt_h(s[f"lead_h_{q}"]) for q in ("min", "median", "max"))
            fa = f"{s['false_alarms_min']} / {s['false_alarms_median']:g} / {s['false_alarms_max']}"
            lines.append(f"| {method} | {first} | {lead} | {fa} | {s['missed']} |")
        lines.append("")
    lines.append(f"Error timelines (seed 0, log scale, threshold in red, end of healthy period dashed): "
                 f"`benchmarks/{fig['plot']}`.")
    return "\n".join(lines)


if __name__ == "__main__":
    import sys
    print(run(quick="--quick" in sys.argv).markdown)
