"""Population stability index (PSI) of recent inputs against the training distribution.

A window is kept as bin counts: each worker adds its rows' bins and removes those of the rows
that fall out of its window, and the metrics port sums the counts of the live workers and scores
them (serving/accounting.py).
"""

from collections.abc import Sequence

import numpy as np

from serving.model_source import FeatureReference

# Empty bins get this share so the logarithm stays finite (the usual PSI convention).
EMPTY_BIN_SHARE = 1e-4


class BinWindow:
    """The last `window_rows` rows of one worker, as each feature's training-histogram bin."""

    def __init__(self, references: Sequence[FeatureReference], window_rows: int) -> None:
        self._inner_edges = [ref.bin_edges[1:-1] for ref in references]
        self.bins = [len(ref.counts) for ref in references]
        self._ring = np.zeros((window_rows, len(references)), dtype=np.int32)
        self._next = 0
        self.size = 0

    def add(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Append rows (a batch beyond the window keeps its last rows).

        Return the bin indices added and those dropped, both (rows, features), and the ring
        slots written, in row order; the dropped rows held the last `len(dropped)` slots.
        """
        capacity = len(self._ring)
        rows = rows[-capacity:]
        added = np.column_stack(
            [
                np.searchsorted(edges, column, side="right")
                for edges, column in zip(self._inner_edges, rows.T, strict=True)
            ]
        )
        count = len(added)
        slots = (self._next + np.arange(count)) % capacity
        overwritten = max(0, self.size + count - capacity)
        dropped = self._ring[slots[count - overwritten :]].copy()
        self._ring[slots] = added
        self._next = (self._next + count) % capacity
        self.size = min(capacity, self.size + count)
        return added, dropped, slots


def psi(actual_counts: np.ndarray, expected_counts: np.ndarray) -> float:
    """PSI of one feature from bin counts; values outside the training range count in the
    first/last bin."""
    actual, expected = _shares(actual_counts), _shares(expected_counts)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def _shares(counts: np.ndarray) -> np.ndarray:
    shares = np.asarray(counts, dtype=np.float64) / max(float(np.sum(counts)), 1.0)
    return np.maximum(shares, EMPTY_BIN_SHARE)
