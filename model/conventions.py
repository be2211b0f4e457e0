"""Registry conventions shared by every command: model names, aliases and version tag keys.

Plain constants, importable without MLflow, so argument parsing stays fast.
"""

DEFAULT_MODEL_NAME = "iris"
CHAMPION = "champion"
"""Serves most live traffic."""
CHALLENGER = "challenger"
"""In a declared rollout: the live canary the rollout plan steps."""
CANDIDATE = "candidate"
"""Passed its gate, not yet exposed: the shadow serves it, no caller sees its answers."""
HOLDOUT_ARTIFACT = "evaluation/holdout.parquet"
DRIFT_REFERENCE_ARTIFACT = "drift_reference.json"
MODEL_ARTIFACT_PATH = "model"
NO_VERSION = "none"

TAG_DATASET_HASH = "dataset_hash"
TAG_DATASET_URI = "dataset_uri"
TAG_DATASET_CONTENT_SHA256 = "dataset_content_sha256"
TAG_GIT_COMMIT = "git_commit"
TAG_MODEL_DIGEST = "model_digest"
TAG_METRIC_PREFIX = "metric."
TAG_GATE_PASSED = "gate.passed"
TAG_GATE_CHAMPION = "gate.champion_version"
TAG_GATE_VERDICT = "gate.verdict"
TAG_SOURCE_PREFIX = "source."
"""Tags of a version copied from another registry: ``source.tracking_uri``, ``.version``..."""

LINEAGE_TAGS = (TAG_DATASET_HASH, TAG_DATASET_URI, TAG_DATASET_CONTENT_SHA256, TAG_GIT_COMMIT)
