"""Deploy-time model versions: every predictor's `<name>@<alias>` resolved against the stack's
registry, so the stack declares the concrete version and its content digest.

A promotion (an alias move) then shows in `pulumi preview` and in the merge-request render diff
as a version change, and reaches the pods as Seldon's rolling update at `pulumi up`.

The registry is read through MLflow's REST API with `requests` (endpoints from
`mlflow/protos/model_registry.proto`, mlflow 3.17.2: `GET /api/2.0/mlflow/registered-models/get`
for the aliases, `GET /api/2.0/mlflow/model-versions/get` for a version's tags; both answer 404
RESOURCE_DOES_NOT_EXIST for what does not exist, while the alias endpoint answers 400 for an
unknown alias), so the program never imports the mlflow package. Credentials come from
`MLFLOW_TRACKING_USERNAME` / `MLFLOW_TRACKING_PASSWORD` and a private CA (the gateway's
self-signed one) from `MLFLOW_TRACKING_SERVER_CERT_PATH`, as for every MLflow client
(`mlflow/environment_variables.py`). An unreachable registry fails within
`REGISTRY_DEADLINE_S`, naming the URI.
"""

import os
import re
import time
from dataclasses import dataclass, field
from typing import Any

import requests

from infra.deployments.config import DeploymentConfig, PredictorConfig

DIGEST_TAG = "model_digest"
"""The version tag `model/` writes at registration: 'sha256:<hex>' (docs/contracts.md)."""
DIGEST_PATTERN = re.compile(r"^sha256:[0-9a-f]{64}$")

REGISTRY_DEADLINE_S = 25.0
"""Longest the program waits for the registry, retries included, before failing."""
REQUEST_TIMEOUT_S = (3.05, 10.0)
"""(connect, read) timeout of one request, cut to what is left of the deadline."""
RETRY_PAUSE_S = 1.0

SKIP_DEPLOYMENTS_ENV = "MLOPS_SKIP_DEPLOYMENTS"
"""Set to 1 for a stack's first `pulumi up`, when its own MLflow does not exist yet."""


class RegistryError(RuntimeError):
    """The registry cannot say which version a predictor serves; nothing was declared."""


class RegistryRefused(RegistryError):
    """HTTP 403: the login may not read it. MLflow's basic-auth app checks the permission before
    the name is looked up (GetRegisteredModel -> `_validate_can_read_registered_model_or_prompt`
    in `_before_request`, mlflow/server/auth/__init__.py:4542 and :5370 @ 3.17.2), so for a user
    with per-model grants an unknown name and an unreadable one look the same."""


@dataclass(frozen=True)
class DeclaredVersion:
    """What a predictor serves, as declared in its SeldonDeployment.

    `version` and `digest` are None only where no registry was asked (an offline render): an
    alias then stays an alias, resolved by the model server when its pod starts.
    """

    model: str
    version: str | None
    alias: str | None = None
    digest: str | None = None

    @property
    def uri(self) -> str:
        """`MODEL_URI` of the model container."""
        if self.version is None:
            return f"models:/{self.model}@{self.alias}"
        return f"models:/{self.model}/{self.version}"

    @property
    def label(self) -> str:
        """`labels.version` / `annotations.version` of the predictor."""
        return self.version if self.version is not None else str(self.alias)


@dataclass
class Resolution:
    """Per deployment key ('<namespace>/<name>'): each predictor's declared version, or why
    the deployment waits for its first registered version."""

    versions: dict[str, dict[str, DeclaredVersion]] = field(default_factory=dict)
    pending: dict[str, str] = field(default_factory=dict)


class ModelRegistry:
    """The few MLflow registry reads the program needs, each bounded in time."""

    def __init__(
        self,
        uri: str,
        *,
        username: str | None = None,
        password: str | None = None,
        ca_bundle: str | None = None,
    ):
        self.uri = uri.rstrip("/")
        self._auth = (username, password or "") if username else None
        self._verify: str | bool = ca_bundle or True

    @classmethod
    def from_environment(cls, uri: str) -> "ModelRegistry":
        """A client with the MLflow credentials and CA bundle of the environment (if any)."""
        return cls(
            uri,
            username=os.environ.get("MLFLOW_TRACKING_USERNAME") or None,
            password=os.environ.get("MLFLOW_TRACKING_PASSWORD"),
            ca_bundle=os.environ.get("MLFLOW_TRACKING_SERVER_CERT_PATH") or None,
        )

    def registered_model(self, name: str) -> dict[str, Any] | None:
        """The registered model with its `aliases` and `latest_versions`, None if unknown."""
        found = self._get("registered-models/get", {"name": name})
        return None if found is None else found["registered_model"]

    def registered_names(self) -> list[str]:
        """Every registered model name this login may read (`registered-models/search`, paged
        by `next_page_token`)."""
        names: list[str] = []
        params: dict[str, Any] = {"max_results": 1000}
        while True:
            page = self._get("registered-models/search", params) or {}
            names += [m["name"] for m in page.get("registered_models", [])]
            if not page.get("next_page_token"):
                return sorted(names)
            params["page_token"] = page["next_page_token"]

    def version(self, name: str, version: str) -> dict[str, Any] | None:
        """One model version with its `tags`, None if it does not exist."""
        found = self._get("model-versions/get", {"name": name, "version": version})
        return None if found is None else found["model_version"]

    def _get(self, path: str, params: dict[str, Any]) -> dict[str, Any] | None:
        """The JSON answer, None for MLflow's RESOURCE_DOES_NOT_EXIST; retried on connection
        errors and 5xx until `REGISTRY_DEADLINE_S` has passed."""
        url = f"{self.uri}/api/2.0/mlflow/{path}"
        deadline = time.monotonic() + REGISTRY_DEADLINE_S
        while True:
            remaining = max(deadline - time.monotonic(), 0.1)
            try:
                response = requests.get(
                    url,
                    params=params,
                    auth=self._auth,
                    verify=self._verify,
                    timeout=tuple(min(limit, remaining) for limit in REQUEST_TIMEOUT_S),
                )
            except requests.exceptions.SSLError as error:
                raise RegistryError(
                    f"model registry {self.uri}: TLS verification failed ({error}); for the "
                    "gateway's self-signed certificate set MLFLOW_TRACKING_SERVER_CERT_PATH to "
                    "its CA bundle"
                ) from None
            except requests.RequestException as error:
                problem = f"{type(error).__name__}: {error}"
            else:
                if response.status_code < 500:
                    return self._answer(response)
                problem = f"HTTP {response.status_code}"
            if time.monotonic() + RETRY_PAUSE_S >= deadline:
                raise RegistryError(
                    f"model registry {self.uri} is unreachable ({problem}); gave up after "
                    f"{REGISTRY_DEADLINE_S:.0f} s. Check the URI (stack key "
                    "mlops-platform:registryUri, default the stack's own MLflow) and that it is "
                    f"up. On a stack's first `pulumi up`, before its MLflow exists, run "
                    f"`{SKIP_DEPLOYMENTS_ENV}=1 pulumi up` to declare the platform alone."
                )
            time.sleep(RETRY_PAUSE_S)

    def _answer(self, response: requests.Response) -> dict[str, Any] | None:
        if response.status_code == 404:
            return None
        if response.status_code in (401, 403):
            raise (RegistryRefused if response.status_code == 403 else RegistryError)(
                f"model registry {self.uri} refused the request (HTTP {response.status_code}); "
                "set MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD to a user that may "
                "read the registered models"
            )
        if response.status_code != 200:
            raise RegistryError(
                f"model registry {self.uri} answered HTTP {response.status_code} to "
                f"{response.request.path_url}: {response.text[:300]}"
            )
        return response.json()


def offline_versions(deployments: list[DeploymentConfig]) -> Resolution:
    """Versions as the stack file states them, for a render without a registry."""
    return Resolution(
        versions={
            d.key: {
                p.name: DeclaredVersion(p.registered_model, p.version, p.alias)
                for p in d.predictors
            }
            for d in deployments
        }
    )


def resolve_versions(deployments: list[DeploymentConfig], registry: ModelRegistry) -> Resolution:
    """Each predictor's concrete version and digest. A model the registry does not know is an
    error naming the registered ones (a typo must not silently drop a deployment); a deployment
    whose models exist but have no version yet is pending, with what to run next."""
    resolution = Resolution()
    for deployment in deployments:
        models = sorted({p.registered_model for p in deployment.predictors})
        registered = {name: _registered(deployment, name, registry) for name in models}
        unversioned = [n for n, found in registered.items() if not found.get("latest_versions")]
        if unversioned:
            resolution.pending[deployment.key] = _first_version_steps(
                deployment, unversioned, registry.uri
            )
            continue
        resolution.versions[deployment.key] = {
            p.name: _resolve(deployment, p, registered[p.registered_model], registry)
            for p in deployment.predictors
        }
    return resolution


def _registered(deployment: DeploymentConfig, name: str, registry: ModelRegistry) -> dict:
    """Registered model `name`, or an error naming the models the login can see."""
    try:
        found = registry.registered_model(name)
    except RegistryRefused as refused:
        problem = f"does not exist in {registry.uri}, or this login may not read it ({refused})"
    else:
        if found is not None:
            return found
        problem = f"does not exist in {registry.uri}"
    where = "; ".join(
        f"predictor {p.name!r} ({p.model})"
        for p in deployment.predictors
        if p.registered_model == name
    )
    known = ", ".join(repr(n) for n in registry.registered_names()) or "none"
    raise RegistryError(
        f"deployment {deployment.key}, {where}: registered model {name!r} {problem}. "
        f"Registered models this login can read: {known}. Fix the model name in the stack "
        f"file, or register it first (`python -m model train --model-name {name} "
        f"--tracking-uri {registry.uri}`)"
    )


def _resolve(
    deployment: DeploymentConfig,
    predictor: PredictorConfig,
    registered: dict[str, Any],
    registry: ModelRegistry,
) -> DeclaredVersion:
    where = f"deployment {deployment.key}, predictor {predictor.name!r} ({predictor.model})"
    name = predictor.registered_model
    number = predictor.version
    if predictor.alias is not None:
        aliases = {a["alias"]: a["version"] for a in registered.get("aliases", [])}
        if predictor.alias not in aliases:
            listed = ", ".join(f"{a} -> {v}" for a, v in sorted(aliases.items())) or "none"
            raise RegistryError(
                f"{where}: alias {predictor.alias!r} of model {name!r} does not exist in "
                f"{registry.uri} (its aliases: {listed}). Move it with `python -m model promote` "
                "or point the predictor at an existing alias or version"
            )
        number = aliases[predictor.alias]
    found = registry.version(name, str(number))
    if found is None:
        raise RegistryError(
            f"{where}: version {number} of model {name!r} does not exist in {registry.uri}"
        )
    version = str(found["version"])
    digest = next((t["value"] for t in found.get("tags", []) if t["key"] == DIGEST_TAG), None)
    if digest is None or not DIGEST_PATTERN.match(digest):
        raise RegistryError(
            f"{where}: version {version} of model {name!r} in {registry.uri} has "
            f"{'no' if digest is None else 'a malformed'} {DIGEST_TAG!r} tag "
            f"({digest!r}); model/ writes 'sha256:<hex>' at registration (docs/contracts.md), "
            "so register the model again"
        )
    return DeclaredVersion(name, version, predictor.alias, digest)


def _first_version_steps(deployment: DeploymentConfig, models: list[str], uri: str) -> str:
    steps = "; ".join(
        f"`python -m model train --model-name {m} --tracking-uri {uri}` then "
        f"`python -m model promote --model-name {m} --tracking-uri {uri}`"
        for m in models
    )
    return (
        f"deployment {deployment.key} is not declared yet: registry {uri} has no version of "
        f"{', '.join(repr(m) for m in models)}. Run {steps}, then `pulumi up` again"
    )


def deploy_time_versions(deployments: list[DeploymentConfig], registry_uri: str) -> Resolution:
    """What `pulumi up` / `pulumi preview` declare: versions resolved against `registry_uri`
    with the environment's MLflow credentials; with `MLOPS_SKIP_DEPLOYMENTS=1` (a stack's first
    `pulumi up`, before its own MLflow exists) every deployment is left pending."""
    if os.environ.get(SKIP_DEPLOYMENTS_ENV) == "1":
        return Resolution(
            pending={
                d.key: f"deployment {d.key} is not declared ({SKIP_DEPLOYMENTS_ENV}=1). Once "
                f"MLflow answers at {registry_uri}, register and promote its models "
                f"(`python -m model train`, `python -m model promote`, --tracking-uri "
                f"{registry_uri}), then `pulumi up` without {SKIP_DEPLOYMENTS_ENV}"
                for d in deployments
            }
        )
    return resolve_versions(deployments, ModelRegistry.from_environment(registry_uri))
