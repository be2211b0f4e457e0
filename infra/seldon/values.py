"""The seldon-core-operator chart's values: Istio on, the webhook certificate from cert-manager,
the manager sized. Every key exists in helm-charts/seldon-core-operator/values.yaml@v1.17.1."""

from infra.seldon.sizing import SeldonSizing


def operator_values(gateway: str, sizing: SeldonSizing) -> dict:
    """`gateway` is where the operator binds the VirtualServices of SeldonDeployments that name
    none (the manager's ISTIO_GATEWAY)."""
    return {
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
