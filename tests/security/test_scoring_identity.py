"""The scoring identity (the batch-scoring CronJobs' login, `python -m model score`) on the real
server set up as the deploy sets it up (`mlflow_server`): it reads the served versions (the
served-versions rule, as the serving identity) and the files under `0/scoring/`, and writes new
files only in the declared scoring outputs (the committed stacks' `batchScoring.output`), never
over an existing one. Everything else is refused by the platform's rules (`artifact_writes.py`),
whatever MLflow's EDIT grant on the Default experiment would allow. The score command runs as it
end to end, as the CronJob runs it. Its row of the identity x write-route check is here (a file
of its own, so xdist's `--dist loadfile` can run it beside test_write_routes.py)."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from typing import Any

import pyarrow.parquet as pq
import pytest

from tests.security.mlflow_routes import user_read_routes, write_routes
from tests.security.route_calls import _session, call, outcomes, platform_denied
from tests.security.test_served_versions import _register
from tests.support.mlflow_server import REPO_ROOT, isolated_env, stack_scoring_outputs

API = "/api/2.0/mlflow"
ARTIFACTS = "/api/2.0/mlflow-artifacts/artifacts"
OUTPUT = "0/scoring/iris/scored"
"""prod's declared output (Pulumi.prod.yaml `batchScoring.output`)."""
SCORE_TIMEOUT_S = 300


def _put(server, role: str, path: str, body: bytes = b"bytes"):
    login = server.logins[role]
    return _session().put(
        f"{server.url}{ARTIFACTS}/{path}",
        data=body,
        auth=(login.username, login.password),
        timeout=60,
    )


@pytest.fixture(scope="module")
def scoring(mlflow_server, trained_model: dict[str, Any]) -> dict[str, str]:
    """A model with v1 served (pinned) and v2 not, and an input file the pipeline put under
    `0/scoring/`."""
    from mlflow import MlflowClient

    assert OUTPUT in stack_scoring_outputs()
    uri = trained_model["tracking_uri"]
    local = MlflowClient(tracking_uri=uri, registry_uri=uri)
    digest = local.get_model_version(trained_model["model_name"], trained_model["version"]).tags[
        "model_digest"
    ]
    name = f"scored-{uuid.uuid4().hex[:8]}"
    served = _register(mlflow_server, trained_model["local_model_dir"], name)
    unserved = _register(mlflow_server, trained_model["local_model_dir"], name)
    mlflow_server.serve(f"{name}/{served['version']}")
    rows = "sepal_length,sepal_width,petal_length,petal_width\n" + "5.1,3.5,1.4,0.2\n" * 7
    source = f"0/scoring/iris/{uuid.uuid4().hex[:8]}/rows.csv"
    assert _put(mlflow_server, "pipeline", source, rows.encode()).status_code == 200
    return {"name": name, "served": served["version"], "unserved": unserved["version"],
            "unserved_path": unserved["path"], "digest": digest, "input": source}  # fmt: skip


def _score(server, model: str, digest: str, source: str, output: str):
    command = [sys.executable, "-m", "model", "score", "--model", model, "--digest", digest,
               "--input", f"mlflow-artifacts:/{source}", "--output", f"mlflow-artifacts:/{output}/",
               "--json"]  # fmt: skip
    return subprocess.run(
        command,
        cwd=REPO_ROOT,
        env=isolated_env(**server.scoring_env),
        capture_output=True,
        text=True,
        timeout=SCORE_TIMEOUT_S,
    )


def test_the_score_command_runs_as_the_scoring_identity(mlflow_server, scoring, tmp_path) -> None:
    """As the CronJob runs it: the pinned version by number and digest, the input from
    `0/scoring/`, a new file in the declared output folder, which the pipeline reads; the file
    is never rewritten, and the identity writes nowhere else."""
    model = f"{scoring['name']}/{scoring['served']}"
    result = _score(mlflow_server, model, scoring["digest"], scoring["input"], OUTPUT)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert (summary["model_version"], summary["rows"]) == (scoring["served"], 7)
    written = summary["output"].removeprefix("mlflow-artifacts:/")
    assert written.startswith(f"{OUTPUT}/scored-v{scoring['served']}-")
    fetched = call(mlflow_server, "pipeline", "GET", f"{ARTIFACTS}/{written}")
    assert fetched.status_code == 200
    (tmp_path / "scored.parquet").write_bytes(fetched.content)
    table = pq.read_table(tmp_path / "scored.parquet")
    assert table.num_rows == 7
    assert set(table.column("model_version").to_pylist()) == {scoring["served"]}

    again = _put(mlflow_server, "scoring", written)
    assert platform_denied(again) and "is never overwritten" in again.text
    for path in (
        f"0/scoring/iris/{uuid.uuid4().hex}.parquet",  # under 0/scoring/, not an output
        f"{OUTPUT}/../elsewhere.parquet",
        f"{OUTPUT}/%2e%2e/elsewhere.parquet",
        f"0/request-logs/seldon/iris/{uuid.uuid4().hex}.parquet",
        f"{scoring['unserved_path']}/planted.pkl",
    ):
        answer = _put(mlflow_server, "scoring", path)
        assert platform_denied(answer), (path, answer.status_code, answer.text)
        assert "writes only under the declared outputs" in answer.text


def test_the_score_command_cannot_score_an_unpinned_version(mlflow_server, scoring) -> None:
    model = f"{scoring['name']}/{scoring['unserved']}"
    result = _score(mlflow_server, model, scoring["digest"], scoring["input"], OUTPUT)
    assert result.returncode != 0
    assert "Permission denied by platform policy" in result.stderr


def test_scoring_is_refused_every_write_route(mlflow_server) -> None:
    """Every write route of the installed MLflow (placeholder paths name no declared output):
    403 by the platform, none reaches MLflow."""
    wrong = {
        route: response.status_code
        for route, response in outcomes(mlflow_server, "scoring", write_routes()).items()
        if not platform_denied(response)
    }
    assert wrong == {}


def test_scoring_reads_nothing_but_served_versions_and_its_files(mlflow_server, scoring) -> None:
    name = scoring["name"]
    reads = [
        *user_read_routes(),
        ("GET", f"{API}/experiments/get?experiment_id=0"),
        ("GET", f"{API}/experiments/search"),
        ("GET", f"{API}/registered-models/search"),
        ("GET", f"{API}/model-versions/get?name={name}&version={scoring['unserved']}"),
        ("GET", f"{API}/model-versions/get-download-uri?name={name}&version={scoring['unserved']}"),
        ("GET", f"{ARTIFACTS}?path={scoring['unserved_path']}"),
        ("GET", f"{ARTIFACTS}/{scoring['unserved_path']}/MLmodel"),
        ("GET", f"{ARTIFACTS}?path=0"),
        ("GET", f"{ARTIFACTS}?path=0/request-logs"),
        ("GET", f"{ARTIFACTS}/0/request-logs/seldon/iris/labelled.parquet"),
        ("POST", f"{API}/runs/search"),
    ]
    wrong = {
        route: response.status_code
        for route, response in outcomes(mlflow_server, "scoring", reads).items()
        if not platform_denied(response)
    }
    assert wrong == {}
    for path in (
        f"{API}/model-versions/get?name={name}&version={scoring['served']}",
        f"{ARTIFACTS}/{scoring['input']}",
        f"{ARTIFACTS}?path=0/scoring/iris",
    ):
        assert call(mlflow_server, "scoring", "GET", path).status_code == 200, path


def test_scoring_sees_only_the_served_version_of_the_model(mlflow_server, scoring) -> None:
    """The registered model, read before every version read, is answered to the scoring login as
    to the serving login: without the versions that are not served."""
    answer = call(mlflow_server, "scoring", "GET",
                  f"{API}/registered-models/get?name={scoring['name']}")  # fmt: skip
    assert answer.status_code == 200, answer.text
    model = answer.json()["registered_model"]
    assert [v["version"] for v in model.get("latest_versions", [])] in ([], [scoring["served"]])
    assert all(a["version"] == scoring["served"] for a in model.get("aliases", []))
