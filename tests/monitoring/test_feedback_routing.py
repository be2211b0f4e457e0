"""Feedback attribution: the platform's VirtualService sends feedback to the predictor that
answered, whatever the weights.

Schema: the rendered VirtualService and unrouted Gateway validate against Istio's CRD schemas.
Behaviour: two real model servers (`python -m serving`) (champion 90 %, challenger 10 %)
behind `localrun.gateway_stand_in`, which applies the rendered VirtualService's rules in order (the
Istio ingress gateway cannot run here; it is the only stand-in). Each prediction's response names
its predictor in a header; feedback sending that header back is counted by exactly that server's
reward counter. Without the header, the weighted split misattributes it, which is the bug.
"""

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import jsonschema
import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from infra.model_monitoring.config import PredictorTarget
from infra.model_monitoring.podmonitor import METRICS_PATH
from infra.seldon.routing import PREDICTOR_HEADER, predictor_host, unrouted_gateway, virtual_service
from localrun.gateway_stand_in import GatewayStandIn
from localrun.server_process import ModelServerProcess

SCHEMAS = Path(__file__).resolve().parents[1] / "schemas" / "networking.istio.io"
PREDICTORS = [
    PredictorTarget(name="champion", traffic=90),
    PredictorTarget(name="challenger", traffic=10),
]
SHADOWED = [*PREDICTORS, PredictorTarget(name="shadow", traffic=25, shadow=True)]
PREFIX = "/seldon/seldon/iris"
ROW = [5.1, 3.5, 1.4, 0.2]
REQUESTS = 80


def _route(predictors=SHADOWED) -> dict:
    return virtual_service(
        deployment="iris",
        namespace="seldon",
        predictors=predictors,
        gateway="istio-system/seldon-gateway",
    )


def _validator(kind: str) -> jsonschema.protocols.Validator:
    schema = json.loads((SCHEMAS / f"{kind}_v1beta1.json").read_text())
    return jsonschema.validators.validator_for(schema)(schema)


def test_route_and_unrouted_gateway_are_schema_valid():
    _validator("virtualservice").validate(_route())
    _validator("gateway").validate(unrouted_gateway("istio-system"))


def test_schema_check_rejects_a_malformed_route():
    route = _route()
    route["spec"]["http"][0]["match"][0]["headers"] = {PREDICTOR_HEADER: "champion"}
    with pytest.raises(jsonschema.ValidationError):
        _validator("virtualservice").validate(route)


def test_feedback_routes_come_before_the_weighted_split_and_skip_the_shadow():
    rules = _route()["spec"]["http"]
    assert [rule["name"] for rule in rules] == [
        "feedback-champion",
        "feedback-challenger",
        "split",
        "grpc",
    ]
    split = rules[2]
    assert [(r["destination"]["host"], r["weight"]) for r in split["route"]] == [
        (predictor_host("iris", "champion", "seldon"), 90),
        (predictor_host("iris", "challenger", "seldon"), 10),
    ]
    assert split["mirror"]["host"] == predictor_host("iris", "shadow", "seldon")
    assert split["mirrorPercentage"] == {"value": 25.0}
    assert all(
        r["destination"]["host"]
        == predictor_host("iris", r["headers"]["response"]["set"][PREDICTOR_HEADER], "seldon")
        for rule in rules
        for r in rule["route"]
    )


def test_routes_survive_a_promotion_without_operator_subsets():
    """The operator's DestinationRule subset selects `version: <model version>` and is rewritten
    only once the new Deployment is ready (seldon-core v1.17.1 operator/controllers/
    seldondeployment_controller.go:324-337, :1849-1860, :2128-2135): a promotion changes the
    label on the pods first, so a route through the subset reaches no pod, or only the new ones.
    The predictor Service selects `seldon-app` (:704), unchanged by a promotion."""
    rules = _route()["spec"]["http"]
    destinations = [r["destination"] for rule in rules for r in rule["route"]]
    destinations += [rule["mirror"] for rule in rules if "mirror" in rule]
    assert destinations
    assert all("subset" not in d for d in destinations)
    assert {d["host"].split(".", 1)[0] for d in destinations} == {
        "iris-champion",
        "iris-challenger",
        "iris-shadow",
    }


@pytest.fixture(scope="module")
def servers(trained_model):
    """Two real model servers, as the operator would start champion and challenger."""
    started = {
        p.name: ModelServerProcess(
            trained_model["local_model_dir"],
            env={
                "SELDON_DEPLOYMENT_ID": "iris",
                "PREDICTOR_ID": p.name,
                "PREDICTOR_LABELS": json.dumps({"version": p.name}),
                "PREDICTIVE_UNIT_METRICS_ENDPOINT": METRICS_PATH,
                "SERVER_WORKERS": "1",
            },
        )
        for p in PREDICTORS
    }
    try:
        with ThreadPoolExecutor(len(started)) as pool:
            list(pool.map(ModelServerProcess.start, started.values()))
        yield started
    finally:
        for server in started.values():
            server.stop()


@pytest.fixture
def gateway(servers):
    backends = {predictor_host("iris", name, "seldon"): s.url for name, s in servers.items()}
    with GatewayStandIn(_route(PREDICTORS), backends, deployment="iris", seed=3) as stand_in:
        yield stand_in


def _rewards(server: ModelServerProcess) -> float:
    text = requests.get(server.metrics_url, timeout=10).text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "seldon_api_model_feedback_reward_total"
    )


def _predict(gateway: GatewayStandIn) -> requests.Response:
    answer = requests.post(
        f"{gateway.url}{PREFIX}/api/v1.0/predictions",
        json={"data": {"ndarray": [ROW]}},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    return answer


def _feedback(gateway: GatewayStandIn, headers: dict[str, str]) -> requests.Response:
    answer = requests.post(
        f"{gateway.url}{PREFIX}/api/v1.0/feedback",
        json={"request": {"data": {"ndarray": [ROW]}}, "reward": 1},
        headers=headers,
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    return answer


def test_feedback_with_the_response_header_reaches_the_predictor_that_answered(servers, gateway):
    before = {name: _rewards(server) for name, server in servers.items()}
    answered = {"champion": 0, "challenger": 0}
    for _ in range(REQUESTS):
        answer = _predict(gateway)
        predictor = answer.headers[PREDICTOR_HEADER]
        tags = answer.json()["meta"]["tags"]
        assert tags["predictor"] == predictor and tags["model_version"]
        answered[predictor] += 1
        echoed = _feedback(gateway, {PREDICTOR_HEADER: predictor})
        assert echoed.headers[PREDICTOR_HEADER] == predictor
    assert answered["challenger"] > 0 and answered["champion"] > answered["challenger"]
    after = {name: _rewards(server) for name, server in servers.items()}
    assert {name: after[name] - before[name] for name in servers} == answered


def test_without_the_header_the_weighted_split_credits_the_champion(servers, gateway):
    """The failure the header fixes: feedback meant for the challenger, sent without it."""
    before = _rewards(servers["challenger"])
    for _ in range(40):
        _feedback(gateway, {})
    assert _rewards(servers["challenger"]) - before < 20
