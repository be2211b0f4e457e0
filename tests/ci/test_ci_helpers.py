"""The CI helper scripts: `make image`, pin-image, the review comment and the GitLab note."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
from ci_pipelines import REPO_ROOT

from infra.cluster.kind_images import DEFAULT_NODE_IMAGE

CI = REPO_ROOT / "ci"
DIGEST_REF = "ghcr.io/acme/serving@sha256:" + "a" * 64


def run(command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=60, check=False
    )


def path_without_docker(tmp_path: Path) -> str:
    """A PATH holding only the tools `make image` needs before it looks for docker."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("make", "bash", "git", "env", "sh"):
        (bin_dir / tool).symlink_to(shutil.which(tool))
    return str(bin_dir)


# --- make image ------------------------------------------------------------------------------


def test_make_image_without_docker_fails_at_once_naming_docker(tmp_path: Path) -> None:
    env = {**os.environ, "PATH": path_without_docker(tmp_path)}
    result = run(["make", "--silent", "image", "IMAGE_REPOSITORY=ghcr.io/acme/serving"], env)
    assert result.returncode != 0
    assert "make image: the docker CLI is not installed" in result.stderr
    assert result.stdout == ""


@pytest.mark.skipif(shutil.which("docker") is None, reason="needs the docker CLI without engine")
def test_make_image_without_a_docker_engine_says_so(tmp_path: Path) -> None:
    env = {**os.environ, "DOCKER_HOST": f"unix://{tmp_path}/no-engine.sock"}
    result = run(["make", "--silent", "image", "IMAGE_REPOSITORY=ghcr.io/acme/serving"], env)
    assert result.returncode != 0
    assert "make image: no Docker engine answers" in result.stderr


@pytest.mark.parametrize(
    "repository",
    ["", "serving", "ghcr.io/acme/serving:v1", "ghcr.io/Acme/serving", DIGEST_REF],
)
def test_make_image_rejects_a_repository_that_is_not_registry_slash_name(
    tmp_path: Path, repository: str
) -> None:
    env = {**os.environ, "PATH": path_without_docker(tmp_path)}
    result = run(["make", "--silent", "image", f"IMAGE_REPOSITORY={repository}"], env)
    assert result.returncode != 0
    assert "<registry>/<repository>" in result.stderr


# --- pin-image -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stack", "ref", "message"),
    [
        ("dev", "ghcr.io/acme/serving:latest", "is not <registry>/<repository>@sha256:"),
        ("dev", "ghcr.io/acme/serving@sha256:abc", "is not <registry>/<repository>@sha256:"),
        ("Dev", DIGEST_REF, "is not a stack name"),
    ],
)
def test_pin_image_rejects_bad_arguments(stack: str, ref: str, message: str) -> None:
    result = run([str(CI / "pin-image.sh"), stack, ref], dict(os.environ))
    assert result.returncode != 0
    assert message in result.stderr


def test_pin_image_needs_the_passphrase_before_touching_pulumi() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PULUMI_")}
    result = run([str(CI / "pin-image.sh"), "dev", DIGEST_REF], env)
    assert result.returncode != 0
    assert "PULUMI_CONFIG_PASSPHRASE is not set" in result.stderr


def test_write_kubeconfig_writes_a_private_file(tmp_path: Path) -> None:
    target = tmp_path / "kubeconfig"
    env = {**os.environ, "KUBECONFIG_CONTENT": "apiVersion: v1\nkind: Config\n"}
    result = run([str(CI / "write-kubeconfig.sh"), str(target)], env)
    assert result.returncode == 0, result.stderr
    assert target.read_text() == "apiVersion: v1\nkind: Config\n\n"
    assert target.stat().st_mode & 0o777 == 0o600


def test_write_kubeconfig_refuses_an_empty_secret(tmp_path: Path) -> None:
    env = {**os.environ, "KUBECONFIG_CONTENT": ""}
    result = run([str(CI / "write-kubeconfig.sh"), str(tmp_path / "kubeconfig")], env)
    assert result.returncode != 0
    assert "KUBECONFIG secret of this environment is empty" in result.stderr


def test_install_pulumi_refuses_without_a_pulumi_pin(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("pulumi>=3\npydantic==2.14.3\n")
    result = subprocess.run(
        [str(CI / "install-pulumi.sh"), str(tmp_path / "bin")],
        cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False,
    )
    assert result.returncode != 0
    assert "no 'pulumi==<version>' pin in requirements.txt" in result.stderr
    assert not (tmp_path / "bin").exists()


# --- review comment --------------------------------------------------------------------------


def review_comment(preview: str, render_diff: str, tmp_path: Path) -> str:
    (tmp_path / "preview.txt").write_text(preview)
    (tmp_path / "render.md").write_text(render_diff)
    result = run(
        [sys.executable, str(CI / "review_comment.py"), "--stack", "prod",
         "--preview", str(tmp_path / "preview.txt"), "--render-diff", str(tmp_path / "render.md")],
        dict(os.environ),
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_review_comment_holds_both_diffs_without_terminal_colours(tmp_path: Path) -> None:
    body = review_comment(
        "\x1b[32m+ \x1b[0mkubernetes:core/v1:ConfigMap dashboards \x1b[1mcreate\x1b[0m\n",
        "### Offline render diff\n\n```diff\n-    traffic: 50\n+    traffic: 70\n```\n",
        tmp_path,
    )
    assert body.startswith("## Stack `prod`")
    assert "+    traffic: 70" in body
    assert "+ kubernetes:core/v1:ConfigMap dashboards create" in body
    assert "\x1b" not in body
    assert body.count("```") % 2 == 0


def test_review_comment_cuts_huge_output_to_fit_a_comment(tmp_path: Path) -> None:
    preview = "".join(f"+ resource {n} create\n" for n in range(20_000))
    render_diff = "```diff\n" + "".join(f"+ line {n}\n" for n in range(20_000)) + "```\n"
    body = review_comment(preview, render_diff, tmp_path)
    assert len(body) <= 65_536
    assert body.count("cut to fit the comment") == 2
    assert body.count("```") % 2 == 0


def test_review_comment_names_a_missing_input(tmp_path: Path) -> None:
    (tmp_path / "render.md").write_text("no change\n")
    result = run(
        [sys.executable, str(CI / "review_comment.py"), "--stack", "dev",
         "--preview", str(tmp_path / "absent.txt"), "--render-diff", str(tmp_path / "render.md")],
        dict(os.environ),
    )
    assert result.returncode != 0
    assert f"cannot read the preview output file {tmp_path / 'absent.txt'}" in result.stderr


# --- GitLab note -----------------------------------------------------------------------------


class NotesApi(BaseHTTPRequestHandler):
    """Answers like GitLab's merge-request notes endpoint and records what it was sent."""

    received: list[dict] = []
    status = 201

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        NotesApi.received.append(
            {
                "path": self.path,
                "token": self.headers["PRIVATE-TOKEN"],
                "body": json.loads(self.rfile.read(length)),
            }
        )
        self.send_response(NotesApi.status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(json.dumps({"id": 4242}).encode())

    def log_message(self, *args: object) -> None:
        """Keep the test output quiet."""


@pytest.fixture
def notes_api() -> Iterator[str]:
    """A local HTTP server on a free port standing in for GitLab's REST API."""
    NotesApi.received = []
    NotesApi.status = 201
    server = HTTPServer(("127.0.0.1", 0), NotesApi)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/api/v4"
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


def gitlab_env(api: str) -> dict[str, str]:
    return {
        **os.environ,
        "CI_API_V4_URL": api,
        "CI_PROJECT_ID": "group/platform",
        "CI_MERGE_REQUEST_IID": "17",
        "GITLAB_NOTE_TOKEN": "glpat-test-token",
    }


def test_gitlab_note_posts_the_comment_to_the_merge_request(notes_api: str, tmp_path) -> None:
    comment = tmp_path / "review.md"
    comment.write_text("## Stack `dev`\n\nNo change.\n")
    result = run([sys.executable, str(CI / "gitlab_note.py"), str(comment)], gitlab_env(notes_api))
    assert result.returncode == 0, result.stderr
    assert "posted note 4242" in result.stdout
    assert NotesApi.received == [
        {
            "path": "/api/v4/projects/group%2Fplatform/merge_requests/17/notes",
            "token": "glpat-test-token",
            "body": {"body": "## Stack `dev`\n\nNo change.\n"},
        }
    ]


def test_gitlab_note_reports_a_refusal(notes_api: str, tmp_path: Path) -> None:
    NotesApi.status = 403
    comment = tmp_path / "review.md"
    comment.write_text("body")
    result = run([sys.executable, str(CI / "gitlab_note.py"), str(comment)], gitlab_env(notes_api))
    assert result.returncode == 1
    assert "GitLab refused the note (403" in result.stderr


def test_gitlab_note_names_the_missing_variables(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CI_", "GITLAB_"))}
    result = run([sys.executable, str(CI / "gitlab_note.py"), str(tmp_path / "x.md")], env)
    assert result.returncode == 1
    assert "CI_API_V4_URL, CI_PROJECT_ID, CI_MERGE_REQUEST_IID, GITLAB_NOTE_TOKEN not set" in (
        result.stderr
    )


def test_install_kubectl_needs_an_install_dir() -> None:
    result = subprocess.run(
        [str(CI / "install-kubectl.sh")], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode != 0
    assert "usage: ci/install-kubectl.sh <install-dir>" in result.stderr


def test_install_kubectl_pins_the_kind_node_kubernetes() -> None:
    script = (CI / "install-kubectl.sh").read_text()
    node_version = DEFAULT_NODE_IMAGE.split(":")[1].split("@")[0]
    assert f'version="{node_version}"' in script
