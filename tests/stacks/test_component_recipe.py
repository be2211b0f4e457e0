"""docs/extending.md's "A platform component" recipe, followed in a temporary copy of the
repository: a tiny component (a config section, its own namespace, a ConfigMap) added as the
recipe says (one folder, one line in infra/components.py, one call in stacks/program.py, its
stack key) renders with the real program, and its namespace is a platform namespace."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
COPIED = (
    "analysis", "common", "continuous_training", "infra", "model", "release", "request_log",
    "serving", "stacks",
)  # fmt: skip

FILES = {
    "__init__.py": '"""A cache: the recipe\'s example component."""\n',
    "config.py": '''"""Stack keys of the cache (pydantic only)."""

from pydantic import Field

from infra.config_types import CamelModel

NAMESPACE = "cache"


class CacheConfig(CamelModel):
    cache_size: str = Field(default="64Mi", pattern=r"^[0-9]+Mi$")
''',
    "namespace.py": '''from infra.cache.config import NAMESPACE, CacheConfig
from infra.namespaces.spec import NamespaceSpec


def namespaces(config: CacheConfig, serving_namespaces: list[str]) -> list[NamespaceSpec]:
    return [NamespaceSpec(NAMESPACE, "restricted", [])]
''',
    "manifests.py": '''from infra.cache.config import NAMESPACE, CacheConfig


def settings(config: CacheConfig) -> dict:
    return {
        "metadata": {"name": "cache-settings", "namespace": NAMESPACE},
        "data": {"size": config.cache_size},
    }
''',
    "component.py": '''import pulumi
import pulumi_kubernetes as k8s

from infra.cache.config import CacheConfig
from infra.cache.manifests import settings
from infra.component import PlatformComponent


class Cache(PlatformComponent):
    def __init__(
        self, name: str, config: CacheConfig, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("mlops:cache:Cache", name, opts)
        k8s.core.v1.ConfigMap("cache-settings", **settings(config), opts=self.child_opts())
        self.register_outputs({})
''',
}


def _insert(path: Path, before: str, text: str) -> None:
    source = path.read_text()
    assert before in source, f"{path} no longer has {before!r}: update the recipe and this test"
    path.write_text(source.replace(before, text + before, 1))


def follow_the_recipe(root: Path) -> None:
    # 1. One folder.
    folder = root / "infra" / "cache"
    folder.mkdir()
    for name, text in FILES.items():
        (folder / name).write_text(text)
    # 2. One line in the component list (and its imports).
    components = root / "infra" / "components.py"
    _insert(
        components,
        "from infra.cert_manager import namespace as cert_manager_namespace\n",
        "from infra.cache import namespace as cache_namespace\n"
        "from infra.cache.config import NAMESPACE as CACHE\n"
        "from infra.cache.config import CacheConfig\n",
    )
    _insert(
        components,
        ')  # fmt: skip\n"""Every section',
        '    Section("cache", CacheConfig, default=CacheConfig(), namespace=CACHE, '
        "namespaces=cache_namespace.namespaces),\n",
    )
    # 3. One call in the program.
    program = root / "stacks" / "program.py"
    _insert(program, "import pulumi\n\n", "from infra.cache.component import Cache\n")
    _insert(
        program,
        '    pulumi.export("grafanaUrl"',
        '    Cache("cache", config.cache, opts=in_namespaces)\n',
    )
    # 4. Its stack key: declared in Pulumi.yaml, set in the stack file.
    _insert(
        root / "Pulumi.yaml",
        "  # Cluster access\n",
        "  cacheSize:\n    type: string\n    description: the cache's size\n"
        '    default: "64Mi"\n',
    )
    stack = root / "Pulumi.local.yaml"
    text = stack.read_text().replace("config:\n", "config:\n  mlops-platform:cacheSize: 128Mi\n", 1)
    stack.write_text(text)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("recipe")
    for name in COPIED:
        shutil.copytree(REPO / name, root / name, ignore=shutil.ignore_patterns("__pycache__"))
    for path in [*REPO.glob("Pulumi*.yaml"), *REPO.glob("pins.*.yaml")]:
        shutil.copy(path, root / path.name)
    shutil.copy(REPO / ".dockerignore", root / ".dockerignore")
    follow_the_recipe(root)
    out = root / "render"
    result = subprocess.run(
        [sys.executable, "-m", "stacks.render", "--stack", "local", "--out", str(out)],
        cwd=root,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    return out


def test_the_component_renders_with_its_stack_key(rendered: Path) -> None:
    config_map = yaml.safe_load((rendered / "configmap-cache-cache-settings.yaml").read_text())
    assert config_map["data"] == {"size": "128Mi"}


def test_its_namespace_is_declared_with_default_deny(rendered: Path) -> None:
    namespace = yaml.safe_load((rendered / "namespace-cache.yaml").read_text())
    labels = namespace["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    assert (rendered / "networkpolicy-cache-default-deny.yaml").is_file()


def test_its_namespace_is_the_platforms_own(rendered: Path) -> None:
    """Gathered from the list: no deployment may use it, as for every platform namespace."""
    result = subprocess.run(
        [sys.executable, "-c", "from infra.components import PLATFORM_NAMESPACES as N; print(N)"],
        cwd=rendered.parent,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "'cache'" in result.stdout
