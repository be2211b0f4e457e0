"""What each predictor serves, as the stack declares it: the pinned version and its digest from
the stack's pin file (`pins.<stack>.yaml`, release/pins.py; read by
infra/deployments/pinned_versions.py). No registry is asked at deploy time: a moving alias
changes what serves only through a reviewed change of the pin file (release/change_request.py),
which shows in `pulumi preview` and in the merge request's render diff like any other change.
"""

from dataclasses import dataclass, field

SKIP_DEPLOYMENTS_ENV = "MLOPS_SKIP_DEPLOYMENTS"
"""Set to 1 for a stack's first `pulumi up`, when its own MLflow does not exist yet."""


@dataclass(frozen=True)
class DeclaredVersion:
    """What a predictor serves, as declared in its SeldonDeployment: a registered model's
    exact version and the `model_digest` the model server verifies before loading it."""

    model: str
    version: str
    digest: str
    alias: str | None = None
    """The alias the version was pinned through, None for a '<name>/<version>' reference."""

    @property
    def uri(self) -> str:
        """`MODEL_URI` of the model container."""
        return f"models:/{self.model}/{self.version}"

    @property
    def label(self) -> str:
        """`labels.version` / `annotations.version` of the predictor."""
        return self.version


@dataclass
class Resolution:
    """Per deployment key ('<namespace>/<name>'): each predictor's declared version, or why
    the deployment waits for its first registered version."""

    versions: dict[str, dict[str, DeclaredVersion]] = field(default_factory=dict)
    pending: dict[str, str] = field(default_factory=dict)
