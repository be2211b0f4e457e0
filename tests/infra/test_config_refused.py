"""Invalid stack files the red team found accepted (issue 22, item 10) and more of their kind:
each is refused by the render CLI (`python -m stacks.render --config-file`) with exit 2, the
message names the file and the key path, and nothing is written."""

import math
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from stacks.render import main as render_main
from tests.support.stacks import REPO_ROOT
from tests.training.support import of_kind, rendered_objects

P = "mlops-platform:"


def _deployments(values: dict) -> list[dict]:
    return values[f"{P}deployments"]


def flat(key: str, value) -> Callable[[dict], None]:
    return lambda values: values.__setitem__(f"{P}{key}", value)


def monitoring(key: str, value) -> Callable[[dict], None]:
    return lambda values: values[f"{P}monitoring"].__setitem__(key, value)


def first(key: str, value) -> Callable[[dict], None]:
    return lambda values: _deployments(values)[0].__setitem__(key, value)


def training(key: str, value) -> Callable[[dict], None]:
    return lambda values: _deployments(values)[0]["training"].__setitem__(key, value)


def add_deployment(name: str, predictor: str, namespace: str = "seldon") -> Callable[[dict], None]:
    def mutate(values: dict) -> None:
        _deployments(values).append(
            {
                "name": name,
                "namespace": namespace,
                "predictors": [{"name": predictor, "model": "iris@champion"}],
            }
        )

    return mutate


def both(*mutations: Callable[[dict], None]) -> Callable[[dict], None]:
    def mutate(values: dict) -> None:
        for mutation in mutations:
            mutation(values)

    return mutate


def rename(old: str, new: str) -> Callable[[dict], None]:
    def mutate(values: dict) -> None:
        values[new] = values.pop(old)

    return mutate


def rollout(**fields) -> dict:
    return {"steps": [50, 100], "minStepDuration": "1h",
            "guardrails": {"maxShadowDisagreement": 0.05}, **fields}  # fmt: skip


def rollout_on_wine(values: dict) -> None:
    _deployments(values)[1]["rollout"] = rollout()


def single_live_predictor(values: dict) -> None:
    iris = _deployments(values)[0]
    iris["predictors"] = [p for p in iris["predictors"] if p["name"] != "challenger"]
    iris["predictors"][0]["traffic"] = 100
    iris["rollout"] = rollout()


def shadow_model(model: str) -> Callable[[dict], None]:
    def mutate(values: dict) -> None:
        iris = _deployments(values)[0]
        next(p for p in iris["predictors"] if p.get("shadow"))["model"] = model

    return mutate


def rollout_guardrails(**guardrails) -> Callable[[dict], None]:
    return lambda values: _deployments(values)[0]["rollout"].__setitem__("guardrails", guardrails)


def predictor_resources(limits_memory: str) -> Callable[[dict], None]:
    resources = {"requests": {"cpu": "100m", "memory": "64Mi"},
                 "limits": {"cpu": "1", "memory": limits_memory}}  # fmt: skip
    return lambda values: _deployments(values)[0]["predictors"][0].__setitem__(
        "resources", resources
    )


def wine_predictor(name: str) -> Callable[[dict], None]:
    def mutate(values: dict) -> None:
        predictors = _deployments(values)[1]["predictors"]
        predictors[0]["traffic"] = 100
        predictors.append({"name": name, "model": "wine@champion", "traffic": 0})

    return mutate


def champion(key: str, value, deployment: int = 0) -> Callable[[dict], None]:
    return lambda values: _deployments(values)[deployment]["predictors"][0].__setitem__(key, value)


def logging_option(key: str, value) -> Callable[[dict], None]:
    return lambda values: _deployments(values)[0]["requestLogging"].__setitem__(key, value)


def scoring_option(key: str, value) -> Callable[[dict], None]:
    return lambda values: _deployments(values)[0]["batchScoring"].__setitem__(key, value)


def train_on(uri: str, deployment: int = 0) -> Callable[[dict], None]:
    """The deployment's training reads `uri` (a file in the artifact store) instead of DVC."""

    def mutate(values: dict) -> None:
        training = _deployments(values)[deployment]["training"]
        training.pop("data", None)
        training["dataset"] = uri

    return mutate


REQUEST_LOGS = "mlflow-artifacts:/0/request-logs/seldon"
IRIS_LABELLED = f"{REQUEST_LOGS}/iris/labelled.parquet"

D0, D1 = f"{P}deployments[0]", f"{P}deployments[1]"

# id -> (stack, mutation, key path named, words of the message)
FOUND_BY_THE_RED_TEAM = {
    "latency-slo-inf": ("prod", monitoring("latencySloSeconds", math.inf),
                        f"{P}monitoring.latencySloSeconds", "finite"),
    "drift-threshold-inf": ("prod", monitoring("driftPsiThreshold", math.inf),
                            f"{P}monitoring.driftPsiThreshold", "finite"),
    "latency-slo-nan": ("dev", monitoring("latencySloSeconds", math.nan),
                        f"{P}monitoring.latencySloSeconds", "finite"),
    "duration-20000w": ("prod", monitoring("driftFor", "20000w"),
                        f"{P}monitoring.driftFor", "out of Prometheus' range"),
    "two-deployments-one-service": ("prod", add_deployment("iris-champion", "model"),
                                    f"{P}deployments[2].predictors[0].name", "already the one of"),
    "route-to-retrain-trigger": ("prod", add_deployment("retrain", "trigger"),
                                 f"{P}deployments[2].predictors[0].name",
                                 "the platform declares itself"),
    "one-pulumi-name-twice": (
        "prod",
        both(flat("servingNamespaces", ["seldon", "seldon-a"]),
             add_deployment("a-b", "champion"), add_deployment("b", "champion", "seldon-a")),
        f"{P}deployments[3].name", "declared twice"),
    "namespace-local-path-storage": ("local", first("namespace", "local-path-storage"),
                                     f"{D0}.namespace", "servingNamespaces"),
    "namespace-kube-flannel": ("local", first("namespace", "kube-flannel"),
                               f"{D0}.namespace", "servingNamespaces"),
    "cron-reversed-range": ("prod", training("schedule", "5-1 3 * * 0"),
                            f"{D0}.training.schedule", "Kubernetes would refuse"),
    "cron-arabic-indic-digits": ("prod", training("schedule", "\u0665 \u0663 * * \u0660"),
                                 f"{D0}.training.schedule", "minute field"),
    "dataset-dot-dot": ("prod", training("dataset", "mlflow-artifacts:/0/datasets/../../1/x.csv"),
                        f"{D0}.training.dataset", "'..'"),
    "one-byte-memory-limit": (
        "prod",
        first("resources", {"requests": {"cpu": "1", "memory": "1"},
                            "limits": {"cpu": "2", "memory": "1"}}),  # fmt: skip
        f"{D0}.resources.limits.memory", "below the floor"),
    "latest-image": ("local", flat("mlflowImage", "ghcr.io/mlflow/mlflow:latest"),
                     f"{P}mlflowImage", "':latest' moves"),
    "rollout-one-predictor": ("prod", rollout_on_wine, D1, "two non-shadow predictors"),
    "prod-public-without-jwt": ("prod", flat("predictionAuth", "none"),
                                f"{P}predictionAuth", "would open every model"),
    "http-registry-outside-local": ("dev", flat("registryUri", "http://mlflow.example.com"),
                                    f"{P}registryUri", "in clear"),
    "project-key-typo": ("dev", rename(f"{P}ingressDomain", "mlops-platfrom:ingressDomain"),
                         "mlops-platfrom:ingressDomain",
                         "did you mean 'mlops-platform:ingressDomain'"),
}  # fmt: skip

MORE_OF_THEIR_KIND = {
    "retrain-group-wait-not-a-duration": ("prod", training("retrainGroupWait", "half a minute"),
                                          f"{D0}.training.retrainGroupWait", "pattern"),
    "cron-day-of-week-7": ("prod", training("schedule", "0 3 * * 7"),
                           f"{D0}.training.schedule", "outside 0-6"),
    "cron-day-of-week-range-to-7": ("prod", training("schedule", "0 3 * * 1-7"),
                                    f"{D0}.training.schedule", "outside 0-6"),
    "cron-never-fires": ("prod", training("schedule", "0 3 31 2 *"),
                         f"{D0}.training.schedule", "Kubernetes would refuse or never run it"),
    "cron-reversed-range-with-step": ("dev", training("schedule", "0 3 20-10/2 * *"),
                                      f"{D0}.training.schedule", "Kubernetes would refuse"),
    "dataset-dot-segment": ("prod", training("dataset", "mlflow-artifacts:/0/datasets/./iris.csv"),
                            f"{D0}.training.dataset", "'.'"),
    "dataset-empty-segment": ("prod", training("dataset", "mlflow-artifacts:/0/datasets//iris.csv"),
                              f"{D0}.training.dataset", "empty segments"),
    "dataset-escaped-dot-dot": ("prod", training("dataset", "mlflow-artifacts:/0/%2e%2e/1/x.csv"),
                                f"{D0}.training.dataset", "'%'-escapes"),
    "rollout-step-duration-out-of-range": (
        "prod", first("rollout", rollout(minStepDuration="106752d")),
        f"{D0}.rollout.minStepDuration", "out of Prometheus' range"),
    "error-ratio-for-out-of-range": ("dev", monitoring("errorRatioFor", "15251w"),
                                     f"{P}monitoring.errorRatioFor", "out of Prometheus' range"),
    "rollout-margin-nan": (
        "prod", first("rollout", rollout(promoteWhen="notWorse", margin=math.nan)),
        f"{D0}.rollout.margin", "finite"),
    "latency-quantile-nan": ("prod", monitoring("latencySloQuantile", math.nan),
                             f"{P}monitoring.latencySloQuantile", "finite"),
    "model-memory-limit-too-small": ("prod", predictor_resources("128Mi"),
                                     f"{D0}.predictors[0].resources.limits", "OOM-killed"),
    "mlflow-memory-without-unit": ("prod", flat("mlflowMemoryLimit", "512"),
                                   f"{P}mlflowMemoryLimit", "a unit left out"),
    "postgres-storage-without-unit": ("local", flat("postgresStorageSize", "2"),
                                      f"{P}postgresStorageSize", "a unit left out"),
    "backups-without-a-bucket": ("dev", flat("backupBucket", ""),
                                 f"{P}backupBucket", "registryBackups is true"),
    "backup-retention-in-hours": ("prod", flat("backupRetention", "48h"),
                                  f"{P}backupRetention", "pattern"),
    "prod-with-one-database-instance": ("prod", flat("postgresInstances", 1),
                                        f"{P}postgresInstances", "at least 2"),
    "backups-with-artifacts-on-a-volume": ("dev", flat("artifactStore", "volume"),
                                           f"{P}artifactStore", "registry's backups"),
    "kind-node-latest": ("local", flat("kindNodeImage", "kindest/node:latest"),
                         f"{P}kindNodeImage", "':latest' moves"),
    "latest-in-capitals": ("local", flat("mlflowImage", "ghcr.io/mlflow/mlflow:Latest"),
                           f"{P}mlflowImage", "':latest' moves"),
    "rollout-live-plus-shadow-only": ("prod", single_live_predictor, D0,
                                      "two non-shadow predictors"),
    "declared-kube-system": ("local", flat("servingNamespaces", ["seldon", "kube-system"]),
                             f"{P}servingNamespaces", "belong to Kubernetes"),
    "declared-monitoring": ("local", flat("servingNamespaces", ["seldon", "monitoring"]),
                            f"{P}servingNamespaces", "platform's own"),
    "namespace-tigera-operator": ("dev", first("namespace", "tigera-operator"),
                                  f"{D0}.namespace", "not one the platform owns"),
    "predictor-service-twice-in-one-deployment": ("prod", wine_predictor("champion-model"),
                                                  f"{D1}.predictors[1].name",
                                                  "already the one of"),
    "unknown-key-typo": ("local", rename(f"{P}ingressDomain", f"{P}ingresDomain"),
                         f"{P}ingresDomain", "did you mean 'mlops-platform:ingressDomain'"),
    "project-with-underscore": ("dev", rename(f"{P}protected", "mlops_platform:protected"),
                                "mlops_platform:protected",
                                "did you mean 'mlops-platform:protected'"),
    "shadow-serves-a-live-version": ("prod", shadow_model("iris@champion"),
                                     f"{D0}.predictors[2].model", "already serves"),
    "shadow-follows-the-challenger": ("dev", shadow_model("iris@challenger"),
                                      f"{D0}.predictors[2].model", "already serves"),
    "shadow-pinned-to-a-live-pin": (
        "prod",
        both(first("predictors", [{"name": "champion", "model": "iris/3", "traffic": 90},
                                  {"name": "challenger", "model": "iris/4", "traffic": 10},
                                  {"name": "shadow", "model": "iris/4", "shadow": True}]),
             lambda values: _deployments(values)[0].pop("rollout")),
        f"{D0}.predictors[2].model", "'challenger' already serves"),
    "shadow-on-a-live-alias-of-another-model": ("dev", shadow_model("wine@champion"),
                                                f"{D0}.predictors[2].model", "live alias"),
    "rollout-without-guardrails": ("prod", lambda values: _deployments(values)[0]["rollout"].pop(
        "guardrails"), f"{D0}.rollout.guardrails", "Field required"),
    "rollout-disagreement-above-one": ("dev", rollout_guardrails(maxShadowDisagreement=1.5),
                                       f"{D0}.rollout.guardrails.maxShadowDisagreement",
                                       "less than or equal to 1"),
    "http-registry-on-prod": ("prod", flat("registryUri", "http://10.0.0.5:5000"),
                              f"{P}registryUri", "in clear"),
}  # fmt: skip

SCALING_AND_LOGGING = {
    "autoscaling-max-below-min": (
        "prod", champion("autoscaling", {"minReplicas": 4, "maxReplicas": 3}),
        f"{D0}.predictors[0].autoscaling", "must be at least minReplicas"),
    "autoscaling-min-zero": (
        "dev", champion("autoscaling", {"minReplicas": 0, "maxReplicas": 3}),
        f"{D0}.predictors[0].autoscaling.minReplicas", "greater than or equal to 1"),
    "autoscaling-target-101-percent": (
        "dev", champion("autoscaling", {"maxReplicas": 3, "targetCPUUtilization": 101}),
        f"{D0}.predictors[0].autoscaling.targetCPUUtilization", "less than or equal to 100"),
    "autoscaling-target-as-string": (
        "dev", champion("autoscaling", {"maxReplicas": 3, "targetCPUUtilization": "70%"}),
        f"{D0}.predictors[0].autoscaling.targetCPUUtilization", "valid integer"),
    "replicas-and-autoscaling": ("prod", champion("replicas", 3), f"{D0}.predictors[0]",
                                 "not both"),
    "prod-champion-one-replica": ("prod", champion("replicas", 1, deployment=1),
                                  f"{D1}.predictors[0].replicas", "at least 2 pods"),
    "prod-champion-autoscaled-from-one": (
        "prod", champion("autoscaling", {"minReplicas": 1, "maxReplicas": 10}),
        f"{D0}.predictors[0].autoscaling.minReplicas", "at least 2 pods of the champion"),
    "logging-sample-rate-zero": ("prod", logging_option("sampleRate", 0),
                                 f"{D0}.requestLogging.sampleRate", "greater than 0"),
    "logging-retention-zero-days": ("prod", logging_option("retentionDays", 0),
                                    f"{D0}.requestLogging.retentionDays", "greater than or equal"),
    "logging-unknown-key": ("local", logging_option("sampling", 0.5),
                            f"{D0}.requestLogging.sampling", "Extra inputs"),
    "scoring-with-the-shadow": ("prod", scoring_option("predictor", "shadow"), D0,
                                "not a live predictor"),
    "scoring-output-escapes": ("prod",
                               scoring_option("output", "mlflow-artifacts:/0/scoring/../../1/"),
                               f"{D0}.batchScoring.output", "'..'"),
    # The scoring user reads and writes only under 0/scoring/ (infra/scripts/artifact_writes.py).
    "scoring-output-elsewhere": ("prod", scoring_option("output", "mlflow-artifacts:/1/scored/"),
                                 f"{D0}.batchScoring.output", "0/scoring/"),
    "scoring-input-elsewhere": ("prod", scoring_option("input", "mlflow-artifacts:/0/rows.csv"),
                                f"{D0}.batchScoring.input", "0/scoring/"),
    "scoring-never-fires": ("prod", scoring_option("schedule", "0 2 30 2 *"),
                            f"{D0}.batchScoring.schedule", "never run it"),
}  # fmt: skip
"""Issue 28: autoscaling, the production replica rule, request logging and batch scoring."""

TRAINING_ON_REQUEST_LOGS = {
    "trains-on-logs-of-a-deployment-that-does-not-log": (
        "prod", train_on(f"{REQUEST_LOGS}/wine/labelled.parquet", deployment=1),
        f"{D1}.requestLogging", "no deployment with requestLogging writes"),
    "trains-on-logs-of-no-deployment": (
        "prod", train_on(f"{REQUEST_LOGS}/iris-old/labelled.parquet"),
        f"{D0}.training.dataset", "no deployment with requestLogging writes"),
    "trains-on-the-unlabelled-log": (
        "prod", train_on(f"{REQUEST_LOGS}/iris/versions/20260101T000000000000Z/logged.parquet"),
        f"{D0}.training.dataset", "labelled rows"),
    "logged-label-is-not-the-specs-target": (
        "prod", both(train_on(IRIS_LABELLED), logging_option("labelColumn", "label")),
        f"{D0}.requestLogging.labelColumn", "names its target 'species'"),
    "logged-features-in-another-order": (
        "prod", both(train_on(IRIS_LABELLED), logging_option(
            "featureNames", ["sepal_width", "sepal_length", "petal_length", "petal_width"])),
        f"{D0}.requestLogging.featureNames", "in this order"),
    "logged-features-unset": (
        "prod", both(train_on(IRIS_LABELLED),
                     lambda values: _deployments(values)[0]["requestLogging"].pop("featureNames")),
        f"{D0}.requestLogging.featureNames",
        "declares the features ['sepal_length', 'sepal_width', 'petal_length', 'petal_width']"),
}  # fmt: skip
"""Issue 28: training on request logs, whose columns must be the trained model's spec's."""

CASES = {
    **FOUND_BY_THE_RED_TEAM,
    **MORE_OF_THEIR_KIND,
    **SCALING_AND_LOGGING,
    **TRAINING_ON_REQUEST_LOGS,
}


def _render(stack: str, stack_file: Path, out: Path) -> subprocess.CompletedProcess:
    """`python -m stacks.render` on `stack_file`, as a reviewer runs it."""
    command = [sys.executable, "-m", "stacks.render", "--stack", stack]
    command += ["--config-file", str(stack_file), "--out", str(out)]
    return subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("case", CASES)
def test_invalid_stack_file_is_refused_naming_the_key(
    tmp_path: Path, case: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """The CLI's entry point in this process (an interpreter per case cost 2-3 s of start-up;
    `test_every_rule_across_keys_is_reported_at_once` runs the real `python -m`)."""
    stack, mutate, key_path, words = CASES[case]
    document = yaml.safe_load((REPO_ROOT / f"Pulumi.{stack}.yaml").read_text())
    mutate(document["config"])
    stack_file = tmp_path / f"Pulumi.{stack}.yaml"
    stack_file.write_text(yaml.safe_dump(document, allow_unicode=True))
    out = tmp_path / "render"
    code = render_main(["--stack", stack, "--config-file", str(stack_file), "--out", str(out)])
    stderr = capsys.readouterr().err
    assert code == 2, stderr
    assert str(stack_file) in stderr
    named = [line for line in stderr.splitlines() if f"{key_path}: " in line]
    assert any(words in line for line in named), stderr
    assert not out.exists()


def test_there_are_the_red_teams_cases_and_twenty_more() -> None:
    assert len(FOUND_BY_THE_RED_TEAM) >= 18
    assert len(MORE_OF_THEIR_KIND) >= 20


def test_every_rule_across_keys_is_reported_at_once(tmp_path: Path) -> None:
    document = yaml.safe_load((REPO_ROOT / "Pulumi.prod.yaml").read_text())
    values = document["config"]
    mutations = [
        flat("registryUri", "http://10.0.0.5:5000"),
        first("namespace", "kube-flannel"),
        add_deployment("retrain", "trigger"),
    ]
    for mutate in mutations:
        mutate(values)
    stack_file = tmp_path / "Pulumi.prod.yaml"
    stack_file.write_text(yaml.safe_dump(document))
    result = _render("prod", stack_file, tmp_path / "render")
    assert result.returncode == 2
    for key in (f"{P}registryUri: ", f"{D0}.namespace: ",
                f"{P}deployments[2].predictors[0].name: "):  # fmt: skip
        assert key in result.stderr, result.stderr


def test_training_on_the_matching_request_logs_is_accepted(tmp_path: Path) -> None:
    """The declaration docs/serving.md gives renders, and the training CronJob reads the export."""
    document = yaml.safe_load((REPO_ROOT / "Pulumi.prod.yaml").read_text())
    train_on(IRIS_LABELLED)(document["config"])
    stack_file = tmp_path / "Pulumi.prod.yaml"
    stack_file.write_text(yaml.safe_dump(document))
    shutil.copy(REPO_ROOT / "pins.prod.yaml", tmp_path)  # the pins beside the stack file
    objects = rendered_objects("prod", tmp_path / "render", "--config-file", str(stack_file))
    (cronjob,) = [
        c for c in of_kind(objects, "CronJob") if c["metadata"]["name"] == "iris-training"
    ]
    (container,) = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    assert container["args"][container["args"].index("--data") + 1] == IRIS_LABELLED
