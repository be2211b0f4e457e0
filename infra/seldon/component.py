"""The Seldon Core v1 operator, routing through Istio."""

import pulumi
import pulumi_command as command
import pulumi_kubernetes as k8s

from infra.cluster.component import ClusterAccess
from infra.cluster.scripts import script_command
from infra.component import PlatformComponent
from infra.helm import pinned_release
from infra.model_monitoring.config import PredictorTarget
from infra.seldon.config import NAMESPACE as SELDON_SYSTEM
from infra.seldon.config import (
    SELDON_CHARTS,
    WEBHOOK_WAIT_SCRIPT,
    WEBHOOK_WAIT_SECONDS,
    SeldonOperatorConfig,
    release_fingerprint,
)
from infra.seldon.executor_hardening import POLICY_NAME, manifests
from infra.seldon.routing import UNROUTED_GATEWAY, unrouted_gateway, virtual_service
from infra.seldon.sizing import SeldonSizing


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
        sizing: SeldonSizing,
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


class ExecutorHardening(PlatformComponent):
    """The admission policies above; predictor pods must not be created before them."""

    def __init__(
        self, name: str, *, namespaces: list[str], opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("mlops:seldon:ExecutorHardening", name, opts)
        for manifest in manifests(namespaces):
            kind = getattr(k8s.admissionregistration.v1, manifest["kind"])
            kind(
                f"{name}-{manifest['kind'].lower()}",
                metadata=manifest["metadata"],
                spec=manifest["spec"],
                opts=self.child_opts(),
            )
        self.register_outputs({"policy": POLICY_NAME})


class UnroutedGateway(PlatformComponent):
    """The stack's one unrouted Gateway; `ref` goes into each SeldonDeployment's annotations."""

    ref: str

    def __init__(
        self, name: str, *, namespace: str, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("mlops:serving:UnroutedGateway", name, opts)
        manifest = unrouted_gateway(namespace)
        gateway = k8s.apiextensions.CustomResource(
            f"{name}-gateway",
            api_version=manifest["apiVersion"],
            kind=manifest["kind"],
            metadata=manifest["metadata"],
            spec=manifest["spec"],
            opts=self.child_opts(),
        )
        self.ref = f"{namespace}/{UNROUTED_GATEWAY}"
        self.register_outputs({"name": gateway.metadata["name"]})


class DeploymentRoute(PlatformComponent):
    """The platform-owned public route of one SeldonDeployment (see the module docstring)."""

    name: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        *,
        deployment: str,
        namespace: str,
        predictors: list[PredictorTarget],
        gateway: str,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("mlops:serving:DeploymentRoute", name, opts)
        manifest = virtual_service(
            deployment=deployment, namespace=namespace, predictors=predictors, gateway=gateway
        )
        route = k8s.apiextensions.CustomResource(
            f"{name}-virtual-service",
            api_version=manifest["apiVersion"],
            kind=manifest["kind"],
            metadata=manifest["metadata"],
            spec=manifest["spec"],
            opts=self.child_opts(),
        )
        self.name = route.metadata["name"]
        self.register_outputs({"name": self.name})
