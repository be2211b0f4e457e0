"""cert-manager from its pinned chart, the platform's internal CA, and the gateway's certificate
source: the internal CA (local/dev), an ACME ClusterIssuer, or an existing TLS Secret (prod)."""

from typing import Literal

import pulumi
import pulumi_kubernetes as k8s
from pydantic import Field, ValidationInfo, field_validator

from infra.component import PlatformComponent
from infra.config_types import CamelModel
from infra.helm import pinned_release
from infra.namespaces import CERT_MANAGER, ISTIO
from infra.sizing import PlatformSizing

JETSTACK_CHARTS = "https://charts.jetstack.io"
CA_ISSUER = "platform-ca"
"""ClusterIssuer signing the platform's internal certificates (PostgreSQL, local gateways)."""
ACME_ISSUER = "platform-acme"
GATEWAY_TLS_SECRET = "gateway-tls"
ISTIO_INGRESS_CLASS = "istio"
"""istiod's default `meshConfig.ingressClass` (istio 1.30.3)."""
WAIT_FOR_READY = {"pulumi.com/waitFor": "condition=Ready"}
"""pulumi-kubernetes (>= 4.18) waits for this condition before dependants are created."""
SECRET_NAME_PATTERN = r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$"


class CertManagerConfig(CamelModel):
    """Stack keys for cert-manager and the gateway's certificate."""

    cert_manager_version: str = Field(default="v1.21.1", pattern=r"^v\d+\.\d+\.\d+$")
    """Exact chart version of jetstack/cert-manager (the chart's versions carry the 'v')."""
    gateway_tls: Literal["selfSigned", "acme", "existingSecret"] = "selfSigned"
    """Where the gateway certificate comes from: the platform's internal CA, an ACME
    ClusterIssuer (HTTP-01 through the Istio gateway), or a TLS Secret you manage."""
    gateway_tls_secret: str = Field(
        default="", pattern=rf"^$|{SECRET_NAME_PATTERN[1:]}", validate_default=True
    )
    """gatewayTls existingSecret: a `kubernetes.io/tls` Secret in istio-system."""
    acme_server: str = Field(
        default="https://acme-v02.api.letsencrypt.org/directory", pattern=r"^https://\S+$"
    )
    acme_email: str = Field(
        default="", pattern=r"^$|^[^@\s]+@[^@\s]+\.[a-z]{2,}$", validate_default=True
    )

    @field_validator("gateway_tls_secret")
    @classmethod
    def _existing_secret_named(cls, name: str, info: ValidationInfo) -> str:
        if info.data.get("gateway_tls") == "existingSecret" and not name:
            raise ValueError(
                "gatewayTls 'existingSecret' needs the name of a kubernetes.io/tls Secret in "
                "istio-system here"
            )
        return name

    @field_validator("acme_email")
    @classmethod
    def _acme_contact(cls, email: str, info: ValidationInfo) -> str:
        if info.data.get("gateway_tls") == "acme" and not email:
            raise ValueError("gatewayTls 'acme' needs the ACME account contact here")
        return email


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
        sizing: PlatformSizing,
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
