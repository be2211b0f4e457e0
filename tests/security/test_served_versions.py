"""The serving identity reads exactly the versions it serves, on the real server set up as the
deploy sets it up (`mlflow_server`: `--app-name platform-auth`, the served-versions list).

One registered model with two versions, of which the stack serves the first, and another model
nobody serves. The serving user downloads its version the way the model server does
(`serving/model_download.py`) and is refused every other read: the other version (by number,
by alias, by its artifacts), the other model, the search and list routes that would name them,
and the users with their grants."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from unittest import mock

import pytest
import requests

from infra.mlflow.auth import AUTH_APP_SCRIPT
from tests.support.mlflow_server import isolated_env

sys.path.insert(0, str(AUTH_APP_SCRIPT.parent))
from mlflow_platform_auth import DENIED_PREFIX  # noqa: E402

API = "/api/2.0/mlflow"
ARTIFACTS = "/api/2.0/mlflow-artifacts/artifacts"
DOWNLOAD_TIMEOUT_S = 120


def _register(server, model_dir: str, name: str) -> dict[str, str]:
    """Upload `model_dir` as a new run's `model` artifact and register it under `name`, as the
    pipeline user; the version's number, run and proxied artifact path."""
    from mlflow import MlflowClient

    with mock.patch.dict(os.environ, server.pipeline_env):
        client = MlflowClient(tracking_uri=server.url, registry_uri=server.url)
        experiment = client.get_experiment_by_name(name)
        experiment_id = experiment.experiment_id if experiment else client.create_experiment(name)
        run = client.create_run(experiment_id)
        client.log_artifacts(run.info.run_id, model_dir, artifact_path="model")
        client.set_terminated(run.info.run_id)
        if not client.search_registered_models(filter_string=f"name = '{name}'"):
            client.create_registered_model(name)
        source = f"{run.info.artifact_uri}/model"
        version = client.create_model_version(name, source, run_id=run.info.run_id).version
    return {
        "version": str(version),
        "run_id": run.info.run_id,
        "path": source.removeprefix("mlflow-artifacts:/"),
    }


@pytest.fixture(scope="module")
def registry(mlflow_server, trained_model) -> dict:
    """`name` v1 (served, `champion`) and v2 (`challenger`, not served); `other` v1 (not
    served, though the serving user holds MLflow's READ grant on its name)."""
    name = f"served-{uuid.uuid4().hex[:8]}"
    other = f"unserved-{uuid.uuid4().hex[:8]}"
    model_dir = trained_model["local_model_dir"]
    served = _register(mlflow_server, model_dir, name)
    unserved = _register(mlflow_server, model_dir, name)
    foreign = _register(mlflow_server, model_dir, other)
    pipeline = mlflow_server.logins["pipeline"]
    for alias, version in (("champion", served), ("challenger", unserved)):
        response = requests.post(
            f"{mlflow_server.url}{API}/registered-models/alias",
            json={"name": name, "alias": alias, "version": version["version"]},
            auth=tuple(pipeline),
            timeout=30,
        )
        assert response.status_code == 200, response.text
    mlflow_server.serve(f"{name}/{served['version']}", other)
    return {"name": name, "other": other, "served": served, "unserved": unserved,
            "foreign": foreign}  # fmt: skip


def as_serving(server, method: str, path: str, params: dict | None = None) -> requests.Response:
    return requests.request(
        method,
        f"{server.url}{path}",
        params=params if method == "GET" else None,
        json=params if method != "GET" else None,
        auth=tuple(server.logins["serving"]),
        timeout=30,
    )


def model_download(server, *args: str) -> subprocess.CompletedProcess[str]:
    """`python -m serving.model_download NAME VERSION ALIAS` as the model container runs it."""
    return subprocess.run(
        [sys.executable, "-m", "serving.model_download", *args],
        env=isolated_env(**server.serving_env),
        capture_output=True,
        text=True,
        timeout=DOWNLOAD_TIMEOUT_S,
        check=False,
    )


@pytest.fixture(scope="module")
def downloads(mlflow_server, registry) -> dict[tuple[str, str], subprocess.CompletedProcess[str]]:
    """(served|other, version|alias) -> the download's outcome, the four run at once."""
    name, served, unserved = registry["name"], registry["served"], registry["unserved"]
    calls = {
        ("served", "version"): (name, served["version"], ""),
        ("served", "alias"): (name, "", "champion"),
        ("other", "version"): (name, unserved["version"], ""),
        ("other", "alias"): (name, "", "challenger"),
    }
    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        results = pool.map(lambda args: model_download(mlflow_server, *args), calls.values())
        return dict(zip(calls, results, strict=True))


@pytest.mark.parametrize("how", ["version", "alias"])
def test_serving_user_downloads_its_served_version(registry, downloads, how) -> None:
    result = downloads["served", how]
    assert result.returncode == 0, result.stdout + result.stderr
    answer = json.loads(result.stdout)
    assert answer["version"] == registry["served"]["version"]
    assert (Path(answer["local_dir"]) / "MLmodel").is_file()


@pytest.mark.parametrize("how", ["version", "alias"])
def test_serving_user_cannot_download_another_version(downloads, how) -> None:
    result = downloads["other", how]
    assert result.returncode == 2, result.stdout + result.stderr
    assert "not a read of a served version" in json.loads(result.stdout)["error"]


def test_every_other_read_is_refused_by_the_platform(mlflow_server, registry) -> None:
    name, other = registry["name"], registry["other"]
    served, unserved, foreign = registry["served"], registry["unserved"], registry["foreign"]
    refused = [
        ("GET", f"{API}/model-versions/get", {"name": name, "version": unserved["version"]}),
        ("GET", f"{API}/model-versions/get-download-uri",
         {"name": name, "version": unserved["version"]}),
        ("GET", f"{API}/model-versions/get", {"name": other, "version": foreign["version"]}),
        ("GET", f"{API}/registered-models/alias", {"name": name, "alias": "challenger"}),
        ("GET", f"{API}/registered-models/get", {"name": other}),
        ("GET", f"{API}/registered-models/search", {}),
        ("GET", f"{API}/model-versions/search", {"filter": f"name = '{name}'"}),
        ("POST", f"{API}/registered-models/get-latest-versions", {"name": name}),
        ("GET", f"{API}/registered-models/get-latest-versions", {"name": name}),
        ("POST", f"{API}/runs/search", {"experiment_ids": ["0"]}),
        ("POST", f"{API}/experiments/search", {}),
        ("POST", f"{API}/logged-models/search", {}),
        ("GET", f"{API}/runs/get", {"run_id": unserved["run_id"]}),
        ("GET", f"{API}/runs/get", {"run_id": served["run_id"]}),
        ("GET", f"{API}/artifacts/list", {"run_id": unserved["run_id"]}),
        ("GET", f"{ARTIFACTS}/{unserved['path']}/MLmodel", None),
        ("GET", f"{ARTIFACTS}/{foreign['path']}/MLmodel", None),
        ("GET", ARTIFACTS, {"path": unserved["path"]}),
        ("GET", ARTIFACTS, {"path": f"{served['path']}/../../../{unserved['run_id']}"}),
        ("GET", ARTIFACTS, {"path": served["path"].rsplit("/", 1)[0]}),
        ("GET", f"{API}/users/list", {}),
        ("GET", f"{API}/users/get", {"username": mlflow_server.logins["pipeline"].username}),
        ("GET", f"{API}/users/permissions/list", {}),
        ("POST", "/ajax-api/3.0/mlflow/demo/generate", {}),
    ]  # fmt: skip
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda call: as_serving(mlflow_server, *call), refused))
    wrong = {
        (method, path, str(params)): (answer.status_code, answer.text[:120])
        for (method, path, params), answer in zip(refused, answers, strict=True)
        if not (answer.status_code == 403 and answer.text.startswith(DENIED_PREFIX))
    }
    assert wrong == {}


def test_the_served_model_shows_only_its_served_version(mlflow_server, registry) -> None:
    """MLflow's client reads the registered model before every version read: it is answered,
    without the versions and aliases that are not served."""
    response = as_serving(mlflow_server, "GET", f"{API}/registered-models/get",
                          {"name": registry["name"]})  # fmt: skip
    assert response.status_code == 200, response.text
    model = response.json()["registered_model"]
    served = registry["served"]["version"]
    assert [v["version"] for v in model.get("latest_versions", [])] in ([], [served])
    assert model.get("aliases") == [{"alias": "champion", "version": served}]
    admin = requests.get(f"{mlflow_server.url}{API}/registered-models/get",
                         params={"name": registry["name"]},
                         auth=tuple(mlflow_server.logins["admin"]), timeout=30)  # fmt: skip
    assert len(admin.json()["registered_model"]["aliases"]) == 2


def test_serving_user_reads_its_versions_files_one_by_one(mlflow_server, registry) -> None:
    """The files of the served version, listed and fetched as the artifact client does."""
    root = registry["served"]["path"]
    listed = as_serving(mlflow_server, "GET", ARTIFACTS, {"path": root})
    assert listed.status_code == 200, listed.text
    names = {Path(f["path"]).name for f in listed.json()["files"]}
    assert "MLmodel" in names
    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(
            pool.map(lambda n: as_serving(mlflow_server, "GET", f"{ARTIFACTS}/{root}/{n}"), names)
        )
    assert [answer.status_code for answer in answers] == [200] * len(names)


def test_a_moved_candidate_is_readable_only_once_its_version_is_pinned(
    mlflow_server, trained_model
) -> None:
    """The list holds pinned versions, not aliases: a shadow pinned at `candidate`'s version
    keeps reading that version when the gate moves `candidate` on, and the new candidate is
    refused (by number and by alias) until a reviewed change pins it and the list holds it."""
    name = f"shadowed-{uuid.uuid4().hex[:8]}"
    model_dir = trained_model["local_model_dir"]
    pinned, moved = (_register(mlflow_server, model_dir, name) for _ in range(2))
    pipeline = tuple(mlflow_server.logins["pipeline"])

    def point_candidate_at(version: dict) -> None:
        response = requests.post(
            f"{mlflow_server.url}{API}/registered-models/alias",
            json={"name": name, "alias": "candidate", "version": version["version"]},
            auth=pipeline,
            timeout=30,
        )
        assert response.status_code == 200, response.text

    def readable() -> dict[str, int]:
        calls = {
            "pinned": {"name": name, "version": pinned["version"]},
            "moved": {"name": name, "version": moved["version"]},
        }
        answers = {
            what: as_serving(mlflow_server, "GET", f"{API}/model-versions/get-download-uri", p)
            for what, p in calls.items()
        }
        answers["candidate"] = as_serving(
            mlflow_server, "GET", f"{API}/registered-models/alias",
            {"name": name, "alias": "candidate"},
        )  # fmt: skip
        return {what: answer.status_code for what, answer in answers.items()}

    point_candidate_at(pinned)
    mlflow_server.serve(f"{name}/{pinned['version']}")  # the shadow's pin
    assert readable() == {"pinned": 200, "moved": 403, "candidate": 200}
    point_candidate_at(moved)  # the gate moved the alias; nothing was pinned
    assert readable() == {"pinned": 200, "moved": 403, "candidate": 403}
    mlflow_server.serve(f"{name}/{moved['version']}")  # the reviewed change pinned it
    assert readable() == {"pinned": 200, "moved": 200, "candidate": 200}
