"""What an image is built from and the content tag that names it: shared by the serving image
and the training image (`infra/training/`), which is built the same way from another context."""

import hashlib
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent.parent
SERVING_DIR = REPO_ROOT / "serving"


@dataclass(frozen=True)
class ImageSource:
    """What an image is built from: its build context, its Dockerfile and the files (or
    directories) whose content names its tag, all under the context."""

    context: Path
    dockerfile: Path
    content: tuple[Path, ...]


SERVING_SOURCE = ImageSource(SERVING_DIR, SERVING_DIR / "Dockerfile", (SERVING_DIR,))


def content_tag(source: ImageSource) -> str:
    """A tag derived from every file of `source.content`, so an unchanged image is not rebuilt."""
    files = {
        path
        for root in source.content
        for path in ([root] if root.is_file() else root.rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts
    }
    digest = hashlib.sha256()
    for path in sorted(files):
        digest.update(path.relative_to(source.context).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]
