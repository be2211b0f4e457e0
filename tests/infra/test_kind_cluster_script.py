"""infra/scripts/kind-cluster.sh, run for real by bash against fake `kind`, `docker` and
`kubectl` on a restricted PATH (no Docker engine can run here). The fakes log their arguments
and stdin, so the cluster config kind receives is checked as written."""

import shutil
import stat
import subprocess
from pathlib import Path

from infra.cluster.scripts import KIND_SCRIPT

LOGGER = 'echo "$(basename "$0") $*" >> "{log}"; if [ ! -t 0 ]; then cat >> "{log}.stdin"; fi\n'


def fake_tools(tmp_path: Path) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("bash", "cat", "mktemp", "rm", "grep", "printf", "basename"):
        (bin_dir / tool).symlink_to(shutil.which(tool))
    log = tmp_path / "calls"
    bodies = {
        "docker": LOGGER,
        "kubectl": LOGGER,
        # `get clusters` lists none, `get kubeconfig` prints one, `get nodes` names the node.
        "kind": LOGGER + 'case "$1 $2" in "get kubeconfig") echo "apiVersion: v1  # kubeconfig";;'
        ' "get nodes") echo mlops-control-plane;; esac\n',
    }
    for name, body in bodies.items():
        script = bin_dir / name
        script.write_text("#!/bin/bash\n" + body.format(log=log))
        script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return bin_dir


def test_create_maps_both_gateway_node_ports_and_prints_only_the_kubeconfig(
    tmp_path: Path,
) -> None:
    env = {
        "PATH": str(fake_tools(tmp_path)),
        "CLUSTER_NAME": "mlops",
        "NODE_IMAGE": "kindest/node:v1.36.1@sha256:" + "a" * 64,
        "REGISTRY_PORT": "5001",
        "INGRESS_HOST_PORT": "8080",
        "INGRESS_HTTPS_HOST_PORT": "8443",
    }
    result = subprocess.run(
        [shutil.which("bash"), str(KIND_SCRIPT), "create"],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "apiVersion: v1  # kubeconfig\n"
    calls = (tmp_path / "calls").read_text()
    assert "docker run -d --restart=always -p 127.0.0.1:5001:5000" in calls
    assert "registry:3.0.0@sha256:" in calls
    assert f"kind create cluster --name mlops --image {env['NODE_IMAGE']}" in calls
    config = (tmp_path / "calls.stdin").read_text()
    for node_port, host_port in (("30080", "8080"), ("30443", "8443")):
        assert f"containerPort: {node_port}\n        hostPort: {host_port}" in config


def test_a_missing_variable_is_named(tmp_path: Path) -> None:
    result = subprocess.run(
        [shutil.which("bash"), str(KIND_SCRIPT), "create"],
        env={"PATH": str(fake_tools(tmp_path)), "CLUSTER_NAME": "mlops"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "NODE_IMAGE" in result.stderr
