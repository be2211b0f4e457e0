"""The CLI answers fast and fails fast: ``--help`` loads no heavy library, a dead registry fails
within 30 s naming its URI (the subprocess timeout below is that bound)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys

from model.failfast import RETRY_BOUNDS, bound_mlflow_retries
from model.locations import REPO_ROOT
from tests.support.mlflow_server import LEDGER_KEY, LEDGER_KEY_ENV

DEAD_REGISTRY_BOUND_S = 30
HEAVY = ("mlflow", "sklearn", "pandas", "numpy", "pulumi", "infra", "stacks")


def test_help_imports_no_heavy_library_and_nothing_from_infra(subprocess_env) -> None:
    script = (
        "import sys, json\n"
        "from model.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        f"print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)), file=sys.stderr)"
    )
    completed = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO_ROOT, env=subprocess_env,
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr
    assert json.loads(completed.stderr.strip().splitlines()[-1]) == []
    assert "abtest" in completed.stdout and "train" in completed.stdout


def test_model_package_imports_nothing_from_infra_or_stacks() -> None:
    offenders = [
        f"{path.relative_to(REPO_ROOT)}: {line.strip()}"
        for path in (REPO_ROOT / "model").rglob("*.py")
        if "abtest" not in path.parts  # moving to analysis/ (issue 13), not this room's code
        for line in path.read_text().splitlines()
        if line.lstrip().startswith(("from infra", "import infra", "from stacks", "import stacks"))
        or "import pulumi" in line
    ]
    assert offenders == []


def test_dead_registry_fails_fast_naming_the_uri(subprocess_env) -> None:
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
    dead = f"http://127.0.0.1:{holder.getsockname()[1]}"
    try:
        completed = subprocess.run(
            [sys.executable, "-m", "model", "history", "--tracking-uri", dead],
            cwd=REPO_ROOT, env={**subprocess_env, LEDGER_KEY_ENV: LEDGER_KEY},
            capture_output=True, text=True,
            timeout=DEAD_REGISTRY_BOUND_S,
        )  # fmt: skip
    finally:
        holder.close()
    assert completed.returncode == 1
    assert f"error: MLflow at {dead} failed" in completed.stderr
    assert "Traceback" not in completed.stderr


def test_retry_bounds_are_mlflow_variables_and_give_way_to_the_environment(monkeypatch) -> None:
    import mlflow.environment_variables as mlflow_env

    for key in RETRY_BOUNDS:
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "5")

    bound_mlflow_retries()

    assert mlflow_env.MLFLOW_HTTP_REQUEST_MAX_RETRIES.get() == 5
    assert mlflow_env.MLFLOW_HTTP_REQUEST_TIMEOUT.get() == int(
        RETRY_BOUNDS["MLFLOW_HTTP_REQUEST_TIMEOUT"]
    )
    assert mlflow_env.MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR.get() == 1
