"""A misconfigured server stops at start-up with a message naming the setting and the fix."""

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from localrun.process_group import free_port
from localrun.server_process import ModelServerProcess

CASES = [
    ("models:/iris", {}, "MODEL_URI='models:/iris': expected models:/<name>/<version>"),
    ("/nonexistent/model", {}, "is neither a models:/ URI nor a directory holding an MLmodel"),
    ("models:/iris/1", {}, "MODEL_URI='models:/iris/1' needs MLFLOW_TRACKING_URI to be set"),
    ("{model_dir}", {"MAX_BATCH_ROWS": "many"}, "MAX_BATCH_ROWS='many' is not a valid int"),
    ("{model_dir}", {"DRIFT_WINDOW_ROWS": "0"}, "DRIFT_WINDOW_ROWS='0': expected a positive"),
    ("{model_dir}", {"FEEDBACK_REWARD_MAX": "nan"}, "FEEDBACK_REWARD_MAX='nan': expected a finite"),
    ("{model_dir}", {"FEEDBACK_REWARD_MIN": "-1"}, "FEEDBACK_REWARD_MIN=-1: expected >= 0"),
    ("{model_dir}", {"FEEDBACK_REWARD_MIN": "2"}, "FEEDBACK_REWARD_MIN=2.0 is above"),
    ("{model_dir}", {"HTTP_BODY_TIMEOUT_SECONDS": "0"}, "HTTP_BODY_TIMEOUT_SECONDS=0.0: expected"),
]


@pytest.mark.parametrize(("model_uri", "env", "message"), CASES)
def test_bad_configuration_fails_fast_with_a_clear_message(
    trained_model: dict[str, str], model_uri: str, env: dict[str, str], message: str
) -> None:
    uri = model_uri.format(model_dir=trained_model["local_model_dir"])
    server = ModelServerProcess(uri, env={"MLFLOW_TRACKING_URI": "", **env}, startup_timeout=60)

    with pytest.raises(RuntimeError, match="exited early") as failure:
        server.start()

    assert message in str(failure.value)
    assert not Path(server.workdir).exists()


@pytest.fixture
def silent_registry() -> Iterator[str]:
    """A port that accepts connections and never answers (a hung registry)."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"


@pytest.mark.parametrize("registry", ["refusing", "silent"])
def test_unreachable_registry_fails_within_30s_naming_the_uri(
    registry: str, silent_registry: str
) -> None:
    """The image's MLflow retry and timeout bounds end start-up well before the startupProbe
    window; `startup_timeout=30` makes a longer hang fail this test as "not ready"."""
    uri = f"http://127.0.0.1:{free_port()}" if registry == "refusing" else silent_registry
    server = ModelServerProcess(
        "models:/iris/1", env={"MLFLOW_TRACKING_URI": uri}, startup_timeout=30
    )

    with pytest.raises(RuntimeError, match="exited early") as failure:
        server.start()

    assert f"cannot resolve MODEL_URI='models:/iris/1' from MLFLOW_TRACKING_URI='{uri}'" in str(
        failure.value
    )
