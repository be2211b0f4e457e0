"""The analysis room: PromQL over the platform's metrics, the A/B decision rule and rollout steps.

Pure Python over counts and query strings: imports no Pulumi and nothing from `infra/` or
`stacks/`, so the model CLI, the monitoring component and the rollout command all share it.
"""
