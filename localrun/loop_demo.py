"""`make loop-demo`: the whole model loop on this machine, with real processes, printing a
timeline.

Real parts: an `mlflow server` (the registry and the signed ledgers), `python -m model train`,
model servers (`python -m serving`, as the image starts them) for the champion, the challenger
and the shadow, a real Prometheus evaluating the stack's rendered PrometheusRule and scraping
the servers and the gateway stand-in, the rollout tool, the champion guard and `python -m
release`. Stand-ins, for what cannot run here: the gateway stand-in (`localrun.gateway_stand_in`)
for Istio and the Seldon executors; a local bare Git repository for the forge
(`localrun.local_forge`), which merges the stack's changes at once (`merge: auto`, dev's
auto-merge); the clone pulling `main` and restarting the servers whose pin changed stands in
for the deploy job's `pulumi up`; and the retrain trigger's Job runs here as the local process
it would start (`python -m model train`) once Prometheus fires the drift alert.

The stack is a copy of Pulumi.dev.yaml (stack `loop`) with short steps (rollout
`minStepDuration` 5 s, `driftFor` 1 s). The first champion is deliberately weak (C=0.003,
about 0.8 accuracy), so the retrained version wins its canary quickly; its shadow disagreement
bound is 0.3 because the weak champion disagrees with the stronger candidate on about a fifth
of the rows.

Timeline: drift injected -> drift alert -> retrained (gate) -> candidate pinned on the shadow
(commit) -> shadow agreement screened -> exposed as challenger (commit) -> canary steps
(commits) -> promotion (commit) -> champion degraded -> guard rollback (commit).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import requests
import yaml
from sklearn.datasets import load_iris

from infra.model_monitoring.config import PredictorTarget
from infra.seldon.routing import PREDICTOR_HEADER, predictor_host, virtual_service
from infra.stack_config import load_stack_file
from localrun.gateway_stand_in import GatewayStandIn
from localrun.local_forge import git, seeded_forge
from localrun.mlflow_registry import LocalMlflowServer
from localrun.process_group import free_port
from localrun.prometheus_server import running_prometheus, wait_for_first_scrapes
from localrun.server_process import ModelServerProcess
from model.ledger_signing import LEDGER_KEY_ENV
from model.promotion import expose, promote
from model.store import Store
from release.__main__ import main as release_main
from release.pinning import lock_from_store
from release.pins import Pin, dump_pins, pin_file_for, read_pins
from stacks import guard, rollout
from stacks.render import documents, render_stack

REPO_ROOT = Path(__file__).resolve().parent.parent
STACK, DEPLOYMENT, NAMESPACE = "loop", "iris", "seldon"
KEY = f"{NAMESPACE}/{DEPLOYMENT}"
WEAK = ["--param", "C=0.003"]
DRIFTED_FEATURE = 2
"""petal_length: shifted by +5 cm in the injected traffic."""
ROUND = 240
CLIENTS = 4
SCRAPE_WAIT_S = 2.5
MAX_ROUNDS = 30
ALERT_TIMEOUT_S = 180
GATEWAY = "istio-system/seldon-gateway"


@dataclass
class Event:
    at: float
    step: str
    detail: str
    commit: str | None = None


@dataclass
class Timeline:
    started: float = field(default_factory=time.monotonic)
    events: list[Event] = field(default_factory=list)

    def add(self, step: str, detail: str, commit: str | None = None) -> None:
        event = Event(time.monotonic() - self.started, step, detail, commit)
        self.events.append(event)
        tail = f"  [commit {commit[:10]}]" if commit else ""
        print(f"[{event.at:7.1f}s] {step:<18} {detail}{tail}", flush=True)

    def steps(self) -> list[str]:
        return [e.step for e in self.events]


def loop_stack(directory: Path) -> Path:
    """Pulumi.dev.yaml as stack `loop`: champion 100 %, challenger 0 %, the shadow on the
    candidate, short rollout steps and drift window."""
    document = yaml.safe_load((REPO_ROOT / "Pulumi.dev.yaml").read_text())
    config = document["config"]
    (iris,) = config["mlops-platform:deployments"]
    iris["rollout"].update(steps=[10, 50, 100], minStepDuration="5s", promoteWhen="better")
    iris["rollout"].pop("margin", None)
    iris["rollout"]["guardrails"]["maxShadowDisagreement"] = 0.3
    iris["rollout"]["guardrails"]["latencyTolerance"] = 1.0
    for predictor in iris["predictors"]:
        if not predictor.get("shadow"):
            predictor["traffic"] = 100 if predictor["name"] == "champion" else 0
    config["mlops-platform:monitoring"]["driftFor"] = "1s"
    path = directory / f"Pulumi.{STACK}.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    load_stack_file(path)
    return path


def train(tracking_uri: str, *extra: str) -> str:
    """`python -m model train` (the retrain Job's command); the registered version, which
    passed its quality gate (exit 3, a failed gate, stops the demo)."""
    done = subprocess.run(
        [sys.executable, "-m", "model", "train", "--json", "--tracking-uri", tracking_uri, *extra],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"training failed or its gate did (exit {done.returncode}):\n"
                           f"{done.stderr[-2000:]}")  # fmt: skip
    return str(json.loads(done.stdout)["version"])


class Cluster:
    """What `pulumi up` of the checkout's stack file and pins would run: one model server per
    predictor at its pinned version, the gateway routing the stack file's split and mirror."""

    def __init__(self, stack_file: Path, tracking_uri: str, exits: ExitStack):
        self.stack_file, self.tracking_uri, self.exits = stack_file, tracking_uri, exits
        self.servers: dict[str, ModelServerProcess] = {}
        self.serving: dict[str, Pin] = {}
        self.metrics_ports: dict[str, int] = {}
        """Per predictor, kept across restarts: Prometheus's targets stay the same."""
        self.gateway: GatewayStandIn | None = None

    def predictors(self) -> list[dict]:
        config = yaml.safe_load(self.stack_file.read_text())["config"]
        return config["mlops-platform:deployments"][0]["predictors"]

    def targets(self) -> list[PredictorTarget]:
        return [PredictorTarget(name=p["name"], traffic=p.get("mirrorPercent", 100)
                                if p.get("shadow") else p["traffic"], shadow=bool(p.get("shadow")))
                for p in self.predictors()]  # fmt: skip

    def apply(self) -> list[str]:
        """Pull main, restart the servers whose pin changed, route the new split; the names of
        the restarted predictors."""
        git(self.stack_file.parent, "pull", "-q", "--ff-only")
        pins = read_pins(pin_file_for(self.stack_file)).deployments[KEY]
        changed = [name for name, pin in pins.items() if self.serving.get(name) != pin]
        starting = {name: self._server(name, pins[name], pins["champion"]) for name in changed}
        for name in changed:
            if name in self.servers:
                self.servers[name].stop()
        with ThreadPoolExecutor(len(starting) or 1) as pool:
            list(pool.map(lambda server: server.start(), starting.values()))
        for name, server in starting.items():
            self.exits.callback(server.stop)
            self.servers[name], self.serving[name] = server, pins[name]
        route = virtual_service(
            deployment=DEPLOYMENT, namespace=NAMESPACE, predictors=self.targets(), gateway=GATEWAY
        )
        backends = {
            predictor_host(DEPLOYMENT, n, NAMESPACE): s.url for n, s in self.servers.items()
        }
        if self.gateway is None:
            self.gateway = self.exits.enter_context(
                GatewayStandIn(route, backends, deployment=DEPLOYMENT)
            )
        self.gateway.rules, self.gateway.backends = route["spec"]["http"], backends
        return changed

    def _server(self, name: str, pin: Pin, champion: Pin) -> ModelServerProcess:
        env = {
            "MLFLOW_TRACKING_URI": self.tracking_uri,
            "MODEL_DIGEST": pin.digest,
            "SELDON_DEPLOYMENT_ID": DEPLOYMENT,
            "PREDICTOR_ID": name,
            "PREDICTIVE_UNIT_ID": "model",
            "PREDICTOR_LABELS": json.dumps({"version": pin.version}),
            "PREDICTIVE_UNIT_METRICS_ENDPOINT": "/prometheus",
            "DRIFT_MIN_ROWS": "10",
            "SERVER_WORKERS": "1",
        }
        if name == "shadow":  # compares each mirrored row with the champion's answer
            env.update(COMPARE_MODEL_URI=f"models:/{champion.model}/{champion.version}",
                       COMPARE_MODEL_DIGEST=champion.digest)  # fmt: skip
        port = self.metrics_ports.setdefault(name, free_port())
        return ModelServerProcess(f"models:/{pin.model}/{pin.version}", env=env, metrics_port=port)

    def scrape_configs(self) -> list[dict]:
        """Every predictor's server by its fixed metrics port, and the gateway's executors."""
        servers = [
            {"targets": [f"127.0.0.1:{s.metrics_port}"],
             "labels": {"namespace": NAMESPACE, "pod": f"{DEPLOYMENT}-{n}-0", "container": "model"}}
            for n, s in self.servers.items()
        ]  # fmt: skip
        return [
            {"job_name": "seldon/iris-seldon-pods", "metrics_path": "/prometheus",
             "static_configs": servers},
            {"job_name": "executor-stand-in", "metrics_path": "/metrics",
             "static_configs": [{"targets": [f"127.0.0.1:{self.gateway.metrics_port}"],
                                 "labels": {"namespace": NAMESPACE}}]},
        ]  # fmt: skip


def send(cluster: Cluster, rng: np.random.Generator, *, drifted: bool = False) -> dict:
    """A round of predictions through the gateway, each followed by its feedback (reward 1 when
    the species is right); per predictor: answered, failed, right."""
    data = load_iris()
    prefix = f"{cluster.gateway.url}/seldon/{NAMESPACE}/{DEPLOYMENT}"

    def one(index: int) -> tuple[str, int | None]:
        row = data.data[index].tolist()
        if drifted:
            row[DRIFTED_FEATURE] += 5.0
        answer = requests.post(f"{prefix}/api/v1.0/predictions",
                               json={"data": {"ndarray": [row]}}, timeout=30)  # fmt: skip
        predictor = answer.headers.get(PREDICTOR_HEADER, "?")
        if answer.status_code != 200:
            return predictor, None
        body = answer.json()
        predicted = body["data"]["names"][int(np.argmax(body["data"]["ndarray"][0]))]
        right = int(data.target_names[data.target[index]] == predicted)
        requests.post(f"{prefix}/api/v1.0/feedback", headers={PREDICTOR_HEADER: predictor},
                      json={"request": {"data": {"ndarray": [row]}}, "response": body,
                            "reward": right}, timeout=30)  # fmt: skip
        return predictor, right

    with ThreadPoolExecutor(CLIENTS) as pool:
        results = list(pool.map(one, rng.integers(0, len(data.target), ROUND)))
    summary: dict[str, dict[str, int]] = {}
    for predictor, right in results:
        counts = summary.setdefault(predictor, {"answered": 0, "failed": 0, "right": 0})
        counts["answered" if right is not None else "failed"] += 1
        counts["right"] += right or 0
    time.sleep(SCRAPE_WAIT_S)
    return summary


def wait_for_alert(prometheus: str, name: str) -> dict:
    deadline = time.monotonic() + ALERT_TIMEOUT_S
    while time.monotonic() < deadline:
        alerts = requests.get(f"{prometheus}/api/v1/alerts", timeout=10).json()["data"]["alerts"]
        firing = [a for a in alerts if a["labels"]["alertname"] == name and a["state"] == "firing"]
        if firing:
            return firing[0]
        time.sleep(2)
    raise RuntimeError(f"{name} did not fire within {ALERT_TIMEOUT_S}s")


def head_commit(forge_git: Path) -> str:
    return git(forge_git, "rev-parse", "main")


def rollout_step(stack_file: Path, prometheus: str, tracking_uri: str) -> dict:
    args = rollout.build_parser().parse_args(
        ["--stack-file", str(stack_file), "--prometheus-url", prometheus, "--deployment",
         DEPLOYMENT, "--tracking-uri", tracking_uri, "--actor", "loop-demo",
         "--latency-tolerance", "1.0", "--min-samples", "50"]
    )  # fmt: skip
    (step,) = rollout.run(args)
    return step


def run_loop(workdir: Path, prometheus_binary: str) -> tuple[Timeline, Path]:
    timeline = Timeline()
    rng = np.random.default_rng(11)
    with ExitStack() as exits:
        mlflow = exits.enter_context(LocalMlflowServer(workdir / "mlflow"))
        uri = mlflow.url
        os.environ["MLFLOW_TRACKING_URI"] = uri
        first = train(uri, *WEAK)
        promote("iris", first, tracking_uri=uri, reason="loop-demo: first champion")
        expose("iris", tracking_uri=uri, reason="loop-demo: bootstrap challenger")
        draft = loop_stack(workdir)
        pins = dump_pins(lock_from_store(draft, Store.open(uri)))
        files = {draft.name: draft.read_text(), pin_file_for(draft).name: pins}
        work, forge = seeded_forge(workdir / "forge", files)
        stack_file = work / draft.name
        timeline.add("bootstrap", f"champion, challenger and candidate: iris version {first}")

        (rule,) = [d for d in documents(render_stack(STACK, stack_file)).values()
                   if d.get("kind") == "PrometheusRule"]  # fmt: skip
        rules = workdir / "rules.yml"
        rules.write_text(yaml.safe_dump({"groups": rule["spec"]["groups"]}))
        cluster = Cluster(stack_file, uri, exits)
        cluster.apply()
        (workdir / "prometheus").mkdir()
        prometheus = exits.enter_context(running_prometheus(
            prometheus_binary, workdir / "prometheus", cluster.scrape_configs(),
            extra_config={"rule_files": [str(rules)]}))  # fmt: skip
        wait_for_first_scrapes(prometheus, len(cluster.servers) + 1)

        send(cluster, rng, drifted=True)
        timeline.add("drift injected", f"{ROUND} requests with petal_length +5 cm")
        alert = wait_for_alert(prometheus, "ModelFeatureDrift")
        timeline.add("drift alert", f"ModelFeatureDrift firing ({alert['labels'].get('feature')})")

        retrained = train(uri)
        timeline.add("retrained", f"iris version {retrained} passed its gate -> candidate")
        assert release_main(["follow", "--stack", STACK, "--stack-file", str(stack_file),
                             "--alias", "candidate", "--tracking-uri", uri]) == 0  # fmt: skip
        restarted = cluster.apply()
        timeline.add("candidate pinned", f"shadow serves version {retrained} ({restarted})",
                     head_commit(forge.bare))  # fmt: skip

        exposed = None
        for _ in range(MAX_ROUNDS):
            send(cluster, rng)
            step = rollout_step(stack_file, prometheus, uri)
            print(f"           rollout: {step['action']} ({step['reason']})", flush=True)
            if step["action"] == "expose":
                exposed = step
                break
        if exposed is None:
            raise RuntimeError(f"the candidate was never exposed: {step}")
        timeline.add("shadow agreement", exposed["reason"])
        cluster.apply()
        timeline.add("exposed", f"challenger serves version {retrained} at "
                     f"{exposed['traffic']}%", head_commit(forge.bare))  # fmt: skip

        for _ in range(MAX_ROUNDS):
            sent = send(cluster, rng)
            step = rollout_step(stack_file, prometheus, uri)
            print(f"           rollout: {step['action']} ({step['reason']})", flush=True)
            if step["action"] in ("start", "wait"):
                continue
            cluster.apply()
            commit = head_commit(forge.bare) if step.get("change_request") else None
            if step["action"] == "advance":
                timeline.add("canary step", f"challenger -> {step['traffic']}% ({sent})", commit)
                continue
            timeline.add("promotion" if step["action"] == "promote" else step["action"],
                         step["reason"], commit)  # fmt: skip
            break
        if timeline.steps()[-1] != "promotion":
            raise RuntimeError(f"the canary did not end in a promotion: {step}")

        cluster.servers["champion"].stop()
        send(cluster, rng)
        send(cluster, rng)
        timeline.add("champion degraded", "the champion's server stopped: its requests fail (5xx)")
        checks = guard.run(guard.build_parser().parse_args(
            ["--stack-file", str(stack_file), "--prometheus-url", prometheus,
             "--tracking-uri", uri, "--window", "30s", "--actor", "loop-demo",
             "--min-requests", "50"]))  # fmt: skip
        (check,) = checks
        if check["action"] != "rollback":
            raise RuntimeError(f"the guard did not roll back: {check}")
        cluster.apply()
        timeline.add("guard rollback", check["reason"], head_commit(forge.bare))
    return timeline, forge.bare


def main(prometheus_binary: str | None = None) -> tuple[Timeline, Path]:
    """Run the loop in a fresh directory; returns the timeline and the forge's bare repository
    (kept for reading its history; the directory is printed)."""
    binary = prometheus_binary or shutil.which("prometheus")
    if binary is None:
        raise SystemExit("prometheus not found on PATH: install Debian's 'prometheus' package")
    workdir = Path(tempfile.mkdtemp(prefix="loop-demo-"))
    os.environ.setdefault(LEDGER_KEY_ENV, secrets.token_urlsafe(32))
    os.environ["MLOPS_FORGE"] = "local"
    timeline, bare = run_loop(workdir, binary)
    print(f"\nthe forge's history ({bare}):")
    print(git(bare, "log", "--format=%h %s", "main"))
    return timeline, bare


if __name__ == "__main__":
    # SIGTERM unwinds like Ctrl-C, so every server started here is stopped on the way out.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    main()
