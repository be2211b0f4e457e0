"""Labels the platform puts on its own objects, in one place: what selectors elsewhere (the
Alertmanager config selector, checks in tests and CI) rely on."""

APP = "app.kubernetes.io/name"
"""The recommended label naming the application of a workload (its selectors use it)."""
PART_OF = {"app.kubernetes.io/part-of": "mlops-platform"}
"""On every object the platform declares itself (not on what charts create)."""
