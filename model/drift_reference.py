"""Per-feature statistics of the training data: the baseline serving measures drift against.

The shape is the contract in docs/contracts.md: quantile bin edges (first/last are the training
min/max), training rows per bin, min, max, and the row count.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

DEFAULT_BINS = 10


def build_drift_reference(features: pd.DataFrame, bins: int = DEFAULT_BINS) -> dict[str, Any]:
    """Quantile bins and counts for every feature column of the training rows."""
    return {
        "features": {
            str(name): _feature_reference(features[name], bins) for name in features.columns
        },
        "n_rows": int(len(features)),
    }


def _feature_reference(values: pd.Series, bins: int) -> dict[str, Any]:
    data = values.to_numpy(dtype=float)
    edges = np.unique(np.quantile(data, np.linspace(0.0, 1.0, bins + 1)))
    if len(edges) == 1:
        edges = np.array([edges[0], edges[0]])
    counts, _ = np.histogram(data, bins=edges)
    return {
        "bin_edges": [float(edge) for edge in edges],
        "counts": [int(count) for count in counts],
        "min": float(data.min()),
        "max": float(data.max()),
    }
