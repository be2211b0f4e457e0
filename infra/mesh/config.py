"""Stack keys and names of the service mesh (pydantic only)."""

import json
from typing import Any, Literal

from pydantic import Field, ValidationInfo, field_validator

from infra.config_types import CamelModel, ChartVersion
from infra.seldon.routing import GRPC_SERVICE_PREFIXES

NAMESPACE = "istio-system"
ISTIO_CHARTS = "https://istio-release.storage.googleapis.com/charts"
GATEWAY_NAME = "seldon-gateway"
"""The HTTPS gateway every route (Seldon, MLflow, Grafana) binds to."""
REDIRECT_GATEWAY_NAME = "http-redirect"
"""The plain-HTTP gateway: its one route redirects to HTTPS on the stack's public HTTPS port."""
INGRESS_NODE_PORT = 30080
"""NodePort of the gateway's HTTP port (redirects only); the kind cluster maps it to the host."""
INGRESS_HTTPS_NODE_PORT = 30443
"""NodePort of the gateway's HTTPS port; the kind cluster maps it to the host."""
GATEWAY_SELECTOR = {"istio": "ingressgateway"}
PREDICTION_PATHS = ["/seldon/*", *(f"/{service}*" for service in GRPC_SERVICE_PREFIXES)]
"""Every prediction route the gateway serves: REST under `/seldon/<namespace>/<deployment>/`
and gRPC methods (`/<package>.<Service>/<Method>`, infra/seldon/routing.py GRPC_PATHS)."""


class MeshConfig(CamelModel):
    """Stack keys for Istio."""

    istio_version: ChartVersion = "1.30.3"
    ingress_service_type: Literal["NodePort", "LoadBalancer", "ClusterIP"] = "LoadBalancer"
    ingress_domain: str = Field(
        default="localtest.me", pattern=r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?\.)+[a-z]{2,}$"
    )
    ingress_port: int = Field(default=80, ge=1, le=65535)
    """Public HTTP port of the gateway; it only redirects to HTTPS."""
    ingress_https_port: int = Field(default=443, ge=1, le=65535)
    """Public HTTPS port of the gateway, used in the exported URLs."""
    gateway_max_request_bytes: int = Field(default=1_048_576, ge=1024, le=104_857_600)
    """Largest request body the gateway forwards to a model; bigger ones get 413 at the edge."""
    prediction_auth: Literal["jwt", "none"] = "jwt"
    """'jwt': the prediction path needs a bearer token from `jwtIssuer` (Istio
    RequestAuthentication + AuthorizationPolicy); 'none' leaves it open (local/dev only)."""
    jwt_issuer: str = Field(default="", pattern=r"^$|^https://\S+$")
    jwt_jwks_uri: str = Field(default="", pattern=r"^$|^https://\S+$", validate_default=True)
    jwt_audiences: list[str] = []

    @field_validator("prediction_auth")
    @classmethod
    def _public_needs_jwt(cls, auth: str, info: ValidationInfo) -> str:
        """A LoadBalancer gateway is reachable by anyone its load balancer lets in, so its
        predictions are never open (local's NodePort is bound to 127.0.0.1 by kind)."""
        if auth == "none" and info.data.get("ingress_service_type") == "LoadBalancer":
            raise ValueError(
                "predictionAuth 'none' with ingressServiceType 'LoadBalancer' would open every "
                "model to whoever reaches the load balancer; set predictionAuth 'jwt' (with "
                "jwtIssuer and jwtJwksUri), or ingressServiceType 'NodePort' or 'ClusterIP' "
                "for a stack nobody outside can reach"
            )
        return auth

    @field_validator("jwt_audiences", mode="before")
    @classmethod
    def _decode_list(cls, value: Any) -> Any:
        """Pulumi hands array config to the program JSON-encoded."""
        return json.loads(value) if isinstance(value, str) and value.startswith("[") else value

    @field_validator("jwt_jwks_uri")
    @classmethod
    def _jwt_settings(cls, jwks_uri: str, info: ValidationInfo) -> str:
        if info.data.get("prediction_auth") == "jwt" and not (
            jwks_uri and info.data.get("jwt_issuer")
        ):
            raise ValueError(
                "predictionAuth 'jwt' needs 'jwtIssuer' and 'jwtJwksUri' (https URLs of your "
                "identity provider); set predictionAuth 'none' only for a stack nobody outside "
                "can reach"
            )
        return jwks_uri

    def host(self, subdomain: str | None = None) -> str:
        return f"{subdomain}.{self.ingress_domain}" if subdomain else self.ingress_domain

    @property
    def gateway_hosts(self) -> list[str]:
        """Every host the gateway's certificate must name."""
        return [self.host(), self.host("mlflow"), self.host("grafana")]

    def url(self, subdomain: str | None = None, path: str = "") -> str:
        """The public HTTPS URL of a host behind the ingress gateway."""
        port = "" if self.ingress_https_port == 443 else f":{self.ingress_https_port}"
        return f"https://{self.host(subdomain)}{port}{path}"
GATEWAY_PODS = {"matchLabels": GATEWAY_SELECTOR}
ISTIOD_PODS = {"matchLabels": {"app": "istiod"}}
