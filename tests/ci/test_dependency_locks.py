"""The dependency locks: each is current with its inputs, hashed, installed with hashes required,
and the image locks agree with the repository's. All offline: locks are compared with their
inputs and with each other, never with whatever an install resolved on the day."""

from __future__ import annotations

import re

import pytest
import yaml

from tests.support.lockfile import (
    LOCKS,
    REPO_ROOT,
    REPOSITORY_LOCK,
    expected_command,
    header_command,
    read_inputs,
    read_lock,
)


@pytest.mark.parametrize("lock", LOCKS)
def test_lock_records_the_command_make_lock_runs(lock: str) -> None:
    assert header_command(lock) == expected_command(lock)


def test_make_lock_runs_every_lock_command() -> None:
    makefile = (REPO_ROOT / "Makefile").read_text().replace("\\\n", " ")
    compile_command = re.search(r"^COMPILE := \$\(BIN\)/(.+)$", makefile, re.M)[1]
    recipe = re.search(r"^lock: .*\n((?:\t.*\n)+)", makefile, re.M)[1]
    commands = {
        " ".join(line.replace("$(COMPILE)", compile_command).replace("$(LOCK_FLAGS)", "").split())
        for line in recipe.splitlines()
    }
    expected = {" ".join(expected_command(lock).split()) for lock in LOCKS}
    assert {c.replace("--quiet ", "") for c in commands} == expected


@pytest.mark.parametrize("lock", LOCKS)
def test_every_locked_package_is_pinned_with_hashes(lock: str) -> None:
    pins = read_lock(lock)

    assert pins and all(pin.hashes for pin in pins.values())


@pytest.mark.parametrize("lock", LOCKS)
def test_every_direct_dependency_is_locked_at_a_version_its_input_allows(lock: str) -> None:
    source, _ = LOCKS[lock]
    pins, inputs = read_lock(lock), read_inputs(source)

    missing = sorted(set(inputs) - set(pins))
    assert not missing, f"{lock} lacks {missing}: run `make lock`"
    outside = {
        name: pins[name].version
        for name, requirement in inputs.items()
        if not requirement.specifier.contains(pins[name].version, prereleases=True)
    }
    assert not outside, f"{lock} pins {outside} outside {source}: run `make lock`"


@pytest.mark.parametrize("lock", LOCKS)
def test_lock_holds_only_what_its_inputs_need(lock: str) -> None:
    """A package removed from the input leaves the lock stale: it still says `-r <input>`, or
    nothing that remains needs it."""
    source, _ = LOCKS[lock]
    pins, inputs = read_lock(lock), read_inputs(source)

    direct = {name for name, pin in pins.items() if f"-r {source}" in pin.via}
    assert direct == set(inputs), f"{lock} is stale against {source}: run `make lock`"
    reached, frontier = set(direct), set(direct)
    while frontier:
        frontier = {
            name for name, pin in pins.items()
            if name not in reached and frontier & {v.lower() for v in pin.via}
        }
        reached |= frontier
    assert set(pins) == reached, f"{lock}: nothing needs {sorted(set(pins) - reached)}"


@pytest.mark.parametrize(
    "lock", [lock for lock, (_, constraints) in LOCKS.items() if constraints == REPOSITORY_LOCK]
)
def test_constrained_lock_takes_every_version_and_hash_from_the_repository_lock(lock: str) -> None:
    """The images run what the tests run: every package they lock is in the repository's
    environment at the same version, with the same files."""
    pins, repository = read_lock(lock), read_lock(REPOSITORY_LOCK)

    assert set(pins) <= set(repository), sorted(set(pins) - set(repository))
    assert {name: (pin.version, pin.hashes) for name, pin in pins.items()} == {
        name: (repository[name].version, repository[name].hashes) for name in pins
    }


def _install_commands(text: str) -> list[str]:
    joined = text.replace("\\\n", " ")
    joined = re.sub(r'",\s*"', " ", joined)  # an argument list: "pip", "install", ...
    return [line for line in joined.splitlines() if re.search(r"\bpip (install|sync)\b", line)]


def test_every_install_reads_a_lock_with_hashes_required() -> None:
    """make venv (which .ci/run, GitLab and GitHub reach through make), both image builds and
    the checkov virtualenv install only from locks, hashes required."""
    files = ["Makefile", "serving/Dockerfile", "model/Dockerfile", "tests/ci/conftest.py"]
    installs = {name: _install_commands((REPO_ROOT / name).read_text()) for name in files}
    pipelines = [REPO_ROOT / ".gitlab-ci.yml", *(REPO_ROOT / ".github/workflows").glob("*.yml")]
    for path in pipelines:
        installs[path.name] = _install_commands(yaml.safe_dump(yaml.safe_load(path.read_text())))

    assert all(installs[name] for name in files), installs
    unhashed = {
        name: [line.strip() for line in lines if not re.search(r"--require-hashes|-e \.$", line)]
        for name, lines in installs.items()
    }
    assert unhashed == {name: [] for name in installs}
    makefile = " ".join(installs["Makefile"])
    assert "-r ci/uv-requirements.txt" in makefile and "requirements.txt" in makefile
