"""cert-manager's chart values and the platform's issuers and certificates as plain manifests:
a self-signed root, the `platform-ca` ClusterIssuer it signs, the ACME ClusterIssuer (HTTP-01
through Istio) and certificates issued from either."""

from infra.cert_manager.config import (
    ACME_ISSUER,
    CA_ISSUER,
    ISTIO_INGRESS_CLASS,
    WAIT_FOR_READY,
    CertManagerConfig,
)
from infra.cert_manager.config import NAMESPACE as CERT_MANAGER
from infra.cert_manager.sizing import CertManagerSizing

SELF_SIGNED_ISSUER = "platform-selfsigned"


def chart_values(sizing: CertManagerSizing) -> dict:
    """Values checked against jetstack/cert-manager v1.21.1 deploy/charts/cert-manager/
    values.yaml: crds.enabled/keep; the startupapicheck post-install hook waits for the webhook,
    so issuers created after the release are admitted."""
    return {
        "crds": {"enabled": True, "keep": True},
        # Same values.yaml: `resources` (controller), webhook.resources, cainjector.resources,
        # startupapicheck.resources (the post-install Job).
        "resources": sizing.cert_manager,
        "webhook": {"resources": sizing.cert_manager_webhook},
        "cainjector": {"resources": sizing.cert_manager_cainjector},
        "startupapicheck": {"resources": sizing.cert_manager_startupapicheck},
    }


def cert_manager_object(kind: str, name: str, namespace: str | None, spec: dict) -> dict:
    """A cert-manager.io/v1 object Pulumi waits on until it is Ready."""
    metadata: dict = {"name": name, "annotations": WAIT_FOR_READY}
    if namespace:
        metadata["namespace"] = namespace
    return {"apiVersion": "cert-manager.io/v1", "kind": kind, "metadata": metadata, "spec": spec}


def self_signed_issuer() -> dict:
    return cert_manager_object("ClusterIssuer", SELF_SIGNED_ISSUER, None, {"selfSigned": {}})


def root_certificate() -> dict:
    """The platform CA's own certificate, self-signed, kept in the Secret the CA issuer reads."""
    return cert_manager_object(
        "Certificate",
        "platform-ca",
        CERT_MANAGER,
        {
            "isCA": True,
            "commonName": "mlops-platform internal CA",
            "secretName": CA_ISSUER,
            "duration": "87600h",
            "privateKey": {"algorithm": "ECDSA", "size": 256},
            "issuerRef": {"name": SELF_SIGNED_ISSUER, "kind": "ClusterIssuer"},
        },
    )


def ca_issuer() -> dict:
    """A CA ClusterIssuer reads its Secret from the cluster resource namespace, which is the
    chart's own namespace by default (values.yaml `clusterResourceNamespace: ""`)."""
    return cert_manager_object("ClusterIssuer", CA_ISSUER, None, {"ca": {"secretName": CA_ISSUER}})


def acme_issuer(config: CertManagerConfig) -> dict:
    """HTTP-01 through Istio's Kubernetes Ingress support.

    The solver Ingress carries the `kubernetes.io/ingress.class: istio` annotation
    (`http01.ingress.class`, cert-manager v1.21.1 pkg/issuer/acme/http/ingress.go:167-168):
    Istio 1.30.3 in its default STRICT mode serves an annotated Ingress whose class is the
    mesh's `ingressClass` (`istio`), but ignores an `ingressClassName` that names no
    IngressClass object (pilot/pkg/config/kube/ingress/virtualservices.go:253-281)."""
    return cert_manager_object(
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
    )


def certificate(
    name: str, *, namespace: str, secret_name: str, dns_names: list[str], issuer: object
) -> dict:
    """A certificate for `dns_names` in `namespace`, kept in Secret `secret_name` (with the
    issuing CA as `ca.crt`), from the ClusterIssuer named `issuer`."""
    return cert_manager_object(
        "Certificate",
        name,
        namespace,
        {
            "secretName": secret_name,
            "dnsNames": dns_names,
            "duration": "2160h",
            "renewBefore": "720h",
            "privateKey": {"algorithm": "ECDSA", "size": 256, "rotationPolicy": "Always"},
            "issuerRef": {"name": issuer, "kind": "ClusterIssuer"},
        },
    )
