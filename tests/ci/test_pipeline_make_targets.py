"""The make targets the pipelines call, run here as the pipelines run them (where they can run).

`make test` is this suite's own runner and `make preview`/`up`/`image` need a cluster, the Pulumi
CLI or a Docker engine; `render`, `render-diff` and the model stage (`make train`, then the gate
and the promotion the pipelines run) run for real, against a real MLflow server.
"""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from pathlib import Path

from ci_pipelines import REPO_ROOT

VENV_PYTHON = REPO_ROOT / ".venv" / "bin" / "python"
# The suite already runs inside the project venv: do not let make rebuild it under other users.
MAKE = ["make", "--directory", str(REPO_ROOT), "--assume-old=.venv/bin/.installed"]
GATE_PASSED, GATE_FAILED = 0, 3
TIMEOUT_S = 300


def pipeline_env(login: dict[str, str]) -> dict[str, str]:
    """The job's environment: the tracking URI and the pipeline user's login, as CI sets them."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    return {**env, **login}


def run(command: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT_S, check=False
    )


def gate(env: dict[str, str], cwd: Path, model_name: str) -> tuple[int, dict]:
    """The pipelines' gate step: `python -m model evaluate --json`, exit code and verdict."""
    command = [str(VENV_PYTHON), "-m", "model", "evaluate", "--json", "--model-name", model_name]
    result = run(command, env, cwd)
    assert result.returncode in (GATE_PASSED, GATE_FAILED), result.stderr
    return result.returncode, json.loads(result.stdout)


def test_make_render_writes_the_stack(tmp_path: Path) -> None:
    out = tmp_path / "render-dev"
    result = run([*MAKE, "render", "STACK=dev", f"OUT={out}"], dict(os.environ), REPO_ROOT)
    assert result.returncode == 0, result.stderr
    kinds = {path.name.split("-")[0] for path in out.glob("*.yaml")}
    assert {"seldondeployment", "prometheusrule", "configmap"} <= kinds


def test_a_failed_make_render_keeps_the_previous_output(tmp_path: Path) -> None:
    out = tmp_path / "render-dev"
    out.mkdir()
    previous = out / "seldondeployment-seldon-iris.yaml"
    previous.write_text("kind: SeldonDeployment\n")

    result = run(
        [*MAKE, "render", "STACK=no-such-stack", f"OUT={out}"], dict(os.environ), REPO_ROOT
    )

    assert result.returncode != 0
    assert "Pulumi.no-such-stack.yaml does not exist" in result.stderr
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".render-")] == []
    assert previous.read_text() == "kind: SeldonDeployment\n", "the previous render must stay"


def test_model_stage_trains_gates_and_promotes_like_the_pipelines(
    mlflow_server, tmp_path: Path
) -> None:
    env = pipeline_env(mlflow_server.pipeline_env)
    model_name = f"iris-ci-{uuid.uuid4().hex[:8]}"  # the MLflow server is shared by other suites
    trained = run([*MAKE, "train", f"ARGS=--model-name {model_name} --spec iris"], env, tmp_path)
    assert trained.returncode == 0, trained.stderr
    assert "candidate" in trained.stdout

    status, verdict = gate(env, tmp_path, model_name)
    assert status == GATE_PASSED, "a first model has no champion to beat"
    assert verdict["passed"] is True

    promoted = run(
        [str(VENV_PYTHON), "-m", "model", "promote", "--json", "--model-name", model_name,
         "--actor", "ci-test", "--reason", "approved in pipeline test"],
        env,
        tmp_path,
    )
    assert promoted.returncode == 0, promoted.stderr
    assert json.loads(promoted.stdout)["action"] == "promote"

    status, verdict = gate(env, tmp_path, model_name)
    assert verdict["passed"] is (status == GATE_PASSED), "exit 3 must mean the gate failed"
