"""Population stability index (PSI) of recent inputs against the training distribution."""

from collections.abc import Sequence

import numpy as np

from serving.model_source import FeatureReference

# Empty bins get this share so the logarithm stays finite (the usual PSI convention).
EMPTY_BIN_SHARE = 1e-4


class DriftWindow:
    """Keeps the most recent rows of one worker and scores each feature's PSI over them."""

    def __init__(self, references: Sequence[FeatureReference], window_rows: int) -> None:
        self._inner_edges = [ref.bin_edges[1:-1] for ref in references]
        self._expected = [_shares(ref.counts) for ref in references]
        self._window_rows = window_rows
        self._rows = np.empty((0, len(references)), dtype=np.float64)

    @property
    def size(self) -> int:
        """How many rows the window holds now."""
        return len(self._rows)

    def add(self, rows: np.ndarray) -> None:
        """Append rows, dropping the oldest beyond the window length."""
        self._rows = np.concatenate([self._rows, rows])[-self._window_rows :]

    def psi(self) -> list[float]:
        """PSI per feature; values outside the training range count in the first/last bin."""
        scores = []
        for column, edges, expected in zip(
            self._rows.T, self._inner_edges, self._expected, strict=True
        ):
            bins = np.searchsorted(edges, column, side="right")
            actual = _shares(np.bincount(bins, minlength=len(expected)))
            scores.append(float(np.sum((actual - expected) * np.log(actual / expected))))
        return scores


def _shares(counts: np.ndarray) -> np.ndarray:
    shares = np.asarray(counts, dtype=np.float64) / max(float(np.sum(counts)), 1.0)
    return np.maximum(shares, EMPTY_BIN_SHARE)
