"""cert-manager's controller, webhook, cainjector and startup check per sizing profile."""

from dataclasses import dataclass

from infra.sizing import Profiles
from infra.workloads import resources


@dataclass(frozen=True)
class CertManagerSizing:
    cert_manager: dict
    cert_manager_webhook: dict
    cert_manager_cainjector: dict
    cert_manager_startupapicheck: dict


SIZING = Profiles(
    small=CertManagerSizing(
        cert_manager=resources("20m", "64Mi", "200m", "256Mi"),
        cert_manager_webhook=resources("10m", "32Mi", "100m", "128Mi"),
        cert_manager_cainjector=resources("10m", "64Mi", "100m", "256Mi"),
        cert_manager_startupapicheck=resources("10m", "32Mi", "100m", "64Mi"),
    ),
    ha=CertManagerSizing(
        cert_manager=resources("50m", "128Mi", "500m", "256Mi"),
        cert_manager_webhook=resources("20m", "64Mi", "200m", "128Mi"),
        cert_manager_cainjector=resources("20m", "128Mi", "200m", "256Mi"),
        cert_manager_startupapicheck=resources("10m", "32Mi", "100m", "64Mi"),
    ),
)
