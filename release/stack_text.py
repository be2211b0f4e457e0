"""In-place edits of a stack file's text: one deployment's `traffic:` values.

Only those values change: comments, quoting and layout of everything else are kept (ruamel
gives each value's line and column). Validating the result against `StackConfig` is the
caller's (stacks/stack_edit.py), as it needs `infra/`.
"""

import re
from pathlib import Path

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from model.errors import LifecycleError

DEPLOYMENTS_KEY = "mlops-platform:deployments"
_TRAFFIC_VALUE = re.compile(r"""^(["']?)\d+\1""")


class StackEditError(LifecycleError):
    """The stack file cannot take the new traffic split; nothing was changed."""


def with_traffic(stack_file: Path, deployment: str, namespace: str, traffic: dict[str, int]) -> str:
    """The stack file's text with the named predictors' traffic of one deployment replaced."""
    text = stack_file.read_text()
    try:
        entries = YAML().load(text)["config"][DEPLOYMENTS_KEY]
    except (YAMLError, KeyError, TypeError) as error:
        raise StackEditError(
            f"{stack_file}: expected config.'{DEPLOYMENTS_KEY}' as a YAML list: {error}"
        ) from None
    matching = [
        entry
        for entry in entries
        if entry.get("name") == deployment and entry.get("namespace", "seldon") == namespace
    ]
    if len(matching) != 1:
        raise StackEditError(
            f"{stack_file}: {DEPLOYMENTS_KEY} has no deployment {namespace}/{deployment}"
        )
    lines = text.splitlines(keepends=True)
    for predictor in matching[0]["predictors"]:
        name = predictor["name"]
        if name not in traffic:
            continue
        if "traffic" not in predictor:
            raise StackEditError(f"{stack_file}: predictor {name!r} has no 'traffic' to change")
        line, column = predictor.lc.value("traffic")
        head, tail = lines[line][:column], lines[line][column:]
        lines[line] = head + _TRAFFIC_VALUE.sub(str(traffic[name]), tail, count=1)
    return "".join(lines)
