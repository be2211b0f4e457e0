"""The serving image definition: linted, pinned, non-root, the Seldon entrypoint."""

import ast
import re
import shutil
import subprocess
from pathlib import Path

from localrun.image_spec import DOCKERFILE, read_image_spec
from tests.support.lockfile import REPOSITORY_LOCK, read_lock


def test_hadolint_reports_nothing() -> None:
    hadolint = shutil.which("hadolint") or str(Path(__file__).parents[2] / ".venv/bin/hadolint")
    result = subprocess.run([hadolint, str(DOCKERFILE)], capture_output=True, text=True, timeout=60)

    assert (result.returncode, result.stdout + result.stderr) == (0, "")


def test_base_image_is_python_312_slim_pinned_by_tag_and_digest() -> None:
    bases = re.findall(r"^FROM (\S+)", DOCKERFILE.read_text(), re.M)

    assert bases and all(
        re.fullmatch(r"python:3\.12\.\d+-slim-\w+@sha256:[0-9a-f]{64}", base) for base in bases
    )


def test_nothing_names_an_architecture() -> None:
    instructions = [
        line for line in DOCKERFILE.read_text().lower().splitlines() if not line.startswith("#")
    ]

    assert not re.search(r"amd64|x86_64|arm64|aarch64|--platform", "\n".join(instructions))


def test_image_never_unpickles_and_bounds_mlflow_calls() -> None:
    env = read_image_spec().env

    assert env["MLFLOW_ALLOW_PICKLE_DESERIALIZATION"] == "false"
    assert (
        int(env["MLFLOW_HTTP_REQUEST_TIMEOUT"]) * (int(env["MLFLOW_HTTP_REQUEST_MAX_RETRIES"]) + 1)
        < 30
    )


def test_runs_as_non_root_8888_with_the_servers_own_entrypoint() -> None:
    text = DOCKERFILE.read_text()
    spec = read_image_spec()

    assert re.findall(r"^USER (\S+)", text, re.M)[-1] == "8888:8888"
    assert spec.command == ["python", "-m", "serving"]
    assert spec.env["SERVER_WORKERS"].isdigit()
    # The operator's ports (seldon-core v1.17.1 operator/constants/constants.go:21 for gRPC).
    assert [spec.env[f"PREDICTIVE_UNIT_{kind}_SERVICE_PORT"] for kind in ("HTTP", "GRPC")] == [
        "9000",
        "9500",
    ]


def test_no_compilers_or_pip_caches_are_installed() -> None:
    text = DOCKERFILE.read_text()

    assert "apt-get" not in text and "gcc" not in text
    installs = [line for line in text.splitlines() if "pip install" in line]
    assert installs and all("--no-cache-dir" in line for line in installs)
    assert all("--require-hashes" in line for line in installs)


def test_serving_lock_holds_the_image_packages_only() -> None:
    """Every pin is hashed and, like its version, taken from the repository lock by `make lock`
    (tests/ci/test_dependency_locks.py checks both)."""
    names = set(read_lock("serving/requirements.txt"))

    assert {"seldon-core", "mlflow-skinny", "scikit-learn"} <= names
    assert not names & {"mlflow", "pulumi", "pytest"}


def test_serving_pins_are_what_the_tests_run() -> None:
    """The image installs the versions the repository lock gives the shared environment."""
    image, repository = read_lock("serving/requirements.txt"), read_lock(REPOSITORY_LOCK)

    assert {name: pin.version for name, pin in image.items()} == {
        name: repository[name].version for name in image
    }


def test_serving_imports_nothing_from_the_rest_of_the_repository() -> None:
    repo_packages = {"model", "infra", "stacks", "localrun", "tests"}
    imported = set()
    for module in DOCKERFILE.parent.glob("*.py"):
        for node in ast.walk(ast.parse(module.read_text())):
            if isinstance(node, ast.Import):
                imported |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                imported.add(node.module.split(".")[0])

    assert "seldon_core" in imported
    assert not imported & repo_packages
