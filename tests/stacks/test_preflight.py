"""`make up|destroy` stop at once, naming what is missing, when a prerequisite is absent, and the
prod guard holds. The tools (pulumi, docker, kind, kubectl) are fakes on a restricted PATH: no
Pulumi CLI, Docker engine or cluster can run here, and the fakes answer as those tools do."""

import contextlib
import json
import os
import shutil
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from stacks.preflight import problems, stack_setting
from stacks.protection import refusal
from tests.support.stacks import REPO_ROOT, stack_file

STACK_FILES = sorted(REPO_ROOT.glob("Pulumi.*.yaml"))


def stack_name(path: Path) -> str:
    return path.name.removeprefix("Pulumi.").removesuffix(".yaml")


def stacks_where(setting: str) -> list[str]:
    return [stack_name(p) for p in STACK_FILES if setting in p.read_text()]


KIND_STACK = stacks_where("mlops-platform:createKindCluster: true")[0]
SHARED_STACK = stacks_where("mlops-platform:createKindCluster: false")[0]
PROTECTED_STACK = stacks_where("mlops-platform:protected: true")[0]

KIND_CLUSTERS = " ".join(stack_setting(p, "kindClusterName") for p in STACK_FILES)
KIND_OK = (
    'case "$1" in version) echo "kind v0.32.0 go1.25.1 linux/amd64";; '
    f"get) echo {KIND_CLUSTERS};; esac"
)
"""A current kind whose clusters exist already (so their host ports are theirs)."""
KIND_WITHOUT_CLUSTERS = KIND_OK.split("get)")[0] + "esac"
LB_WITH_ADDRESS = {
    "items": [
        {
            "metadata": {"namespace": "kube-system", "name": "edge"},
            "spec": {"type": "LoadBalancer"},
            "status": {"loadBalancer": {"ingress": [{"ip": "203.0.113.7"}]}},
        }
    ]
}


def kubectl_answering(services: dict) -> str:
    return f"echo '{json.dumps(services)}'"


def tool_dir(tmp_path: Path, tools: dict[str, str]) -> Path:
    """A PATH directory with `make`, Python 3.12 and fake tools given as shell bodies."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "make").symlink_to(shutil.which("make"))
    (bin_dir / "python3.12").symlink_to(sys.executable)
    for name, body in tools.items():
        script = bin_dir / name
        script.write_text(f"#!/bin/sh\n{body}\n")
        script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return bin_dir


def all_tools(**overrides: str) -> dict[str, str]:
    tools = {
        "pulumi": "exit 0",
        "docker": "exit 0",
        "kind": KIND_OK,
        "kubectl": kubectl_answering(LB_WITH_ADDRESS),
    }
    return {**tools, **overrides}


def make(
    target: str, bin_dir: Path, stack: str | None = KIND_STACK, stdin: str = "", **env: str
) -> subprocess.CompletedProcess:
    environment = {"PATH": str(bin_dir), "HOME": os.environ.get("HOME", "/tmp"), **env}
    return subprocess.run(
        ["make", "--no-print-directory", target, *([f"STACK={stack}"] if stack else [])],
        cwd=REPO_ROOT,
        env=environment,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


def preflight(stack: str, bin_dir: Path) -> subprocess.CompletedProcess:
    """`python -m stacks.preflight` on a committed stack file."""
    return subprocess.run(
        [sys.executable, "-m", "stacks.preflight", "--stack", stack],
        cwd=REPO_ROOT,
        env={"PATH": str(bin_dir), "PULUMI_CONFIG_PASSPHRASE": "x"},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_make_up_without_tools_stops_before_anything_runs(tmp_path: Path) -> None:
    result = make("up", tool_dir(tmp_path, {}))
    assert result.returncode != 0
    assert f"cannot deploy stack '{KIND_STACK}': missing prerequisites" in result.stderr
    assert "'pulumi' not found on PATH" in result.stderr
    assert "https://www.pulumi.com/docs/iac/download-install/" in result.stderr
    assert "'docker' not found on PATH" in result.stderr
    assert "'kind' not found on PATH" in result.stderr
    assert "'kubectl' not found on PATH" in result.stderr  # the Seldon webhook wait runs it
    assert "pip install" not in result.stdout  # stopped before the virtualenv step


def test_make_up_without_a_stack_deploys_local() -> None:
    result = subprocess.run(
        ["make", "--no-print-directory", "-n", "up"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "-m stacks.preflight --stack local" in result.stdout
    assert "pulumi up --stack local --yes" in result.stdout


def test_docker_client_without_engine_is_reported(tmp_path: Path) -> None:
    tools = all_tools(docker="echo 'Cannot connect to the Docker daemon' >&2; exit 1")
    result = make("up", tool_dir(tmp_path, tools), PULUMI_CONFIG_PASSPHRASE="x")
    assert result.returncode != 0
    assert "no engine is running (Cannot connect to the Docker daemon)" in result.stderr
    assert "not found on PATH" not in result.stderr


def test_passphrase_is_required_for_the_self_managed_backend(tmp_path: Path) -> None:
    result = make("preflight", tool_dir(tmp_path, all_tools()))
    assert result.returncode != 0
    assert "PULUMI_CONFIG_PASSPHRASE" in result.stderr


@pytest.mark.parametrize("stack", [stack_name(p) for p in STACK_FILES])
def test_preflight_passes_when_everything_is_there(tmp_path: Path, stack: str) -> None:
    result = preflight(stack, tool_dir(tmp_path, all_tools()))
    assert result.returncode == 0, result.stderr
    assert f"preflight ok for stack '{stack}'" in result.stdout


def test_kind_older_than_the_node_image_needs_is_refused(tmp_path: Path) -> None:
    old_kind = 'case "$1" in version) echo "kind v0.29.0 go1.24.2 linux/amd64";; esac'
    result = preflight(KIND_STACK, tool_dir(tmp_path, all_tools(kind=old_kind)))
    assert result.returncode == 1
    assert "kind v0.29.0 is too old for kindest/node:v1.36.1@sha256:" in result.stderr
    assert "install kind v0.32.0 or newer" in result.stderr


def kind_stack_file(root: Path, **settings: str) -> None:
    text = stack_file(KIND_STACK).read_text()
    extra = "".join(f"  mlops-platform:{key}: {value}\n" for key, value in settings.items())
    for key in settings:
        text = "\n".join(
            line for line in text.splitlines() if not line.startswith(f"  mlops-platform:{key}:")
        )
    (root / f"Pulumi.{KIND_STACK}.yaml").write_text(text.replace("config:\n", "config:\n" + extra))


def test_taken_host_ports_are_named_for_a_new_kind_cluster(tmp_path: Path) -> None:
    keys = ("ingressHostPort", "ingressHttpsHostPort", "kindRegistryPort")
    with contextlib.ExitStack() as held:
        ports = {}
        for key in keys:
            taken = held.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            ports[key] = taken.getsockname()[1]
        kind_stack_file(tmp_path, **{key: str(port) for key, port in ports.items()})
        tools = all_tools(kind=KIND_WITHOUT_CLUSTERS)
        env = {"PATH": str(tool_dir(tmp_path, tools)), "PULUMI_CONFIG_PASSPHRASE": "x"}
        assert problems(KIND_STACK, env, root=tmp_path) == [
            f"host port 127.0.0.1:{port} (mlops-platform:{key}) is in use; free it or "
            f"set another port in Pulumi.{KIND_STACK}.yaml"
            for key, port in ports.items()
        ]
        # Once the cluster exists it holds those ports itself: nothing to report.
        (tmp_path / "bin" / "kind").write_text(f"#!/bin/sh\n{KIND_OK}\n")
        assert problems(KIND_STACK, env, root=tmp_path) == []


def shared_stack_with_load_balancer(root: Path) -> None:
    text = stack_file(SHARED_STACK).read_text()
    lines = [
        line
        for line in text.splitlines()
        if not line.startswith("  mlops-platform:ingressServiceType:")
    ]
    (root / f"Pulumi.{SHARED_STACK}.yaml").write_text(
        "\n".join(lines).replace(
            "config:", "config:\n  mlops-platform:ingressServiceType: LoadBalancer"
        )
    )


def test_load_balancer_gateway_on_a_cluster_without_a_controller_is_refused(
    tmp_path: Path,
) -> None:
    shared_stack_with_load_balancer(tmp_path)
    pending = {
        "items": [
            {
                "metadata": {"namespace": "web", "name": "shop"},
                "spec": {"type": "LoadBalancer"},
                "status": {"loadBalancer": {}},
            }
        ]
    }
    tools = all_tools(kubectl=kubectl_answering(pending))
    env = {"PATH": str(tool_dir(tmp_path, tools)), "PULUMI_CONFIG_PASSPHRASE": "x"}
    (found,) = problems(SHARED_STACK, env, root=tmp_path)
    assert "no LoadBalancer Service in the cluster has an address (web/shop)" in found
    assert "Set ingressServiceType to NodePort or ClusterIP" in found


def test_load_balancer_support_that_cannot_be_told_is_a_note(tmp_path: Path) -> None:
    shared_stack_with_load_balancer(tmp_path)
    tools = all_tools(kubectl=kubectl_answering({"items": []}))
    env = {"PATH": str(tool_dir(tmp_path, tools)), "PULUMI_CONFIG_PASSPHRASE": "x"}
    notes: list[str] = []
    assert problems(SHARED_STACK, env, root=tmp_path, notes=notes) == []
    assert notes and "cannot be told" in notes[0]


def test_the_guard_refuses_a_protected_stack_on_the_file_backend(tmp_path: Path) -> None:
    for target in ("up", "destroy"):
        result = make(
            target,
            tool_dir(tmp_path / target, all_tools()),
            stack=PROTECTED_STACK,
            CI="true",
            PULUMI_CONFIG_PASSPHRASE="x",
        )
        assert result.returncode != 0
        assert f"refusing to {target} stack '{PROTECTED_STACK}'" in result.stderr
        assert "file://" in result.stderr and "PULUMI_BACKEND_URL" in result.stderr
        assert "pip install" not in result.stdout
        assert "pulumi login" not in result.stdout


@pytest.mark.parametrize(
    ("answer", "env", "allowed"),
    [
        pytest.param("", {}, False, id="no-answer"),
        pytest.param("yes\n", {}, False, id="wrong-answer"),
        pytest.param(f"{PROTECTED_STACK}\n", {}, True, id="stack-name-typed"),
        pytest.param("", {"CI": "true"}, True, id="ci-skips-the-prompt"),
    ],
)
def test_the_guard_asks_outside_ci(tmp_path: Path, answer: str, env: dict, allowed: bool) -> None:
    result = make(
        "protect-up",
        tool_dir(tmp_path, {}),
        stack=PROTECTED_STACK,
        stdin=answer,
        PULUMI_BACKEND_URL="s3://state-bucket",
        **env,
    )
    assert (result.returncode == 0) is allowed, result.stderr
    if not env:
        assert f"Type '{PROTECTED_STACK}'" in result.stderr
    if not allowed:
        assert "not confirmed" in result.stderr


def test_unprotected_stacks_pass_the_guard_without_a_prompt() -> None:
    for path in STACK_FILES:
        if "mlops-platform:protected: true" not in path.read_text():
            assert refusal(stack_name(path), "up", {}, ask=_never) is None


def _never(prompt: str) -> str:
    raise AssertionError(f"asked {prompt!r} for an unprotected stack")


def test_unknown_stack_lists_the_stack_files(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "stacks.preflight", "--stack", "staging"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "no stack file Pulumi.staging.yaml" in result.stderr
    assert ", ".join(p.name for p in STACK_FILES) in result.stderr


def test_prebuilt_image_needs_no_docker(tmp_path: Path) -> None:
    text = (
        stack_file(SHARED_STACK)
        .read_text()
        .replace(
            "config:\n",
            "config:\n  mlops-platform:imagePrebuiltRef: ghcr.io/acme/server@sha256:"
            + "0" * 64
            + "\n",
        )
    )
    (tmp_path / f"Pulumi.{SHARED_STACK}.yaml").write_text(text)
    tools = {"pulumi": "exit 0", "kubectl": kubectl_answering(LB_WITH_ADDRESS)}
    env = {"PATH": str(tool_dir(tmp_path, tools)), "PULUMI_CONFIG_PASSPHRASE": "x"}
    assert problems(SHARED_STACK, env, root=tmp_path) == []


def test_prod_is_protected_and_every_stack_says_whether_it_is() -> None:
    protected = set(stacks_where("mlops-platform:protected: true"))
    unprotected = set(stacks_where("mlops-platform:protected: false"))
    assert "prod" in protected and not protected & unprotected
    assert protected | unprotected == {stack_name(p) for p in STACK_FILES}
