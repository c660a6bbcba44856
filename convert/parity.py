"""The parity gate: a converted variant must decide exactly like the Keras model.

Both sides score every snapshot of the feature table (training and test
periods). The Keras side runs ``model.predict`` on all windows; the variant runs
through ``edge_agent.scoring.scorer.score_table``, i.e. the device's own code path and
runtime. A variant passes only if every over-threshold flag and every
debounced alarm agree. Error differences are reported too, with the smallest
distance of any Keras error to the threshold, because that margin is what a
quantization error has to stay below.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np

from edge_agent.features.spec import FeatureSpec
from edge_agent.features.table import FeatureTable, format_timestamp
from edge_agent.scoring.detection import make_windows, reconstruction_error
from edge_agent.scoring.diagnosis import far_over, feature_contributions
from edge_agent.scoring.judge import judge_series
from edge_agent.scoring.levels import Decision
from edge_agent.scoring.scaler import ScalerParams
from edge_agent.scoring.scores import ScoreTable, alarm_series


def keras_scores(model, scaler: ScalerParams, table: FeatureTable, threshold: float, k: int,
                 immediate_limits: np.ndarray | None = None, decision: Decision | None = None,
                 spec: FeatureSpec | None = None) -> ScoreTable:
    """The reference: the Keras model's scores for every snapshot of ``table`` (NaN before the first window),
    with the two-level rule when ``immediate_limits`` are given, and the machine states and levels of the
    bundle's ``decision`` (its baseline) when given: as the device applies them."""
    timesteps = int(model.input_shape[1])
    windows = make_windows(scaler.transform(table.values).astype(np.float32), timesteps)
    reconstructions = model.predict(windows, batch_size=256, verbose=0)
    error = reconstruction_error(windows, reconstructions)
    far = far_over(feature_contributions(windows, reconstructions), immediate_limits)
    scores = alarm_series(table.timestamps, error, threshold, k, far_over=far)
    if decision is not None and spec is not None:
        far_all = np.concatenate([np.zeros(timesteps - 1, bool), far])
        scores.state, scores.level = judge_series(spec, decision, k, table.timestamps, table.values,
                                                  scores.over_threshold, far_all, ~np.isnan(scores.error))
        scores.alarm = scores.level != "normal"
    return scores


@dataclass
class ParityResult:
    """How one variant on one runtime compares with the Keras model."""

    variant: str
    runtime: str
    n_snapshots: int
    max_abs_error_diff: float
    over_agreement: float  # fraction of snapshots with the same over-threshold flag
    alarm_agreement: float  # fraction with the same debounced alarm
    over_mismatches: list[str] = field(default_factory=list)  # first timestamps that disagree
    alarm_mismatches: list[str] = field(default_factory=list)
    min_threshold_margin: float = float("nan")  # min |keras error - threshold|
    passed: bool = False
    error: str = ""  # set when the variant could not run at all
    #: max |error diff| among snapshots whose Keras error is within NEAR x of the threshold (NaN: none there)
    max_abs_error_diff_near_threshold: float = float("nan")
    #: Keras error / threshold at the snapshot of the largest difference
    largest_diff_error_ratio: float = float("nan")
    #: snapshots whose difference exceeds every difference near the threshold, and how many of them have
    #: inputs outside the training range (saturated: the model's units pinned, the reconstruction bounded)
    larger_diffs: int = 0
    larger_diffs_saturated: int = 0

    def verdict(self) -> str:
        """One line a user can read: the difference that matters (near the threshold) against the room there is,
        and where the larger ones are."""
        if self.error:
            return f"{self.variant} on {self.runtime}: did not run ({self.error})"
        near, margin = self.max_abs_error_diff_near_threshold, self.min_threshold_margin
        if math.isnan(near):
            text = (f"{self.variant} on {self.runtime}: no Keras error within {NEAR:g}x of the threshold; "
                    f"largest difference {self.max_abs_error_diff:.2g}")
        else:
            room = f"{margin / near:.0f}x below" if near > 0 and margin > near else \
                ("AT OR ABOVE" if near > 0 else "far below")
            text = (f"{self.variant} on {self.runtime}: largest error difference near the threshold (Keras error "
                    f"within {NEAR:g}x of it) {near:.2g}, {room} the closest Keras error to the threshold "
                    f"({margin:.2g})")
        if self.max_abs_error_diff > margin and self.larger_diffs:  # a headline that looks alarming: say where
            saturated = ("all at saturated snapshots (inputs outside the training range)"
                         if self.larger_diffs_saturated == self.larger_diffs else
                         f"{self.larger_diffs_saturated} of them at saturated snapshots (inputs outside the training "
                         "range)")
            text += (f"; the global maximum {self.max_abs_error_diff:.3g} is larger than that distance, but it and the "
                     f"{self.larger_diffs} differences above the near-threshold maximum are at snapshots more than "
                     f"{NEAR:g}x from the threshold, {saturated}; the largest at an error "
                     f"{self.largest_diff_error_ratio:.3g}x the threshold: harmless, those snapshots are far from the threshold and decided alike")
        return text + ("" if self.passed else "; FAILED: decisions differ")

    def as_dict(self) -> dict:
        return asdict(self)


#: "Near the threshold": a Keras error between threshold / NEAR and threshold x NEAR (issue 22 #6).
NEAR = 2.0


def compare(variant: str, runtime: str, reference: ScoreTable, candidate: ScoreTable,
            threshold: float, saturated: np.ndarray | None = None) -> ParityResult:
    """Compare per snapshot; passes only on 100 % over-threshold and alarm agreement. ``saturated`` marks the
    snapshots whose inputs are outside the training range (for the verdict: where large differences are)."""
    if len(reference) != len(candidate) or not np.array_equal(reference.timestamps, candidate.timestamps):
        return ParityResult(variant, runtime, len(reference), float("nan"), 0.0, 0.0,
                            error=f"scored {len(candidate)} snapshots, Keras scored {len(reference)}")
    scored = np.isfinite(reference.error)
    if not np.array_equal(scored, np.isfinite(candidate.error)):
        return ParityResult(variant, runtime, len(reference), float("nan"), 0.0, 0.0,
                            error="scores a different set of snapshots than Keras (window start differs)")
    over_ok = reference.over_threshold == candidate.over_threshold
    alarm_ok = reference.alarm == candidate.alarm
    stamps = reference.timestamps
    diff = np.where(scored, np.abs(reference.error - candidate.error), -1.0)
    ratio = reference.error / threshold
    near = scored & (ratio >= 1 / NEAR) & (ratio <= NEAR)
    near_max = float(diff[near].max()) if near.any() else float("nan")
    larger = scored & (diff > (near_max if near.any() else 0.0)) & ~near
    saturated = np.zeros(len(reference), bool) if saturated is None else np.asarray(saturated, bool)
    return ParityResult(
        variant=variant,
        runtime=runtime,
        n_snapshots=len(reference),
        max_abs_error_diff=float(np.max(np.abs(reference.error - candidate.error)[scored])),
        over_agreement=float(over_ok.mean()),
        alarm_agreement=float(alarm_ok.mean()),
        over_mismatches=[format_timestamp(t) for t in stamps[~over_ok][:10]],
        alarm_mismatches=[format_timestamp(t) for t in stamps[~alarm_ok][:10]],
        min_threshold_margin=float(np.min(np.abs(reference.error[scored] - threshold))),
        passed=bool(over_ok.all() and alarm_ok.all()),
        max_abs_error_diff_near_threshold=near_max,
        largest_diff_error_ratio=float(ratio[int(np.argmax(diff))]),
        larger_diffs=int(larger.sum()), larger_diffs_saturated=int((larger & saturated).sum()),
    )


def failed(variant: str, runtime: str, n: int, message: str) -> ParityResult:
    """A variant that did not run on a runtime: recorded, never bundled for it."""
    return ParityResult(variant, runtime, n, float("nan"), 0.0, 0.0, error=message)


def format_table(results: list[ParityResult], sizes: dict[str, int] | None = None,
                 markdown: bool = True) -> str:
    """The parity table, as markdown (manifest, docs) or aligned plain text (terminal)."""
    sizes = sizes or {}
    lines = ["| variant | runtime | size | max abs error diff | near threshold | over-threshold agree | alarm agree "
             "| gate |",
             "|---|---|---:|---:|---:|---:|---:|---|"]
    for r in results:
        size = f"{sizes[r.variant] / 1024:.1f} KiB" if r.variant in sizes else ""
        if r.error:
            lines.append(f"| {r.variant} | {r.runtime} | {size} | - | - | - | - | FAIL: {r.error[:80]} |")
            continue
        gate = "pass" if r.passed else f"FAIL (first: {(r.over_mismatches or r.alarm_mismatches)[0]})"
        lines.append(f"| {r.variant} | {r.runtime} | {size} | {r.max_abs_error_diff:.2e} | "
                     f"{r.max_abs_error_diff_near_threshold:.2e} | {r.over_agreement:.2%} | {r.alarm_agreement:.2%} "
                     f"| {gate} |")
    return "\n".join(lines) if markdown else _aligned(lines)


def _aligned(markdown_lines: list[str]) -> str:
    """Markdown table rows -> space-aligned columns without the pipes and the rule line."""
    rows = [[c.strip() for c in line.strip("|").split("|")] for i, line in enumerate(markdown_lines) if i != 1]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows)
