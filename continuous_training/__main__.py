"""`python -m continuous_training serve`: the retrain trigger.

`serve` reads its settings from the environment the platform gives its pod:
`RETRAIN_TOKEN_FILE` (the mounted Secret file holding the bearer token Alertmanager sends),
`RETRAIN_NAMESPACE` (where the CronJobs are), `RETRAIN_CRONJOBS` (JSON object deployment ->
CronJob name), `RETRAIN_TLS_DIR` (the mounted TLS Secret: the port speaks only HTTPS),
`RETRAIN_PORT` (8080) and `RETRAIN_HOST` (0.0.0.0). In a pod it talks to the
API server with the pod's service-account token; elsewhere with the kubeconfig (`KUBECONFIG`).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path


class SettingsError(ValueError):
    """A missing or malformed environment variable of the trigger."""


def _setting(name: str, default: str | None = None) -> str:
    value = os.environ.get(name, default)
    if not value:
        raise SettingsError(f"environment variable {name} is required (see `--help`)")
    return value


def _token() -> str:
    path = _setting("RETRAIN_TOKEN_FILE")
    try:
        token = Path(path).read_text().strip()
    except OSError as error:
        raise SettingsError(f"RETRAIN_TOKEN_FILE {path}: cannot read the token: {error}") from None
    if not token:
        raise SettingsError(f"RETRAIN_TOKEN_FILE {path} is empty; expected the bearer token")
    return token


def _cronjobs() -> dict[str, str]:
    raw = _setting("RETRAIN_CRONJOBS")
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as error:
        raise SettingsError(f"RETRAIN_CRONJOBS is not JSON ({error}): {raw!r}") from None
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise SettingsError(
            f"RETRAIN_CRONJOBS must be a JSON object of deployment -> CronJob name, e.g. "
            f'{{"iris": "iris-training"}}; got {raw!r}'
        )
    return value


def _tls():
    """The server's TLS from `RETRAIN_TLS_DIR` (`tls.crt`, `tls.key`, as cert-manager writes a
    Secret): required, so the trigger never serves its token's port in clear."""
    from continuous_training.webhook import tls_context

    directory = Path(_setting("RETRAIN_TLS_DIR"))
    try:
        return tls_context(str(directory / "tls.crt"), str(directory / "tls.key"))
    except (OSError, ValueError) as error:
        raise SettingsError(
            f"RETRAIN_TLS_DIR {directory}: expected tls.crt and tls.key (PEM): {error}"
        ) from None


def _serve() -> int:
    from kubernetes import client, config

    from continuous_training.retrainer import Retrainer
    from continuous_training.webhook import serve

    token, namespace, cronjobs = _token(), _setting("RETRAIN_NAMESPACE"), _cronjobs()
    port = int(_setting("RETRAIN_PORT", "8080"))
    tls = _tls()
    if os.environ.get("KUBERNETES_SERVICE_HOST"):
        config.load_incluster_config()
    else:
        config.load_kube_config()
    retrainer = Retrainer(client.ApiClient(), namespace, cronjobs)
    server = serve(retrainer, token, _setting("RETRAIN_HOST", "0.0.0.0"), port, tls)
    logging.getLogger(__name__).info(
        "retrain trigger on port %d for %s in namespace %s", port, cronjobs, namespace
    )
    server.serve_forever()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m continuous_training", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="run the retrain trigger (Alertmanager webhook)")
    parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    try:
        return _serve()
    except SettingsError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
