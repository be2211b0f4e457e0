"""What the e2e run expects to find in the cluster, read from the offline render of the same
stack, so the checks follow the stack file instead of repeating its names."""

import json
from dataclasses import dataclass
from pathlib import Path

import yaml


@dataclass(frozen=True)
class Deployment:
    namespace: str
    name: str
    predictors: tuple[str, ...]
    shadow: str | None

    @property
    def live(self) -> tuple[str, ...]:
        """Predictors that answer requests (the shadow's answers are dropped)."""
        return tuple(p for p in self.predictors if p != self.shadow)


@dataclass(frozen=True)
class Expected:
    deployments: tuple[Deployment, ...]
    rule_groups: tuple[str, ...]
    dashboard_titles: tuple[str, ...]


def from_render(directory: Path) -> Expected:
    """The SeldonDeployments, PrometheusRule groups and dashboards a render declares."""
    deployments, groups, titles = [], [], []
    for path in sorted(directory.glob("*.yaml")):
        document = yaml.safe_load(path.read_text())
        kind = document.get("kind")
        if kind == "SeldonDeployment":
            predictors = document["spec"]["predictors"]
            shadows = [p["name"] for p in predictors if p.get("shadow")]
            deployments.append(
                Deployment(
                    namespace=document["metadata"]["namespace"],
                    name=document["metadata"]["name"],
                    predictors=tuple(p["name"] for p in predictors),
                    shadow=shadows[0] if shadows else None,
                )
            )
        elif kind == "PrometheusRule":
            groups += [group["name"] for group in document["spec"]["groups"]]
        elif kind == "ConfigMap" and document["metadata"].get("labels", {}).get(
            "grafana_dashboard"
        ):
            titles += [json.loads(text)["title"] for text in document["data"].values()]
    if not deployments:
        raise ValueError(f"the render in {directory} declares no SeldonDeployment")
    return Expected(tuple(deployments), tuple(groups), tuple(titles))
