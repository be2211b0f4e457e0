"""Stack keys and names of the Seldon Core operator (pydantic only)."""

import hashlib
import json

from infra.cluster.scripts import SCRIPTS
from infra.config_types import CamelModel, ChartVersion

NAMESPACE = "seldon-system"
SELDON_CHARTS = "https://storage.googleapis.com/seldon-charts"
WEBHOOK_WAIT_SCRIPT = SCRIPTS / "seldon-webhook-wait.sh"
WEBHOOK_WAIT_SECONDS = 300
"""How long the first SeldonDeployment may wait for the admission webhooks to answer."""


def release_fingerprint(version: str, values: dict) -> str:
    """What identifies a release's content: its chart version and values."""
    canonical = json.dumps({"version": version, "values": values}, sort_keys=True)
    return f"{version}@sha256:{hashlib.sha256(canonical.encode()).hexdigest()}"


class SeldonOperatorConfig(CamelModel):
    """Stack keys for the operator.

    1.17.1 is the last Apache-2.0 release; 1.18.0 and later are under the Business Source
    License 1.1 (production use needs a commercial licence from Seldon).
    """

    seldon_operator_version: ChartVersion = "1.17.1"
