"""Helpers of the continuous-training tests: the pinned Kubernetes API, the offline render and
the drift alert's webhook as Alertmanager sends it to the trigger."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import yaml

from infra.cluster.kind_images import DEFAULT_NODE_IMAGE
from tests.support.stacks import REPO_ROOT

KUBERNETES_VERSION = re.search(r":v(\d+\.\d+)\.", DEFAULT_NODE_IMAGE).group(1)
"""The API of the pinned kind node, which objects are validated against (as tests/stacks)."""

__all__ = [
    "FINISHED",
    "KUBERNETES_VERSION",
    "REPO_ROOT",
    "RETRAIN_IRIS",
    "TOKEN",
    "drift_webhook",
    "of_kind",
    "rendered_objects",
]


def rendered_objects(stack: str, directory: Path, *extra: str) -> dict[str, dict]:
    """File name -> Kubernetes object (the render's top level) of `python -m stacks.render`."""
    result = subprocess.run(
        [sys.executable, "-m", "stacks.render", "--stack", stack, "--out", str(directory), *extra],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    return {
        path.name: yaml.safe_load(path.read_text()) for path in sorted(directory.glob("*.yaml"))
    }


def of_kind(objects: dict[str, dict], kind: str) -> list[dict]:
    return [o for o in objects.values() if o["kind"] == kind]


TOKEN = "test-webhook-token"
FINISHED = {"conditions": [{"type": "Complete", "status": "True"}]}
RETRAIN_IRIS = "/v1/retrain/iris"


def drift_webhook(status: str = "firing", deployment: str = "iris", **alert) -> dict:
    """An Alertmanager webhook notification (version 4) carrying the drift alert's labels, fired
    now; `alert` overrides fields of the alert (`labels`, `startsAt`, `endsAt`)."""
    labels = {
        "alertname": "ModelFeatureDrift",
        "namespace": "seldon",
        "deployment_name": deployment,
        "predictor_name": "challenger",
        "feature": "petal_length",
        "severity": "warning",
    }
    return {
        "version": "4",
        "status": status,
        "receiver": "seldon/iris-retrain/retrain",
        "groupLabels": {"namespace": "seldon", "deployment_name": deployment},
        "commonLabels": labels,
        "alerts": [
            {
                "status": status,
                "labels": labels,
                "annotations": {},
                "startsAt": datetime.now(UTC).isoformat(timespec="milliseconds"),
                "endsAt": "0001-01-01T00:00:00Z",
                **alert,
            }
        ],
    }
