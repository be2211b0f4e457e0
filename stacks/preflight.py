"""Checks what `make up|preview|destroy` need before anything else runs: the tools, the kind
release the node image needs, free host ports for a new kind cluster, and whether the cluster
can give the ingress gateway what its Service type asks for.

Standard library only: it runs before the virtualenv exists, so a missing prerequisite stops
the job at once with what is missing and where to get it.
"""

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

from infra.cluster.kind_images import DEFAULT_NODE_IMAGE, KIND_VERSION_FOR_NODE_IMAGE

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULTS = {
    "kindClusterName": "mlops-dev",
    "kindNodeImage": DEFAULT_NODE_IMAGE,
    "kindRegistryPort": "5001",
    "ingressHostPort": "8080",
    "ingressHttpsHostPort": "8443",
    "ingressServiceType": "LoadBalancer",
}
"""Project defaults (Pulumi.yaml) of the keys preflight reads, for stack files that omit them."""
KIND_REGISTRY_CONTAINER = "kind-registry"

INSTALL_HINTS = {
    "pulumi": "Pulumi CLI: https://www.pulumi.com/docs/iac/download-install/",
    "docker": "Docker (engine running): https://docs.docker.com/get-started/get-docker/",
    "kubectl": "kubectl: https://kubernetes.io/docs/tasks/tools/",
    "kind": "kind: https://kind.sigs.k8s.io/docs/user/quick-start/#installation",
}


def stack_setting(stack_file: Path, key: str) -> str:
    """The plain scalar value of `mlops-platform:<key>` in a stack file, else the project
    default, else ''."""
    pattern = re.compile(rf"^\s*mlops-platform:{key}:[ \t]*[\"']?([^\"'\s#]*)", re.M)
    match = pattern.search(stack_file.read_text())
    return match.group(1) if match else DEFAULTS.get(key, "")


def missing_stack_file(stack: str, root: Path = REPO_ROOT) -> str | None:
    """None when `Pulumi.<stack>.yaml` exists, else a message naming it and the existing ones."""
    if (root / f"Pulumi.{stack}.yaml").is_file():
        return None
    stacks = sorted(p.name for p in root.glob("Pulumi.*.yaml"))
    return f"no stack file Pulumi.{stack}.yaml; existing stack files: {', '.join(stacks)}"


def required_tools(stack_file: Path) -> list[str]:
    """The CLI and kubectl (the Seldon webhook wait runs it) always; Docker unless a prebuilt
    image is deployed; kind for the kind cluster recipe."""
    tools = ["pulumi", "kubectl"]
    if not stack_setting(stack_file, "imagePrebuiltRef"):
        tools.append("docker")
    if stack_setting(stack_file, "createKindCluster") == "true":
        tools += ["docker", "kind"]
    return list(dict.fromkeys(tools))


def _run(command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess | None:
    """The finished command, or None when it did not answer within 20 s."""
    try:
        return subprocess.run(
            command, capture_output=True, text=True, timeout=20, env={**os.environ, **env}
        )
    except subprocess.TimeoutExpired:
        return None


def _version(text: str) -> tuple[int, ...] | None:
    match = re.search(r"v?(\d+)\.(\d+)\.(\d+)", text)
    return tuple(int(part) for part in match.groups()) if match else None


def kind_version_problem(stack_file: Path, env: dict[str, str]) -> str | None:
    """The installed kind is older than the release the node image was built for."""
    image = stack_setting(stack_file, "kindNodeImage")
    needed = KIND_VERSION_FOR_NODE_IMAGE.get(image)
    if needed is None:
        return None  # an image this table does not know: kind itself will say
    result = _run(["kind", "version"], env)
    installed = _version(result.stdout) if result and result.returncode == 0 else None
    if installed is None:
        return f"could not read the kind version (`kind version`); {image} needs kind v{needed}+"
    if installed < _version(needed):
        return (
            f"kind v{'.'.join(map(str, installed))} is too old for {image} (built for kind "
            f"v{needed}); install kind v{needed} or newer: {INSTALL_HINTS['kind']}"
        )
    return None


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def host_port_problems(stack_file: Path, env: dict[str, str]) -> list[str]:
    """Host ports a new kind cluster and its registry would bind, already taken. An existing
    cluster (and a running registry) hold their own ports, so they are not checked then."""
    name = stack_setting(stack_file, "kindClusterName")
    clusters = _run(["kind", "get", "clusters"], env)
    if clusters and name in clusters.stdout.split():
        return []
    ports = {
        key: int(stack_setting(stack_file, key))
        for key in ("ingressHostPort", "ingressHttpsHostPort")
    }
    registry = _run(["docker", "inspect", "-f", "{{.State.Running}}", KIND_REGISTRY_CONTAINER], env)
    if not (registry and registry.stdout.strip() == "true"):
        ports["kindRegistryPort"] = int(stack_setting(stack_file, "kindRegistryPort"))
    return [
        f"host port 127.0.0.1:{port} (mlops-platform:{key}) is in use; free it or set another "
        f"port in {stack_file.name}"
        for key, port in ports.items()
        if not port_is_free(port)
    ]


def load_balancer_problem(stack_file: Path, env: dict[str, str]) -> tuple[str | None, str | None]:
    """(problem, note) on whether the cluster has a LoadBalancer controller: a gateway Service
    of type LoadBalancer never gets an address without one, and the Helm release waits for it
    for 10 minutes and then rolls back. Judged from the Services already in the cluster."""
    context = stack_setting(stack_file, "kubeconfigContext")
    command = ["kubectl", *(["--context", context] if context else [])]
    result = _run([*command, "get", "services", "--all-namespaces", "-o", "json"], env)
    if result is None or result.returncode != 0:
        detail = result.stderr.strip().splitlines()[-1] if result and result.stderr.strip() else ""
        return None, f"could not list the cluster's Services to look for a LoadBalancer ({detail})"
    try:
        items = json.loads(result.stdout).get("items", [])
    except json.JSONDecodeError:
        return None, "kubectl did not answer with JSON; LoadBalancer support not checked"
    balanced = [s for s in items if s.get("spec", {}).get("type") == "LoadBalancer"]
    if not balanced:
        return None, (
            "no LoadBalancer Service in the cluster yet, so whether it has a LoadBalancer "
            "controller cannot be told; without one the gateway release rolls back after 10 min"
        )
    if any(s.get("status", {}).get("loadBalancer", {}).get("ingress") for s in balanced):
        return None, None
    pending = ", ".join(
        f"{s['metadata'].get('namespace', '')}/{s['metadata'].get('name', '')}" for s in balanced
    )
    return (
        f"mlops-platform:ingressServiceType is LoadBalancer, but no LoadBalancer Service in the "
        f"cluster has an address ({pending}): it has no LoadBalancer controller. Set "
        f"ingressServiceType to NodePort or ClusterIP in {stack_file.name} "
        "(docs/operations.md, 'Ingress gateway Service type') or install one (e.g. MetalLB)",
        None,
    )


def docker_engine_problem(env: dict[str, str]) -> str | None:
    """None when a Docker engine answers, else why not."""
    result = _run(["docker", "info", "--format", "{{.ServerVersion}}"], env)
    if result is None:
        return "the Docker engine did not answer `docker info` within 20 s"
    if result.returncode != 0:
        detail = result.stderr.strip().splitlines()[-1] if result.stderr.strip() else ""
        return f"the Docker client is installed but no engine is running ({detail})"
    return None


def problems(
    stack: str, env: dict[str, str], root: Path = REPO_ROOT, notes: list[str] | None = None
) -> list[str]:
    """Every missing prerequisite for deploying `stack`, each with how to fix it; what could
    not be checked goes to `notes`."""
    stack_file = root / f"Pulumi.{stack}.yaml"
    absent_file = missing_stack_file(stack, root)
    if absent_file:
        return [absent_file]
    tools = required_tools(stack_file)
    absent = [tool for tool in tools if shutil.which(tool, path=env.get("PATH")) is None]
    missing = [f"'{tool}' not found on PATH; install {INSTALL_HINTS[tool]}" for tool in absent]
    engine = None
    if "docker" in tools and "docker" not in absent:
        engine = docker_engine_problem(env)
        if engine:
            missing.append(f"{engine}; start it or install {INSTALL_HINTS['docker']}")
    kind_stack = stack_setting(stack_file, "createKindCluster") == "true"
    if kind_stack and not absent and not engine:
        kind = kind_version_problem(stack_file, env)
        missing += [kind] if kind else host_port_problems(stack_file, env)
    wants_balancer = stack_setting(stack_file, "ingressServiceType") == "LoadBalancer"
    if wants_balancer and not kind_stack and "kubectl" not in absent:
        balancer, note = load_balancer_problem(stack_file, env)
        missing += [balancer] if balancer else []
        if note and notes is not None:
            notes.append(note)
    backend = env.get("PULUMI_BACKEND_URL", "")
    passphrase_set = "PULUMI_CONFIG_PASSPHRASE" in env or "PULUMI_CONFIG_PASSPHRASE_FILE" in env
    if not backend.startswith("https://") and not passphrase_set:
        missing.append(
            "PULUMI_CONFIG_PASSPHRASE (or PULUMI_CONFIG_PASSPHRASE_FILE) is not set; the "
            "self-managed backend encrypts stack secrets with it: export it before `make up`"
        )
    return missing


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stacks.preflight", description=__doc__)
    parser.add_argument("--stack", required=True, help="stack name, e.g. dev or prod")
    args = parser.parse_args(argv)
    notes: list[str] = []
    found = problems(args.stack, dict(os.environ), notes=notes)
    for note in notes:
        print(f"preflight note: {note}", file=sys.stderr)
    if found:
        print(f"cannot deploy stack '{args.stack}': missing prerequisites", file=sys.stderr)
        for problem in found:
            print(f"  - {problem}", file=sys.stderr)
        return 1
    print(f"preflight ok for stack '{args.stack}'")
    return 0


if __name__ == "__main__":
    sys.exit(main())
