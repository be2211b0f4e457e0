"""Reviewed model changes against a local bare Git repository standing in for the forge
(`LocalBareRepoForge`, a double): each kind of change is exactly one commit on its own branch,
with the evidence in the commit message and the request's description."""

import json
from pathlib import Path

import pytest

from localrun.local_forge import git, seeded_forge
from release.change_request import KINDS, ChangeError, PinChange, TrafficChange, propose
from release.forges import LocalBareRepoForge
from release.pins import Pin, PinLock, dump_pins, read_pins, write_pins

REPO_ROOT = Path(__file__).resolve().parents[2]
DIGEST = "sha256:" + "a" * 64


def pin(version: str, alias: str | None = "champion", model: str = "iris") -> Pin:
    return Pin(model=model, version=version, digest=DIGEST[:-1] + version[-1], alias=alias,
               registry="http://registry.test")  # fmt: skip


def forge_repo(tmp_path: Path, stack: str, merge: str) -> tuple[Path, LocalBareRepoForge]:
    """The forge double whose main holds the stack file and its pins, and a clone."""
    lock = PinLock(stack=stack, merge=merge, deployments={
        "seldon/iris": {"champion": pin("1"), "challenger": pin("2", "challenger"),
                        "shadow": pin("2", "challenger")}})  # fmt: skip
    stack_file = f"Pulumi.{stack}.yaml"
    files = {
        stack_file: (REPO_ROOT / stack_file).read_text(),
        f"pins.{stack}.yaml": dump_pins(lock),
    }
    return seeded_forge(tmp_path, files)


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_is_one_commit_on_its_own_branch_with_the_evidence(tmp_path, kind):
    work, forge = forge_repo(tmp_path, "prod", "approval")
    evidence = {"kind": kind, "p_value": 0.004, "samples": {"champion": 812, "challenger": 790}}
    request = propose("prod", [PinChange("seldon/iris", "champion", pin("3"))],
                      f"iris: champion -> 3 ({kind})", evidence, kind=kind,
                      repo=work, forge=forge)  # fmt: skip

    bare = forge.bare
    assert git(bare, "rev-list", "--count", f"main..{request.branch}") == "1"
    assert git(bare, "rev-parse", request.branch) == request.commit
    assert git(bare, "rev-parse", "main") != request.commit, "prod needs an approval"
    message = git(bare, "log", "-1", "--format=%B", request.commit)
    assert message.startswith(f"iris: champion -> 3 ({kind})")
    assert json.loads(message.split("Evidence:\n", 1)[1]) == evidence
    changed = git(bare, "diff", "--name-only", f"main..{request.branch}").split()
    assert changed == ["pins.prod.yaml"]
    shown = git(bare, "show", f"{request.branch}:pins.prod.yaml")
    committed = PinLock.model_validate(__import__("yaml").safe_load(shown))
    assert committed.pin("seldon/iris", "champion") == pin("3")
    assert committed.pin("seldon/iris", "challenger") == pin("2", "challenger")
    [made] = forge.requests_made()
    assert made["branch"] == request.branch and made["target"] == "main"
    assert not made["auto_merge"] and not made["merged"]
    assert f"kind:{kind}" in made["labels"]
    assert '"p_value": 0.004' in made["description"]
    assert git(work, "status", "--porcelain") == "", "the caller's checkout is untouched"


def test_a_rollout_step_changes_traffic_and_dev_merges_by_itself(tmp_path):
    work, forge = forge_repo(tmp_path, "dev", "auto")
    request = propose("dev", [TrafficChange("seldon/iris", {"challenger": 10, "champion": 90})],
                      "iris: challenger to 10%", {"decision": "continue"}, kind="rollout",
                      repo=work, forge=forge)  # fmt: skip

    assert request.opened.merged and request.opened.auto_merge
    assert git(forge.bare, "rev-parse", "main") == request.commit
    stack = git(forge.bare, "show", "main:Pulumi.dev.yaml")
    assert "traffic: 90" in stack and "traffic: 10" in stack
    assert git(forge.bare, "diff", "--name-only", "main~1..main") == "Pulumi.dev.yaml"


def test_a_change_that_changes_nothing_is_refused_and_pushes_nothing(tmp_path):
    work, forge = forge_repo(tmp_path, "dev", "auto")
    with pytest.raises(ChangeError, match="already say this"):
        propose("dev", [PinChange("seldon/iris", "champion", pin("1"))], "same", {},
                kind="promotion", repo=work, forge=forge)  # fmt: skip
    assert git(forge.bare, "branch", "--list") == "* main"
    assert forge.requests_made() == []


def test_a_failed_check_commits_nothing(tmp_path):
    work, forge = forge_repo(tmp_path, "dev", "auto")

    def refuse(stack_file: Path) -> None:
        raise ValueError(f"{stack_file.name}: refused")

    with pytest.raises(ValueError, match="refused"):
        propose("dev", [TrafficChange("seldon/iris", {"challenger": 7})], "bad", {},
                kind="rollout", repo=work, forge=forge, check=refuse)  # fmt: skip
    assert git(forge.bare, "branch", "--list") == "* main"
    assert git(work, "worktree", "list").count("\n") == 0, "the temporary tree is gone"


def test_the_pin_lock_round_trips(tmp_path):
    path = tmp_path / "pins.x.yaml"
    lock = PinLock(stack="x", merge="auto", deployments={"seldon/iris": {"champion": pin("4")}})
    write_pins(path, lock)
    assert read_pins(path) == lock
    assert path.read_text().startswith("# Model pins of stack x")
