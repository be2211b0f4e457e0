"""Any subset of suites collects in any order: the folders are packages with explicit support
modules, so two suites' conftest.py and helpers never shadow each other (`pytest tests/training
tests/serving` used to fail at collection)."""

from __future__ import annotations

import subprocess
import sys

from tests.support.stacks import REPO_ROOT

SUITES = ("tests/training/test_training_image.py", "tests/serving/test_serving_image.py")
"""One file from each of two suites that both have a conftest.py and helper modules of their
own (collecting a file loads its folder's conftest.py, where the clash was; at 5507efc this
pair fails at collection)."""


def test_two_suites_collect_the_same_tests_in_either_order() -> None:
    runs = [
        subprocess.Popen(
            [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
             *order],
            cwd=REPO_ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        for order in (SUITES, SUITES[::-1])
    ]
    collected = []
    for run in runs:
        out, err = run.communicate(timeout=300)
        assert run.returncode == 0, out[-3000:] + err[-2000:]
        collected.append({line for line in out.splitlines() if "::" in line})
    forward, backward = collected
    assert forward == backward
    for suite in SUITES:
        assert any(test.startswith(suite + "::") for test in forward), suite
