"""`python -m ci.chart_check`: render each stack offline, template every Helm release at its
pinned version with the stack's values, validate everything and check the platform's objects
against the charts'. Exit 0 when nothing is found, 1 with the findings, 2 on bad input."""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from ci.chart_check.charts import ChartError, Release, fetch_chart, template
from ci.chart_check.cluster import Cluster
from ci.chart_check.contract import (
    Footprint,
    check_pod_security,
    check_rbac,
    check_requests,
    check_selectors,
    check_services_and_flows,
    footprint,
)
from ci.chart_check.schemas import check_schemas

REPO_ROOT = Path(__file__).resolve().parents[2]
LAPTOP_BUDGET = Footprint(cpu=3.0, memory_gib=6.0)
"""What a stack that creates a kind cluster may request (docs/sizing.md)."""


def kube_version() -> str:
    """The Kubernetes version of the pinned kind node image, as `helm --kube-version` wants it."""
    from infra.cluster.kind_images import DEFAULT_NODE_IMAGE

    return re.search(r":v(\d+\.\d+\.\d+)@", DEFAULT_NODE_IMAGE)[1]


def check_stack(stack: str, *, work: Path, helm: str, sources: Path | None) -> dict:
    """Everything `make chart-check` says about one stack."""
    from infra.stack_config import load_stack_file
    from stacks.render import documents, render_stack

    stack_file = REPO_ROOT / f"Pulumi.{stack}.yaml"
    files = documents(render_stack(stack, stack_file))
    cluster = Cluster([d for name, d in sorted(files.items()) if "/" not in name])
    releases = [
        Release.from_document(d) for n, d in sorted(files.items()) if n.startswith("helm-releases/")
    ]
    version = kube_version()
    for release in releases:
        chart_dir = fetch_chart(release, work, helm=helm, sources=sources)
        cluster.charts[release.name] = template(release, chart_dir, helm=helm, kube_version=version)
    validated, findings = check_schemas(cluster, ".".join(version.split(".")[:2]))
    findings += check_selectors(cluster)
    findings += check_services_and_flows(cluster)
    findings += check_rbac(cluster)
    findings += check_pod_security(cluster)
    kind = load_stack_file(stack_file).cluster.create_kind_cluster
    findings += check_requests(cluster, LAPTOP_BUDGET if kind else None)
    total, _ = footprint(cluster)
    return {
        "stack": stack,
        "releases": [
            {
                "release": r.name,
                "chart": r.chart,
                "version": r.version,
                "objects": len(cluster.charts[r.name]),
            }
            for r in releases
        ],  # fmt: skip
        "validated": validated,
        "requests_at_autoscaler_maxima": {"cpu": total.cpu, "memory_gib": total.memory_gib},
        "findings": sorted({str(f) for f in findings}),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ci.chart_check", description=__doc__)
    parser.add_argument("--stack", action="append", help="default: every Pulumi.<stack>.yaml")
    parser.add_argument("--helm", default=os.environ.get("HELM", "helm"))
    parser.add_argument(
        "--chart-sources",
        type=Path,
        default=os.environ.get("CHART_SOURCES") or None,
        help="directory of chart sources at the pinned tags (<chart>-<version>/); "
        "default: pull each chart from its repository",
    )
    parser.add_argument("--out", type=Path, help="also write the report as JSON here")
    args = parser.parse_args(argv)
    stacks = args.stack or sorted(p.name.split(".")[1] for p in REPO_ROOT.glob("Pulumi.*.yaml"))
    if args.chart_sources is not None and not args.chart_sources.is_dir():
        print(f"--chart-sources {args.chart_sources}: not a directory", file=sys.stderr)
        return 2
    reports = []
    with tempfile.TemporaryDirectory(prefix="chart-check-") as work:
        for stack in stacks:
            try:
                report = check_stack(
                    stack, work=Path(work), helm=args.helm, sources=args.chart_sources
                )
            except ChartError as error:
                print(f"{stack}: {error}", file=sys.stderr)
                return 2
            reports.append(report)
            _print(report)
    summary = {
        "checked_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "chart_source": str(args.chart_sources) if args.chart_sources else "repositories",
        "stacks": reports,
    }
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(summary, indent=2) + "\n")
    return 1 if any(r["findings"] for r in reports) else 0


def _print(report: dict) -> None:
    print(f"== {report['stack']}")
    for r in report["releases"]:
        print(f"  {r['release']}: {r['chart']} {r['version']}, {r['objects']} objects")
    maxima = report["requests_at_autoscaler_maxima"]
    print(f"  {report['validated']} objects schema-valid; requests at autoscaler maxima "
          f"{maxima['cpu']} CPU / {maxima['memory_gib']} GiB")  # fmt: skip
    for finding in report["findings"]:
        print(f"  FINDING {finding}")
    if not report["findings"]:
        print("  no findings")


if __name__ == "__main__":
    sys.exit(main())
