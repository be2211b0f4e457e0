"""Side effects of the e2e run: commands, stack outputs, port-forwards and HTTP calls against
the real cluster. Nothing here runs in the unit tests; `e2e/checks.py` judges the answers."""

import base64
import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import requests

from stacks.preflight import INSTALL_HINTS

REPO_ROOT = Path(__file__).resolve().parent.parent
PROMETHEUS_SERVICE = ("monitoring", "kube-prometheus-stack-prometheus", 9090)
GRAFANA_SERVICE = ("monitoring", "kube-prometheus-stack-grafana", 80)
GATEWAY = ("istio-system", "seldon-gateway")


class StepFailed(RuntimeError):
    """A step found the cluster not as expected; the message says what and where."""


def run(*command: str, env: dict[str, str] | None = None, capture: bool = False) -> str:
    """Run a command from the repository root; raise StepFailed naming it if it fails or is
    not installed."""
    print("+", " ".join(command), file=sys.stderr, flush=True)
    try:
        result = subprocess.run(
            command,
            cwd=REPO_ROOT,
            env={**os.environ, **(env or {})},
            text=True,
            stdout=subprocess.PIPE if capture else None,
        )
    except FileNotFoundError:
        hint = INSTALL_HINTS.get(command[0], command[0])
        raise StepFailed(f"`{command[0]}` is not installed (not on PATH); install {hint}") from None
    if result.returncode != 0:
        raise StepFailed(f"`{' '.join(command)}` exited {result.returncode}")
    return result.stdout or ""


def stack_output(stack: str, name: str, secret: bool = False, as_json: bool = False) -> str:
    args = ["pulumi", "stack", "output", name, "--stack", stack]
    args += ["--show-secrets"] if secret else []
    args += ["--json"] if as_json else []
    return run(*args, capture=True).strip()


def kubectl(context: str, *args: str) -> str:
    return run("kubectl", "--context", context, *args, capture=True)


def gateway_ca_bundle(context: str) -> Path:
    """The CA of the gateway's HTTPS certificate, from the Secret its Gateway names."""
    namespace, name = GATEWAY
    gateway = json.loads(kubectl(context, "get", "gateway", name, "-n", namespace, "-o", "json"))
    secrets = [
        s["tls"]["credentialName"]
        for s in gateway["spec"]["servers"]
        if s.get("tls", {}).get("credentialName")
    ]
    if not secrets:
        raise StepFailed(f"Gateway {namespace}/{name} has no HTTPS server with a credentialName")
    secret = json.loads(
        kubectl(context, "get", "secret", secrets[0], "-n", namespace, "-o", "json")
    )
    ca = secret.get("data", {}).get("ca.crt")
    if not ca:
        raise StepFailed(f"Secret {namespace}/{secrets[0]} has no ca.crt to verify the gateway")
    bundle = Path(tempfile.mkdtemp(prefix="e2e-ca-")) / "ca.crt"
    bundle.write_bytes(base64.b64decode(ca))
    return bundle


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def port_forward(context: str, service: tuple[str, str, int]) -> Iterator[str]:
    """`kubectl port-forward` to a Service; yields its local base URL, stops it afterwards."""
    namespace, name, port = service
    local = _free_port()
    process = subprocess.Popen(
        [
            "kubectl",
            "--context",
            context,
            "-n",
            namespace,
            "port-forward",
            f"service/{name}",
            f"{local}:{port}",
        ],
        stdout=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{local}"
    try:
        for _ in range(60):
            with contextlib.suppress(requests.ConnectionError):
                requests.get(url, timeout=2)
                break
            time.sleep(1)
        else:
            raise StepFailed(f"port-forward to {namespace}/{name} did not come up in 60 s")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


def eventually(check, attempts: int = 30, pause: float = 10.0) -> list[str]:
    """Call `check()` until it reports no problem, or return its last problems."""
    problems: list[str] = []
    for _ in range(attempts):
        problems = check()
        if not problems:
            return []
        time.sleep(pause)
    return problems
