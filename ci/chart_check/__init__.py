"""`make chart-check`: every Helm release of every stack rendered at its pinned version with the
stack's values (`helm template`), validated, and checked against the platform's own objects."""
