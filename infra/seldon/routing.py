"""The public route of a SeldonDeployment, owned by the platform so feedback reaches the
predictor that answered.

Seldon Core 1.17.1's operator generates one VirtualService per deployment that sends every path
under `/seldon/<ns>/<name>/` through one weighted split, feedback included
(`createIstioResources`, operator/controllers/seldondeployment_controller.go), and its route
destinations cannot carry a response header. Istio merges VirtualServices bound to the same
gateway and host by appending their routes in creation-time order (`MergedVirtualServices` in
pilot/pkg/model/virtualservice_controller.go sorts by creation time; `buildGatewayHTTPRouteConfig`
in pilot/pkg/networking/core/gateway.go appends per host; istio/istio 1.30.3, the pinned
version; 1.26.2 had the merge in pilot/pkg/model/virtualservice.go), so a route added in
a second VirtualService would win or lose by which object is older. Instead:

- the SeldonDeployment's own VirtualService is bound, through the operator's
  `seldon.io/istio-gateway` annotation (operator/controllers/istio.go), to an unrouted Gateway
  whose selector matches no proxy, so it configures nothing;
- the platform declares the deployment's route on the real gateway, in one VirtualService whose
  rule order is its own: first one feedback route per live predictor, matched on the
  `x-mlops-predictor` request header, then the weighted split of the stack file (plus the shadow's
  mirror), each destination setting `x-mlops-predictor` on its responses, then the operator's
  gRPC match. The destinations are the predictor Services the operator creates
  (`<name>-<predictor>`, executor ports 8000 and 5001: DEFAULT_ENGINE_CONTAINER_PORT and
  DEFAULT_ENGINE_GRPC_PORT), without a DestinationRule subset. The operator's subset selects the
  predictor's `version` label, which is the model version and so changes with every promotion,
  and the operator rewrites it only once the new Deployment counts as ready
  (operator/controllers/seldondeployment_controller.go@v1.17.1:324-337 and, for the order,
  :1849-1860 and :2128-2135): a route through it would reach no pod, or only the new ones,
  mid-rollout. The Service selects `seldon-app: <name>-<predictor>` (:704), the same on old and
  new pods, so a rollout moves traffic pod by pod as readiness allows.
"""

import re

from infra.model_monitoring.config import PredictorTarget

PREDICTOR_HEADER = "x-mlops-predictor"
"""Response header naming the predictor that answered; a feedback request sending it back
reaches that predictor."""
OPERATOR_GATEWAY_ANNOTATION = "seldon.io/istio-gateway"
UNROUTED_GATEWAY = "seldon-operator-unrouted"
UNROUTED_SELECTOR = {"mlops-platform/unrouted": "no-proxy-has-this-label"}
EXECUTOR_HTTP_PORT = 8000
EXECUTOR_GRPC_PORT = 5001
GRPC_SERVICE_PREFIXES = ("tensorflow.", "seldon.protos.", "inference.")
"""Packages of the gRPC services the executor answers (the operator's GRPCRegExMatchIstio,
operator/constants/constants.go@v1.17.1, matches `.*tensorflow.*|.*seldon.protos.*|
.*inference.*` anywhere in the path)."""
GRPC_PATHS = "|".join(f"/{re.escape(prefix)}.*" for prefix in GRPC_SERVICE_PREFIXES)
"""The operator's gRPC match anchored at the start of the path (`/<package>.<Service>/<Method>`;
Istio's `uri.regex` is a full match), so the prefixes the JWT policy denies cover every path it
routes (infra/mesh/ PREDICTION_PATHS)."""
FEEDBACK_PATH = "api/v1.0/feedback"


def route_name(deployment: str) -> str:
    """The platform's VirtualService name for `deployment`: `<deployment>.route`. The operator
    names its own VirtualService after the SeldonDeployment (`Name: seldonId` in
    createIstioResources, operator/controllers/istio.go:265-268 @ v1.17.1), a DNS-1123 label that
    cannot hold a dot, so no deployment's operator route can take this name, and the mapping is
    one-to-one. Istio 1.30.3 puts no rule on VirtualService names beyond Kubernetes' DNS-1123
    subdomain (ValidateVirtualService, pkg/config/validation/validation.go:1743)."""
    return f"{deployment}.route"


def predictor_host(deployment: str, predictor: str, namespace: str) -> str:
    """The operator's Service of a predictor (`GetPredictorKey`, names up to 63 characters)."""
    return f"{deployment}-{predictor}.{namespace}.svc.cluster.local"


def _destination(deployment: str, namespace: str, predictor: str, port: int) -> dict:
    return {"host": predictor_host(deployment, predictor, namespace), "port": {"number": port}}


def _tagged(deployment: str, namespace: str, predictor: PredictorTarget, port: int) -> dict:
    return {
        "destination": _destination(deployment, namespace, predictor.name, port),
        "weight": predictor.traffic,
        "headers": {"response": {"set": {PREDICTOR_HEADER: predictor.name}}},
    }


def virtual_service(
    *, deployment: str, namespace: str, predictors: list[PredictorTarget], gateway: str
) -> dict:
    """The VirtualService routing `/seldon/<namespace>/<deployment>/` on `gateway`."""
    prefix = f"/seldon/{namespace}/{deployment}/"
    live = [p for p in predictors if not p.shadow]
    shadows = [p for p in predictors if p.shadow]
    feedback = [
        {
            "name": f"feedback-{p.name}",
            "match": [
                {
                    "uri": {"exact": f"{prefix}{FEEDBACK_PATH}"},
                    "headers": {PREDICTOR_HEADER: {"exact": p.name}},
                }
            ],
            "rewrite": {"uri": f"/{FEEDBACK_PATH}"},
            "route": [{**_tagged(deployment, namespace, p, EXECUTOR_HTTP_PORT), "weight": 100}],
        }
        for p in live
    ]
    split = {
        "name": "split",
        "match": [{"uri": {"prefix": prefix}}],
        "rewrite": {"uri": "/"},
        "route": [_tagged(deployment, namespace, p, EXECUTOR_HTTP_PORT) for p in live],
    }
    grpc = {
        "name": "grpc",
        "match": [
            {
                "uri": {"regex": GRPC_PATHS},
                "headers": {"seldon": {"exact": deployment}, "namespace": {"exact": namespace}},
            }
        ],
        "route": [_tagged(deployment, namespace, p, EXECUTOR_GRPC_PORT) for p in live],
    }
    for shadow in shadows:
        for rule, port in ((split, EXECUTOR_HTTP_PORT), (grpc, EXECUTOR_GRPC_PORT)):
            rule["mirror"] = _destination(deployment, namespace, shadow.name, port)
            rule["mirrorPercentage"] = {"value": float(shadow.traffic)}
    return {
        "apiVersion": "networking.istio.io/v1beta1",
        "kind": "VirtualService",
        "metadata": {"name": route_name(deployment), "namespace": namespace},
        "spec": {"hosts": ["*"], "gateways": [gateway], "http": [*feedback, split, grpc]},
    }


def unrouted_gateway(namespace: str) -> dict:
    """A Gateway no proxy implements: what the operator's own VirtualServices are bound to."""
    return {
        "apiVersion": "networking.istio.io/v1beta1",
        "kind": "Gateway",
        "metadata": {"name": UNROUTED_GATEWAY, "namespace": namespace},
        "spec": {
            "selector": dict(UNROUTED_SELECTOR),
            "servers": [
                {"port": {"number": 80, "name": "http", "protocol": "HTTP"}, "hosts": ["*"]}
            ],
        },
    }


def operator_annotations(unrouted_gateway_ref: str) -> dict[str, str]:
    """SeldonDeployment annotations binding the operator's VirtualService to the unrouted
    Gateway (`<namespace>/<name>`)."""
    return {OPERATOR_GATEWAY_ANNOTATION: unrouted_gateway_ref}
