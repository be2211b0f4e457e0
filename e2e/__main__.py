"""`python -m e2e [STEP ...] [--stack local] [--keep]`: the end-to-end run on a kind cluster.

Without STEP it runs every step in order and, unless `--keep`, always tears down (`destroy`,
`delete-cluster`) at the end, also after a failure. `--list` prints the steps. Needs Docker,
kind, kubectl and the Pulumi CLI (`make preflight` checks them) and network for images/charts.
"""

import argparse
import json
import os
import secrets
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import requests

from e2e import checks
from e2e.cluster import (
    GRAFANA_SERVICE,
    PROMETHEUS_SERVICE,
    REPO_ROOT,
    StepFailed,
    eventually,
    gateway_ca_bundle,
    port_forward,
    run,
    stack_output,
)
from e2e.expectations import Deployment, Expected, from_render
from stacks import preflight
from stacks.preflight import stack_setting

RENDER_DIR = REPO_ROOT / "build" / "e2e" / "render"
IRIS_ROW = [[5.1, 3.5, 1.4, 0.2]]
NOT_A_NUMBER = {"data": {"ndarray": [["not-a-number", 3.5, 1.4, 0.2]]}}
MLFLOW_PIPELINE_OUTPUTS = ("mlflowPipelineUser", "mlflowPipelinePassword")
"""Stack outputs with the MLflow pipeline user (EDIT), unless MLFLOW_TRACKING_* are set."""


@dataclass
class Run:
    stack: str
    requests: int

    @property
    def context(self) -> str:
        """kind names the kubeconfig context it writes `kind-<cluster>`."""
        return f"kind-{stack_setting(REPO_ROOT / f'Pulumi.{self.stack}.yaml', 'kindClusterName')}"

    @property
    def expected(self) -> Expected:
        if not RENDER_DIR.is_dir():
            render(self)
        return from_render(RENDER_DIR)

    def gateway_ca(self) -> Path:
        """The CA that verifies the gateway's HTTPS certificate."""
        return gateway_ca_bundle(self.context)

    def prediction_url(self, deployment: Deployment) -> str:
        """The deployment's prediction URL from the stack output `deployments` (HTTPS)."""
        outputs = json.loads(stack_output(self.stack, "deployments", as_json=True))
        for entry in outputs:
            if (entry["namespace"], entry["name"]) == (deployment.namespace, deployment.name):
                url = entry["predictionUrl"]
                if not url.startswith("https://"):
                    raise StepFailed(f"the prediction URL {url} is not HTTPS")
                return url
        raise StepFailed(f"no stack output for deployment {deployment.namespace}/{deployment.name}")


def render(ctx: Run) -> None:
    """Render the stack offline: what every later step expects to find."""
    run(sys.executable, "-m", "stacks.render", "--stack", ctx.stack, "--out", str(RENDER_DIR))


def up(ctx: Run) -> None:
    """`make up` (creates the kind cluster and its registry on the first run)."""
    run("make", "up", f"STACK={ctx.stack}", env={"CI": "true"})


def roll_out(ctx: Run) -> None:
    """`make up` again: the versions just trained and promoted roll out."""
    up(ctx)


def train(ctx: Run) -> None:
    """Train, register and promote through the gateway's MLflow, as the pipeline user."""
    ca = ctx.gateway_ca()
    env = {
        "MLFLOW_TRACKING_URI": stack_output(ctx.stack, "mlflowUrl"),
        "MLFLOW_TRACKING_SERVER_CERT_PATH": str(ca),
        # The ledger is signed (docs/model.md): a run without MODEL_LEDGER_KEY signs with a key
        # of its own, so entries of earlier runs are reported as untrusted, never trusted.
        "MODEL_LEDGER_KEY": os.environ.get("MODEL_LEDGER_KEY") or secrets.token_hex(32),
    }
    if "MLFLOW_TRACKING_PASSWORD" not in os.environ:
        user, password = MLFLOW_PIPELINE_OUTPUTS
        env["MLFLOW_TRACKING_USERNAME"] = stack_output(ctx.stack, user, secret=True)
        env["MLFLOW_TRACKING_PASSWORD"] = stack_output(ctx.stack, password, secret=True)
    run(sys.executable, "-m", "model", "train", env=env)
    run(sys.executable, "-m", "model", "promote", "--reason", "e2e", env=env)


def predict(ctx: Run) -> None:
    """Requests through the gateway over HTTPS are answered by every live predictor."""
    ca = ctx.gateway_ca()
    problems = []
    for deployment in ctx.expected.deployments:
        url = ctx.prediction_url(deployment)
        answers = []
        for _ in range(ctx.requests):
            response = requests.post(
                url, json={"data": {"ndarray": IRIS_ROW}}, verify=ca, timeout=30
            )
            if response.status_code != 200:
                raise StepFailed(f"{url} answered {response.status_code}: {response.text[:300]}")
            answers.append(checks.who_answered(response.json()))
        problems += checks.split_problems(answers, deployment)
    _fail_on(problems)


def bad_request(ctx: Run) -> None:
    """A non-numeric feature is a 400, and the next good request is still answered."""
    ca = ctx.gateway_ca()
    url = ctx.prediction_url(ctx.expected.deployments[0])
    response = requests.post(url, json=NOT_A_NUMBER, verify=ca, timeout=30)
    problems = checks.bad_request_problems(response.status_code, response.text)
    after = requests.post(url, json={"data": {"ndarray": IRIS_ROW}}, verify=ca, timeout=30)
    if after.status_code != 200:
        problems.append(f"after the bad request the server answered {after.status_code}")
    _fail_on(problems)


def _query(prometheus: str, expression: str) -> dict[str, float]:
    answer = requests.get(f"{prometheus}/api/v1/query", params={"query": expression}, timeout=30)
    return checks.series_by_predictor(answer.json())


def _series_check(ctx: Run, metrics: tuple[str, ...], only_shadow: bool = False) -> None:
    deployments = [d for d in ctx.expected.deployments if d.shadow or not only_shadow]
    with port_forward(ctx.context, PROMETHEUS_SERVICE) as prometheus:

        def missing() -> list[str]:
            problems = []
            for deployment in deployments:
                scope = f'namespace="{deployment.namespace}",deployment_name="{deployment.name}"'
                predictors = (deployment.shadow,) if only_shadow else deployment.predictors
                for metric in metrics:
                    values = _query(prometheus, f"sum by (predictor_name) ({metric}{{{scope}}})")
                    problems += checks.metric_problems(metric, values, deployment, predictors)
            return problems

        _fail_on(eventually(missing))


def shadow(ctx: Run) -> None:
    """The shadow predictor's executor counted the mirrored requests."""
    _series_check(ctx, (checks.EXECUTOR_REQUESTS,), only_shadow=True)


def metrics(ctx: Run) -> None:
    """Executor and model-server series for every predictor reach Prometheus."""
    _series_check(ctx, (checks.EXECUTOR_REQUESTS, checks.MODEL_PREDICTIONS))


def rules(ctx: Run) -> None:
    """The PrometheusRule's groups are loaded by Prometheus."""
    with port_forward(ctx.context, PROMETHEUS_SERVICE) as prometheus:
        _fail_on(
            eventually(
                lambda: checks.rule_problems(
                    requests.get(f"{prometheus}/api/v1/rules", timeout=30).json(),
                    ctx.expected.rule_groups,
                )
            )
        )


def dashboards(ctx: Run) -> None:
    """The dashboard ConfigMaps are provisioned in Grafana."""
    password = stack_output(ctx.stack, "grafanaAdminPassword", secret=True)
    with port_forward(ctx.context, GRAFANA_SERVICE) as grafana:
        _fail_on(
            eventually(
                lambda: checks.dashboard_problems(
                    requests.get(
                        f"{grafana}/api/search",
                        params={"type": "dash-db"},
                        auth=("admin", password),
                        timeout=30,
                    ).json(),
                    ctx.expected.dashboard_titles,
                )
            )
        )


def destroy(ctx: Run) -> None:
    """`make destroy` (its kind Command deletes the cluster and the registry)."""
    run("make", "destroy", f"STACK={ctx.stack}", env={"CI": "true"})


def delete_cluster(ctx: Run) -> None:
    """Delete the kind cluster and the registry even when `destroy` did not get that far."""
    name = ctx.context.removeprefix("kind-")
    run("kind", "delete", "cluster", "--name", name)
    run("docker", "rm", "-f", "kind-registry")


STEPS: dict[str, Callable[[Run], None]] = {
    "render": render,
    "up": up,
    "train": train,
    "roll-out": roll_out,
    "predict": predict,
    "bad-request": bad_request,
    "shadow": shadow,
    "metrics": metrics,
    "rules": rules,
    "dashboards": dashboards,
    "destroy": destroy,
    "delete-cluster": delete_cluster,
}
TEARDOWN = ("destroy", "delete-cluster")
OFFLINE_STEPS = ("render",)
"""Steps that need no cluster and no tool beyond this virtualenv; every other one needs what
`make preflight` checks."""


def _fail_on(problems: list[str]) -> None:
    if problems:
        raise StepFailed("; ".join(problems))


def _preflight_ok(stack: str) -> bool:
    """`make preflight`'s checks before any step: a missing tool stops the run here, before
    anything is created (so there is nothing to tear down), with what is missing."""
    notes: list[str] = []
    missing = preflight.problems(stack, dict(os.environ), notes=notes)
    for note in notes:
        print(f"preflight note: {note}", file=sys.stderr)
    if missing:
        print("e2e cannot start: missing prerequisites (nothing was created)", file=sys.stderr)
        for problem in missing:
            print(f"  - {problem}", file=sys.stderr)
    return not missing


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m e2e", description=__doc__.split("\n")[0])
    parser.add_argument("steps", nargs="*", metavar="STEP", help=f"one of: {', '.join(STEPS)}")
    parser.add_argument("--stack", default="local", help="a kind stack (default: local)")
    parser.add_argument("--requests", type=int, default=60, help="predictions per deployment")
    parser.add_argument("--keep", action="store_true", help="no teardown after a full run")
    parser.add_argument("--list", action="store_true", help="print the steps and exit")
    args = parser.parse_args(argv)
    if args.list:
        for name, step in STEPS.items():
            print(f"{name:15} {step.__doc__.splitlines()[0]}")
        return 0
    unknown = [s for s in args.steps if s not in STEPS]
    if unknown:
        parser.error(f"unknown step(s) {', '.join(unknown)}; steps are {', '.join(STEPS)}")
    if stack_setting(REPO_ROOT / f"Pulumi.{args.stack}.yaml", "createKindCluster") != "true":
        parser.error(f"stack '{args.stack}' does not create a kind cluster; e2e needs one")
    ctx = Run(stack=args.stack, requests=args.requests)
    selected = args.steps or [s for s in STEPS if s not in TEARDOWN]
    if any(step not in OFFLINE_STEPS for step in selected) and not _preflight_ok(args.stack):
        return 1
    try:
        for name in selected:
            print(f"== e2e step {name}", file=sys.stderr, flush=True)
            STEPS[name](ctx)
    except StepFailed as failure:
        print(f"e2e step {name} failed: {failure}", file=sys.stderr)
        return 1
    finally:
        if not args.steps and not args.keep:
            for name in TEARDOWN:
                try:
                    STEPS[name](ctx)
                except StepFailed as failure:
                    print(f"teardown step {name} failed: {failure}", file=sys.stderr)
    print("e2e passed" if not args.steps else f"e2e steps passed: {' '.join(selected)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
