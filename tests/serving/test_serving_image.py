"""The serving image definition: linted, pinned, non-root, the Seldon entrypoint."""

import ast
import re
import shutil
import subprocess
from pathlib import Path

from localrun.image_spec import DOCKERFILE, read_image_spec

REQUIREMENTS = DOCKERFILE.parent / "requirements.txt"


def test_hadolint_reports_nothing() -> None:
    hadolint = shutil.which("hadolint") or str(Path(__file__).parents[2] / ".venv/bin/hadolint")
    result = subprocess.run([hadolint, str(DOCKERFILE)], capture_output=True, text=True, timeout=60)

    assert (result.returncode, result.stdout + result.stderr) == (0, "")


def test_base_image_is_pinned_python_312_slim() -> None:
    bases = re.findall(r"^FROM (\S+)", DOCKERFILE.read_text(), re.M)

    assert bases and all(re.fullmatch(r"python:3\.12\.\d+-slim-\w+", base) for base in bases)


def test_runs_as_non_root_8888_with_seldon_entrypoint() -> None:
    text = DOCKERFILE.read_text()
    spec = read_image_spec()

    assert re.findall(r"^USER (\S+)", text, re.M)[-1] == "8888:8888"
    assert spec.command[:2] == ["seldon-core-microservice", "serving.model_server.ModelServer"]
    assert spec.command[2:] == ["--service-type", "MODEL"]
    assert spec.env["GUNICORN_WORKERS"].isdigit() and spec.env["GUNICORN_TIMEOUT"].isdigit()


def test_no_compilers_or_pip_caches_are_installed() -> None:
    text = DOCKERFILE.read_text()

    assert "apt-get" not in text and "gcc" not in text
    assert all("--no-cache-dir" in line for line in text.splitlines() if "pip install" in line)


def test_serving_requirements_are_all_pinned() -> None:
    lines = [
        line.strip()
        for line in REQUIREMENTS.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]

    assert lines and all(re.fullmatch(r"[A-Za-z0-9_.\-\[\]]+==[\w.]+", line) for line in lines)
    names = {line.split("==")[0].lower() for line in lines}
    assert {"seldon-core", "mlflow-skinny", "scikit-learn"} <= names
    assert not names & {"mlflow", "pulumi", "pytest"}


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
