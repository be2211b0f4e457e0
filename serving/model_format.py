"""Which serialized models the server will open: scikit-learn in skops format, trusted types only.

Loading a pickle runs whatever code the file names, so a model stored as pickle or cloudpickle
(or any flavour other than `sklearn` with `serialization_format: skops`, the one `model/` writes)
is refused from its MLmodel file alone, before any model file is opened. The image also sets
`MLFLOW_ALLOW_PICKLE_DESERIALIZATION=false`: in mlflow 3.17.2 that makes
`mlflow.sklearn._load_model_from_local_file` refuse every format, skops included, so the server
never goes through MLflow's loader and calls skops itself.

skops reconstructs only types it trusts. The MLmodel's own `skops_trusted_types` list comes from
the same untrusted artifact as the model, so it grants nothing here: the server trusts skops'
defaults (scikit-learn estimators, numpy and builtin containers) plus the fixed list below, and
loads a file only when every other type it names is on that list.
"""

from pathlib import Path
from typing import Any

SKOPS = "skops"
# scikit-learn's fitted-state containers that skops does not trust by default: tree structures
# (decision trees, forests, gradient boosting), histogram-gradient-boosting predictors and
# neighbours' search trees with their distance metrics. skops rebuilds each from plain arrays.
SERVER_TRUSTED_TYPES = frozenset(
    {
        "sklearn.tree._tree.Tree",
        "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
        "sklearn.neighbors._kd_tree.KDTree",
        "sklearn.neighbors._ball_tree.BallTree",
        "sklearn.metrics._dist_metrics.EuclideanDistance64",
        "sklearn.metrics._dist_metrics.ManhattanDistance64",
        "sklearn.metrics._dist_metrics.MinkowskiDistance64",
        "sklearn.metrics._dist_metrics.ChebyshevDistance64",
    }
)


class ModelFormatRefused(RuntimeError):
    """The model is stored in a format the server does not open."""


def skops_file(local_dir: Path, flavors: dict[str, Any], label: str) -> Path:
    """The skops file named by the MLmodel's sklearn flavour; refuse any other format."""
    sklearn_flavor = flavors.get("sklearn")
    if not isinstance(sklearn_flavor, dict):
        loader = (flavors.get("python_function") or {}).get("loader_module", "none")
        raise ModelFormatRefused(
            f"{label} has flavours {sorted(flavors)} (python_function loader {loader}), not "
            f"sklearn in {SKOPS} format; this server loads only scikit-learn models saved as "
            f"{SKOPS} by model/ and never unpickles"
        )
    # MLflow reads a missing serialization_format as pickle.
    serialization = sklearn_flavor.get("serialization_format", "pickle")
    if serialization != SKOPS:
        raise ModelFormatRefused(
            f"{label} is stored as {serialization!r} (sklearn flavour); this server loads only "
            f"the {SKOPS!r} format written by model/ and never unpickles"
        )
    root = local_dir.resolve()
    path = (root / str(sklearn_flavor.get("pickled_model", ""))).resolve()
    if root not in path.parents or not path.is_file():
        raise ModelFormatRefused(
            f"{label}: the sklearn flavour's pickled_model "
            f"{sklearn_flavor.get('pickled_model')!r} is not a file inside the model directory"
        )
    return path


def trusted_types(path: Path, label: str) -> list[str]:
    """Types of the skops file beyond skops' defaults; refuse any the server does not trust."""
    import skops.io

    try:
        needed = skops.io.get_untrusted_types(file=path)
    except Exception as error:  # a corrupt or foreign file: say so, whatever skops raised
        raise ModelFormatRefused(
            f"{label}: {path.name} is not a readable {SKOPS} file ({error!r})"
        ) from None
    refused = sorted(set(needed) - SERVER_TRUSTED_TYPES)
    if refused:
        raise ModelFormatRefused(
            f"{label}: its {SKOPS} file needs types this server does not trust: {refused}; "
            f"trusted beyond skops' defaults: {sorted(SERVER_TRUSTED_TYPES)}"
        )
    return needed


def load_skops(path: Path, label: str) -> Any:
    """Rebuild the estimator from its skops file with the server's trusted types only."""
    import skops.io

    return skops.io.load(path, trusted=trusted_types(path, label))
