"""Compare scores across machines: the emulated Pi's against the host's, the live journal against offline scoring.

Used by ``.ci/arm-edge.sh``; numpy and the edge package only, so it runs on the host and in the emulated Pi::

    python .ci/arm_compare.py scores REFERENCE.csv CANDIDATE.csv      # two ``bearing-agent score`` outputs
    python .ci/arm_compare.py journal JOURNAL.sqlite OFFLINE.csv       # ``bearing-agent run``'s journal vs ``score``

Prints the rows compared, the max |error difference| (overall, and near the threshold) and the decision flips
(over-threshold or alarm that differ). Exits 1 when a decision flips, a row is missing or an error near the
threshold (under twice the smallest error the reference calls over it) differs by more than ``--atol``: the
device must decide exactly like the desktop, and float differences between CPUs must stay far below that where
they could matter. Far past the threshold they may be large and harmless: on the emulated armhf Pi
(tflite-runtime, float16) two saturated failure snapshots of IMS test 2, 30-90x over the threshold, differ by
26-39 % from x86, while every error under twice the threshold agrees to 6e-6 (the parity gate's verdict
reads the same way).
"""
from __future__ import annotations

import argparse
import sqlite3
import sys

import numpy as np

from edge_agent.scoring.scores import ScoreTable


def journal_scores(path: str) -> ScoreTable:
    """The scored snapshots of an agent's journal, as a score table (times are the recorded snapshot times)."""
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        rows = db.execute("SELECT time, error, over_threshold, alarm FROM snapshots ORDER BY time").fetchall()
    times = np.array([round(r[0]) for r in rows], dtype="datetime64[s]")
    error = np.array([np.nan if r[1] is None else r[1] for r in rows], dtype=float)
    return ScoreTable(times, error, np.array([bool(r[2]) for r in rows]), np.array([bool(r[3]) for r in rows]))


def compare(reference: ScoreTable, candidate: ScoreTable, atol: float) -> bool:
    """Print the comparison of ``candidate`` with ``reference`` on the reference's snapshots; True if they agree."""
    index = {t: i for i, t in enumerate(candidate.timestamps)}
    missing = [str(t) for t in reference.timestamps if t not in index]
    rows = np.array([index[t] for t in reference.timestamps if t in index], dtype=int)
    kept = np.array([t in index for t in reference.timestamps])
    ref_err, cand_err = reference.error[kept], candidate.error[rows]
    nan_differs = int((np.isnan(ref_err) != np.isnan(cand_err)).sum())
    both = ~np.isnan(ref_err) & ~np.isnan(cand_err)
    diff = np.abs(ref_err - cand_err)
    max_diff = float(diff[both].max()) if both.any() else 0.0
    over = reference.over_threshold[kept] & both
    # the threshold is not in a score table: the smallest error the reference calls over it bounds it from above
    limit = 2 * float(ref_err[over].min()) if over.any() else np.inf
    near = both & ((ref_err <= limit) | (cand_err <= limit))
    max_near = float(diff[near].max()) if near.any() else 0.0
    over_flips = int((reference.over_threshold[kept] != candidate.over_threshold[rows]).sum())
    alarm_flips = int((reference.alarm[kept] != candidate.alarm[rows]).sum())
    first = candidate.first_alarm()
    print(f"rows compared {len(rows)} of {len(reference)} (missing {len(missing)}{': ' + ', '.join(missing[:3]) if missing else ''}); "
          f"max |error difference| {max_diff:.3g} (near the threshold, under {limit:.3g}: {max_near:.3g}); decision flips: over-threshold {over_flips}, alarm {alarm_flips}; "
          f"NaN mismatches {nan_differs}; over-threshold rows {int(candidate.over_threshold[rows].sum())}, "
          f"alarm rows {int(candidate.alarm[rows].sum())}, first alarm {first if first is not None else 'none'}")
    return not missing and nan_differs == 0 and over_flips == 0 and alarm_flips == 0 and max_near <= atol


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="arm_compare.py", description=__doc__.splitlines()[0])
    p.add_argument("kind", choices=["scores", "journal"])
    p.add_argument("first", help="scores: the reference CSV; journal: the agent's journal.sqlite")
    p.add_argument("second", help="scores: the candidate CSV; journal: the offline scores CSV of the same snapshots")
    p.add_argument("--atol", type=float, default=1e-5, help="largest accepted |error difference| near the threshold (default 1e-5)")
    args = p.parse_args(argv)
    if args.kind == "scores":
        agree = compare(ScoreTable.read(args.first), ScoreTable.read(args.second), args.atol)
    else:
        agree = compare(ScoreTable.read(args.second), journal_scores(args.first), args.atol)
    print("agree" if agree else "DISAGREE")
    return 0 if agree else 1


if __name__ == "__main__":
    sys.exit(main())
