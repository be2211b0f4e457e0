"""Acting on a `promote` verdict in one recorded step: the registry's champion alias and ledger
entry (via `model.promotion`), and the stack's traffic split moved to the promoted version."""

import os
import re
from dataclasses import dataclass
from pathlib import Path

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from infra.stack_config import StackConfig, StackConfigError, load_stack_file
from model.abtest.decision import Decision, Verdict
from model.errors import LifecycleError
from model.promotion import PromotionRecord, promote, rollback
from model.registry import CHAMPION, resolve_version
from model.store import Store

DEPLOYMENTS_KEY = "mlops-platform:deployments"
_TRAFFIC_VALUE = re.compile(r"""^(["']?)\d+\1""")


class StackEditError(LifecycleError):
    """The stack file cannot take the new traffic split; nothing was changed."""


@dataclass(frozen=True)
class AppliedPromotion:
    record: PromotionRecord
    stack_file: str
    traffic: dict[str, int]


def apply_promotion(
    decision: Decision,
    *,
    stack_file: Path,
    deployment: str,
    tracking_uri: str | None,
    actor: str | None,
    reason: str,
) -> AppliedPromotion:
    """Promote the challenger's model version and send all live traffic to the predictor that
    serves it afterwards: the champion predictor when it follows the `champion` alias (it picks
    the new version up), else the challenger predictor; the other live predictors get 0.

    The new stack file is validated before anything changes; the alias and ledger move next;
    the stack file is replaced last, and a failure there rolls the alias back.
    """
    if decision.verdict is not Verdict.PROMOTE:
        raise LifecycleError(
            f"nothing to apply: the verdict is {decision.verdict.value}, not promote"
        )
    champion, challenger = decision.champion.predictor, decision.challenger.predictor
    deployments = _validated(stack_file).deployments
    declared = [d.name for d in deployments]
    if deployment not in declared:
        raise StackEditError(
            f"{stack_file} declares deployments {declared}, but the A/B test ran on "
            f"{deployment!r}; pass the stack file of that deployment"
        )
    index = declared.index(deployment)
    serving = deployments[index]
    live = {p.name: p for p in serving.predictors if not p.shadow}
    for name in (champion, challenger):
        if name not in live:
            raise StackEditError(
                f"{stack_file}: no non-shadow predictor named {name!r}; it has {sorted(live)}"
            )
    model_name, version = _model_version(live[challenger].model, tracking_uri)
    winner = champion if live[champion].model == f"{model_name}@{CHAMPION}" else challenger
    traffic = {name: 100 if name == winner else 0 for name in live}
    staged = stack_file.with_name(f".{stack_file.name}.abtest")
    staged.write_text(_with_traffic(stack_file, index, traffic))
    try:
        _validated(staged)
        record = promote(
            model_name,
            version,
            tracking_uri=tracking_uri,
            reason=reason or decision.recommendation,
            actor=actor,
            evidence={
                "ab_test": decision.as_dict(),
                "stack_file": str(stack_file),
                "traffic": traffic,
            },
        )
        try:
            os.replace(staged, stack_file)
        except OSError as error:
            rollback(model_name, tracking_uri=tracking_uri, reason=f"stack edit failed: {error}")
            raise StackEditError(f"cannot write {stack_file}: {error}; alias rolled back") from None
    finally:
        staged.unlink(missing_ok=True)
    return AppliedPromotion(record=record, stack_file=str(stack_file), traffic=traffic)


def _validated(path: Path) -> StackConfig:
    try:
        return load_stack_file(path)
    except StackConfigError as error:
        raise StackEditError(str(error)) from None


def _with_traffic(stack_file: Path, index: int, traffic: dict[str, int]) -> str:
    """The stack file's text with only the deployment's traffic values replaced in place."""
    text = stack_file.read_text()
    try:
        predictors = YAML().load(text)["config"][DEPLOYMENTS_KEY][index]["predictors"]
    except (YAMLError, KeyError, IndexError, TypeError) as error:
        raise StackEditError(
            f"{stack_file}: expected config.'{DEPLOYMENTS_KEY}'[{index}].predictors as YAML: "
            f"{error}"
        ) from None
    lines = text.splitlines(keepends=True)
    for predictor in predictors:
        name = predictor["name"]
        if name not in traffic:
            continue
        if "traffic" not in predictor:
            raise StackEditError(f"{stack_file}: predictor {name!r} has no 'traffic' to change")
        line, column = predictor.lc.value("traffic")
        head, tail = lines[line][:column], lines[line][column:]
        lines[line] = head + _TRAFFIC_VALUE.sub(str(traffic[name]), tail, count=1)
    return "".join(lines)


def _model_version(reference: str, tracking_uri: str | None) -> tuple[str, str]:
    """(model name, version) of a stack reference '<name>/<version>' or '<name>@<alias>'."""
    if "@" in reference:
        name, alias = reference.split("@", 1)
        return name, resolve_version(Store.open(tracking_uri), name, None, alias)
    name, version = reference.rsplit("/", 1)
    return name, version
