"""`make loop-demo`: the whole model loop on this machine, with real processes, printing a
timeline.

Real parts: an `mlflow server` (the registry and the signed ledgers), `python -m model train`, model
servers (`python -m serving`, as the image starts them) for the champion, the challenger and the
shadow, a real Prometheus evaluating the stack's rendered PrometheusRule and scraping the servers
and the gateway stand-in, the rollout tool, the champion guard and `python -m release`, a real
Alertmanager holding the routes the stack renders (its AlertmanagerConfig as the Prometheus operator
translates it, localrun/operator_translation.py) and the real retrain trigger (`python -m
continuous_training serve`, as its rendered Deployment runs it), which serves only TLS, as in the
cluster: its certificate is signed by a throwaway CA the demo makes (`localrun.tls_files`, standing
in for cert-manager's platform CA), given to the trigger by `RETRAIN_TLS_DIR` and to Alertmanager as
the webhook's `tls_config.ca_file` (the rendered AlertmanagerConfig's `tlsConfig.ca`). It receives
the drift alert with its bearer token and creates the training Job from the rendered CronJob through
the Kubernetes API. Stand-ins, for what cannot run here: the gateway stand-in
(`localrun.gateway_stand_in`) for Istio and the Seldon executors; the Kubernetes API double
(`localrun.kubernetes_api_double`) serving the rendered CronJobs, with `LocalJobRunner`
(`localrun.local_job_runner`) for the Job controller: it runs the Job's container command (`python
-m model train --model-name iris --data ... --skip-unchanged --json`) as a local process; a local
bare Git repository for the forge (`localrun.local_forge`), which merges the stack's changes at once
(`merge: auto`, dev's auto-merge); and the clone pulling `main` and restarting the servers whose pin
changed for the deploy job's `pulumi up`.

The stack is a copy of Pulumi.dev.yaml (stack `loop`) with short steps (rollout
`minStepDuration` 5 s, `driftFor` 1 s), training from a dataset in the artifact store rather
than the Git repository's DVC data (no forge holds the data here): a new snapshot of it is
published before the drift, so the triggered run's `--skip-unchanged` trains. The first
champion is deliberately weak (C=0.003, about 0.8 accuracy), so the retrained version wins its
canary quickly; its shadow disagreement bound is 0.3 because the weak champion disagrees with
the stronger candidate on about a fifth of the rows.

Timeline: new data -> drift injected -> drift alert (Prometheus) -> alert delivered
(Alertmanager) -> trigger accepted (its log) -> training started (the Job) -> retrained (gate)
-> candidate pinned on the shadow (commit) -> shadow agreement screened -> exposed as
challenger (commit) -> canary steps (commits) -> promotion (commit) -> champion degraded ->
guard rollback (commit).
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
from localrun.alertmanager_process import running_alertmanager
from localrun.gateway_stand_in import GatewayStandIn
from localrun.kubernetes_api_double import KubernetesApiDouble, running_api_double
from localrun.local_forge import git, seeded_forge
from localrun.local_job_runner import LocalJobRunner, LocalRun
from localrun.mlflow_registry import LocalMlflowServer
from localrun.operator_translation import rendered_alertmanager_config
from localrun.process_group import free_port
from localrun.prometheus_server import (
    running_prometheus,
    wait_for_first_scrapes,
    wait_for_scrapes_after,
)
from localrun.server_process import ModelServerProcess
from localrun.trigger_process import TriggerProcess
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
MAX_ROUNDS = 30
ALERT_TIMEOUT_S = 180
GATEWAY = "istio-system/seldon-gateway"
NEW_DATA = "mlflow-artifacts:/0/datasets/iris-snapshot-2.csv"
"""The stack's training dataset; published (a new snapshot) before the drift."""
DELIVERY_TIMEOUT_S = 180
GUARD_WINDOW_S = 30


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
    candidate, short rollout steps, drift window and retrain alert grouping."""
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
    iris["training"].pop("data", None)
    iris["training"]["dataset"] = NEW_DATA
    iris["training"]["retrainGroupWait"] = "1s"
    config["mlops-platform:monitoring"]["driftFor"] = "1s"
    path = directory / f"Pulumi.{STACK}.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    load_stack_file(path)
    return path


def train(tracking_uri: str, *extra: str) -> str:
    """`python -m model train` of the bootstrap champion; the registered version."""
    done = subprocess.run(
        [sys.executable, "-m", "model", "train", "--json", "--tracking-uri", tracking_uri, *extra],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"training failed or its gate did (exit {done.returncode}):\n"
                           f"{done.stderr[-2000:]}")  # fmt: skip
    return str(json.loads(done.stdout)["version"])


def publish_new_data(directory: Path) -> None:
    """A new snapshot of iris (the same rows in a new order, so its hash differs) at NEW_DATA,
    as an operator would upload it."""
    from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

    bunch = load_iris(as_frame=True)
    frame = bunch.data.copy()
    frame.columns = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    frame["species"] = [str(bunch.target_names[code]) for code in bunch.target]
    path = directory / NEW_DATA.rsplit("/", 1)[1]
    frame.sample(frac=1.0, random_state=7).to_csv(path, index=False)
    get_artifact_repository(NEW_DATA.rsplit("/", 1)[0]).log_artifact(str(path))


def retrained_version(run: LocalRun) -> str:
    """The version the triggered run registered (it passed its gate); else why the demo stops."""
    if not run.done.wait(900):
        raise RuntimeError(f"the training Job {run.job} did not finish")
    if run.returncode != 0:
        raise RuntimeError(f"the training Job failed or its gate did (exit {run.returncode}):\n"
                           f"{run.stderr[-2000:]}")  # fmt: skip
    result = json.loads(run.stdout)
    if "version" not in result:
        raise RuntimeError(f"the training Job registered nothing: {result}")
    return str(result["version"])


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
        self.prometheus = ""
        """The URL of the Prometheus scraping it, once started."""

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
    wait_for_scrapes_after(cluster.prometheus, time.time())
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


def wait_for_delivery(alertmanager: str) -> int:
    """Alertmanager's count of successful webhook notifications, once there is one."""
    deadline = time.monotonic() + DELIVERY_TIMEOUT_S
    while time.monotonic() < deadline:
        sent = failed = 0.0
        for line in requests.get(f"{alertmanager}/metrics", timeout=10).text.splitlines():
            if 'integration="webhook"' in line and not line.startswith("#"):
                if line.startswith("alertmanager_notifications_total"):
                    sent += float(line.rsplit(" ", 1)[1])
                elif line.startswith("alertmanager_notifications_failed_total"):
                    failed += float(line.rsplit(" ", 1)[1])
        if sent - failed >= 1:
            return int(sent - failed)
        time.sleep(1)
    raise RuntimeError(f"Alertmanager delivered no webhook within {DELIVERY_TIMEOUT_S}s")


def wait_for_trigger(trigger: TriggerProcess) -> dict:
    """The trigger's log record of the retrain it started."""
    deadline = time.monotonic() + DELIVERY_TIMEOUT_S
    while time.monotonic() < deadline:
        for line in trigger.log.read_text().splitlines():
            if '"event": "retrain started"' in line:
                return json.loads(line[line.index("{") :])
        time.sleep(0.5)
    raise RuntimeError(f"the trigger started no retrain within {DELIVERY_TIMEOUT_S}s; "
                       f"its log: {trigger.log}")  # fmt: skip


def start_trigger(objects: dict, workdir: Path, api: KubernetesApiDouble, token: str):
    """The real trigger as its rendered Deployment runs it, the rendered CronJobs served by the
    API double."""
    for cronjob in (o for o in objects.values() if o.get("kind") == "CronJob"):
        api.add_cronjob(cronjob)
    (deployment,) = [o for o in objects.values() if o.get("kind") == "Deployment"
                     and o["metadata"]["name"] == "retrain-trigger"]  # fmt: skip
    kubeconfig = api.kubeconfig(workdir, secrets.token_urlsafe(16))
    return TriggerProcess(deployment, token=token, kubeconfig=kubeconfig, workdir=workdir)


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


def run_loop(
    workdir: Path, prometheus_binary: str, alertmanager_binary: str
) -> tuple[Timeline, Path]:
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

        objects = documents(render_stack(STACK, stack_file))
        groups = [group for d in objects.values() if d.get("kind") == "PrometheusRule"
                  for group in d["spec"]["groups"]]  # fmt: skip
        rules = workdir / "rules.yml"
        rules.write_text(yaml.safe_dump({"groups": groups}))
        api = exits.enter_context(running_api_double())
        api.on_create = jobs = LocalJobRunner()
        token = secrets.token_urlsafe(32)
        (workdir / "trigger").mkdir()
        trigger = exits.enter_context(start_trigger(objects, workdir / "trigger", api, token))
        (workdir / "alertmanager").mkdir()
        alertmanager = exits.enter_context(running_alertmanager(
            alertmanager_binary, workdir / "alertmanager",
            rendered_alertmanager_config(
                objects, trigger.url, token, trigger.ca_file)))  # fmt: skip
        cluster = Cluster(stack_file, uri, exits)
        cluster.apply()
        (workdir / "prometheus").mkdir()
        alerting = {"alertmanagers": [{"static_configs": [
            {"targets": [alertmanager.removeprefix("http://")]}]}]}  # fmt: skip
        prometheus = exits.enter_context(running_prometheus(
            prometheus_binary, workdir / "prometheus", cluster.scrape_configs(),
            extra_config={"rule_files": [str(rules)], "alerting": alerting}))  # fmt: skip
        wait_for_first_scrapes(prometheus, len(cluster.servers) + 1)
        cluster.prometheus = prometheus

        publish_new_data(workdir)
        timeline.add("new data", f"a new snapshot of iris at {NEW_DATA}")
        send(cluster, rng, drifted=True)
        timeline.add("drift injected", f"{ROUND} requests with petal_length +5 cm")
        alert = wait_for_alert(prometheus, "ModelFeatureDrift")
        timeline.add("drift alert", f"Prometheus: ModelFeatureDrift firing "
                     f"({alert['labels'].get('feature')})")  # fmt: skip
        delivered = wait_for_delivery(alertmanager)
        timeline.add("alert delivered", f"Alertmanager: {delivered} webhook notification(s) "
                     f"to the retrain trigger at {trigger.url}, its certificate verified with "
                     "the demo CA")  # fmt: skip
        accepted = wait_for_trigger(trigger)
        timeline.add("trigger accepted", f"retrain trigger: {accepted['detail']} "
                     f"(alert {accepted['alert']})")  # fmt: skip
        run = jobs.wait_for_run(DELIVERY_TIMEOUT_S)
        timeline.add("training started", f"Job {run.job}: {' '.join(run.command[1:])}")
        retrained = retrained_version(run)
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
        # The promotion restarted the servers: their counters start again. The guard's window
        # must begin after that, or Prometheus extrapolates the new series back to the edge.
        promoted = time.monotonic()
        while time.monotonic() - promoted < GUARD_WINDOW_S + 5:
            send(cluster, rng)

        cluster.servers["champion"].stop()
        send(cluster, rng)
        send(cluster, rng)
        timeline.add("champion degraded", "the champion's server stopped: its requests fail (5xx)")
        checks = guard.run(guard.build_parser().parse_args(
            ["--stack-file", str(stack_file), "--prometheus-url", prometheus,
             "--tracking-uri", uri, "--window", f"{GUARD_WINDOW_S}s", "--actor", "loop-demo",
             "--min-requests", "50"]))  # fmt: skip
        (check,) = checks
        if check["action"] != "rollback":
            raise RuntimeError(f"the guard did not roll back: {check}")
        cluster.apply()
        timeline.add("guard rollback", check["reason"], head_commit(forge.bare))
    return timeline, forge.bare


def main(
    prometheus_binary: str | None = None, alertmanager_binary: str | None = None
) -> tuple[Timeline, Path]:
    """Run the loop in a fresh directory; returns the timeline and the forge's bare repository
    (kept for reading its history; the directory is printed)."""
    binary = prometheus_binary or shutil.which("prometheus")
    if binary is None:
        raise SystemExit("prometheus not found on PATH: install Debian's 'prometheus' package")
    alertmanager = (
        alertmanager_binary
        or shutil.which("prometheus-alertmanager")  # Debian's name
        or shutil.which("alertmanager")
    )
    if alertmanager is None:
        raise SystemExit(
            "alertmanager not found on PATH: install Debian's 'prometheus-alertmanager' package"
        )
    workdir = Path(tempfile.mkdtemp(prefix="loop-demo-"))
    os.environ.setdefault(LEDGER_KEY_ENV, secrets.token_urlsafe(32))
    os.environ["MLOPS_FORGE"] = "local"
    timeline, bare = run_loop(workdir, binary, alertmanager)
    print(f"\nthe forge's history ({bare}):")
    print(git(bare, "log", "--format=%h %s", "main"))
    return timeline, bare


if __name__ == "__main__":
    # SIGTERM unwinds like Ctrl-C, so every server started here is stopped on the way out.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    main()
