"""JSON every consumer can parse: NaN and infinity travel as null, never as ``NaN`` / ``Infinity``.

A journal can hold a non-finite float (an error computed from a broken
snapshot, a row written by another tool); Python's ``json`` would print it
as ``Infinity``, which browsers, ``jq`` and MQTT consumers refuse. The status
page, ``status --json`` and the MQTT payloads all go through here.
"""
from __future__ import annotations

import json
import math
from typing import Any


def finite(value: Any) -> Any:
    """``value`` with every non-finite float (in dicts, lists and tuples, however deep) replaced by None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v) for v in value]
    return value


def dumps(value: Any, **kwargs: Any) -> str:
    """``json.dumps`` of :func:`finite` ``(value)``, strict (``allow_nan=False``)."""
    return json.dumps(finite(value), allow_nan=False, **kwargs)
