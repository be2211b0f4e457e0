"""`make abtest-demo`: a canary rollout decided on live traffic, locally and for real.

Two real model servers (`python -m serving`, as the image starts them) serve a strong and a
deliberately weaker iris model from a real MLflow registry (SQLite). A real Prometheus scrapes
them and the gateway stand-in (`localrun.gateway_stand_in`, the one part that stands in for Istio
and the Seldon executor), which routes by the VirtualService the platform renders from the stack
file. Each round sends prediction traffic at the stack file's split, then feedback with the
reward from the true labels (1 when the predicted species is right), echoing the predictor
header; then `python -m model abtest` and `python -m stacks.rollout` run against that Prometheus
and their decisions are printed. The stack file and its pins live in a clone of a local bare
Git repository standing in for the forge (`localrun.local_forge`): each rollout step is a
reviewed change the double merges at once (dev's auto-merge); the clone pulls it and the
gateway applies it before the next round, as the deploy job's `pulumi up` would. After each
scenario the A/B table (`python -m model abtest` since the scenario began) is printed beside
what the clients sent per predictor; evidence the rule refuses as inconsistent ends the
scenario as `refused`.

Scenario 1: the weaker model is the challenger at 10 %: it is rolled back.
Scenario 2: the weaker model is the champion: the stronger challenger advances 10 -> 50 -> 100
and is promoted (the registry's champion alias moves, both ledgers record it).
Scenario 3: the challenger's server is stopped after two rounds (its pods crash): its requests
fail with 503 and the error-ratio guardrail rolls it back.

Run from the repository root: `.venv/bin/python -m localrun.abtest_demo`. Needs `prometheus`.
"""

import io
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, redirect_stderr, redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import requests
from mlflow import MlflowClient
from sklearn.datasets import load_iris

from analysis.consistency import InconsistentEvidence
from infra.model_monitoring.config import PredictorTarget
from infra.seldon.routing import PREDICTOR_HEADER, predictor_host, virtual_service
from infra.stack_config import load_stack_file
from localrun.gateway_stand_in import GatewayStandIn
from localrun.local_forge import git, seeded_forge
from localrun.prometheus_server import (
    running_prometheus,
    wait_for_first_scrapes,
    wait_for_scrapes_after,
)
from localrun.server_process import ModelServerProcess
from model.cli import main as model_cli
from model.console import table
from model.promotion import promote
from model.store import Store
from release.forges import LocalBareRepoForge
from release.pinning import lock_from_store
from release.pins import dump_pins
from stacks.rollout import build_parser, run

REPO_ROOT = Path(__file__).resolve().parent.parent
DEPLOYMENT, NAMESPACE = "iris", "seldon"
WEAK_MODEL_PARAM = "C=0.003"
"""Heavy regularisation: about 0.8 accuracy on iris against 0.97 (5-fold CV)."""
REQUESTS_PER_ROUND = 300
PARALLEL_CLIENTS = 4
MAX_ROUNDS = 40
PLAN = (
    "      rollout: {steps: [10, 50, 100], minStepDuration: 10s,"
    " guardrails: {maxShadowDisagreement: 0.1}}\n"
)
FINAL = ("rollback", "promote", "keep", "refused")
LATENCY_TOLERANCE = "1.0"
"""Both servers share one busy machine here, so p95 latency is mostly noise: the guardrail
trips only when the challenger's p95 doubles (the cluster default is 0.2)."""


@dataclass
class Scenario:
    title: str
    champion_version: str
    challenger_version: str
    crash_challenger_after: int | None = None
    """Round after which the challenger's server is stopped (its pods crash)."""
    decisions: list[dict] = field(default_factory=list)
    final_traffic: dict[str, int] = field(default_factory=dict)
    tally: dict[str, dict[str, int]] = field(default_factory=dict)
    """What the clients sent per predictor: prediction requests, feedbacks, reward sum."""
    table: dict[str, dict] | None = None
    """The A/B rule's counts per predictor on Prometheus since the start (None: refused)."""


def train_versions(tracking_uri: str) -> tuple[str, str]:
    """(strong, weak) registered versions of iris, trained by `python -m model train`."""
    versions = []
    for extra in ([], ["--param", WEAK_MODEL_PARAM]):
        completed = subprocess.run(
            [sys.executable, "-m", "model", "train", "--json", "--tracking-uri", tracking_uri,
             *extra],
            cwd=REPO_ROOT, capture_output=True, text=True, timeout=600,
        )  # fmt: skip
        if completed.returncode not in (0, 3):  # 3: registered, but the gate kept it out
            raise RuntimeError(f"training failed:\n{completed.stderr}")
        versions.append(str(json.loads(completed.stdout)["version"]))
    return versions[0], versions[1]


def stack_file(directory: Path, champion: str, challenger: str, tracking_uri: str) -> Path:
    """A copy of Pulumi.dev.yaml serving iris versions `champion` (90 %) and `challenger`
    (10 %) by number, with a 10/50/100 rollout plan of 10 s steps, and its pins, on `main` of
    the forge double; returns the stack file of its clone."""
    text = (REPO_ROOT / "Pulumi.dev.yaml").read_text()
    head, _, tail = text.partition("      predictors:\n")
    head = head.partition("      rollout:\n")[0]  # dev's own plan gives way to the demo's
    tail = tail.replace("model: iris@champion", f"model: iris/{champion}", 1)
    tail = tail.replace("model: iris@challenger", f"model: iris/{challenger}", 1)
    tail = tail.replace("traffic: 50", "traffic: 90", 1).replace("traffic: 50", "traffic: 10", 1)
    draft = directory / "Pulumi.demo.yaml"
    draft.write_text(head + PLAN + "      predictors:\n" + tail)
    pins = dump_pins(lock_from_store(draft, Store.open(tracking_uri)))
    work, _ = seeded_forge(
        directory / "forge", {draft.name: draft.read_text(), "pins.demo.yaml": pins}
    )
    return work / draft.name


def live_targets(path: Path) -> list[PredictorTarget]:
    (iris,) = [d for d in load_stack_file(path).deployments if d.name == DEPLOYMENT]
    return [PredictorTarget(name=p.name, traffic=p.weight) for p in iris.predictors if not p.shadow]


def rendered_route(path: Path) -> dict:
    """The VirtualService the platform declares for the stack file's split."""
    return virtual_service(
        deployment=DEPLOYMENT,
        namespace=NAMESPACE,
        predictors=live_targets(path),
        gateway="istio-system/seldon-gateway",
    )


def model_server(tracking_uri: str, predictor: str, version: str) -> ModelServerProcess:
    """The real model server for `predictor`, serving iris `version` from the registry."""
    digest = MlflowClient(tracking_uri=tracking_uri).get_model_version("iris", version).tags
    return ModelServerProcess(
        f"models:/iris/{version}",
        env={
            "MLFLOW_TRACKING_URI": tracking_uri,
            "MODEL_DIGEST": digest.get("model_digest", ""),
            "SELDON_DEPLOYMENT_ID": DEPLOYMENT,
            "PREDICTOR_ID": predictor,
            "PREDICTOR_LABELS": json.dumps({"version": predictor}),
            "PREDICTIVE_UNIT_METRICS_ENDPOINT": "/prometheus",
            "SERVER_WORKERS": "1",
        },
    )


def _one_request(gateway: GatewayStandIn, prefix: str, index: int) -> tuple[str, int | None]:
    """A prediction for iris row `index`, then its feedback: reward 1 when the species is right
    (no feedback when the prediction failed)."""
    data = load_iris()
    row = data.data[index].tolist()
    answer = requests.post(
        f"{gateway.url}{prefix}/api/v1.0/predictions", json={"data": {"ndarray": [row]}}, timeout=30
    )
    predictor = answer.headers[PREDICTOR_HEADER]
    if answer.status_code != 200:
        return predictor, None
    body = answer.json()
    predicted = body["data"]["names"][int(np.argmax(body["data"]["ndarray"][0]))]
    reward = int(predicted == data.target_names[data.target[index]])
    requests.post(
        f"{gateway.url}{prefix}/api/v1.0/feedback",
        json={"request": {"data": {"ndarray": [row]}}, "response": body, "reward": reward},
        headers={PREDICTOR_HEADER: predictor},
        timeout=30,
    )
    return predictor, reward


def _send_round(
    gateway: GatewayStandIn, prefix: str, rng: np.random.Generator, tally: dict
) -> dict:
    """Predictions at the gateway's split, each followed by its feedback, a few at a time; the
    clients' counts are added to `tally`."""
    rows = rng.integers(0, len(load_iris().target), REQUESTS_PER_ROUND)
    with ThreadPoolExecutor(PARALLEL_CLIENTS) as pool:
        results = list(pool.map(lambda index: _one_request(gateway, prefix, index), rows))
    answered: dict[str, list[int | None]] = {}
    for predictor, reward in results:
        answered.setdefault(predictor, []).append(reward)
        counts = tally.setdefault(predictor, {"requests": 0, "feedback": 0, "reward": 0})
        counts["requests"] += 1
        counts["feedback"] += reward is not None
        counts["reward"] += reward or 0
    return {
        name: f"{sum(r for r in rewards if r)}/{len(rewards)} right"
        + (f", {rewards.count(None)} failed" if None in rewards else "")
        for name, rewards in sorted(answered.items())
    }


def _rollout_step(args, traffic: int, forge: LocalBareRepoForge) -> dict:
    """One run of `python -m stacks.rollout`, whose change the forge double merges, then the
    checkout pulls it (the deploy job's checkout); evidence it refuses is a step of its own,
    which leaves the challenger's `traffic` as it was."""
    try:
        (step,) = run(args, forge)
    except InconsistentEvidence as refused:
        return {"action": "refused", "traffic": traffic, "reason": str(refused)}
    git(args.stack_file.parent, "pull", "-q", "--ff-only")
    return step


def _ab_table(url: str, since: float) -> tuple[str, dict | None]:
    """`python -m model abtest` on everything since `since`: its text, and its counts from the
    same command with `--json` (None when it refused the evidence)."""
    command = ["abtest", "--prometheus-url", url, "--deployment", DEPLOYMENT, "--baseline",
               "champion", "--candidate", "challenger", "--since", str(since)]  # fmt: skip
    text, as_json = io.StringIO(), io.StringIO()
    with redirect_stdout(text), redirect_stderr(text):
        model_cli(command)
    with redirect_stdout(as_json), redirect_stderr(io.StringIO()):
        model_cli([*command, "--json"])
    return text.getvalue().rstrip(), json.loads(as_json.getvalue()).get("counts")


def _tally_table(tally: dict, counts: dict | None) -> str:
    """The clients' counts beside the A/B table's, predictor by predictor."""
    rows = []
    for name in sorted(tally):
        seen = (counts or {}).get(name, {})
        client = tally[name]
        rows.append(
            [name, client["requests"], seen.get("requests", "-"),
             f"{client['reward']}/{client['feedback']}",
             f"{seen.get('reward', 0):g}/{seen.get('feedback', 0)}" if seen else "-"]
        )  # fmt: skip
    headers = ["predictor", "sent", "A/B table", "reward/feedback sent", "A/B table"]
    return table(headers, rows)


def run_scenario(
    scenario: Scenario,
    workdir: Path,
    tracking_uri: str,
    prometheus_binary: str,
    serve: Callable[[str, str, str], ModelServerProcess],
) -> Scenario:
    """Serve, send rounds of traffic, decide and act until the rollout ends."""
    print(f"\n=== {scenario.title}")
    workdir.mkdir(parents=True)
    stack = stack_file(workdir, scenario.champion_version, scenario.challenger_version,
                       tracking_uri)  # fmt: skip
    forge = LocalBareRepoForge(stack.parent.parent / "forge.git")
    servers = {
        "champion": serve(tracking_uri, "champion", scenario.champion_version),
        "challenger": serve(tracking_uri, "challenger", scenario.challenger_version),
    }
    prefix = f"/seldon/{NAMESPACE}/{DEPLOYMENT}"
    with ExitStack() as stack_of_servers:
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(lambda server: server.start(), servers.values()))
        for server in servers.values():
            stack_of_servers.callback(server.stop)
        backends = {predictor_host(DEPLOYMENT, n, NAMESPACE): s.url for n, s in servers.items()}
        gateway = stack_of_servers.enter_context(
            GatewayStandIn(rendered_route(stack), backends, deployment=DEPLOYMENT)
        )
        targets = [f"127.0.0.1:{s.metrics_port}" for s in servers.values()]
        scrape = [
            {"job_name": "model-servers", "metrics_path": "/prometheus",
             "static_configs": [{"targets": targets, "labels": {"namespace": NAMESPACE}}]},
            {"job_name": "executor-stand-in", "metrics_path": "/metrics",
             "static_configs": [{"targets": [f"127.0.0.1:{gateway.metrics_port}"],
                                 "labels": {"namespace": NAMESPACE}}]},
        ]  # fmt: skip
        prometheus_dir = workdir / f"prometheus-{scenario.challenger_version}"
        prometheus_dir.mkdir()
        url = stack_of_servers.enter_context(
            running_prometheus(prometheus_binary, prometheus_dir, scrape)
        )
        wait_for_first_scrapes(url, len(targets) + 1)
        print(f"servers up; Prometheus {url}; stack file {stack}")
        rng = np.random.default_rng(7)
        started = time.time()
        for number in range(1, MAX_ROUNDS + 1):
            gateway.rules = rendered_route(stack)["spec"]["http"]  # what `pulumi up` applies
            split = {t.name: t.traffic for t in live_targets(stack)}
            sent = _send_round(gateway, prefix, rng, scenario.tally)
            wait_for_scrapes_after(url, time.time())
            args = build_parser().parse_args(
                ["--stack-file", str(stack), "--prometheus-url", url, "--deployment", DEPLOYMENT,
                 "--tracking-uri", tracking_uri, "--actor", "abtest-demo",
                 "--latency-tolerance", LATENCY_TOLERANCE]
            )  # fmt: skip
            step = _rollout_step(args, split["challenger"], forge)
            scenario.decisions.append(step)
            print(f"round {number:2d} at split {split}: {sent} -> rollout {step['action']} "
                  f"({step['traffic']}%): {step['reason']}")  # fmt: skip
            if step["action"] in FINAL:
                if "decision" in step:
                    seen = step["decision"]["counts"]["challenger"]["feedback"]
                    print(f"decided on {seen} challenger feedbacks since the rollout started")
                break
            if number == scenario.crash_challenger_after:
                servers["challenger"].stop()
                print("the challenger's server is stopped: its requests now fail with 503")
        print("\nA/B rule on the same Prometheus since the start:")
        text, scenario.table = _ab_table(url, started - 5)
        print(text)
        print("\nwhat the clients sent and what the A/B table counted:")
        print(_tally_table(scenario.tally, scenario.table))
        scenario.final_traffic = {t.name: t.traffic for t in live_targets(stack)}
        print(f"stack file now: {scenario.final_traffic}")
    return scenario


def main(
    prometheus_binary: str | None = None,
    serve: Callable[[str, str, str], ModelServerProcess] | None = None,
) -> list[Scenario]:
    """The three scenarios in a fresh registry; everything started is stopped on the way out.

    `serve(tracking_uri, predictor, version)` makes each model server (default: the real one,
    started as the image starts it)."""
    serve = serve or model_server
    binary = prometheus_binary or shutil.which("prometheus")
    if binary is None:
        raise SystemExit("prometheus not found on PATH: install Debian's 'prometheus' package")
    started = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="abtest-demo-"))
    try:
        tracking_uri = f"sqlite:///{workdir / 'mlflow.db'}"
        print(f"training a strong and a weaker iris model into {tracking_uri} ...", flush=True)
        strong, weak = train_versions(tracking_uri)
        promote("iris", strong, tracking_uri=tracking_uri, reason="abtest-demo: strong champion")
        first = run_scenario(
            Scenario(f"weaker challenger (version {weak}) against champion {strong}",
                     champion_version=strong, challenger_version=weak),
            workdir / "one", tracking_uri, binary, serve,
        )  # fmt: skip
        promote("iris", weak, tracking_uri=tracking_uri, force=True,
                reason="abtest-demo: a weak champion for the second scenario")  # fmt: skip
        second = run_scenario(
            Scenario(f"stronger challenger (version {strong}) against champion {weak}",
                     champion_version=weak, challenger_version=strong),
            workdir / "two", tracking_uri, binary, serve,
        )  # fmt: skip
        third = run_scenario(
            Scenario(f"challenger (version {strong}) whose server crashes after round 2",
                     champion_version=weak, challenger_version=strong, crash_challenger_after=2),
            workdir / "three", tracking_uri, binary, serve,
        )  # fmt: skip
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"\neverything stopped; the demo took {time.monotonic() - started:.0f}s")
    return [first, second, third]


if __name__ == "__main__":
    main()
