"""A typed subset of Grafana's dashboard JSON model: time-series panels over Prometheus queries."""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

DATASOURCE_VARIABLE = "datasource"
SCHEMA_VERSION = 39


class _GrafanaModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


class DataSourceRef(_GrafanaModel):
    type: Literal["prometheus"] = "prometheus"
    uid: str = f"${{{DATASOURCE_VARIABLE}}}"


class Target(_GrafanaModel):
    """One PromQL query of a panel; `legend_format` names each series."""

    expr: str
    legend_format: str
    ref_id: str = Field(default="A", serialization_alias="refId")
    datasource: DataSourceRef = DataSourceRef()


class GridPos(_GrafanaModel):
    x: int
    y: int
    w: int
    h: int


class FieldDefaults(_GrafanaModel):
    unit: str
    min: float | None = None
    max: float | None = None


class FieldConfig(_GrafanaModel):
    defaults: FieldDefaults
    overrides: list[dict] = []


class Panel(_GrafanaModel):
    """A time-series panel; with `repeat`, one copy per selected value of that variable."""

    id: int
    title: str
    description: str
    grid_pos: GridPos
    field_config: FieldConfig
    targets: list[Target]
    type: Literal["timeseries"] = "timeseries"
    datasource: DataSourceRef = DataSourceRef()
    repeat: str | None = None
    repeat_direction: Literal["h", "v"] | None = None
    max_per_row: int | None = None


class Variable(_GrafanaModel):
    """A query variable whose values are the label values Prometheus has for `query`."""

    name: str
    label: str
    query: str
    multi: bool = False
    include_all: bool = False
    type: Literal["query"] = "query"
    datasource: DataSourceRef = DataSourceRef()
    refresh: int = 2
    """Refresh the values on every time-range change."""
    sort: int = 1

    def to_grafana(self) -> dict:
        body = self.model_dump(by_alias=True)
        return {
            **body,
            "definition": self.query,
            "query": {"query": self.query, "refId": self.name},
        }


DATASOURCE_PICKER = {
    "name": DATASOURCE_VARIABLE,
    "label": "Data source",
    "type": "datasource",
    "query": "prometheus",
}


class Dashboard(_GrafanaModel):
    """A dashboard with a Prometheus data-source picker and a fixed refresh."""

    uid: str = Field(max_length=40)
    title: str
    tags: list[str]
    panels: list[Panel]
    schema_version: int = SCHEMA_VERSION
    editable: bool = False
    refresh: str = "30s"
    time: dict[str, str] = {"from": "now-1h", "to": "now"}
    timezone: str = "utc"
    templating: dict[str, list[dict]] = {"list": [DATASOURCE_PICKER]}

    def to_json(self) -> str:
        """The dashboard as Grafana imports it."""
        return self.model_dump_json(by_alias=True, exclude_none=True, indent=2)


def templating(variables: list[Variable]) -> dict[str, list[dict]]:
    """The data-source picker followed by `variables`, in the order they depend on each other."""
    return {"list": [DATASOURCE_PICKER, *(variable.to_grafana() for variable in variables)]}


def panel_targets(queries: list[tuple[str, str]]) -> list[Target]:
    """Targets from (expr, legend) pairs, with distinct refIds A, B, C..."""
    return [
        Target(expr=expr, legend_format=legend, ref_id=chr(ord("A") + index))
        for index, (expr, legend) in enumerate(queries)
    ]
