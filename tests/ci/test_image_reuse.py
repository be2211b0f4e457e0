"""`ci/image.sh`'s decisions, with stand-in `docker` and `cosign` commands (no engine, registry
or Sigstore here) that log every call: a tagged image is reused only when `cosign verify`
accepts it for this commit (the stand-in accepts only the annotation `revision=$FAKE_SIGNED_FOR`);
otherwise it is rebuilt, pushed and signed for the commit; `IMAGE_PUSH=false` only builds."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.ci.ci_pipelines import REPO_ROOT

REPOSITORY = "ghcr.io/acme/serving"
FOUND, BUILT = "a" * 64, "b" * 64
FAKE_DOCKER = f"""#!/usr/bin/env bash
echo "docker $*" >> "$CALLS"
case "$1" in
  info|push) exit 0 ;;
  pull) [ "$FAKE_PULL" = found ] ;;
  build) touch "$STATE/built" ;;
  image) if [ -e "$STATE/built" ]; then echo "{REPOSITORY}@sha256:{BUILT}";
         else echo "{REPOSITORY}@sha256:{FOUND}"; fi ;;
  *) exit 2 ;;
esac
"""
FAKE_COSIGN = """#!/usr/bin/env bash
echo "cosign $*" >> "$CALLS"
case "$1" in
  verify) [[ " $* " == *" -a revision=$FAKE_SIGNED_FOR "* ]] ;;
  sign) exit 0 ;;
  *) exit 2 ;;
esac
"""


def image(tmp_path: Path, **env: str) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    bin_dir, state = tmp_path / "bin", tmp_path / "state"
    bin_dir.mkdir()
    state.mkdir()
    for name, text in (("docker", FAKE_DOCKER), ("cosign", FAKE_COSIGN)):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    for tool in ("bash", "git", "grep", "env", "touch", "cat"):
        (bin_dir / tool).symlink_to(shutil.which(tool))
    calls = tmp_path / "calls"
    result = subprocess.run(
        ["bash", str(REPO_ROOT / "ci" / "image.sh"), REPOSITORY, "c0ffee"],
        cwd=REPO_ROOT,
        env={
            "PATH": str(bin_dir),
            "HOME": os.environ["HOME"],
            "CALLS": str(calls),
            "STATE": str(state),
            "IMAGE_SIGNER_IDENTITY_REGEXP": "^https://ci/main$",
            "IMAGE_SIGNER_ISSUER": "https://issuer",
            **env,
        },  # fmt: skip
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return result, calls.read_text().splitlines() if calls.exists() else []


def test_a_signed_image_under_the_tag_is_reused_by_digest(tmp_path: Path) -> None:
    result, calls = image(tmp_path, FAKE_PULL="found", FAKE_SIGNED_FOR="c0ffee")
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"{REPOSITORY}@sha256:{FOUND}\n"
    verify = next(call for call in calls if call.startswith("cosign verify"))
    assert "--certificate-identity-regexp ^https://ci/main$" in verify
    assert "--certificate-oidc-issuer https://issuer" in verify
    assert " -a revision=c0ffee " in verify
    assert verify.endswith(f"{REPOSITORY}@sha256:{FOUND}")
    writes = ("docker build", "docker push", "cosign sign")
    assert not any(call.startswith(writes) for call in calls)


def test_an_unsigned_image_under_the_tag_is_rebuilt_pushed_and_signed(tmp_path: Path) -> None:
    result, calls = image(tmp_path, FAKE_PULL="found", FAKE_SIGNED_FOR="none")
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"{REPOSITORY}@sha256:{BUILT}\n"
    assert "carries no signature of a protected ref for commit c0ffee; rebuilding" in result.stderr
    order = [call.split()[1] for call in calls if call.split()[1] in ("build", "push", "sign")]
    assert order == ["build", "push", "sign"]
    assert f"cosign sign --yes -a revision=c0ffee {REPOSITORY}@sha256:{BUILT}" in calls


def test_an_image_signed_for_another_commit_is_not_reused(tmp_path: Path) -> None:
    """A protected ref's signed image of an older commit, put under this commit's tag: its
    signature names the older revision, so it is rebuilt and signed for this one."""
    result, calls = image(tmp_path, FAKE_PULL="found", FAKE_SIGNED_FOR="0ld")
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"{REPOSITORY}@sha256:{BUILT}\n"
    verify = next(call for call in calls if call.startswith("cosign verify"))
    assert verify.endswith(f"-a revision=c0ffee {REPOSITORY}@sha256:{FOUND}")
    assert f"cosign sign --yes -a revision=c0ffee {REPOSITORY}@sha256:{BUILT}" in calls


def test_merge_requests_build_without_pushing_signing_or_pulling(tmp_path: Path) -> None:
    result, calls = image(tmp_path, IMAGE_PUSH="false", FAKE_PULL="found")
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"{REPOSITORY}:c0ffee\n"
    assert [call.split()[:2] for call in calls] == [["docker", "info"], ["docker", "build"]]


@pytest.mark.parametrize("missing", ["IMAGE_SIGNER_IDENTITY_REGEXP", "IMAGE_SIGNER_ISSUER"])
def test_pushing_without_a_signer_identity_is_refused(tmp_path: Path, missing: str) -> None:
    result, calls = image(tmp_path, **{missing: ""})
    assert result.returncode != 0
    assert f"{missing} is not set" in result.stderr
    assert not any(call.startswith(("docker build", "docker push")) for call in calls)
