"""Where the lifecycle keeps its records, decided without importing MLflow (the CLI stays fast).

With nothing running, the store is a SQLite file in the repository and artifacts sit beside it, so
the same paths are used whichever directory the CLI runs from.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from urllib.parse import unquote, urlparse

from model.errors import ConfigurationError

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_TRACKING_URI = f"sqlite:///{REPO_ROOT / 'mlflow.db'}"
ARTIFACTS_DIRNAME = "mlartifacts"
_SQLITE_FILE_PREFIX = "sqlite:///"
_EXPECTED = (
    "expected the tracking server's URL (e.g. https://mlflow.dev.example.com) or a "
    f"sqlite:/// path; unset it to use the local store {DEFAULT_TRACKING_URI}"
)


def resolve_tracking_uri(explicit: str | None = None) -> str:
    """The explicit URI, else ``MLFLOW_TRACKING_URI``, else (unset) the repository's SQLite
    store. An empty value is refused: it is a variable that was meant to hold a server's URL
    (a CI variable that is not defined, a typo), and training into the local store instead
    would lose the run without a word."""
    if explicit is not None:
        if not explicit.strip():
            raise ConfigurationError(f"the tracking URI is empty; {_EXPECTED}")
        return explicit
    from_environment = os.environ.get("MLFLOW_TRACKING_URI")
    if from_environment is None:
        return DEFAULT_TRACKING_URI
    if not from_environment.strip():
        raise ConfigurationError(f"MLFLOW_TRACKING_URI is set but empty; {_EXPECTED}")
    return from_environment


def tracking_uri_argument(value: str) -> str:
    """The argparse ``type`` of the tracking URI options: an empty one is refused, naming it."""
    if not value.strip():
        raise argparse.ArgumentTypeError(f"is empty; {_EXPECTED}")
    return value


def artifact_location(tracking_uri: str, experiment_name: str) -> str | None:
    """For a local SQLite store, ``<db dir>/mlartifacts/<experiment>``; a server chooses its own."""
    if not tracking_uri.startswith(_SQLITE_FILE_PREFIX):
        return None
    database = Path(unquote(urlparse(tracking_uri).path.removeprefix("/")))
    root = database.resolve().parent / ARTIFACTS_DIRNAME / experiment_name
    return root.as_uri()
