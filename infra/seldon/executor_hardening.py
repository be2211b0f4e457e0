"""Admission policies that harden the Seldon executor the operator injects into every predictor
pod, which the SeldonDeployment cannot: seldon-core v1.17.1 gives that container only
`runAsUser` (8888, the chart's `executor.user`) and `allowPrivilegeEscalation: false`
(operator/controllers/seldondeployment_engine.go:341-344), and `svcOrchSpec` has no
`securityContext` to ask for more.

A MutatingAdmissionPolicy (admissionregistration.k8s.io/v1, GA in Kubernetes 1.36, the kind
stack's version) adds the rest to the `seldon-container-engine` container of each new pod: the
Pods, not the operator's Deployments, so the operator never sees a diff to reconcile. A
ValidatingAdmissionPolicy then refuses any such pod that is still not hardened (mutating
admission runs before validating admission), so a missing or broken mutation fails closed.
"""

import json

EXECUTOR_CONTAINER = "seldon-container-engine"
"""`EngineContainerName`, seldon-core v1.17.1 operator/controllers/seldondeployment_engine.go:59."""
SELDON_PODS = {"matchLabels": {"app.kubernetes.io/managed-by": "seldon-core"}}
"""The operator's label on every predictor pod template (operator/controllers/labels.go:61-62)."""
POLICY_NAME = "seldon-executor-hardening"
HARDENED = {
    "runAsNonRoot": True,
    "readOnlyRootFilesystem": True,
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
    "seccompProfile": {"type": "RuntimeDefault"},
}
"""What the executor's securityContext gets: Pod Security `restricted` plus a read-only root."""
HAS_EXECUTOR = f'object.spec.containers.exists(c, c.name == "{EXECUTOR_CONTAINER}")'


def _cel_object(type_path: str, value: object) -> str:
    """`value` as a CEL apply-configuration literal typed `Object.<type_path>`."""
    if isinstance(value, dict):
        fields = ", ".join(
            f"{key}: {_cel_object(f'{type_path}.{key}', item)}" for key, item in value.items()
        )
        return f"{type_path}{{{fields}}}"
    return json.dumps(value)


def mutation_expression() -> str:
    """Merge `HARDENED` into the executor container (containers merge by `name`)."""
    context = _cel_object("Object.spec.containers.securityContext", HARDENED)
    return (
        "Object{spec: Object.spec{containers: [Object.spec.containers{"
        f'name: "{EXECUTOR_CONTAINER}", securityContext: {context}}}]}}}}'
    )


def validation_expression() -> str:
    """True when every executor container carries each `HARDENED` setting."""
    checks = [
        "has(c.securityContext)",
        "has(c.securityContext.runAsNonRoot) && c.securityContext.runAsNonRoot == true",
        "has(c.securityContext.readOnlyRootFilesystem)"
        " && c.securityContext.readOnlyRootFilesystem == true",
        "has(c.securityContext.allowPrivilegeEscalation)"
        " && c.securityContext.allowPrivilegeEscalation == false",
        "has(c.securityContext.capabilities) && has(c.securityContext.capabilities.drop)"
        ' && c.securityContext.capabilities.drop.exists(d, d == "ALL")',
    ]
    return (
        f'object.spec.containers.filter(c, c.name == "{EXECUTOR_CONTAINER}")'
        f".all(c, {' && '.join(checks)})"
    )


def _match(namespaces: list[str]) -> dict:
    return {
        "resourceRules": [
            {
                "apiGroups": [""],
                "apiVersions": ["v1"],
                "operations": ["CREATE"],
                "resources": ["pods"],
            }
        ],
        "namespaceSelector": {
            "matchExpressions": [
                {
                    "key": "kubernetes.io/metadata.name",
                    "operator": "In",
                    "values": sorted(namespaces),
                }
            ]
        },
        "objectSelector": SELDON_PODS,
    }


def manifests(namespaces: list[str]) -> list[dict]:
    """The two policies and their bindings, for the deployment namespaces."""
    conditions = [{"name": "has-seldon-executor", "expression": HAS_EXECUTOR}]
    api = "admissionregistration.k8s.io/v1"
    return [
        {
            "apiVersion": api,
            "kind": "MutatingAdmissionPolicy",
            "metadata": {"name": POLICY_NAME},
            "spec": {
                "matchConstraints": _match(namespaces),
                "matchConditions": conditions,
                "failurePolicy": "Fail",
                "reinvocationPolicy": "IfNeeded",
                "mutations": [
                    {
                        "patchType": "ApplyConfiguration",
                        "applyConfiguration": {"expression": mutation_expression()},
                    }
                ],
            },
        },
        {
            "apiVersion": api,
            "kind": "MutatingAdmissionPolicyBinding",
            "metadata": {"name": POLICY_NAME},
            "spec": {"policyName": POLICY_NAME},
        },
        {
            "apiVersion": api,
            "kind": "ValidatingAdmissionPolicy",
            "metadata": {"name": POLICY_NAME},
            "spec": {
                "matchConstraints": _match(namespaces),
                "matchConditions": conditions,
                "failurePolicy": "Fail",
                "validations": [
                    {
                        "expression": validation_expression(),
                        "message": (
                            f"the Seldon executor ({EXECUTOR_CONTAINER}) must run as non-root "
                            "on a read-only root filesystem without privilege escalation and "
                            f"with every capability dropped; the {POLICY_NAME} "
                            "MutatingAdmissionPolicy sets that"
                        ),
                    }
                ],
            },
        },
        {
            "apiVersion": api,
            "kind": "ValidatingAdmissionPolicyBinding",
            "metadata": {"name": POLICY_NAME},
            "spec": {"policyName": POLICY_NAME, "validationActions": ["Deny"]},
        },
    ]
