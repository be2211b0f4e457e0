"""Hardened building blocks for the platform's own pods (Pod Security Standard "restricted")."""

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pulumi


def pod_security_context(uid: int) -> dict:
    """Run every container as the given non-root user with the runtime's default seccomp."""
    return {
        "runAsNonRoot": True,
        "runAsUser": uid,
        "runAsGroup": uid,
        "fsGroup": uid,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


CONTAINER_SECURITY_CONTEXT = {
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
    "capabilities": {"drop": ["ALL"]},
}


def scratch_volume(name: str = "tmp", size: str = "1Gi") -> dict:
    """An emptyDir for the paths a read-only container still has to write (/tmp, sockets)."""
    return {"name": name, "emptyDir": {"sizeLimit": size}}


def resources(cpu: str, memory: str, cpu_limit: str, memory_limit: str) -> dict:
    return {
        "requests": {"cpu": cpu, "memory": memory},
        "limits": {"cpu": cpu_limit, "memory": memory_limit},
    }


def secret_env(name: str, secret: "pulumi.Input[str]", key: str) -> dict:
    """An environment variable read from a Kubernetes Secret key."""
    return {"name": name, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}


def http_probe(path: str, port: int | str, initial_delay: int) -> dict:
    return {
        "httpGet": {"path": path, "port": port, "scheme": "HTTP"},
        "initialDelaySeconds": initial_delay,
        "periodSeconds": 10,
        "failureThreshold": 3,
    }


def checkov_skips(**reasons: str) -> dict[str, str]:
    """`checkov.io/skipN` annotations, one per check id with the one-line reason it does not
    apply, so checkov reports the check as skipped with that justification (checkov 3.3.30
    kubernetes_utils.py splits the value at '=', so a reason holds none)."""
    if any("=" in reason for reason in reasons.values()):
        raise ValueError(f"a checkov skip reason must not contain '=': {reasons}")
    return {
        f"checkov.io/skip{index}": f"{check}={reason}"
        for index, (check, reason) in enumerate(sorted(reasons.items()), start=1)
    }


SECRETS_AS_ENV_REASON = (
    "the MLflow client and server read these credentials only from environment variables "
    "(mlflow 3.17.2 environment_variables.py); the values come from a Secret by secretKeyRef"
)
