"""The record of one named check: the quality gate's comparisons and the A/B rule's guardrails
both report in it."""

from dataclasses import dataclass


@dataclass(frozen=True)
class GateCheck:
    """One named comparison and whether the challenger met it."""

    name: str
    passed: bool
    detail: str
