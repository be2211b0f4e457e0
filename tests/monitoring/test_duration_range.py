"""A stack's durations become rule `for:`s and rate windows, so the config accepts exactly the
durations promtool accepts: Prometheus keeps them as int64 nanoseconds and refuses longer ones
with "duration out of range" (prometheus/common `model/time.go`, `ParseDuration`)."""

import subprocess
from pathlib import Path

import pytest
from pydantic import TypeAdapter, ValidationError

from analysis.promql import PromDuration

BOUNDARY = ["15250w", "15251w", "106751d", "106752d", "20000w", "9223372036s", "9223372037s"]


def _promtool_accepts(promtool: str, duration: str, workdir: Path) -> bool:
    rules = workdir / f"{duration}.yml"
    rules.write_text(
        f"groups:\n- name: g\n  rules:\n  - alert: A\n    expr: vector(1)\n    for: {duration}\n"
    )
    result = subprocess.run(
        [promtool, "check", "rules", str(rules)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0 or "duration out of range" in result.stdout + result.stderr
    return result.returncode == 0


def _config_accepts(duration: str) -> bool:
    try:
        TypeAdapter(PromDuration).validate_python(duration)
    except ValidationError as error:
        assert "out of Prometheus' range" in str(error)
        return False
    return True


@pytest.mark.parametrize("duration", BOUNDARY)
def test_the_config_and_promtool_agree_at_the_range_limit(promtool, tmp_path, duration):
    assert _config_accepts(duration) == _promtool_accepts(promtool, duration, tmp_path)
