"""Every model change is a reviewed change: `propose` puts a pin change (and, for a rollout
step, the stack file's traffic) on a branch of its own, one commit carrying the evidence, and
opens a merge request (GitLab) or pull request (GitHub) with the evidence in its description.

The callers are the five kinds of change (`KINDS`): a new version passing its gate
(continuous_training), a rollout step (stacks/rollout.py), a promotion and a rollback
(`python -m release promote|rollback`), and a guard action. The stack's pin file says how the
change lands (`merge: auto` on dev and local, `approval` on prod, release/pins.py); the merged
change deploys through the existing deploy jobs.

The branch is made in a temporary `git worktree` of `repo` at `origin/<base>`, so the caller's
checkout is never touched.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from release.forges import Forge, Opened, Opening, forge_from_environment
from release.pins import Pin, pin_file_for, read_pins, write_pins
from release.stack_text import with_traffic

Kind = Literal["gate", "rollout", "promotion", "rollback", "guard"]
KINDS: tuple[Kind, ...] = ("gate", "rollout", "promotion", "rollback", "guard")
REPO_ROOT = Path(__file__).resolve().parent.parent
BASE_ENV = "MLOPS_RELEASE_BASE"
"""The branch changes are proposed into (default `main`)."""
AUTHOR = ("mlops-release", "mlops-release@invalid")
"""Commit author unless GIT_AUTHOR_NAME / GIT_AUTHOR_EMAIL say otherwise."""


class ChangeError(RuntimeError):
    """The change cannot be proposed (a git step failed); nothing was opened."""


class NoChange(ChangeError):
    """The pins and stack file already say this; nothing was committed or opened."""


@dataclass(frozen=True)
class PinChange:
    """Pin one predictor of deployment '<namespace>/<name>' to `pin`."""

    deployment: str
    predictor: str
    pin: Pin


@dataclass(frozen=True)
class TrafficChange:
    """Set the live predictors' `traffic:` of deployment '<namespace>/<name>'."""

    deployment: str
    traffic: Mapping[str, int]


Change = PinChange | TrafficChange


@dataclass(frozen=True)
class ChangeRequest:
    """The proposed change: its branch, its one commit and the request the forge opened."""

    stack: str
    kind: Kind
    branch: str
    commit: str
    title: str
    opened: Opened

    def as_dict(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "kind": self.kind,
            "branch": self.branch,
            "commit": self.commit,
            "title": self.title,
            "request": {
                "forge": self.opened.forge,
                "number": self.opened.number,
                "url": self.opened.url,
                "auto_merge": self.opened.auto_merge,
                "merged": self.opened.merged,
            },
        }


def propose(
    stack: str,
    changes: Sequence[Change],
    title: str,
    evidence: Mapping[str, Any],
    *,
    kind: Kind,
    urgent: bool = False,
    repo: Path = REPO_ROOT,
    forge: Forge | None = None,
    check: Callable[[Path], object] | None = None,
    now: datetime | None = None,
) -> ChangeRequest:
    """Commit `changes` to `pins.<stack>.yaml` / `Pulumi.<stack>.yaml` on a new branch
    from `origin/<base>`, push it and open the request; `check(stack_file)` (e.g. the
    StackConfig loader) judges the edited stack file before anything is committed.

    `evidence` (JSON-able) goes into the commit message and the request's description.
    `urgent` marks a change that must not wait (a guard rollback on prod): label `urgent`.
    """
    if kind not in KINDS:
        raise ChangeError(f"unknown change kind {kind!r}; one of {', '.join(KINDS)}")
    if not changes:
        raise ChangeError("no change to propose")
    base = os.environ.get(BASE_ENV, "main")
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%S%fZ")
    branch = f"model-change/{stack}/{kind}-{stamp}"
    message = _message(stack, kind, title, evidence)
    _git(repo, "fetch", "--quiet", "origin", base)
    with tempfile.TemporaryDirectory(prefix="model-change-") as scratch:
        tree = Path(scratch) / "tree"
        _git(repo, "worktree", "add", "--quiet", "--detach", str(tree), f"origin/{base}")
        try:
            stack_file = tree / f"Pulumi.{stack}.yaml"
            merge = _apply(stack_file, changes)
            if check is not None:
                check(stack_file)
            _git(tree, "add", "--", stack_file.name, pin_file_for(stack_file).name)
            if _git(tree, "diff", "--cached", "--name-only") == "":
                raise NoChange(f"{title}: the pins of stack {stack} already say this")
            _git(tree, *_author(), "commit", "--quiet", "-F", "-", stdin=message)
            commit = _git(tree, "rev-parse", "HEAD")
            _git(tree, "push", "--quiet", "origin", f"HEAD:refs/heads/{branch}")
        finally:
            _git(repo, "worktree", "remove", "--force", str(tree))
    forge = forge or forge_from_environment(repo)
    labels = ("model-change", f"stack:{stack}", f"kind:{kind}") + (("urgent",) if urgent else ())
    opened = forge.open(
        Opening(
            branch=branch,
            target=base,
            title=f"{'URGENT ' if urgent else ''}{title}",
            description=_description(stack, kind, changes, evidence, merge),
            labels=labels,
            auto_merge=merge == "auto",
        )
    )
    return ChangeRequest(stack, kind, branch, commit, title, opened)


def _apply(stack_file: Path, changes: Sequence[Change]) -> str:
    """Write the changes into the tree; the pin file's merge policy."""
    pin_file = pin_file_for(stack_file)
    lock = read_pins(pin_file)
    for change in changes:
        if isinstance(change, PinChange):
            lock = lock.with_pin(change.deployment, change.predictor, change.pin)
        else:
            namespace, _, name = change.deployment.partition("/")
            stack_file.write_text(with_traffic(stack_file, name, namespace, dict(change.traffic)))
    write_pins(pin_file, lock)
    return lock.merge


def evidence_block(evidence: Mapping[str, Any]) -> str:
    return json.dumps(evidence, indent=2, sort_keys=True, default=str)


def _message(stack: str, kind: Kind, title: str, evidence: Mapping[str, Any]) -> str:
    head = f"{title}\n\nModel change ({kind}) of stack {stack}."
    return f"{head}\n\nEvidence:\n{evidence_block(evidence)}\n"


def _description(stack, kind, changes, evidence, merge: str) -> str:
    lines = [f"Model change (**{kind}**) of stack `{stack}`.", ""]
    for change in changes:
        if isinstance(change, PinChange):
            pin = change.pin
            source = f"@{pin.alias}" if pin.alias else ""
            lines.append(
                f"- `{change.deployment}` predictor `{change.predictor}`: {pin.model}{source} "
                f"-> version {pin.version} (`{pin.digest}`, from {pin.registry})"
            )
        else:
            split = ", ".join(f"{p} {t}%" for p, t in sorted(change.traffic.items()))
            lines.append(f"- `{change.deployment}` traffic: {split}")
    how = (
        "merges by itself once its checks pass"
        if merge == "auto"
        else "needs an approval from CODEOWNERS before it merges"
    )
    lines += ["", f"This stack's pin file says `merge: {merge}`: this request {how}; the merge "
              "deploys through the deploy job.", "", "Evidence:", "```json",
              evidence_block(evidence), "```"]  # fmt: skip
    return "\n".join(lines)


def _author() -> list[str]:
    name = os.environ.get("GIT_AUTHOR_NAME", AUTHOR[0])
    email = os.environ.get("GIT_AUTHOR_EMAIL", AUTHOR[1])
    return ["-c", f"user.name={name}", "-c", f"user.email={email}"]


def _git(where: Path, *args: str, stdin: str | None = None) -> str:
    done = subprocess.run(
        ["git", "-C", str(where), *args], input=stdin, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise ChangeError(f"git {' '.join(args)} failed in {where}: {done.stderr.strip()}")
    return done.stdout.strip()
