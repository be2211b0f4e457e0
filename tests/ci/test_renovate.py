"""renovate.json: every lock, and every chart and image version Renovate cannot find by itself,
is matched where the repository keeps it."""

from __future__ import annotations

import json
import re
import subprocess

import pytest
import yaml

from tests.support.lockfile import LOCKS, REPO_ROOT

CONFIG = json.loads((REPO_ROOT / "renovate.json").read_text())
TRACKED = subprocess.run(
    ["git", "ls-files"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
).stdout.split()


def _python(pattern: str) -> re.Pattern[str]:
    """A Renovate (JavaScript) pattern in Python's spelling."""
    return re.compile(pattern.strip("/").replace("(?<", "(?P<").replace("\\/", "/"))


def _files(patterns: list[str]) -> list[str]:
    return sorted(p for p in TRACKED if any(_python(pattern).search(p) for pattern in patterns))


def test_every_lock_is_maintained_by_the_pip_compile_manager() -> None:
    assert _files(CONFIG["pip-compile"]["managerFilePatterns"]) == sorted(LOCKS)


@pytest.mark.parametrize("manager", CONFIG["customManagers"], ids=lambda m: m["description"][:40])
def test_custom_manager_finds_the_version_in_each_of_its_files(manager: dict) -> None:
    files = _files(manager["managerFilePatterns"])
    assert "Pulumi.yaml" in files and len(files) == 2
    found = {
        path: [m.groupdict() for s in manager["matchStrings"]
               for m in _python(s).finditer((REPO_ROOT / path).read_text())]
        for path in files
    }
    assert all(found.values()), found
    values = {tuple(sorted(m.items())) for matches in found.values() for m in matches}
    # Pulumi.yaml's defaults and the Python defaults name the same versions.
    assert len(values) == len(found["Pulumi.yaml"]), found


def test_python_base_stays_on_312_and_seldon_operator_on_apache_2() -> None:
    rules = {tuple(rule["matchPackageNames"]): rule for rule in CONFIG["packageRules"]}
    python = re.compile(rules[("python",)]["allowedVersions"].strip("/"))
    base = re.search(r"^FROM python:(\S+)@", (REPO_ROOT / "serving/Dockerfile").read_text(), re.M)
    assert python.fullmatch(base[1]) and not python.fullmatch("3.13.1-slim-trixie")
    assert rules[("seldon-core-operator",)]["allowedVersions"] == "<1.18.0"
    stack = yaml.safe_load((REPO_ROOT / "Pulumi.yaml").read_text())
    assert stack["config"]["seldonOperatorVersion"]["default"] == "1.17.1"
