"""`make abtest-demo` for real: rollout and A/B decisions against the demo's real Prometheus.

Real parts: MLflow registry (SQLite), two model servers (`python -m serving`) per scenario,
Prometheus scraping them. The gateway stand-in replaces the Istio gateway and the Seldon
executors, which cannot run here. Three scenarios: a weaker challenger is rolled back as
significantly worse at its first step; a stronger one advances 10 -> 50 -> 100 and is promoted;
a challenger whose server stops breaches the error-ratio guardrail and is rolled back. In each,
the A/B table equals what the clients sent.

The same demo also runs on `ExactCountsServerDouble` (test_abtest_demo_exact_double.py), so the
decisions are checked apart from the real server's accounting.
"""

import pytest

from tests.monitoring.abtest_demo_checks import (
    crashing_is_rolled_back_by_the_error_guardrail,
    run_demo,
    stronger_is_promoted_step_by_step,
    table_equals_the_tally,
    weaker_is_rolled_back_at_its_first_step,
)

pytestmark = pytest.mark.long_running


@pytest.fixture(scope="module")
def scenarios(prometheus_binary):
    return run_demo(prometheus_binary)


def test_a_weaker_challenger_is_rolled_back_at_its_first_step(scenarios):
    weaker_is_rolled_back_at_its_first_step(scenarios[0])


def test_a_stronger_challenger_advances_step_by_step_and_is_promoted_at_the_last(scenarios):
    stronger_is_promoted_step_by_step(scenarios[1])


def test_a_crashing_challenger_breaches_the_error_guardrail_and_is_rolled_back(scenarios):
    crashing_is_rolled_back_by_the_error_guardrail(scenarios[2])


@pytest.mark.parametrize("index", [0, 1, 2], ids=["weaker", "stronger", "crashing"])
def test_the_ab_table_equals_what_the_clients_sent(scenarios, index):
    table_equals_the_tally(scenarios[index])
