"""`python -m model abtest --evidence FILE --json`: the rule replayed on recorded looks."""

import json
import subprocess
import sys

import numpy as np
import pytest

from model.cli import main
from tests.analysis.simulated_experiments import as_file, experiment
from tests.support.stacks import REPO_ROOT


def _predictor(requests, feedback, reward, errors=0, p95=0.01, **extra) -> dict:
    return {
        "requests": requests,
        "errors": errors,
        "feedback": feedback,
        "reward": reward,
        "p95_latency_seconds": p95,
        **extra,
    }


def _look(at: str, **predictors: dict) -> dict:
    return {"at": at, "predictors": predictors}


def _abtest(capsys, tmp_path, evidence, *extra: str) -> tuple[int, dict]:
    path = tmp_path / "evidence.json"
    path.write_text(json.dumps(evidence))
    code = main(["abtest", "--evidence", str(path), "--json", *extra])
    return code, json.loads(capsys.readouterr().out)


BETTER = {
    "looks": [
        _look(
            "2026-11-23T10:00:00Z",
            champion=_predictor(900, 50, 35),
            challenger=_predictor(100, 10, 8),
            shadow=_predictor(250, 0, 0, shadow=True),
        ),
        _look(
            "2026-11-23T11:00:00Z",
            champion=_predictor(9000, 8000, 5600),
            challenger=_predictor(1000, 900, 720),
            shadow=_predictor(2500, 0, 0, shadow=True),
        ),
        _look(
            "2026-11-23T12:00:00Z",
            champion=_predictor(18000, 16000, 11200),
            challenger=_predictor(2000, 1800, 1440),
            shadow=_predictor(5000, 0, 0, shadow=True),
        ),
    ]
}


def test_a_clearly_better_challenger_is_promoted_at_the_first_look_that_shows_it(capsys, tmp_path):
    code, result = _abtest(capsys, tmp_path, BETTER)
    assert code == 0
    assert result["decision"] == "promote"
    assert result["look"] == 1
    assert result["looks"] == 3
    assert (result["baseline"], result["candidate"]) == ("champion", "challenger")
    assert result["p_value"] < 0.05
    assert result["difference"] == pytest.approx(0.1)
    assert "mSPRT" in result["method"]


def test_first_look_below_the_minimum_sample_continues(capsys, tmp_path):
    code, result = _abtest(capsys, tmp_path, {"looks": BETTER["looks"][:1]})
    assert result["decision"] == "continue"
    assert result["look"] == 0
    assert "challenger has 10 of 100 feedbacks" in result["reason"]
    assert result["p_value"] is None


def test_a_breached_error_guardrail_rolls_back_whatever_the_rewards(capsys, tmp_path):
    evidence = {
        "looks": [
            _look(
                "2026-11-23T10:00:00Z",
                champion=_predictor(9000, 8000, 5600, errors=9),
                challenger=_predictor(1000, 900, 720, errors=80),
            )
        ]
    }
    code, result = _abtest(capsys, tmp_path, evidence)
    assert result["decision"] == "rollback"
    assert "error_ratio" in result["reason"]
    breached = [g["name"] for g in result["guardrails"] if not g["passed"]]
    assert breached == ["error_ratio"]


def test_a_slower_challenger_breaches_the_latency_guardrail(capsys, tmp_path):
    evidence = {
        "looks": [
            _look(
                "2026-11-23T10:00:00Z",
                champion=_predictor(9000, 8000, 5600, p95=0.05),
                challenger=_predictor(1000, 900, 720, p95=0.2),
            )
        ]
    }
    code, result = _abtest(capsys, tmp_path, evidence)
    assert result["decision"] == "rollback"
    assert "p95_latency" in result["reason"]


def test_significantly_worse_rolls_back(capsys, tmp_path):
    evidence = {
        "looks": [
            _look(
                "2026-11-23T10:00:00Z",
                champion=_predictor(9000, 8000, 6400),
                challenger=_predictor(1000, 900, 540),
            )
        ]
    }
    code, result = _abtest(capsys, tmp_path, evidence)
    assert result["decision"] == "rollback"
    assert result["reason"].startswith("significantly worse")


def test_no_difference_continues_and_keeps_once_the_maximum_sample_is_reached(capsys, tmp_path):
    evidence = {
        "looks": [
            _look(
                "2026-11-23T10:00:00Z",
                champion=_predictor(20000, 20000, 14000),
                challenger=_predictor(20000, 20000, 14040),
            )
        ]
    }
    _, result = _abtest(capsys, tmp_path, evidence)
    assert result["decision"] == "continue"
    _, result = _abtest(capsys, tmp_path, evidence, "--max-samples", "20000")
    assert result["decision"] == "keep"
    _, result = _abtest(capsys, tmp_path, evidence, "--promote-when", "not-worse")
    assert result["decision"] == "promote"
    assert result["non_inferiority_p_value"] < 0.05


def test_the_candidate_can_be_named_and_the_baseline_is_the_busiest(capsys, tmp_path):
    evidence = {
        "looks": [
            _look(
                "2026-11-23T10:00:00Z",
                a=_predictor(100, 100, 50),
                b=_predictor(800, 700, 400),
                c=_predictor(100, 100, 90),
            )
        ]
    }
    _, result = _abtest(capsys, tmp_path, evidence, "--candidate", "c")
    assert (result["baseline"], result["candidate"]) == ("b", "c")


def test_a_simulated_experiment_round_trips_through_a_file(capsys, tmp_path):
    looks = experiment(
        np.random.default_rng(5),
        baseline_rate=0.6,
        candidate_rate=0.7,
        candidate_share=0.3,
        looks=20,
        feedbacks_per_look=200,
    )
    _, result = _abtest(capsys, tmp_path, as_file(looks))
    assert result["decision"] == "promote"
    assert 0 < result["look"] < 20


@pytest.mark.parametrize(
    ("evidence", "message"),
    [
        ("not json", "is not JSON"),
        ({"looks": []}, "looks: List should have at least 1 item"),
        (
            {"looks": [_look("2026-11-23T10:00:00Z", a={"requests": 1, "feedback": 1})]},
            "looks.0.predictors.a.reward: Field required",
        ),
        (
            {"looks": [_look("2026-11-23T10:00:00Z", a=_predictor(10, 5, 6))]},
            "arm 'a' at 2026-11-23T10:00:00+00:00: reward sum 6 outside [0, 1] x 5 feedbacks",
        ),
        (
            {
                "looks": [
                    _look("2026-11-23T10:00:00Z", a=_predictor(10, 5, 3), b=_predictor(5, 5, 3)),
                    _look("2026-11-23T11:00:00Z", a=_predictor(9, 5, 3), b=_predictor(5, 5, 3)),
                ]
            },
            "arm 'a' requests: 10 at look 0, 9 at look 1; cumulative counts never go down",
        ),
        (
            {
                "looks": [
                    _look("2026-11-23T11:00:00Z", a=_predictor(10, 5, 3), b=_predictor(5, 5, 3)),
                    _look("2026-11-23T10:00:00Z", a=_predictor(10, 5, 3), b=_predictor(5, 5, 3)),
                ]
            },
            "look 1 at 2026-11-23T10:00:00+00:00 is before look 0 at 2026-11-23T11:00:00+00:00",
        ),
        (
            {
                "looks": [
                    _look(
                        "2026-11-23T10:00:00Z",
                        a=_predictor(10, 5, 3),
                        b=_predictor(5, 5, 3),
                        c=_predictor(5, 5, 3),
                    )
                ]
            },
            "name one with --candidate",
        ),
        (
            {"looks": [_look("2026-11-23T10:00:00Z", a=_predictor(10, 5, 3))]},
            "besides the baseline 'a' are none",
        ),
    ],
    ids=[
        "not-json",
        "no-looks",
        "missing-key",
        "reward-over-feedback",
        "not-cumulative",
        "out-of-order",
        "ambiguous-candidate",
        "one-predictor",
    ],
)
def test_bad_evidence_files_are_refused_naming_what_is_wrong(capsys, tmp_path, evidence, message):
    path = tmp_path / "evidence.json"
    path.write_text(evidence if isinstance(evidence, str) else json.dumps(evidence))
    code = main(["abtest", "--evidence", str(path), "--json"])
    captured = capsys.readouterr()
    assert code == 1
    assert message in captured.err


def test_abtest_loads_no_pulumi_and_nothing_from_infra_or_stacks(tmp_path):
    path = tmp_path / "evidence.json"
    path.write_text(json.dumps(BETTER))
    probe = (
        "import sys\nfrom model.cli import main\n"
        f"main(['abtest', '--evidence', {str(path)!r}, '--json'])\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & "
        "{'pulumi', 'pulumi_kubernetes', 'infra', 'stacks'}))\n"
    )
    output = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert output.strip().splitlines()[-1] == "[]"
    assert json.loads(output[: output.rindex("\n[")])["decision"] == "promote"
