"""cert-manager from its pinned chart, the platform's internal CA, and the gateway's certificate
source: the internal CA (local/dev), an ACME ClusterIssuer, or an existing TLS Secret (prod)."""

import pulumi
import pulumi_kubernetes as k8s

from infra.cert_manager import manifests
from infra.cert_manager.config import (
    CA_ISSUER,
    GATEWAY_TLS_SECRET,
    JETSTACK_CHARTS,
    CertManagerConfig,
)
from infra.cert_manager.config import NAMESPACE as CERT_MANAGER
from infra.cert_manager.sizing import CertManagerSizing
from infra.component import PlatformComponent, custom_resource
from infra.helm import pinned_release
from infra.mesh.config import NAMESPACE as ISTIO


class CertManager(PlatformComponent):
    """The chart (CRDs included), a self-signed root, the `platform-ca` ClusterIssuer and, with
    gatewayTls acme, the ACME ClusterIssuer. `certificate()` issues from the internal CA. The
    objects and values come from `infra/cert_manager/manifests.py`."""

    release: k8s.helm.v3.Release
    ca_issuer: k8s.apiextensions.CustomResource
    gateway_secret: str
    """Name of the TLS Secret in istio-system the gateway serves (`credentialName`)."""
    gateway_certificate: pulumi.Resource | None

    def __init__(
        self,
        name: str,
        config: CertManagerConfig,
        *,
        gateway_hosts: list[str],
        sizing: CertManagerSizing,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("mlops:tls:CertManager", name, opts)
        self.release = pinned_release(
            "cert-manager",
            chart="cert-manager",
            version=config.cert_manager_version,
            repository=JETSTACK_CHARTS,
            namespace=CERT_MANAGER,
            values=manifests.chart_values(sizing),
            opts=self.child_opts(),
        )
        after_release = self.child_opts(depends_on=[self.release])
        self_signed = self._declare(manifests.self_signed_issuer(), after_release)
        root = self._declare(
            manifests.root_certificate(), self.child_opts(depends_on=[self_signed])
        )
        self.ca_issuer = self._declare(manifests.ca_issuer(), self.child_opts(depends_on=[root]))
        self.gateway_certificate = None
        if config.gateway_tls == "existingSecret":
            self.gateway_secret = config.gateway_tls_secret
        else:
            issuer = self.ca_issuer
            if config.gateway_tls == "acme":
                issuer = self._declare(manifests.acme_issuer(config), after_release)
            self.gateway_secret = GATEWAY_TLS_SECRET
            self.gateway_certificate = self.certificate(
                "gateway",
                namespace=ISTIO,
                secret_name=GATEWAY_TLS_SECRET,
                dns_names=gateway_hosts,
                issuer=issuer,
            )
        self.register_outputs({"ca_issuer": CA_ISSUER, "gateway_secret": self.gateway_secret})

    def _declare(
        self, manifest: dict, opts: pulumi.ResourceOptions
    ) -> k8s.apiextensions.CustomResource:
        name = f"{manifest['kind'].lower()}-{manifest['metadata']['name']}"
        return custom_resource(name, manifest, opts)

    def certificate(
        self,
        name: str,
        *,
        namespace: str,
        secret_name: str,
        dns_names: list[str],
        issuer: k8s.apiextensions.CustomResource | None = None,
    ) -> k8s.apiextensions.CustomResource:
        """A certificate for `dns_names` in `namespace`, kept in Secret `secret_name` (with the
        issuing CA as `ca.crt`); ready before anything that depends on it is created."""
        issuer = issuer or self.ca_issuer
        return self._declare(
            manifests.certificate(
                name,
                namespace=namespace,
                secret_name=secret_name,
                dns_names=dns_names,
                issuer=issuer.metadata["name"],
            ),
            self.child_opts(depends_on=[issuer]),
        )
