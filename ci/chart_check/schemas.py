"""Schema validation of every object: built-in kinds against the Kubernetes OpenAPI
(kubernetes-validate), custom resources against the CRDs the charts themselves install."""

from __future__ import annotations

import jsonschema
import kubernetes_validate

from ci.chart_check.cluster import Cluster
from ci.chart_check.contract import Finding, _name


def crd_schemas(cluster: Cluster) -> dict[tuple[str, str, str], dict]:
    """(group, version, kind) -> openAPIV3Schema of every CRD the charts render."""
    schemas = {}
    for _, crd in cluster.of_kind("CustomResourceDefinition"):
        spec = crd["spec"]
        for version in spec["versions"]:
            schema = (version.get("schema") or {}).get("openAPIV3Schema")
            if schema:
                schemas[(spec["group"], version["name"], spec["names"]["kind"])] = schema
    return schemas


def check_schemas(cluster: Cluster, kube_version: str) -> tuple[int, list[Finding]]:
    """(objects validated, findings)."""
    schemas = crd_schemas(cluster)
    findings, validated = [], 0
    for source, document in cluster.objects:
        if source == "cluster":
            continue
        group, _, version = document["apiVersion"].rpartition("/")
        key = (group, version, document["kind"])
        try:
            if key in schemas:
                # The CRDs' patterns are Go regexps: the schema itself is not checked.
                validator = jsonschema.validators.validator_for(schemas[key])(schemas[key])
                error = jsonschema.exceptions.best_match(validator.iter_errors(document))
                if error is not None:
                    raise error
            else:
                kubernetes_validate.validate(document, kube_version, strict=True)
            validated += 1
        except kubernetes_validate.SchemaNotFoundError:
            findings.append(
                Finding("schema", f"{_name(document)} ({source})",
                        f"no schema for {document['apiVersion']} {document['kind']}: no chart "
                        "installs its CRD and Kubernetes has no such kind")
            )  # fmt: skip
        except (jsonschema.ValidationError, kubernetes_validate.ValidationError) as error:
            message = getattr(error, "message", str(error)).splitlines()[0]
            findings.append(Finding("schema", f"{_name(document)} ({source})", message))
    return validated, findings
