"""checkov's Kubernetes checks on every object each stack renders, and on the predictor pod specs
inside the SeldonDeployments, which checkov cannot see into (it skips custom resources).

Each predictor's pod spec is handed to checkov as the Deployment the Seldon operator makes of it
(the operator's executor container is added in the cluster and is not checked here). A check
that does not apply is skipped only by a `checkov.io/skipN` annotation carrying its reason.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
import yaml

from stacks.render import documents, render_stack, write
from tests.ci.ci_pipelines import REPO_ROOT
from tests.support.stacks import STACKS

SKIP_PREFIX = "checkov.io/skip"


def render(stack: str, out: Path) -> list[dict]:
    """Write the stack's render into `out` as `python -m stacks.render` does; its objects."""
    files = documents(render_stack(stack, REPO_ROOT / f"Pulumi.{stack}.yaml"))
    write(files, out)
    return [document for name, document in sorted(files.items()) if "/" not in name]


def predictor_workloads(documents: list[dict]) -> list[dict]:
    """One Deployment per predictor component spec, with the SeldonDeployment's skips."""
    workloads = []
    for document in documents:
        if document.get("kind") != "SeldonDeployment":
            continue
        metadata = document["metadata"]
        skips = {
            key: value
            for key, value in metadata.get("annotations", {}).items()
            if key.startswith(SKIP_PREFIX)
        }
        for predictor in document["spec"]["predictors"]:
            for index, component in enumerate(predictor["componentSpecs"]):
                labels = {"seldon-deployment-id": metadata["name"], "predictor": predictor["name"]}
                workloads.append(
                    {
                        "apiVersion": "apps/v1",
                        "kind": "Deployment",
                        "metadata": {
                            "name": f"{metadata['name']}-{predictor['name']}-{index}",
                            "namespace": metadata["namespace"],
                            "annotations": skips,
                        },
                        "spec": {
                            "replicas": predictor.get("replicas", 1),
                            "selector": {"matchLabels": labels},
                            "template": {"metadata": {"labels": labels}, "spec": component["spec"]},
                        },
                    }
                )
    return workloads


def checkov_report(checkov: Path, directory: Path) -> dict:
    """checkov's JSON report of the Kubernetes framework on `directory`, offline."""
    result = subprocess.run(
        [checkov, "--directory", directory, "--framework", "kubernetes", "--skip-download",
         "--output", "json"],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "BC_SKIP_MAPPING": "TRUE"},
        check=False,
    )  # fmt: skip
    assert result.stdout, result.stderr
    report = json.loads(result.stdout)
    return report[0] if isinstance(report, list) else report


@pytest.fixture(scope="module", params=STACKS)
def checked(request, checkov: Path, tmp_path_factory) -> tuple[list[dict], dict]:
    """(predictor workloads, checkov's report on the render plus those workloads)."""
    out = tmp_path_factory.mktemp(f"checkov-{request.param}")
    documents = render(request.param, out / "render")
    workloads = predictor_workloads(documents)
    predictors = out / "render" / "predictors"
    predictors.mkdir()
    for workload in workloads:
        (predictors / f"{workload['metadata']['name']}.yaml").write_text(yaml.safe_dump(workload))
    return workloads, checkov_report(checkov, out / "render")


def test_no_failed_check_on_any_rendered_object_or_predictor(checked) -> None:
    workloads, report = checked
    assert workloads, "every stack declares at least one predictor"
    failed = [
        f"{check['check_id']} {check['resource']}: {check['check_name']}"
        for check in report["results"]["failed_checks"]
    ]
    assert failed == []
    passed_resources = {check["resource"] for check in report["results"]["passed_checks"]}
    for workload in workloads:
        name = f"Deployment.{workload['metadata']['namespace']}.{workload['metadata']['name']}"
        assert name in passed_resources, f"checkov did not check {name}"


def test_every_skip_carries_its_reason(checked) -> None:
    _, report = checked
    for check in report["results"]["skipped_checks"]:
        reason = check["check_result"].get("suppress_comment", "")
        assert len(reason.split()) >= 5, f"{check['check_id']} on {check['resource']}: {reason!r}"


def test_checkov_fails_a_predictor_that_runs_privileged(checkov: Path, tmp_path: Path) -> None:
    """The same pipeline flags a predictor pod spec that breaks the rules (so it can fail)."""
    render_dir = tmp_path / "render"
    (workload,) = predictor_workloads(render("local", render_dir))[:1]
    container = workload["spec"]["template"]["spec"]["containers"][0]
    container["securityContext"] = {"privileged": True, "allowPrivilegeEscalation": True}
    only = tmp_path / "only"
    only.mkdir()
    (only / "predictor.yaml").write_text(yaml.safe_dump(workload))
    failed = {
        check["check_id"] for check in checkov_report(checkov, only)["results"]["failed_checks"]
    }
    assert {"CKV_K8S_16", "CKV_K8S_20"} <= failed
