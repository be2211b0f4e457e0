"""The Seldon Core v1 operator, routing through Istio."""

import hashlib
import json

import pulumi
import pulumi_command as command
import pulumi_kubernetes as k8s

from infra.cluster import SCRIPTS, ClusterAccess, script_command
from infra.component import PlatformComponent
from infra.config_types import CamelModel, ChartVersion
from infra.helm import pinned_release
from infra.namespaces import SELDON_SYSTEM
from infra.sizing import PlatformSizing

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


class SeldonOperator(PlatformComponent):
    """The `seldon-core-operator` chart with Istio enabled; `gateway` is where it binds the
    VirtualServices of SeldonDeployments that name none (the manager's ISTIO_GATEWAY).

    Depends on the Istio control plane: the operator watches Istio's CRDs at start-up, and
    without Istio a SeldonDeployment's `traffic` and `shadow` have no effect.
    """

    release: k8s.helm.v3.Release
    webhook_ready: command.local.Command
    """Completes once the admission webhooks accept a server-side dry-run SeldonDeployment:
    what every SeldonDeployment must depend on (the release alone is not enough, see
    infra/scripts/seldon-webhook-wait.sh)."""

    def __init__(
        self,
        name: str,
        config: SeldonOperatorConfig,
        *,
        gateway: str,
        istio: pulumi.Resource,
        cert_manager: pulumi.Resource,
        sizing: PlatformSizing,
        cluster: ClusterAccess,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("mlops:seldon:SeldonOperator", name, opts)
        # Every key below exists in helm-charts/seldon-core-operator/values.yaml@v1.17.1.
        values = {
            "istio": {"enabled": True, "gateway": gateway},
            "ambassador": {"enabled": False},
            "usageMetrics": {"enabled": False},
            # Without it the chart signs the webhook with Helm's genCA/genSignedCert, valid
            # 365 days and renewed only by a re-render (templates/webhook.yaml:3-4), in front of
            # a `failurePolicy: Fail` webhook. With it: a cert-manager Certificate
            # (templates/certificate_seldon-serving-cert.yaml) that cert-manager renews, its CA
            # injected by cainjector (`cert-manager.io/inject-ca-from`, webhook.yaml:10).
            "certManager": {"enabled": True},
            "crd": {"create": True},
            "manager": sizing.seldon_manager_values(),
        }
        self.release = pinned_release(
            "seldon-core",
            chart="seldon-core-operator",
            version=config.seldon_operator_version,
            repository=SELDON_CHARTS,
            namespace=SELDON_SYSTEM,
            values=values,
            # cert-manager's CRDs and webhook admit the chart's Issuer and Certificate.
            opts=self.child_opts(depends_on=[istio, cert_manager]),
        )
        self.webhook_ready = command.local.Command(
            f"{name}-webhook-ready",
            create=script_command(WEBHOOK_WAIT_SCRIPT, SELDON_SYSTEM, str(WEBHOOK_WAIT_SECONDS)),
            environment=cluster.kubectl_environment,
            # Any change of the release (version or values) may restart the manager or reissue
            # its certificate: wait for its webhooks again.
            triggers=[release_fingerprint(config.seldon_operator_version, values)],
            opts=self.child_opts(depends_on=[self.release]),
        )
        self.register_outputs({"version": config.seldon_operator_version})
