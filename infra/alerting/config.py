"""Stack keys of the alerting: `mlops-platform:alerting` (receivers and routes) and the receivers'
credentials, each a secret stack key set with `pulumi config set --secret`.

No Pulumi import: the stack configuration validates these before any resource is declared.
"""

from typing import Annotated, Literal, Self

from pydantic import Field, SecretStr, StringConstraints, model_validator

from infra.config_types import CamelModel, DnsLabel, ObjectConfig

CREDENTIAL_KEYS = {
    "email": "alertSmtpPassword",
    "slack": "alertSlackApiUrl",
    "pagerduty": "alertPagerdutyRoutingKey",
    "webhook": "alertWebhookToken",
}
"""The secret stack key holding each receiver kind's credential (one per kind and stack)."""

SEVERITIES = ("critical", "warning", "info")

HttpsUrl = Annotated[str, StringConstraints(pattern=r"^https://[^\s]+$")]
Address = Annotated[str, StringConstraints(pattern=r"^[^@\s]+@[^@\s]+$")]
HostPort = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9.-]+:[0-9]{1,5}$")]


class EmailReceiver(ObjectConfig):
    """Mail through an authenticated SMTP relay (STARTTLS); password `alertSmtpPassword`."""

    to: Address
    from_: Address = Field(alias="from")
    smarthost: HostPort
    auth_username: str = Field(min_length=1)


class SlackReceiver(ObjectConfig):
    """A Slack incoming webhook; its URL is the credential `alertSlackApiUrl`."""

    channel: Annotated[str, StringConstraints(pattern=r"^#[a-z0-9._-]{1,80}$")]


class PagerdutyReceiver(ObjectConfig):
    """PagerDuty Events API v2; the integration's routing key is `alertPagerdutyRoutingKey`."""


class WebhookReceiver(ObjectConfig):
    """A generic webhook (HTTPS) sent the bearer token `alertWebhookToken`."""

    url: HttpsUrl


class ReceiverConfig(ObjectConfig):
    """One named receiver of exactly one kind."""

    name: DnsLabel
    email: EmailReceiver | None = None
    slack: SlackReceiver | None = None
    pagerduty: PagerdutyReceiver | None = None
    webhook: WebhookReceiver | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> Self:
        kinds = self.kinds
        if len(kinds) != 1:
            raise ValueError(
                f"receiver {self.name!r} needs exactly one of {', '.join(CREDENTIAL_KEYS)}; "
                f"it has {kinds or 'none'}"
            )
        return self

    @property
    def kinds(self) -> list[str]:
        return [kind for kind in CREDENTIAL_KEYS if getattr(self, kind) is not None]

    @property
    def kind(self) -> str:
        return self.kinds[0]


class AlertingConfig(ObjectConfig):
    """Where alerts go: `default` takes every alert no severity route claims (never dropped),
    `severityRoutes` sends a severity to another receiver; `runbookBaseUrl` is where
    docs/operations.md is read (every platform alert links its anchor there)."""

    runbook_base_url: HttpsUrl
    default: DnsLabel
    severity_routes: dict[Literal["critical", "warning", "info"], DnsLabel] = {}
    receivers: list[ReceiverConfig] = Field(min_length=1)
    repeat_interval: Annotated[str, StringConstraints(pattern=r"^[0-9]+[mh]$")] = "4h"

    @model_validator(mode="after")
    def _routes_name_receivers(self) -> Self:
        names = [r.name for r in self.receivers]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"receiver names must be unique; repeated: {repeated}")
        unknown = sorted({self.default, *self.severity_routes.values()} - set(names))
        if unknown:
            raise ValueError(
                f"routes name receivers {unknown} that are not declared; declared: {names}"
            )
        return self

    @property
    def needed_credentials(self) -> list[str]:
        """The secret stack keys the declared receivers need, in a stable order."""
        kinds = {r.kind for r in self.receivers}
        return [key for kind, key in CREDENTIAL_KEYS.items() if kind in kinds]

    def missing_credentials(self, credentials: "AlertCredentials") -> list[str]:
        """The needed secret stack keys that are unset."""
        return [key for key in self.needed_credentials if credentials.value(key) is None]


class AlertCredentials(CamelModel):
    """The receivers' credentials: secret stack keys, never plaintext (`SECRET_KEYS`)."""

    alert_smtp_password: SecretStr | None = None
    alert_slack_api_url: SecretStr | None = None
    alert_pagerduty_routing_key: SecretStr | None = None
    alert_webhook_token: SecretStr | None = None

    def value(self, key: str) -> SecretStr | None:
        """The credential of secret stack key `key` (e.g. 'alertSlackApiUrl'), None when unset."""
        return {
            field.alias: getattr(self, name) for name, field in type(self).model_fields.items()
        }[key]
