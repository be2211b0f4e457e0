"""Every platform alert links a runbook section of docs/operations.md that exists."""

import re
from pathlib import Path

from deployment_under_test import DEPLOYMENTS, RUNBOOK_BASE_URL

from infra.model_monitoring.config import MonitoringConfig
from infra.model_monitoring.rules import alert_rules

REPO_ROOT = Path(__file__).resolve().parents[2]


def _anchors(markdown: str) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to '-'."""
    headings = re.findall(r"^#{1,6} (.+)$", markdown, flags=re.M)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in headings}


def test_every_alert_links_an_existing_operations_md_section() -> None:
    anchors = _anchors((REPO_ROOT / "docs" / "operations.md").read_text())
    rules = [r for d in DEPLOYMENTS for r in alert_rules(MonitoringConfig(), **d.target)]
    names = {rule["alert"] for rule in rules}
    assert {"ModelBadRequestSurge", "ModelAccuracyDrop", "ModelErrorRatioHigh"} <= names
    for rule in rules:
        url = rule["annotations"]["runbook_url"]
        base, _, anchor = url.partition("#")
        assert base == RUNBOOK_BASE_URL, url
        assert anchor in anchors, f"{rule['alert']}: no heading for #{anchor} in operations.md"


def test_the_committed_stacks_link_the_repositorys_operations_md() -> None:
    for stack_file in REPO_ROOT.glob("Pulumi.*.yaml"):
        text = stack_file.read_text()
        (base,) = re.findall(r"runbookBaseUrl: (\S+)", text)
        assert base.endswith("/docs/operations.md"), (stack_file.name, base)
