"""The scheduled drift check's parser of `pulumi preview --json` (ci/drift_check.py), on
digests shaped as Pulumi's `ShowPreviewDigest` writes them (pkg/backend/display/json.go)."""

import json
from pathlib import Path

import pytest

from ci.drift_check import Difference, NotADigest, main, parse

STACK_URN = "urn:pulumi:prod::mlops-platform::pulumi:pulumi:Stack::mlops-platform-prod"
SDEP_URN = (
    "urn:pulumi:prod::mlops-platform::mlops:ModelDeployment$"
    "kubernetes:machinelearning.seldon.io/v1:SeldonDeployment::iris"
)
SECRET_URN = "urn:pulumi:prod::mlops-platform::kubernetes:core/v1:Secret::mlflow-admin"
CM_URN = "urn:pulumi:prod::mlops-platform::kubernetes:core/v1:ConfigMap::dashboards"


def digest(*steps: dict, diagnostics: tuple = ()) -> str:
    summary: dict[str, int] = {}
    for step in steps:
        summary[step["op"]] = summary.get(step["op"], 0) + 1
    return json.dumps({"steps": list(steps), "diagnostics": list(diagnostics),
                       "duration": 1200000000, "changeSummary": summary})  # fmt: skip


def test_a_clean_preview_has_no_difference() -> None:
    assert parse(digest({"op": "same", "urn": STACK_URN})) == ([], [])


def test_each_differing_resource_is_named_with_its_keys() -> None:
    differences, errors = parse(
        digest(
            {"op": "update", "urn": STACK_URN},
            {"op": "update", "urn": SDEP_URN, "diffReasons": ["spec"]},
            {
                "op": "replace",
                "urn": SECRET_URN,
                "diffReasons": ["data", "type"],
                "replaceReasons": ["type"],
            },
            {"op": "create", "urn": CM_URN},
            {"op": "read", "urn": CM_URN},
        )  # fmt: skip
    )
    assert errors == []
    assert differences == [
        Difference("update", "kubernetes:machinelearning.seldon.io/v1:SeldonDeployment", "iris",
                   ("spec",)),
        Difference("replace", "kubernetes:core/v1:Secret", "mlflow-admin", ("type",)),
        Difference("create", "kubernetes:core/v1:ConfigMap", "dashboards", ()),
    ]  # fmt: skip


def test_an_error_diagnostic_fails_even_without_steps(tmp_path: Path, capsys) -> None:
    path = tmp_path / "preview.json"
    failed = {"message": "error: no pin for 'shadow'\n", "severity": "error"}
    path.write_text(digest(diagnostics=(failed, {"message": "hi", "severity": "info"})))
    assert main(["--stack", "prod", str(path)]) == 1
    assert "preview error: error: no pin for 'shadow'" in capsys.readouterr().err


def test_the_command_fails_loudly_naming_resources(tmp_path: Path, capsys) -> None:
    path = tmp_path / "preview.json"
    path.write_text(digest({"op": "update", "urn": SDEP_URN, "diffReasons": ["spec"]}))
    assert main(["--stack", "prod", str(path)]) == 1
    err = capsys.readouterr().err
    assert "the cluster differs from Git in 1 resource(s)" in err
    assert "update: kubernetes:machinelearning.seldon.io/v1:SeldonDeployment iris (spec)" in err
    path.write_text(digest({"op": "same", "urn": SDEP_URN}))
    assert main(["--stack", "prod", str(path)]) == 0
    assert "matches Git" in capsys.readouterr().out


@pytest.mark.parametrize("text", ["", "error: preview failed", '{"steps": {}}',
                                  '{"steps": [{"op": "update", "urn": "iris"}]}'])  # fmt: skip
def test_what_is_not_a_digest_is_refused(text: str, tmp_path: Path) -> None:
    with pytest.raises(NotADigest):
        parse(text)
    path = tmp_path / "preview.json"
    path.write_text(text)
    assert main(["--stack", "dev", str(path)]) == 2
