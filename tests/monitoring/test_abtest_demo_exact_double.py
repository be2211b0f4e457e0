"""`make abtest-demo`'s three scenarios on `ExactCountsServerDouble` (an in-process model server
whose counters are exact by construction) behind the same real Prometheus: the decisions are
right and each A/B table equals what the clients sent, apart from the real server's accounting
(test_abtest_demo.py runs the demo on the real server)."""

import pytest

from tests.monitoring.abtest_demo_checks import (
    crashing_is_rolled_back_by_the_error_guardrail,
    run_demo,
    stronger_is_promoted_step_by_step,
    table_equals_the_tally,
    weaker_is_rolled_back_at_its_first_step,
)
from tests.monitoring.exact_counts_double import ExactCountsServerDouble

pytestmark = pytest.mark.long_running


@pytest.fixture(scope="module")
def scenarios_on_the_exact_double(prometheus_binary):
    return run_demo(prometheus_binary, serve=ExactCountsServerDouble)


def test_on_the_exact_counting_double_the_decisions_are_right_and_the_table_exact(
    scenarios_on_the_exact_double,
):
    weaker, stronger, crashing = scenarios_on_the_exact_double
    weaker_is_rolled_back_at_its_first_step(weaker)
    stronger_is_promoted_step_by_step(stronger)
    crashing_is_rolled_back_by_the_error_guardrail(crashing)
    for scenario in scenarios_on_the_exact_double:
        table_equals_the_tally(scenario)
