"""The machine's feature history: the last raw feature vectors, oldest first, one for the agent.

The scorer windows the last T of them; the agent keeps more (:data:`DEFAULT_DEPTH`)
so that a bundle swapped in with a longer window continues this machine's
history instead of starting blind. There is one history: the scorer appends
to it (:meth:`~edge_agent.scoring.scorer.SnapshotScorer.continue_from`), and
it outlives the scorer, because in learning mode there is no scorer yet and a
reload replaces it.
"""
from __future__ import annotations

from collections import deque
from typing import Iterable, Iterator

import numpy as np

#: Vectors kept: enough to prime any bundle with a window of up to 65 snapshots.
DEFAULT_DEPTH = 64


class FeatureHistory:
    """The last ``maxlen`` raw (unscaled, physical) feature vectors, oldest first."""

    def __init__(self, maxlen: int = DEFAULT_DEPTH, vectors: Iterable[np.ndarray] = ()) -> None:
        if maxlen < 1:
            raise ValueError(f"a feature history keeps at least 1 vector, got maxlen={maxlen}")
        self._vectors: deque[np.ndarray] = deque(maxlen=maxlen)
        for v in vectors:
            self.append(v)

    def append(self, features: np.ndarray) -> None:
        self._vectors.append(np.asarray(features, dtype=np.float64))

    def last(self, n: int) -> list[np.ndarray]:
        """The newest ``n`` vectors, oldest first (``[]`` for ``n <= 0``)."""
        return list(self._vectors)[-n:] if n > 0 else []

    def clear(self) -> None:
        self._vectors.clear()

    def __len__(self) -> int:
        return len(self._vectors)

    def __iter__(self) -> Iterator[np.ndarray]:
        return iter(list(self._vectors))
