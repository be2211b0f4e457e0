"""The first version of a spec's DVC-tracked dataset, exported from scikit-learn's bundled copy.

The exported CSV is byte-stable (same columns, ``\\n`` line ends, pandas' shortest float
repr), so a checkout without the DVC cache or remote can still train on the committed version:
the bytes are regenerated and used only when their md5 equals the ``.dvc`` file's.
"""

from __future__ import annotations

from model.data import load_bundled_dataset
from model.specs import TrainingSpec


def exported_csv(spec: TrainingSpec) -> bytes:
    """The spec's bundled dataset as CSV, columns named and ordered as its schema declares."""
    source = spec.dataset
    dataset = load_bundled_dataset(
        source.sklearn, spec.dataset_schema, source.options, source.label_names
    )
    return dataset.frame.to_csv(index=False, lineterminator="\n").encode()
