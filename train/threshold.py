"""The alarm threshold: a documented rule over the healthy reconstruction errors.

The default rule, ``sustained-max``, is built for the debounced alarm: an alarm
needs ``k`` consecutive snapshots over the threshold, so what matters is not the
largest single healthy error but the highest level the healthy errors *held*
for ``k`` snapshots in a row::

    sustained_k = max over i of min(e[i], ..., e[i + k - 1])
    threshold   = margin * sustained_k

By construction the debounced alarm cannot fire anywhere in the healthy period
the threshold was taken from (a run of ``k`` errors above it would have a
minimum above ``sustained_k``), including the run-in at the start of a
recording, whose first snapshots have the largest errors of all. A single
spike (the training maximum is usually one run-in snapshot) no longer sets the
threshold, which is why this rule alarms earlier than "the training maximum"
without false alarms. The ``margin`` (default 1.2) is head-room for healthy
data the model has not seen. See docs/training.md for the measured comparison.

Other rules: ``max`` (the seed's: ``margin * max(e)``), ``quantile``
(``quantile(e, q)``, false-alarms on the run-in) and ``fixed`` (a value you give).

The **two-level rule** (``immediate``, off by default) adds a first level that does not wait
for k: each feature's share of the error (:func:`edge_agent.scoring.diagnosis.feature_contributions`)
gets a limit of ``immediate`` x the largest it had on the healthy period, and one feature
above its limit alarms at once. The averaged error dilutes one failing bearing's envelope line
among all features; its own contribution does not. On raw IMS test 2 with the envelope features,
``immediate = 2`` alarms on the first defective snapshot (``benchmarks/bench_condition.py``).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

#: Alarm after 3 consecutive snapshots over the threshold (30 min at the IMS rate of one per 10 min).
DEFAULT_DEBOUNCE = 3
DEFAULT_RULE = "sustained-max"
DEFAULT_MARGIN = 1.2
DEFAULT_QUANTILE = 0.99
RULES = ("sustained-max", "max", "quantile", "fixed")


def sustained_max(errors: np.ndarray, k: int) -> float:
    """The highest level ``errors`` stayed at or above for ``k`` consecutive entries."""
    e = np.asarray(errors, dtype=np.float64)
    if len(e) < k:
        raise ValueError(f"need at least k={k} healthy errors to set a sustained-max threshold, got {len(e)}")
    return float(np.lib.stride_tricks.sliding_window_view(e, k).min(axis=1).max())


@dataclass
class ThresholdRule:
    """Learn a threshold from healthy errors, sklearn-style: ``fit(errors)`` sets ``value_``.

    ``errors`` must be in time order (the sustained rule looks at runs).
    """

    rule: str = DEFAULT_RULE
    debounce: int = DEFAULT_DEBOUNCE
    margin: float = DEFAULT_MARGIN
    quantile: float = DEFAULT_QUANTILE
    value: float | None = None  # for rule "fixed"
    immediate: float | None = None  # the two-level rule's factor, None: off
    value_: float = field(init=False, default=float("nan"))
    params_: dict[str, Any] = field(init=False, default_factory=dict)
    #: Per-feature limits of the two-level rule, set by fit() when ``immediate`` is given.
    limits_: np.ndarray | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        if self.rule not in RULES:
            raise ValueError(f"unknown threshold rule {self.rule!r}; choose one of {', '.join(RULES)}")
        if self.debounce < 1:
            raise ValueError(f"debounce count must be >= 1, got {self.debounce}")
        if self.rule == "fixed" and (self.value is None or not np.isfinite(self.value) or self.value <= 0):
            raise ValueError(f"a fixed threshold must be a positive number, got {self.value!r}")
        if self.margin <= 0:
            raise ValueError(f"threshold margin must be > 0, got {self.margin}")
        if not 0 < self.quantile <= 1:
            raise ValueError(f"quantile must be in (0, 1], got {self.quantile}")
        if self.immediate is not None and not (np.isfinite(self.immediate) and self.immediate >= 1):
            raise ValueError(f"the immediate factor must be >= 1 (x the healthy maximum), got {self.immediate}")

    def fit(self, errors: np.ndarray, contributions: np.ndarray | None = None) -> "ThresholdRule":
        """Set ``value_`` from the healthy ``errors``; with ``immediate``, ``limits_`` from the healthy
        ``contributions`` ``(n, n_features)`` too."""
        e = np.asarray(errors, dtype=np.float64)
        if self.immediate is not None:
            if contributions is None or len(contributions) == 0:
                raise ValueError("the two-level rule needs the healthy per-feature errors (contributions)")
            self.limits_ = self.immediate * np.asarray(contributions, dtype=np.float64).max(axis=0)
        if self.rule != "fixed" and (len(e) == 0 or not np.isfinite(e).all()):
            raise ValueError("healthy errors are empty or contain NaN: cannot set a threshold")
        if self.rule == "sustained-max":
            level = sustained_max(e, self.debounce)
            self.value_ = self.margin * level
            self.params_ = {"margin": self.margin, "k": self.debounce, "sustained_max": level}
        elif self.rule == "max":
            self.value_ = self.margin * float(e.max())
            self.params_ = {"margin": self.margin, "max": float(e.max())}
        elif self.rule == "quantile":
            self.value_ = float(np.quantile(e, self.quantile))
            self.params_ = {"q": self.quantile}
        else:
            self.value_ = float(self.value)
            self.params_ = {}
        if len(e):
            self.params_.update(n_errors=int(len(e)), errors_max=float(e.max()),
                                errors_median=float(np.median(e)))
        return self

    def to_dict(self) -> dict[str, Any]:
        """The ``threshold.json`` content: value, rule, params, debounce (and ``immediate`` when on)."""
        d = {"value": self.value_, "rule": self.rule, "params": self.params_, "debounce": self.debounce,
             "description": describe(self.rule, self.params_, self.debounce)}
        if self.limits_ is not None:
            d["immediate"] = {"factor": self.immediate, "limits": self.limits_.tolist()}
            d["description"] += (f"; and at once when one feature's error exceeds {self.immediate:g} x its "
                                 "healthy maximum")
        return d


def describe(rule: str, params: dict[str, Any], k: int) -> str:
    if rule == "sustained-max":
        return (f"{params['margin']} x the highest level the healthy errors held for {k} consecutive "
                f"snapshots ({params['sustained_max']:.6g}); alarm after {k} consecutive over, clear after {k} under")
    if rule == "max":
        return f"{params['margin']} x the largest healthy error; alarm after {k} consecutive over"
    if rule == "quantile":
        return f"the {params['q']} quantile of the healthy errors; alarm after {k} consecutive over"
    return f"fixed threshold given by the user; alarm after {k} consecutive over"


def load_threshold(path: str | Path) -> dict[str, Any]:
    """Read ``threshold.json`` and check the keys every consumer relies on."""
    d = json.loads(Path(path).read_text())
    missing = [k for k in ("value", "rule", "params", "debounce") if k not in d]
    if missing:
        raise ValueError(f"{path}: threshold JSON is missing {missing}")
    return d
