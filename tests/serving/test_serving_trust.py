"""The server runs only what `model/` packaged and the stack declared.

A version crafted as cloudpickle by someone else is refused from its MLmodel file, and its code
never runs; a skops file naming an untrusted type is refused; an artifact whose digest differs
from MODEL_DIGEST by one byte is refused; the declared digest is served.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import cloudpickle
import pytest
import skops.io
import yaml
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from localrun.server_process import ModelServerProcess
from model.digest import model_digest
from tests.serving.serving_helpers import predict, register, saved_model

ROW = [5.1, 3.5, 1.4, 0.2]


class WritesMarker:
    """Unpickling this object runs code: it writes the file named by $MARKER_FILE."""

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return exec, ("import os; open(os.environ['MARKER_FILE'], 'w').write('ran')",)


@pytest.fixture(scope="module")
def iris_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    x, y = load_iris(return_X_y=True, as_frame=True)
    pipeline = Pipeline([("scale", StandardScaler()), ("model", LogisticRegression(max_iter=300))])
    return saved_model(
        pipeline,
        x,
        y.map(dict(enumerate(["a", "b", "c"]))).rename("species"),
        tmp_path_factory.mktemp("iris"),
    )


def crafted_cloudpickle(good: Path, destination: Path) -> Path:
    """The good model's directory with its estimator swapped for a cloudpickle payload."""
    shutil.copytree(good, destination)
    (destination / "model.skops").unlink()
    (destination / "model.pkl").write_bytes(cloudpickle.dumps(WritesMarker()))
    mlmodel = yaml.safe_load((destination / "MLmodel").read_text())
    mlmodel["flavors"]["sklearn"].update(
        pickled_model="model.pkl", serialization_format="cloudpickle"
    )
    mlmodel["flavors"]["python_function"]["model_path"] = "model.pkl"
    (destination / "MLmodel").write_text(yaml.safe_dump(mlmodel))
    return destination


def refusal(model_uri: str, env: dict[str, str]) -> str:
    server = ModelServerProcess(model_uri, env=env, startup_timeout=90)
    with pytest.raises(RuntimeError, match="exited early") as failure:
        server.start()
    return str(failure.value)


def test_payload_runs_code_when_unpickled(iris_model: Path, tmp_path: Path) -> None:
    """Control for the test below: the crafted model really executes code if unpickled."""
    crafted = crafted_cloudpickle(iris_model, tmp_path / "crafted")
    marker = tmp_path / "marker"
    subprocess.run(
        [
            sys.executable,
            "-c",
            f"import pickle; pickle.load(open({str(crafted / 'model.pkl')!r}, 'rb'))",
        ],
        env={**os.environ, "MARKER_FILE": str(marker)},
        check=True,
        timeout=60,
    )
    assert marker.read_text() == "ran"


def test_cloudpickle_version_in_the_registry_is_refused_and_never_runs(
    mlflow_server: Any, iris_model: Path, tmp_path: Path
) -> None:
    crafted = crafted_cloudpickle(iris_model, tmp_path / "crafted")
    version = register(mlflow_server, crafted, "crafted-iris")
    marker = tmp_path / "marker"

    message = refusal(
        f"models:/crafted-iris/{version}", {**mlflow_server.serving_env, "MARKER_FILE": str(marker)}
    )

    assert f"model crafted-iris version {version} is stored as 'cloudpickle'" in message
    assert "never unpickles" in message
    assert not marker.exists()


def test_skops_file_with_an_untrusted_type_is_refused(iris_model: Path, tmp_path: Path) -> None:
    model_dir = shutil.copytree(iris_model, tmp_path / "model")
    runs_a_shell = Pipeline(
        [("shell", FunctionTransformer(os.system)), ("model", LogisticRegression())]
    )
    skops.io.dump(runs_a_shell, model_dir / "model.skops")

    message = refusal(str(model_dir), {})

    assert "its skops file needs types this server does not trust: ['posix.system']" in message


def test_one_changed_byte_is_refused_with_both_digests(iris_model: Path, tmp_path: Path) -> None:
    declared = model_digest(iris_model)
    model_dir = shutil.copytree(iris_model, tmp_path / "model")
    data = bytearray((model_dir / "model.skops").read_bytes())
    data[len(data) // 2] ^= 0x01
    (model_dir / "model.skops").write_bytes(bytes(data))

    message = refusal(str(model_dir), {"MODEL_DIGEST": declared})

    assert "digest" in message
    assert f"MODEL_DIGEST {declared}" in message
    assert f"artifact digest {model_digest(model_dir)}" in message


def test_malformed_digest_is_refused(iris_model: Path) -> None:
    message = refusal(str(iris_model), {"MODEL_DIGEST": "md5:abc"})

    assert "MODEL_DIGEST='md5:abc': expected sha256:<64 lowercase hex digits>" in message


def test_registry_version_matching_its_declared_digest_is_served(
    mlflow_server: Any, iris_model: Path
) -> None:
    """The digest of the directory before upload holds for the download (the MLflow client's
    registered_model_meta file is excluded)."""
    version = register(mlflow_server, iris_model, "digest-iris")
    env = {**mlflow_server.serving_env, "MODEL_DIGEST": model_digest(iris_model)}

    with ModelServerProcess(f"models:/digest-iris/{version}", env=env) as server:
        response = predict(server, {"data": {"ndarray": [ROW]}})

    assert response.status_code == 200, response.text
    assert response.json()["meta"]["tags"]["model_version"] == version
    assert response.json()["data"]["names"] == ["a", "b", "c"]
