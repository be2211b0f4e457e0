"""Model files that are the same bytes whenever the same inputs are fitted.

Two saves of one fitted pipeline differed in three places (measured by saving twice and
``diff -r``): the MLmodel file's ``model_uuid`` (random) and ``utc_time_created`` (the clock),
and ``model.skops``, a zip whose member names and ``__id__`` keys are CPython object addresses
(skops 0.16, ``skops/io/_audit.py`` / ``_general.py``: ``id(obj)``) and whose members carry the
time of writing. These helpers fix all three; ``model_digest`` then depends on the data, the
params, the seed, the code and the library versions only.
"""

from __future__ import annotations

import json
import uuid
import zipfile
from pathlib import Path
from typing import Any

CREATED = "1970-01-01 00:00:00"
"""``utc_time_created`` of every model: the run's start time is in MLflow, not in the artifact."""
ZIP_TIME = (1980, 1, 1, 0, 0, 0)
"""The earliest time a zip member can carry (the zip format's epoch)."""


def model_uuid(run_id: str | None, artifact_path: str | None) -> str:
    """A UUID named by where the model is logged (the same run and path, the same UUID)."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"runs:/{run_id}/{artifact_path}").hex


def canonicalize_skops(path: Path) -> None:
    """Rewrite a ``.skops`` zip with object ids renumbered in order of appearance and fixed
    member times; skops loads it as before (ids only link a node to its shared copies)."""
    with zipfile.ZipFile(path) as source:
        members = {info.filename: source.read(info) for info in source.infolist()}
        compression = source.infolist()[0].compress_type if members else zipfile.ZIP_STORED
    numbering: dict[int, int] = {}
    schema = _renumber(json.loads(members.pop("schema.json")), numbering)
    arrays = {f"{numbering[int(name[:-4])]}.npy": data for name, data in members.items()}
    with zipfile.ZipFile(path, "w") as target:
        for name, data in [
            ("schema.json", json.dumps(schema, indent=2).encode()),
            *sorted(arrays.items(), key=lambda item: int(item[0][:-4])),
        ]:
            target.writestr(zipfile.ZipInfo(name, ZIP_TIME), data, compress_type=compression)


def _renumber(node: Any, numbering: dict[int, int]) -> Any:
    if isinstance(node, list):
        return [_renumber(item, numbering) for item in node]
    if not isinstance(node, dict):
        return node
    renumbered = {}
    for key, value in node.items():
        if key == "__id__" and isinstance(value, int):
            value = numbering.setdefault(value, len(numbering) + 1)
        elif key == "file" and isinstance(value, str) and value.endswith(".npy"):
            value = f"{numbering.setdefault(int(value[:-4]), len(numbering) + 1)}.npy"
        else:
            value = _renumber(value, numbering)
        renumbered[key] = value
    return renumbered
