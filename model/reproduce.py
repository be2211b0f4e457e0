"""Rebuild a registered version from its recorded code, data, params and seed; compare digests.

``reproduce`` checks the recorded commit out into a temporary ``git worktree`` and runs that
commit's own ``python -m model rebuild`` there with the recorded data version and recipe, in
this environment; the rebuilt model directory is digested as at registration. A version whose
code or data was not committed cannot be re-fetched and is refused, naming which.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from model.conventions import TAG_MODEL_DIGEST
from model.errors import LifecycleError
from model.lineage import Recorded
from model.locations import REPO_ROOT
from model.provenance import environment_sha256, lock_file_sha256
from model.registry import version_tags
from model.store import Store

REBUILD_TIMEOUT_S = 1800


@dataclass(frozen=True)
class Comparison:
    """One recorded input or output beside what the rebuild used or produced."""

    name: str
    recorded: str
    rebuilt: str

    @property
    def equal(self) -> bool:
        return self.recorded == self.rebuilt


@dataclass(frozen=True)
class Reproduction:
    model_name: str
    version: str
    comparisons: list[Comparison]

    @property
    def digest_equal(self) -> bool:
        return next(c for c in self.comparisons if c.name == "model_digest").equal

    @property
    def differences(self) -> list[str]:
        return [c.name for c in self.comparisons if not c.equal]

    def as_dict(self) -> dict[str, Any]:
        return {
            "model_name": self.model_name,
            "version": self.version,
            "reproduced": self.digest_equal,
            "differs": self.differences,
            "comparisons": [
                {"name": c.name, "recorded": c.recorded, "rebuilt": c.rebuilt, "equal": c.equal}
                for c in self.comparisons
            ],
        }


def reproduce(store: Store, model_name: str, version: str, progress: Any) -> Reproduction:
    """Re-run ``model_name`` ``version`` and compare what it was built from and into."""
    label = f"{model_name} version {version}"
    recorded = Recorded.from_tags(label, version_tags(store, model_name, version), TAG_MODEL_DIGEST)
    run_id = store.client.get_model_version(model_name, version).run_id
    code = _committed_code(label, recorded.code)
    data_rev = recorded.data.git_rev if recorded.data.committed else None
    if data_rev is None:
        progress(
            f"{label} trained on data not committed with DVC ({recorded.data.git_rev}); "
            "rebuilding on the working tree's copy"
        )
    with tempfile.TemporaryDirectory(prefix="reproduce-") as scratch:
        source = Path(scratch) / "source"
        progress(f"checking out code {code} into a temporary worktree")
        _git("worktree", "add", "--detach", str(source), code)
        try:
            rebuilt = _rebuild(label, source, recorded, run_id, data_rev, Path(scratch) / "rebuilt")
        finally:
            _git("worktree", "remove", "--force", str(source))
    comparisons = [
        Comparison("model_digest", recorded.digest, rebuilt["model_digest"]),
        Comparison("data.dvc_md5", recorded.data.md5, rebuilt["data_version"]["md5"]),
        Comparison("code", recorded.code, code),
        Comparison("params", _params(recorded.recipe), _params(rebuilt["recipe"])),
        Comparison("environment.sha256", recorded.environment, environment_sha256()),
        Comparison("environment.lock", recorded.lock, lock_file_sha256()),
    ]
    return Reproduction(model_name, version, comparisons)


def _committed_code(label: str, code: str) -> str:
    if code.endswith("-dirty") or code == "unknown":
        raise LifecycleError(
            f"{label} was trained from code with uncommitted changes ({code}): its code "
            "cannot be checked out again"
        )
    found = subprocess.run(
        ["git", "cat-file", "-e", f"{code}^{{commit}}"], cwd=REPO_ROOT, capture_output=True
    )
    if found.returncode != 0:
        raise LifecycleError(
            f"{label} was trained from commit {code}, which this repository does not have; "
            "`git fetch` the branch that holds it and retry"
        )
    return code


def _rebuild(
    label: str, source: Path, recorded: Recorded, run_id: str, rev: str | None, out: Path
) -> dict[str, Any]:
    recipe = recorded.recipe
    if not recipe.get("spec"):
        raise LifecycleError(f"{label} was trained without a spec (--data/--schema)")
    repo = str(REPO_ROOT) if recorded.data.repo == "." else recorded.data.repo
    command = [
        sys.executable, "-m", "model", "rebuild", "--json",
        "--spec", recipe["spec"],
        "--recipe", json.dumps(recipe),
        "--run-id", run_id,
        "--out", str(out),
        "--data-repo", repo,
        *(["--data-rev", rev] if rev else []),
    ]  # fmt: skip
    done = subprocess.run(
        command, cwd=source, env=_source_env(source), capture_output=True, text=True,
        timeout=REBUILD_TIMEOUT_S,
    )  # fmt: skip
    if done.returncode != 0:
        if "invalid choice: 'rebuild'" in done.stderr:
            raise LifecycleError(
                f"{label}'s code {recorded.code} predates `python -m model rebuild`: it "
                "cannot be rebuilt by this command"
            )
        raise LifecycleError(f"rebuilding {label} failed:\n{done.stderr.strip()[-2000:]}")
    return json.loads(done.stdout)


def _source_env(source: Path) -> dict[str, str]:
    import os

    return {**os.environ, "PYTHONPATH": str(source)}


def _params(recipe: dict[str, Any]) -> str:
    return json.dumps({k: v for k, v in recipe.items() if k != "spec"}, sort_keys=True)


def _git(*args: str) -> None:
    subprocess.run(["git", *args], cwd=REPO_ROOT, capture_output=True, check=True, timeout=120)
