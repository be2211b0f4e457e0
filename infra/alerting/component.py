"""The receivers' credentials as a Kubernetes Secret beside Alertmanager, from Pulumi secrets."""

import pulumi

from infra.alerting.alertmanager import RECEIVER_SECRET, chart_values
from infra.alerting.config import AlertCredentials, AlertingConfig
from infra.component import PlatformComponent
from infra.prometheus_stack.config import NAMESPACE as MONITORING
from infra.secrets import credentials_secret


class AlertReceivers(PlatformComponent):
    """The Secret `alertmanager-receivers` (one key per credential the receivers need, each a
    Pulumi secret) and the chart values that route alerts to the receivers and mount it."""

    def __init__(
        self,
        name: str,
        config: AlertingConfig,
        credentials: AlertCredentials,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("mlops:monitoring:AlertReceivers", name, opts)
        missing = config.missing_credentials(credentials)
        if missing:  # from_pulumi_runtime refuses this before any resource is declared
            raise ValueError(f"unset alert credentials {missing}")
        data = {key: credentials.value(key).get_secret_value() for key in config.needed_credentials}
        self.secret = credentials_secret(
            RECEIVER_SECRET, namespace=MONITORING, data=data, opts=self.child_opts()
        )
        self.chart_values = chart_values(config)
        self.register_outputs({"secret": RECEIVER_SECRET})
