"""Checks the tools `make up|preview|destroy` need before anything else runs.

Standard library only: it runs before the virtualenv exists, so a missing prerequisite stops
the job at once with what is missing and where to get it.
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent

INSTALL_HINTS = {
    "pulumi": "Pulumi CLI: https://www.pulumi.com/docs/iac/download-install/",
    "docker": "Docker (engine running): https://docs.docker.com/get-started/get-docker/",
    "kubectl": "kubectl: https://kubernetes.io/docs/tasks/tools/",
    "kind": "kind: https://kind.sigs.k8s.io/docs/user/quick-start/#installation",
}


def stack_setting(stack_file: Path, key: str) -> str:
    """The plain scalar value of `mlops-platform:<key>` in a stack file, or ''."""
    pattern = re.compile(rf"^\s*mlops-platform:{key}:[ \t]*[\"']?([^\"'\s#]*)", re.M)
    match = pattern.search(stack_file.read_text())
    return match.group(1) if match else ""


def required_tools(stack_file: Path) -> list[str]:
    """The CLI always; Docker unless a prebuilt image is deployed; kind and kubectl for the
    kind cluster recipe."""
    tools = ["pulumi"]
    if not stack_setting(stack_file, "imagePrebuiltRef"):
        tools.append("docker")
    if stack_setting(stack_file, "createKindCluster") == "true":
        tools += ["docker", "kind", "kubectl"]
    return list(dict.fromkeys(tools))


def docker_engine_problem() -> str | None:
    """None when a Docker engine answers, else why not."""
    try:
        result = subprocess.run(
            ["docker", "info", "--format", "{{.ServerVersion}}"],
            capture_output=True,
            text=True,
            timeout=20,
        )
    except subprocess.TimeoutExpired:
        return "the Docker engine did not answer `docker info` within 20 s"
    if result.returncode != 0:
        detail = result.stderr.strip().splitlines()[-1] if result.stderr.strip() else ""
        return f"the Docker client is installed but no engine is running ({detail})"
    return None


def problems(stack: str, env: dict[str, str], root: Path = REPO_ROOT) -> list[str]:
    """Every missing prerequisite for deploying `stack`, each with how to fix it."""
    stack_file = root / f"Pulumi.{stack}.yaml"
    if not stack_file.is_file():
        stacks = sorted(p.name for p in root.glob("Pulumi.*.yaml"))
        return [f"no stack file {stack_file.name}; existing stack files: {', '.join(stacks)}"]
    tools = required_tools(stack_file)
    absent = [tool for tool in tools if shutil.which(tool, path=env.get("PATH")) is None]
    missing = [f"'{tool}' not found on PATH; install {INSTALL_HINTS[tool]}" for tool in absent]
    if "docker" in tools and "docker" not in absent:
        engine = docker_engine_problem()
        if engine:
            missing.append(f"{engine}; start it or install {INSTALL_HINTS['docker']}")
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
    found = problems(args.stack, dict(os.environ))
    if found:
        print(f"cannot deploy stack '{args.stack}': missing prerequisites", file=sys.stderr)
        for problem in found:
            print(f"  - {problem}", file=sys.stderr)
        return 1
    print(f"preflight ok for stack '{args.stack}'")
    return 0


if __name__ == "__main__":
    sys.exit(main())
