"""Every spec in model/specs/ trains with `model/`, passes its first gate and is served by the
real model server exactly as the image runs it (`MODEL_URI=models:/<name>/<version>`, its
`MODEL_DIGEST` checked), with the requests `make demo MODEL=<spec>` sends.

A new spec file is picked up by `spec_names()` with no change here. docs/extending.md gives
`test_the_spec_answers_in_its_own_terms` below as the template for checks of your own.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from mlflow import MlflowClient

from localrun.demo import bad_requests, example_rows, good_requests, post, served
from localrun.local_model import LocalModel, ensure_model
from localrun.server_process import ModelServerProcess
from model.specs import TrainingSpec, load_spec, spec_names

REPO_ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = "test_the_spec_answers_in_its_own_terms"
CAPTURE = {"cwd": REPO_ROOT, "capture_output": True, "text": True, "timeout": 60, "check": False}


@dataclass(frozen=True)
class Served:
    spec: TrainingSpec
    model: LocalModel
    server: ModelServerProcess

    @property
    def names(self) -> list[str]:
        return self.spec.dataset_schema.feature_names

    @property
    def rows(self) -> list[list[float]]:
        return example_rows(self.model, self.names)


@pytest.fixture(scope="module", params=spec_names())
def served_spec(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    """The spec trained into a private SQLite registry and served from it."""
    model = ensure_model(request.param, state_dir=tmp_path_factory.mktemp("specs"))
    with served(model) as server:
        yield Served(load_spec(request.param), model, server)


def test_the_first_version_passes_its_gate_and_becomes_the_candidate(served_spec: Served) -> None:
    uri = served_spec.model.tracking_uri
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    candidate = client.get_model_version_by_alias(served_spec.spec.name, "candidate")
    assert str(candidate.version) == served_spec.model.version


def test_the_spec_answers_in_its_own_terms(served_spec: Served) -> None:
    outputs = served_spec.spec.dataset_schema.target.classes or ["prediction"]  # a regressor
    features = served_spec.spec.dataset_schema.features
    for title, body in good_requests(features, served_spec.rows):
        response = post(served_spec.server, body)
        assert response.status_code == 200, f"{title}: {response.text}"
        assert response.json()["data"]["names"] == outputs, title
        assert response.json()["meta"]["tags"]["model_version"] == served_spec.model.version


def test_malformed_requests_are_400_and_the_server_keeps_serving(served_spec: Served) -> None:
    for title, body in bad_requests(served_spec.names, served_spec.rows[0]):
        response = post(served_spec.server, body)
        assert response.status_code == 400, f"{title}: {response.status_code} {response.text}"
        assert response.json()["status"]["reason"] == "MICROSERVICE_BAD_DATA", title
    first = {"data": {"ndarray": served_spec.rows[:1]}}
    assert post(served_spec.server, first).status_code == 200


def test_make_demo_serves_the_spec_it_is_given_and_names_the_others() -> None:
    make = ["make", "--directory", str(REPO_ROOT), "--assume-old=.venv/bin/.installed"]
    dry_run = subprocess.run([*make, "--dry-run", "demo", "MODEL=wine"], **CAPTURE)
    assert "-m localrun.demo --model wine" in dry_run.stdout

    unknown = subprocess.run([sys.executable, "-m", "localrun.demo", "--model", "beer"], **CAPTURE)
    assert unknown.returncode == 2
    assert "argument --model: invalid choice: 'beer' (choose from" in unknown.stderr
    assert all(name in unknown.stderr.splitlines()[-1] for name in spec_names())


def test_the_extending_guide_quotes_a_test_that_runs() -> None:
    guide_lines = (REPO_ROOT / "docs" / "extending.md").read_text().splitlines()
    guide = "\n".join(line.removeprefix("   ") for line in guide_lines)  # a list item's block
    source = Path(__file__).read_text()
    start = source.index(f"def {TEMPLATE}(")
    template = source[start : source.index("\n\n\n", start)]
    assert template in guide, f"docs/extending.md must quote {TEMPLATE} as it is in {__file__}"
