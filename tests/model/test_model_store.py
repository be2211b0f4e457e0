"""Where records go: tracking URI precedence, and artifact roots independent of the cwd."""

from __future__ import annotations

from pathlib import Path

import pytest

from model.errors import ConfigurationError
from model.locations import (
    DEFAULT_TRACKING_URI,
    REPO_ROOT,
    artifact_location,
    resolve_tracking_uri,
)


def test_default_store_is_the_repository_sqlite_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert resolve_tracking_uri() == DEFAULT_TRACKING_URI == f"sqlite:///{REPO_ROOT / 'mlflow.db'}"
    assert (REPO_ROOT / "model" / "locations.py").is_file()


def test_environment_then_explicit_uri_win(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://mlflow.example:5000")
    assert resolve_tracking_uri() == "http://mlflow.example:5000"
    assert resolve_tracking_uri("sqlite:////tmp/x.db") == "sqlite:////tmp/x.db"


def test_default_artifacts_sit_in_the_repository_whatever_the_cwd(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    expected = (REPO_ROOT / "mlartifacts" / "iris").as_uri()
    assert artifact_location(DEFAULT_TRACKING_URI, "iris") == expected


def test_relative_sqlite_path_resolves_against_the_cwd(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    location = artifact_location("sqlite:///stores/mlflow.db", "iris")
    assert location == (tmp_path / "stores" / "mlartifacts" / "iris").as_uri()


def test_a_server_chooses_its_own_artifact_root() -> None:
    assert artifact_location("http://127.0.0.1:5000", "iris") is None


def test_cli_uses_the_environment_uri(
    run_cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'env.db'}")

    result = run_cli("history", "--json")

    assert result.code == 0, result.stderr
    assert result.json() == {"model_name": "iris", "history": [], "rejected": [], "broken": None}
    assert (tmp_path / "env.db").is_file()


def _local_store_state() -> int | None:
    """When the repository's SQLite store was last written, or None if there is none."""
    store = REPO_ROOT / "mlflow.db"
    return store.stat().st_mtime_ns if store.exists() else None


@pytest.mark.parametrize("value", ["", "  "])
def test_an_empty_environment_uri_is_an_error_not_the_local_store(
    run_cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, value: str
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", value)
    monkeypatch.chdir(tmp_path)
    before = _local_store_state()

    result = run_cli("train", "--json")

    assert result.code == 1
    assert "MLFLOW_TRACKING_URI is set but empty" in result.stderr
    assert "unset it" in result.stderr and DEFAULT_TRACKING_URI in result.stderr
    assert result.json()["error"]["type"] == "ConfigurationError"
    assert _local_store_state() == before, "nothing may be written to the local store"


@pytest.mark.parametrize(
    ("command", "option"),
    [
        ("history", ["--tracking-uri"]),
        ("promote", ["--to-tracking-uri", "sqlite:///x.db", "--from-tracking-uri"]),
    ],
)
def test_an_empty_tracking_uri_option_is_refused_naming_it(
    run_cli, capsys: pytest.CaptureFixture[str], command: str, option: list[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        run_cli(command, *option, "")

    assert exit_.value.code == 2
    assert f"argument {option[-1]}: is empty; expected the tracking server's URL" in (
        capsys.readouterr().err
    )


def test_resolving_an_empty_explicit_uri_is_an_error() -> None:
    with pytest.raises(ConfigurationError, match="the tracking URI is empty"):
        resolve_tracking_uri("")
