"""The training image definition: linted, non-root, pinned to the repository's versions, built
from exactly model/ and continuous_training/, whose imports stay inside the image."""

import ast
import re
import shutil
import subprocess

from conftest import REPO_ROOT

from infra.training.config import TRAINING_SOURCE
from tests.lockfile import REPOSITORY_LOCK, read_lock

DOCKERFILE = REPO_ROOT / "model" / "Dockerfile"


def test_hadolint_reports_nothing():
    hadolint = shutil.which("hadolint") or str(REPO_ROOT / ".venv/bin/hadolint")
    result = subprocess.run([hadolint, str(DOCKERFILE)], capture_output=True, text=True, timeout=60)
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


def test_base_is_the_serving_images_base_pinned_by_digest():
    """One Python base for both images, so a base update (and its digest) moves them together;
    tests/serving checks that base is a 3.12 slim tag with a digest."""
    bases = re.findall(r"^FROM (\S+)", DOCKERFILE.read_text(), re.M)
    serving = re.findall(r"^FROM (\S+)", (REPO_ROOT / "serving" / "Dockerfile").read_text(), re.M)
    assert bases and set(bases) == set(serving)
    assert all("@sha256:" in base for base in bases)


def test_runs_as_its_non_root_user_with_home_on_the_scratch_volume():
    text = DOCKERFILE.read_text()
    assert re.findall(r"^USER (\S+)", text, re.M)[-1] == "10001:10001"
    assert "HOME=/tmp" in text
    assert all("--no-cache-dir" in line for line in text.splitlines() if "pip install" in line)


def test_requirements_are_pinned_to_the_repositorys_versions():
    """The image installs, hashes required, the versions the repository lock gives the tests."""
    image, repository = read_lock("model/requirements.txt"), read_lock(REPOSITORY_LOCK)
    assert {"mlflow-skinny", "scikit-learn", "kubernetes", "pandas", "skops"} <= set(image)
    assert not set(image) & {"mlflow", "pulumi", "pytest", "seldon-core"}
    assert {name: pin.version for name, pin in image.items()} == {
        name: repository[name].version for name in image
    }
    installs = [line for line in DOCKERFILE.read_text().splitlines() if "pip install" in line]
    assert installs and all("--require-hashes" in line for line in installs)


def test_build_context_is_model_and_continuous_training_only():
    rules = [
        line.strip()
        for line in (REPO_ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert rules[0] == "*"
    assert {r for r in rules if r.startswith("!")} == {"!model/", "!continuous_training/"}
    assert TRAINING_SOURCE.context == REPO_ROOT
    copied = re.findall(r"^COPY (?!--from)(\S+)", DOCKERFILE.read_text(), re.M)
    assert copied == ["model/requirements.txt", "model/", "continuous_training/"]


def test_continuous_training_imports_nothing_else_from_the_repository():
    repo_packages = {"model", "infra", "stacks", "bench", "tests", "analysis", "serving"}
    imported = set()
    for module in (REPO_ROOT / "continuous_training").glob("*.py"):
        for node in ast.walk(ast.parse(module.read_text())):
            if isinstance(node, ast.Import):
                imported |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                imported.add(node.module.split(".")[0])
    assert "kubernetes" in imported
    assert not imported & repo_packages
