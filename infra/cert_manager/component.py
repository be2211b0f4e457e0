"""cert-manager from its pinned chart, the platform's internal CA, and the gateway's certificate
source: the internal CA (local/dev), an ACME ClusterIssuer, or an existing TLS Secret (prod)."""

import pulumi
import pulumi_kubernetes as k8s

from infra.cert_manager.config import (
    ACME_ISSUER,
    CA_ISSUER,
    GATEWAY_TLS_SECRET,
    ISTIO_INGRESS_CLASS,
    JETSTACK_CHARTS,
    WAIT_FOR_READY,
    CertManagerConfig,
)
from infra.cert_manager.config import NAMESPACE as CERT_MANAGER
from infra.cert_manager.sizing import CertManagerSizing
from infra.component import PlatformComponent
from infra.helm import pinned_release
from infra.mesh.config import NAMESPACE as ISTIO


class CertManager(PlatformComponent):
    """The chart (CRDs included), a self-signed root, the `platform-ca` ClusterIssuer and, with
    gatewayTls acme, the ACME ClusterIssuer. `certificate()` issues from the internal CA."""

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
        # Values checked against jetstack/cert-manager v1.21.1 deploy/charts/cert-manager/
        # values.yaml: crds.enabled/keep; the startupapicheck post-install hook waits for the
        # webhook, so issuers created after the release are admitted.
        self.release = pinned_release(
            "cert-manager",
            chart="cert-manager",
            version=config.cert_manager_version,
            repository=JETSTACK_CHARTS,
            namespace=CERT_MANAGER,
            values={
                "crds": {"enabled": True, "keep": True},
                # Same values.yaml: `resources` (controller), webhook.resources,
                # cainjector.resources, startupapicheck.resources (the post-install Job).
                "resources": sizing.cert_manager,
                "webhook": {"resources": sizing.cert_manager_webhook},
                "cainjector": {"resources": sizing.cert_manager_cainjector},
                "startupapicheck": {"resources": sizing.cert_manager_startupapicheck},
            },
            opts=self.child_opts(),
        )
        after_release = self.child_opts(depends_on=[self.release])
        self_signed = self._custom(
            "ClusterIssuer", "platform-selfsigned", None, {"selfSigned": {}}, after_release
        )
        root = self._custom(
            "Certificate",
            "platform-ca",
            CERT_MANAGER,
            {
                "isCA": True,
                "commonName": "mlops-platform internal CA",
                "secretName": CA_ISSUER,
                "duration": "87600h",
                "privateKey": {"algorithm": "ECDSA", "size": 256},
                "issuerRef": {"name": "platform-selfsigned", "kind": "ClusterIssuer"},
            },
            self.child_opts(depends_on=[self_signed]),
        )
        # A CA ClusterIssuer reads its Secret from the cluster resource namespace, which is the
        # chart's own namespace by default (values.yaml `clusterResourceNamespace: ""`).
        self.ca_issuer = self._custom(
            "ClusterIssuer",
            CA_ISSUER,
            None,
            {"ca": {"secretName": CA_ISSUER}},
            self.child_opts(depends_on=[root]),
        )
        self.gateway_certificate = None
        if config.gateway_tls == "existingSecret":
            self.gateway_secret = config.gateway_tls_secret
        else:
            issuer = self.ca_issuer
            if config.gateway_tls == "acme":
                issuer = self._acme_issuer(config, after_release)
            self.gateway_secret = GATEWAY_TLS_SECRET
            self.gateway_certificate = self.certificate(
                "gateway",
                namespace=ISTIO,
                secret_name=GATEWAY_TLS_SECRET,
                dns_names=gateway_hosts,
                issuer=issuer,
            )
        self.register_outputs({"ca_issuer": CA_ISSUER, "gateway_secret": self.gateway_secret})

    def _custom(
        self,
        kind: str,
        name: str,
        namespace: str | None,
        spec: dict,
        opts: pulumi.ResourceOptions,
    ) -> k8s.apiextensions.CustomResource:
        metadata: dict = {"name": name, "annotations": WAIT_FOR_READY}
        if namespace:
            metadata["namespace"] = namespace
        return k8s.apiextensions.CustomResource(
            f"{kind.lower()}-{name}",
            api_version="cert-manager.io/v1",
            kind=kind,
            metadata=metadata,
            spec=spec,
            opts=opts,
        )

    def _acme_issuer(
        self, config: CertManagerConfig, opts: pulumi.ResourceOptions
    ) -> k8s.apiextensions.CustomResource:
        """HTTP-01 through Istio's Kubernetes Ingress support.

        The solver Ingress carries the `kubernetes.io/ingress.class: istio` annotation
        (`http01.ingress.class`, cert-manager v1.21.1 pkg/issuer/acme/http/ingress.go:167-168):
        Istio 1.30.3 in its default STRICT mode serves an annotated Ingress whose class is the
        mesh's `ingressClass` (`istio`), but ignores an `ingressClassName` that names no
        IngressClass object (pilot/pkg/config/kube/ingress/virtualservices.go:253-281)."""
        return self._custom(
            "ClusterIssuer",
            ACME_ISSUER,
            None,
            {
                "acme": {
                    "server": config.acme_server,
                    "email": config.acme_email,
                    "privateKeySecretRef": {"name": f"{ACME_ISSUER}-account"},
                    "solvers": [{"http01": {"ingress": {"class": ISTIO_INGRESS_CLASS}}}],
                }
            },
            opts,
        )

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
        return self._custom(
            "Certificate",
            name,
            namespace,
            {
                "secretName": secret_name,
                "dnsNames": dns_names,
                "duration": "2160h",
                "renewBefore": "720h",
                "privateKey": {"algorithm": "ECDSA", "size": 256, "rotationPolicy": "Always"},
                "issuerRef": {"name": issuer.metadata["name"], "kind": "ClusterIssuer"},
            },
            self.child_opts(depends_on=[issuer]),
        )
