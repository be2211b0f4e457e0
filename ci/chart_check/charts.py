"""Where a release's chart comes from (its repository, or a local directory of chart sources at
the pinned tags) and what `helm template` makes of it."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import yaml

HELM_TIMEOUT_S = 300


class _ManifestLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
    """YAML as the API server reads it: a bare `=` is the string "=", not YAML 1.1's value
    tag (Istio's CRDs list it among CEL operators)."""


_ManifestLoader.add_constructor("tag:yaml.org,2002:value", lambda loader, node: node.value)


class ChartError(RuntimeError):
    """A chart could not be found, pulled or rendered."""


@dataclass(frozen=True)
class Release:
    """A Helm release as the offline render writes it (helm-releases/<name>.yaml)."""

    name: str
    chart: str
    version: str
    repository: str
    namespace: str
    values: dict

    @classmethod
    def from_document(cls, document: dict) -> Release:
        return cls(
            name=document["helmRelease"],
            chart=document["chart"],
            version=document["version"],
            repository=document["repository"],
            namespace=document["namespace"],
            values=document.get("values") or {},
        )


def _helm(helm: str, *args: str, cwd: Path | None = None) -> str:
    try:
        result = subprocess.run(
            [helm, *args], cwd=cwd, capture_output=True, text=True, timeout=HELM_TIMEOUT_S
        )
    except FileNotFoundError:
        raise ChartError(
            f"helm not found at {helm!r}: install it (ci/install-helm.sh) and pass HELM=<path>"
        ) from None
    if result.returncode != 0:
        raise ChartError(f"helm {' '.join(args[:2])} failed: {result.stderr.strip()}")
    return result.stdout


def _chart_name(directory: Path) -> str:
    return yaml.safe_load((directory / "Chart.yaml").read_text())["name"]


def source_directory(sources: Path, chart: str, version: str) -> Path:
    """`<sources>/<chart>-<version>`: a chart's source tree at its release tag. The directory
    name carries the version, because source trees keep a placeholder in Chart.yaml (istio
    1.30.3 says 1.0.0, cert-manager v1.21.1 says v0.0.0)."""
    directory = sources / f"{chart}-{version}"
    if not (directory / "Chart.yaml").is_file():
        raise ChartError(
            f"{directory} is missing: put the source of chart {chart!r} at tag {version} there "
            "(docs/operations.md, 'Chart contract check')"
        )
    if _chart_name(directory) != chart:
        raise ChartError(f"{directory}/Chart.yaml names chart {_chart_name(directory)!r}")
    return directory


def _vendor_dependencies(chart_dir: Path, sources: Path) -> None:
    """Copy each dependency Chart.yaml declares into charts/, from `sources` (exact versions;
    a range such as `0.12.*` takes the highest matching directory, as `helm dependency
    build` would)."""
    declared = yaml.safe_load((chart_dir / "Chart.yaml").read_text()).get("dependencies") or []
    for dependency in declared:
        target = chart_dir / "charts" / dependency["name"]
        if target.exists() or "repository" not in dependency:
            continue
        pattern = f"{dependency['name']}-{dependency['version'].replace('*', '')}"
        found = sorted(
            (p for p in sources.glob(f"{dependency['name']}-*") if p.name.startswith(pattern)),
            key=lambda p: [int(x) if x.isdigit() else x for x in p.name.split("-")[-1].split(".")],
        )
        if not found:
            raise ChartError(
                f"{sources} has no {pattern}* for the dependency {dependency['name']} "
                f"{dependency['version']} of {_chart_name(chart_dir)}"
            )
        _vendor_dependencies(found[-1], sources)
        shutil.copytree(found[-1], target)


def fetch_chart(release: Release, work: Path, *, helm: str, sources: Path | None) -> Path:
    """A directory holding the release's chart at its pinned version, dependencies included:
    fetched once per `work` directory and reused by every stack (`helm pull --untar` refuses a
    directory that exists, Helm v4.1.4 pkg/action/pull.go:164-169)."""
    target = work / f"{release.chart}-{release.version}"
    if target.is_dir():
        return target
    if sources is not None:
        shutil.copytree(source_directory(sources, release.chart, release.version), target)
        _vendor_dependencies(target, sources)
        return target
    pulled = work / "pulled" / f"{release.chart}-{release.version}"
    try:
        _helm(
            helm, "pull", release.chart, "--repo", release.repository, "--version",
            release.version, "--untar", "--untardir", str(pulled),
        )  # fmt: skip
    except ChartError as error:
        raise ChartError(
            f"{error}\nWhere the chart repositories are out of reach, set CHART_SOURCES to a "
            "directory of chart sources at the pinned tags"
        ) from None
    return (pulled / release.chart).rename(target)


def template(release: Release, chart_dir: Path, *, helm: str, kube_version: str) -> list[dict]:
    """Every object `helm template` renders for the release, CRDs included."""
    with tempfile.NamedTemporaryFile("w", suffix=".yaml") as values:
        yaml.safe_dump(release.values, values)
        values.flush()
        output = _helm(
            helm, "template", release.name, str(chart_dir), "--namespace", release.namespace,
            "--values", values.name, "--include-crds", "--kube-version", kube_version,
        )  # fmt: skip
    objects = [d for d in yaml.load_all(output, Loader=_ManifestLoader) if d]
    for document in objects:
        metadata = document.setdefault("metadata", {})
        if document["kind"] not in CLUSTER_SCOPED and not metadata.get("namespace"):
            metadata["namespace"] = release.namespace
    return objects


CLUSTER_SCOPED = {
    "Namespace", "CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding",
    "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration", "ClusterIssuer",
    "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding", "PriorityClass",
    "StorageClass", "IngressClass", "PodSecurityPolicy", "APIService",
}  # fmt: skip
"""Kinds `helm template` leaves without a namespace because they have none."""
