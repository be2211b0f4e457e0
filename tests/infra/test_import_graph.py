"""The repository's import graph, read from the source with `ast`: no import cycles between
modules (type-only and function-level imports count, as any import does), and dependencies point
one way: the serving image, the training code and the A/B analysis never import the platform's
Pulumi program (`infra/`, `stacks/`), the analysis does not import the training code (both take
their base errors from `common/`, which imports none of them)."""

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGES = (
    "common",
    "analysis",
    "model",
    "serving",
    "infra",
    "stacks",
    "continuous_training",
    "request_log",
    "localrun",
    "e2e",
    "ci",
)
"""Top-level packages of the repository (tests excluded)."""

FORBIDDEN = {
    "common": tuple(p for p in PACKAGES if p != "common"),
    "model": ("infra", "stacks"),
    "analysis": ("infra", "stacks", "model"),
    "serving": ("infra", "stacks"),
    "continuous_training": ("infra", "stacks"),
    "request_log": ("infra", "stacks"),
}
"""Package -> the packages it must not import (upward arrows)."""


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def repo_modules() -> dict[str, Path]:
    return {
        module_name(path): path
        for package in PACKAGES
        for path in sorted((REPO / package).rglob("*.py"))
        if "__pycache__" not in path.parts
    }


def imported_modules(name: str, path: Path, known: set[str]) -> set[str]:
    """The repository modules `name` imports anywhere in its body: for `from a.b import c`, the
    module `a.b.c` when it is one, else `a.b`."""
    is_package = path.name == "__init__.py"
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = name.split(".")
                anchor = anchor if is_package else anchor[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            targets = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base
                for alias in node.names
            ]
        else:
            continue
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def import_graph() -> dict[str, set[str]]:
    modules = repo_modules()
    known = set(modules)
    return {name: imported_modules(name, path, known) for name, path in modules.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    return import_graph()


def test_the_graph_sees_the_packages_and_their_imports(graph: dict[str, set[str]]) -> None:
    """The reader finds what it must judge: every package, absolute and relative imports."""
    assert {name.partition(".")[0] for name in graph} == set(PACKAGES)
    assert "infra.stack_config" in graph["stacks.stack_edit"]
    assert "infra.components" in graph["infra.stack_config"]


def test_cycle_finder_finds_a_type_only_circle() -> None:
    """The circle the issue named (mlflow -> mlflow_auth -> stack_config -> mlflow) is found,
    type-only or not, and a one-way chain is not."""
    circle = {"a.mlflow": {"a.auth"}, "a.auth": {"a.stack_config"}, "a.stack_config": {"a.mlflow"}}
    assert cycles(circle) == [["a.auth", "a.mlflow", "a.stack_config"]]
    assert cycles({"a": {"b"}, "b": {"c"}, "c": set()}) == []


def test_no_import_cycles(graph: dict[str, set[str]]) -> None:
    assert cycles(graph) == []


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_dependencies_point_one_way(graph: dict[str, set[str]], package: str) -> None:
    upward = sorted(
        f"{name} -> {target}"
        for name, targets in graph.items()
        if name.partition(".")[0] == package
        for target in targets
        if target.partition(".")[0] in FORBIDDEN[package]
    )
    assert upward == [], f"{package} must not import {FORBIDDEN[package]}"


def test_no_package_imports_the_tests() -> None:
    """The demos (`localrun/`) and everything else run without the test tree: helpers both need
    (the throwaway CA of `localrun/tls_files.py`, the trigger process) live outside `tests/`."""
    modules = repo_modules()
    test_modules = {module_name(path) for path in (REPO / "tests").rglob("*.py")}
    known = set(modules) | test_modules
    into_tests = sorted(
        f"{name} -> {target}"
        for name, path in modules.items()
        for target in imported_modules(name, path, known)
        if target in test_modules
    )
    assert into_tests == []
