"""The MLflow registry reads the pin command needs, each bounded in time, and the pins they give.

The registry is read through MLflow's REST API with `requests` (endpoints from
`mlflow/protos/model_registry.proto`, mlflow 3.17.2: `GET /api/2.0/mlflow/registered-models/get`
for the aliases, `GET /api/2.0/mlflow/model-versions/get` for a version's tags; both answer 404
RESOURCE_DOES_NOT_EXIST for what does not exist, while the alias endpoint answers 400 for an
unknown alias). Credentials come from `MLFLOW_TRACKING_USERNAME` / `MLFLOW_TRACKING_PASSWORD`
and a private CA (the gateway's self-signed one) from `MLFLOW_TRACKING_SERVER_CERT_PATH`, as for
every MLflow client (`mlflow/environment_variables.py`). An unreachable registry fails within
`REGISTRY_DEADLINE_S`, naming the URI.
"""

from __future__ import annotations

import os
import re
import time
from typing import Any

import requests

from release.pins import Pin
from release.stack_refs import PredictorRef

DIGEST_TAG = "model_digest"
"""The version tag `model/` writes at registration: 'sha256:<hex>' (docs/contracts.md)."""
DIGEST_PATTERN = re.compile(r"^sha256:[0-9a-f]{64}$")

REGISTRY_DEADLINE_S = 25.0
"""Longest a pin waits for the registry, retries included, before failing."""
REQUEST_TIMEOUT_S = (3.05, 10.0)
"""(connect, read) timeout of one request, cut to what is left of the deadline."""
RETRY_PAUSE_S = 1.0


class RegistryError(RuntimeError):
    """The registry cannot say which version a predictor serves; nothing was pinned."""


class RegistryRefused(RegistryError):
    """HTTP 403: the login may not read it. MLflow's basic-auth app checks the permission before
    the name is looked up (GetRegisteredModel -> `_validate_can_read_registered_model_or_prompt`
    in `_before_request`, mlflow/server/auth/__init__.py:4542 and :5370 @ 3.17.2), so for a user
    with per-model grants an unknown name and an unreadable one look the same."""


class ModelRegistry:
    """The few MLflow registry reads pinning needs, each bounded in time."""

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
    def from_environment(cls, uri: str) -> ModelRegistry:
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
                    f"{REGISTRY_DEADLINE_S:.0f} s. Check the URI (--tracking-uri) and that it "
                    "is up; the committed pins stay as they are"
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


def registered(refs: list[PredictorRef], name: str, registry: ModelRegistry) -> dict[str, Any]:
    """Registered model `name`, or an error naming the models the login can see."""
    try:
        found = registry.registered_model(name)
    except RegistryRefused as refused:
        problem = f"does not exist in {registry.uri}, or this login may not read it ({refused})"
    else:
        if found is not None:
            return found
        problem = f"does not exist in {registry.uri}"
    where = "; ".join(r.where for r in refs if r.model == name)
    known = ", ".join(repr(n) for n in registry.registered_names()) or "none"
    raise RegistryError(
        f"{where}: registered model {name!r} {problem}. Registered models this login can read: "
        f"{known}. Fix the model name in the stack file, or register it first (`python -m "
        f"model train --model-name {name} --tracking-uri {registry.uri}`)"
    )


def pin_of(ref: PredictorRef, found: dict[str, Any], registry: ModelRegistry) -> Pin:
    """The pin of one predictor: its alias (or version) resolved, with the version's digest."""
    number = ref.version
    if ref.alias is not None:
        aliases = {a["alias"]: a["version"] for a in found.get("aliases", [])}
        if ref.alias not in aliases:
            listed = ", ".join(f"{a} -> {v}" for a, v in sorted(aliases.items())) or "none"
            raise RegistryError(
                f"{ref.where}: alias {ref.alias!r} of model {ref.model!r} does not exist in "
                f"{registry.uri} (its aliases: {listed}). Move it with `python -m model promote` "
                "or point the predictor at an existing alias or version"
            )
        number = aliases[ref.alias]
    version = registry.version(ref.model, str(number))
    if version is None:
        raise RegistryError(
            f"{ref.where}: version {number} of model {ref.model!r} does not exist in {registry.uri}"
        )
    digest = next((t["value"] for t in version.get("tags", []) if t["key"] == DIGEST_TAG), None)
    if digest is None or not DIGEST_PATTERN.match(digest):
        raise RegistryError(
            f"{ref.where}: version {version['version']} of model {ref.model!r} in {registry.uri} "
            f"has {'no' if digest is None else 'a malformed'} {DIGEST_TAG!r} tag ({digest!r}); "
            "model/ writes 'sha256:<hex>' at registration (docs/contracts.md), so register the "
            "model again"
        )
    return Pin(model=ref.model, version=str(version["version"]), digest=digest, alias=ref.alias,
               registry=registry.uri)  # fmt: skip


def first_version_steps(deployment: str, models: list[str], uri: str, stack: str) -> str:
    """Why a deployment is pending and what to run."""
    steps = "; ".join(
        f"`python -m model train --model-name {m} --tracking-uri {uri}` then "
        f"`python -m model promote --model-name {m} --tracking-uri {uri}`"
        for m in models
    )
    return (
        f"deployment {deployment} is not declared yet: registry {uri} had no version of "
        f"{', '.join(repr(m) for m in models)} when it was pinned. Run {steps}, then "
        f"`python -m release pin --stack {stack} --tracking-uri {uri}` and deploy the change"
    )
