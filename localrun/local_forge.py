"""A local bare Git repository standing in for the forge (GitLab/GitHub) in tests and demos:
`main` seeded with the given files, and a clone of it as the checkout a CI job works in."""

import subprocess
from pathlib import Path

from release.forges import LocalBareRepoForge

IDENTITY = ["-c", "user.name=forge-double", "-c", "user.email=forge-double@invalid"]


def git(where: Path, *args: str) -> str:
    """Run git in `where`; its stdout, or CalledProcessError with git's message."""
    return subprocess.run(
        ["git", "-C", str(where), *IDENTITY, *args], capture_output=True, text=True, check=True
    ).stdout.strip()


def seeded_forge(directory: Path, files: dict[str, str]) -> tuple[Path, LocalBareRepoForge]:
    """`directory/forge.git` (bare, `main` holding `files` in one commit) and its clone
    `directory/work`; returns the clone and the forge double."""
    seed = directory / "seed"
    seed.mkdir(parents=True)
    for name, text in files.items():
        (seed / name).write_text(text)
    git(seed, "init", "-q", "-b", "main")
    git(seed, "add", ".")
    git(seed, "commit", "-qm", "seed")
    bare, work = directory / "forge.git", directory / "work"
    git(directory, "clone", "-q", "--bare", str(seed), str(bare))
    git(directory, "clone", "-q", str(bare), str(work))
    return work, LocalBareRepoForge(bare)
