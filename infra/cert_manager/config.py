"""Stack keys and names of cert-manager and the gateway certificate (pydantic only)."""

from typing import Literal

from pydantic import Field, ValidationInfo, field_validator

from infra.config_types import CamelModel

NAMESPACE = "cert-manager"
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
CERT_MANAGER_CONTROLLER = {
    "matchLabels": {
        "app.kubernetes.io/name": "cert-manager",
        "app.kubernetes.io/component": "controller",
    }
}
