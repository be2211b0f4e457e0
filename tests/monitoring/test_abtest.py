"""`python -m model abtest --prometheus-url` against a real Prometheus holding known series.

The series are backfilled with `promtool tsdb create-blocks-from openmetrics`, shaped exactly as
the Seldon executor and wrapper emit them. Every scenario is one deployment; counts are per minute
over the 60 minutes before END (the look), and the experiment started at END - 1h:
- iris: 200 ok requests to the champion, 150 to the challenger; feedback 25/min each, rewards
  17 (champion, rate 0.68) and 20 (challenger, 0.80): 1500 feedbacks per arm; promote.
- too-few: as iris but only the last 3 minutes (75 feedbacks per arm < 100): continue.
- slow: as iris, but the challenger's latency is in (0.75, 1] s against (0.075, 0.1] s: rollback.
- failing: no feedback; the challenger answers 20 of 150 requests per minute with 500: rollback.
- equal: equal rewards (17 of 25 each): continue.
Inconsistent evidence, refused with no decision (exit 1), the challenger each time:
- overpaid: 30 rewards of 1 for 25 feedbacks per minute;
- dropping: its reward counter goes down at minute 30 (a lost update);
- unscraped: the executor counts its answers, its model server has no series;
- orphan: feedback credited to it, but no prediction requests;
Scrape skew, decided on the model server's own feedbacks and rewards:
- skewed: as iris, but the executor's feedbacks trail the model server's (24 against 25 per
  minute, as when the executor is scraped before a burst the server is scraped after) and every
  reward is 1: promote; the executor's count with the server's reward sum would exceed a rate of 1.
"""

import json
import time
from datetime import UTC, datetime

import pytest

from model.cli import main
from tests.monitoring.openmetrics_backfill import Traffic, backfill
from tests.monitoring.prometheus_process import running_prometheus

HOUR = 3600


def _scenarios() -> list[Traffic]:
    champion = {"ok_per_minute": 200, "feedback_per_minute": 25}
    challenger = {"ok_per_minute": 150, "feedback_per_minute": 25}
    return [
        Traffic("iris", "champion", reward_per_minute=17, **champion),
        Traffic("iris", "challenger", reward_per_minute=20, **challenger),
        Traffic("too-few", "champion", reward_per_minute=17, minutes=3, **champion),
        Traffic("too-few", "challenger", reward_per_minute=20, minutes=3, **challenger),
        Traffic("slow", "champion", reward_per_minute=17, **champion),
        Traffic("slow", "challenger", reward_per_minute=20, latency_bucket=1, **challenger),
        Traffic("failing", "champion", ok_per_minute=200),
        Traffic("failing", "challenger", ok_per_minute=130, errors_per_minute=20),
        Traffic("equal", "champion", reward_per_minute=17, **champion),
        Traffic("equal", "challenger", reward_per_minute=17, **challenger),
        Traffic("overpaid", "champion", reward_per_minute=17, **champion),
        Traffic("overpaid", "challenger", reward_per_minute=30, **challenger),
        Traffic("dropping", "champion", reward_per_minute=17, **champion),
        Traffic("dropping", "challenger", reward_per_minute=20, reward_drop_minute=30,
                **challenger),
        Traffic("unscraped", "champion", reward_per_minute=17, **champion),
        Traffic("unscraped", "challenger", reward_per_minute=20, predicted=False, **challenger),
        Traffic("orphan", "champion", reward_per_minute=17, **champion),
        Traffic("orphan", "challenger", ok_per_minute=0, feedback_per_minute=25,
                reward_per_minute=20),
        Traffic("skewed", "champion", reward_per_minute=17, **champion),
        Traffic("skewed", "challenger", ok_per_minute=150, feedback_per_minute=24,
                server_feedback_per_minute=25, reward_per_minute=25),
    ]  # fmt: skip


@pytest.fixture(scope="module")
def prometheus(promtool, prometheus_binary, tmp_path_factory):
    """(URL, END): a Prometheus serving the backfilled scenarios, which end at END."""
    workdir = tmp_path_factory.mktemp("ab-prometheus")
    end = int(time.time()) // 60 * 60 - 120
    backfill(promtool, _scenarios(), end, workdir / "data")
    with running_prometheus(prometheus_binary, workdir) as url:
        yield url, end


def _abtest(capsys, prometheus, deployment: str, *extra: str) -> tuple[int, dict]:
    url, end = prometheus
    code = main(
        ["abtest", "--prometheus-url", url, "--deployment", deployment,
         "--since", str(end - HOUR), "--at", str(end), "--json", *extra]
    )  # fmt: skip
    return code, json.loads(capsys.readouterr().out)


def test_better_challenger_with_enough_feedback_is_promoted(capsys, prometheus):
    code, result = _abtest(capsys, prometheus, "iris")
    assert code == 0
    assert result["decision"] == "promote"
    assert (result["baseline"], result["candidate"]) == ("champion", "challenger")
    champion, challenger = result["counts"]["champion"], result["counts"]["challenger"]
    assert (champion["reward"], champion["feedback"]) == (1020, 1500)
    assert (challenger["reward"], challenger["feedback"]) == (1200, 1500)
    assert (champion["requests"], challenger["requests"]) == (12000, 9000)
    assert result["p_value"] < 1e-6
    assert all(guardrail["passed"] for guardrail in result["guardrails"])


def test_scrape_skew_between_executor_and_model_server_is_not_taken_for_lost_data(
    capsys, prometheus
):
    code, result = _abtest(capsys, prometheus, "skewed")
    assert code == 0, result
    assert result["decision"] == "promote"
    challenger = result["counts"]["challenger"]
    assert (challenger["reward"], challenger["feedback"]) == (1500, 1500)


def test_the_same_counts_in_an_evidence_file_give_the_same_decision(capsys, prometheus, tmp_path):
    _, from_prometheus = _abtest(capsys, prometheus, "iris")
    predictors = {
        name: {key: value for key, value in counts.items() if key != "success_rate"}
        for name, counts in from_prometheus["counts"].items()
    }
    look = {"at": from_prometheus["at"], "predictors": predictors}
    path = tmp_path / "evidence.json"
    path.write_text(json.dumps({"looks": [look]}))
    main(["abtest", "--evidence", str(path), "--json"])
    from_file = json.loads(capsys.readouterr().out)
    assert from_file == {**from_prometheus, "looks": 1}


def test_too_few_feedbacks_continue_and_say_how_many(capsys, prometheus):
    _, result = _abtest(capsys, prometheus, "too-few")
    assert result["decision"] == "continue"
    assert "champion has 75 of 100 feedbacks" in result["reason"]
    assert result["p_value"] is None


def test_a_slower_challenger_is_rolled_back_by_the_latency_guardrail(capsys, prometheus):
    _, result = _abtest(capsys, prometheus, "slow")
    assert result["decision"] == "rollback"
    latency = next(g for g in result["guardrails"] if g["name"] == "p95_latency")
    assert not latency["passed"]


def test_a_failing_challenger_is_rolled_back_by_the_error_guardrail(capsys, prometheus):
    _, result = _abtest(capsys, prometheus, "failing")
    assert result["decision"] == "rollback"
    assert result["counts"]["challenger"]["errors"] == 1200
    assert "error_ratio" in result["reason"]


def test_no_difference_continues(capsys, prometheus):
    _, result = _abtest(capsys, prometheus, "equal")
    assert result["decision"] == "continue"
    assert result["p_value"] == 1.0 or result["p_value"] > 0.05


def test_human_output_states_method_and_decision(capsys, prometheus):
    url, end = prometheus
    code = main(
        ["abtest", "--prometheus-url", url, "--deployment", "iris", "--since", str(end - HOUR),
         "--at", str(end)]
    )  # fmt: skip
    text = capsys.readouterr().out
    assert code == 0
    assert "mSPRT" in text and "alpha 0.05" in text
    assert "decision: promote" in text


@pytest.mark.parametrize(
    ("deployment", "message"),
    [
        ("overpaid", "arm 'challenger' at {at}: reward sum 1800 outside [0, 1] x 1500 feedbacks"),
        ("dropping", "arm 'challenger' reward sum (seldon_api_model_feedback_reward_total): a "
                     "series went down 1 time(s) in the last 3600s"),
        ("unscraped", "arm 'challenger': the executor counted 9000 predictions answered 2xx in "
                      "the last 3600s but there is no mlops_model_predictions_total series"),
        ("orphan", "arm 'challenger' at {at}: 1500 feedbacks but no prediction requests"),
    ],
)  # fmt: skip
def test_inconsistent_evidence_is_refused_saying_what_disagrees(
    capsys, prometheus, deployment, message
):
    url, end = prometheus
    code = main(
        ["abtest", "--prometheus-url", url, "--deployment", deployment, "--since",
         str(end - HOUR), "--at", str(end), "--json"]
    )  # fmt: skip
    captured = capsys.readouterr()
    at = datetime.fromtimestamp(end, UTC).isoformat()
    assert code == 1
    assert "no decision taken" in captured.err
    assert message.format(at=at) in captured.err
    assert json.loads(captured.out)["error"]["type"] == "InconsistentEvidence"


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--prometheus-url", "http://127.0.0.1:9", "--deployment", "iris"],
         "cannot reach Prometheus at"),
        (["--deployment", "iris", "--window", "an hour"],
         "--window 'an hour' is not a Prometheus duration"),
        (["--deployment", "iris", "--alpha", "0.7"], "alpha must be in (0, 0.5)"),
        ([], "--prometheus-url needs --deployment NAME"),
    ],
)  # fmt: skip
def test_bad_input_is_refused_with_what_was_expected(capsys, prometheus, arguments, message):
    url, end = prometheus
    code = main(["abtest", "--prometheus-url", url, "--at", str(end), *arguments])
    assert code == 1
    assert message in capsys.readouterr().err
