"""Route names: the platform's VirtualService of one deployment never takes the name of another
deployment's operator-generated VirtualService (named after the SeldonDeployment, `Name: seldonId`
in createIstioResources, operator/controllers/istio.go:265-268 @ seldon-core v1.17.1)."""

from pathlib import Path

import yaml

from stacks.render import documents, render_stack
from tests.support.pins import pin_test_stack
from tests.support.stacks import STACKS, stack_file, stack_values

VS = "VirtualService"
SDEP = "SeldonDeployment"


def test_a_deployment_named_like_another_ones_route_takes_no_one_elses_name(tmp_path: Path):
    values = stack_values("local")
    (iris,) = values["mlops-platform:deployments"]
    values["mlops-platform:deployments"] = [iris, {**iris, "name": "iris-route"}]
    config = tmp_path / "Pulumi.local.yaml"
    config.write_text(yaml.safe_dump({"config": values}))
    pin_test_stack(config)

    objects = [d for d in documents(render_stack("local", config)).values() if "kind" in d]
    routes = {
        (d["metadata"]["namespace"], d["metadata"]["name"]) for d in objects if d["kind"] == VS
    }
    operator_routes = {
        (d["metadata"]["namespace"], d["metadata"]["name"]) for d in objects if d["kind"] == SDEP
    }
    assert operator_routes == {("seldon", "iris"), ("seldon", "iris-route")}
    platform_routes = {r for r in routes if r[0] == "seldon"}
    assert len(platform_routes) == 2
    assert not platform_routes & operator_routes


def test_committed_stacks_keep_one_route_per_deployment():
    for stack in STACKS:
        names = [d["name"] for d in stack_values(stack)["mlops-platform:deployments"]]
        objects = documents(render_stack(stack, stack_file(stack))).values()
        routes = [d["metadata"]["name"] for d in objects if d.get("kind") == VS]
        assert sorted(f"{n}.route" for n in names) == sorted(
            r for r in routes if r.endswith(".route")
        )
