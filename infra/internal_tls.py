"""TLS on the platform's own HTTP servers inside the cluster (MLflow, the retrain triggers) and
the CA their clients verify them with. Pure builders: plain dicts, no Pulumi.

Certificates come from cert-manager's `platform-ca` ClusterIssuer (`CertManager.certificate`);
each Secret cert-manager writes holds the issuing CA as `ca.crt`, so a client namespace gets the
CA by a certificate of its own (`ca_bundle_dns_name`), with no copy of the CA made by hand.
"""

SERVER_TLS_DIR = "/etc/server-tls"
"""Where a server mounts its cert-manager Secret (`tls.crt`, `tls.key`)."""
CA_DIR = "/etc/platform-ca"
CA_FILE = f"{CA_DIR}/ca.crt"
CA_BUNDLE_SECRET = "platform-ca-bundle"
"""Per client namespace: the Secret whose `ca.crt` its pods verify platform servers with."""
MLFLOW_CA_ENV = "MLFLOW_TRACKING_SERVER_CERT_PATH"
"""The CA file every MLflow client verifies the server with (mlflow 3.17.2
`mlflow/environment_variables.py`, `MLFLOW_TRACKING_SERVER_CERT_PATH`: requests' `verify`)."""


def service_dns_names(service: str, namespace: str) -> list[str]:
    """The names a client in the cluster reaches `service` by."""
    return [f"{service}.{namespace}.svc.cluster.local", f"{service}.{namespace}.svc",
            f"{service}.{namespace}"]  # fmt: skip


def ca_bundle_dns_name(namespace: str) -> str:
    """The name on the certificate requested only for its `ca.crt`; it is served by nobody."""
    return f"{CA_BUNDLE_SECRET}.{namespace}.svc"


def server_tls_volume(secret_name: str) -> dict:
    return {"name": "server-tls", "secret": {"secretName": secret_name, "defaultMode": 0o440}}


def server_tls_mount() -> dict:
    return {"name": "server-tls", "mountPath": SERVER_TLS_DIR, "readOnly": True}


def ca_volume(secret_name: str = CA_BUNDLE_SECRET) -> dict:
    """Only `ca.crt` of the Secret: the bundle certificate's key stays out of the pod."""
    return {
        "name": "platform-ca",
        "secret": {"secretName": secret_name, "items": [{"key": "ca.crt", "path": "ca.crt"}]},
    }


def ca_mount() -> dict:
    return {"name": "platform-ca", "mountPath": CA_DIR, "readOnly": True}


def mlflow_ca_env() -> dict:
    return {"name": MLFLOW_CA_ENV, "value": CA_FILE}


def uvicorn_tls_options(directory: str = SERVER_TLS_DIR) -> str:
    """`mlflow server --uvicorn-opts`: MLflow 3.17.2 runs uvicorn unless gunicorn or waitress
    options are given (`mlflow/server/__init__.py` `_run_server`, `_build_uvicorn_command`
    forwards these), and uvicorn serves only TLS on the port once it has a certificate."""
    return f"--ssl-certfile {directory}/tls.crt --ssl-keyfile {directory}/tls.key"


def upstream_tls_policy(host: str, ca_secret: str) -> dict:
    """DestinationRule spec making a gateway speak TLS to `host`, verifying it against the
    `ca.crt` of Secret `ca_secret` in the gateway's namespace (istio/api 1.30
    `networking/v1alpha3/destination_rule.proto` ClientTLSSettings: `credentialName` applies at
    gateways; for SIMPLE only its CA is used). `sni` is the service's name, which the
    certificate holds, not the public host the request came for."""
    return {
        "host": host,
        "exportTo": ["."],
        "trafficPolicy": {"tls": {"mode": "SIMPLE", "credentialName": ca_secret, "sni": host}},
    }
