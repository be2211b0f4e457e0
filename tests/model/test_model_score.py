"""`python -m model score` (the real CLI) against the real model server on the same registered
version: a file larger than the chunk size is scored in chunks, row by row equal to what the
server answers for the same rows, with the version and digest that serve."""

import csv
import json
import random
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
import requests

from localrun.server_process import ModelServerProcess
from tests.support.mlflow_server import REPO_ROOT, isolated_env

ROWS = 2_345
CHUNK_ROWS = 1_000
SERVER_BATCH = 500


@pytest.fixture(scope="module")
def digest(trained_model: dict[str, Any]) -> str:
    from mlflow import MlflowClient

    uri = trained_model["tracking_uri"]
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    version = client.get_model_version(trained_model["model_name"], trained_model["version"])
    return version.tags["model_digest"]


@pytest.fixture(scope="module")
def served(trained_model: dict[str, Any], digest: str) -> Iterator[ModelServerProcess]:
    """The server as a predictor runs it: the alias, with the digest the stack declares."""
    with ModelServerProcess(
        model_uri=f"models:/{trained_model['model_name']}@candidate",
        env={"MLFLOW_TRACKING_URI": trained_model["tracking_uri"], "MODEL_DIGEST": digest},
    ) as server:
        yield server


def _score(trained_model: dict[str, Any], *args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "model", "score", "--tracking-uri",
               trained_model["tracking_uri"], *args]  # fmt: skip
    return subprocess.run(
        command, cwd=REPO_ROOT, env=isolated_env(), capture_output=True, text=True, timeout=300
    )


def _write_rows(path: Path, names: list[str], rows: list[list[float]]) -> None:
    with path.open("w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(names)
        writer.writerows(rows)


def test_a_file_larger_than_a_chunk_scores_as_the_server_answers(
    trained_model: dict[str, Any], served: ModelServerProcess, digest: str, tmp_path: Path
) -> None:
    metadata = requests.get(f"{served.url}/metadata", timeout=10).json()
    names = [column["name"] for column in metadata["inputs"]]
    rng = random.Random(28)
    rows = [[round(rng.uniform(0.1, 8), 3) for _ in names] for _ in range(ROWS)]
    # The file's columns in another order than the model's: the server accepts any order.
    shuffled = list(reversed(names))
    source = tmp_path / "rows.csv"
    _write_rows(source, shuffled, [list(reversed(row)) for row in rows])
    output = tmp_path / "scored.parquet"

    result = _score(trained_model, "--model", f"{trained_model['model_name']}@candidate",
                    "--input", str(source), "--output", str(output),
                    "--chunk-rows", str(CHUNK_ROWS), "--json")  # fmt: skip

    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    chunks = -(-ROWS // CHUNK_ROWS)
    assert summary["rows"] == ROWS and summary["chunks"] == chunks == 3
    assert summary["model_version"] == str(trained_model["version"])
    assert summary["model_digest"] == digest
    progress = [line for line in result.stderr.splitlines() if line.startswith("scored ")]
    assert len(progress) == chunks

    status = requests.get(f"{served.url}/health/status", timeout=10).json()["jsonData"]
    assert status["model_version"] == summary["model_version"]
    answers, answer_names = [], None
    for start in range(0, ROWS, SERVER_BATCH):
        body = {"data": {"names": names, "ndarray": rows[start : start + SERVER_BATCH]}}
        answer = requests.post(f"{served.url}/api/v1.0/predictions", json=body, timeout=30)
        assert answer.status_code == 200, answer.text
        answer_names = answer.json()["data"]["names"]
        answers.extend(answer.json()["data"]["ndarray"])

    scored = pq.read_table(output).to_pylist()
    assert len(scored) == ROWS
    for index, (row, answer, written) in enumerate(zip(rows, answers, scored, strict=True)):
        assert written["row"] == index
        assert [written[name] for name in names] == row
        assert [written[f"output:{name}"] for name in answer_names] == pytest.approx(
            answer, rel=1e-12, abs=1e-15
        ), index
        assert (written["model_version"], written["model_digest"]) == (
            summary["model_version"],
            digest,
        )


def test_a_bad_cell_is_refused_naming_its_line_and_column(
    trained_model: dict[str, Any], served: ModelServerProcess, tmp_path: Path
) -> None:
    names = [c["name"] for c in requests.get(f"{served.url}/metadata", timeout=10).json()["inputs"]]
    rows = [[1.0] * len(names) for _ in range(30)]
    rows[24][2] = "n/a"
    source = tmp_path / "bad.csv"
    _write_rows(source, names, rows)
    output = tmp_path / "bad.parquet"

    result = _score(trained_model, "--model", f"{trained_model['model_name']}@candidate",
                    "--input", str(source), "--output", str(output),
                    "--chunk-rows", "10")  # fmt: skip

    assert result.returncode != 0
    # Data row 24 is line 26 (after the header); the message is the server's own.
    assert str(source) in result.stderr
    assert f"line 26: 'data.ndarray[4][2]' ({names[2]}) is string 'n/a'" in result.stderr
    assert "Traceback" not in result.stderr
    assert not output.exists()
    assert not list(tmp_path.glob("*.parquet"))


def test_files_that_differ_from_the_declared_digest_are_not_scored(
    trained_model: dict[str, Any], tmp_path: Path
) -> None:
    source = tmp_path / "rows.csv"
    _write_rows(source, ["a"], [[1.0]])
    wrong = "sha256:" + "0" * 64
    result = _score(trained_model, "--model", f"{trained_model['model_name']}@candidate",
                    "--input", str(source), "--output", str(tmp_path / "x.parquet"),
                    "--digest", wrong)  # fmt: skip
    assert result.returncode != 0
    assert f"does not match MODEL_DIGEST {wrong}" in result.stderr
