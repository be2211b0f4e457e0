"""Offline preview: `python -m stacks.render --stack NAME [--config-file PATH] --out DIR`.

Runs the real program under Pulumi's mock runtime and writes every declared resource as YAML:
Kubernetes objects as they would be applied, Helm releases with chart, version and values,
other resources with their inputs. Secrets appear as a fixed placeholder, so the output is
deterministic, needs no passphrase and is safe to post in a merge request. Model versions and
digests come from the pin file beside the stack file (`pins.<stack>.yaml`), as under
`pulumi up`: no registry is asked. An invalid config or a predictor without its pin exits 2
with the message and writes nothing.

Pulumi and the infra package are imported only once a render starts, so `--help` and argument
errors answer at once.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:
    from stacks.mock_runtime import Declared, Registration

REPO_ROOT = Path(__file__).resolve().parent.parent
HELM_RELEASE = "kubernetes:helm.sh/v3:Release"
HELM_DIR = "helm-releases"
PULUMI_DIR = "pulumi"


def render_stack(stack: str, config_file: Path) -> Declared:
    """Validate `config_file` and declare the stack under mocks with the versions of its pin
    file (raises StackConfigError)."""
    from infra.stack_config import (
        SECRET_PLACEHOLDER,
        load_stack_file,
        readable_values,
        secure_keys,
        unset_secrets,
    )
    from stacks.mock_runtime import declare_under_mocks

    config = load_stack_file(config_file)
    raw = yaml.safe_load(config_file.read_text())["config"]
    secure = secure_keys(raw)
    values = readable_values(raw)
    for key in unset_secrets(config):
        if key not in secure:
            # A preview without the stack's secrets: `pulumi up` and `pulumi preview` refuse
            # until the operator sets it (stacks/runtime_config.py).
            print(
                f"note: {config_file.name}: mlops-platform:{key} is not set; rendered as "
                f"{SECRET_PLACEHOLDER!r}. Set it with `pulumi config set --secret "
                f"mlops-platform:{key} <value>` before `pulumi up`",
                file=sys.stderr,
            )
            values[f"mlops-platform:{key}"] = SECRET_PLACEHOLDER
            secure.add(key)
    return declare_under_mocks(stack, values, secure, config_file)


def documents(declared: Declared) -> dict[str, dict]:
    """Relative path -> YAML document for every custom resource and the stack outputs.

    Kubernetes objects sit at the top level, so `kubectl apply --dry-run=server -f DIR` takes
    them as they are; Helm releases go to `helm-releases/`, everything else (random passwords,
    the image build, the provider, the stack outputs) to `pulumi/`, with
    `pulumi/dependencies.yaml` saying what each of them waits on.
    """
    files: dict[str, dict] = {}
    for resource in declared.resources:
        if not resource.custom:
            continue
        files[_file_name(resource)] = _document(resource)
    files[f"{PULUMI_DIR}/stack-outputs.yaml"] = _plain(declared.outputs)
    files[f"{PULUMI_DIR}/dependencies.yaml"] = dependencies(declared)
    return files


def dependencies(declared: Declared) -> dict[str, list[str]]:
    """Render file of each resource -> render files of the resources it waits on, named
    directly or by one of its parent components (a component stands for every resource under
    it, as Pulumi waits for all of them)."""
    by_urn = {r.urn: r for r in declared.resources}
    children: dict[str, list[Registration]] = {}
    for resource in declared.resources:
        children.setdefault(resource.parent, []).append(resource)

    def custom_under(urn: str) -> set[str]:
        resource = by_urn.get(urn)
        if resource is None:
            return set()
        if resource.custom:
            return {urn}
        return {found for child in children.get(urn, []) for found in custom_under(child.urn)}

    waits: dict[str, list[str]] = {}
    for resource in declared.resources:
        if not resource.custom:
            continue
        named, ancestor = set(resource.dependencies), by_urn.get(resource.parent)
        while ancestor is not None:
            named.update(ancestor.dependencies)
            ancestor = by_urn.get(ancestor.parent)
        targets = {custom for urn in named for custom in custom_under(urn)}
        waits[_file_name(resource)] = sorted(_file_name(by_urn[urn]) for urn in targets)
    return waits


def _document(resource: Registration) -> dict:
    inputs = _plain(resource.inputs)
    if resource.type == HELM_RELEASE:
        return {
            "helmRelease": inputs["name"],
            "namespace": inputs["namespace"],
            "chart": inputs["chart"],
            "version": inputs["version"],
            "repository": inputs["repositoryOpts"]["repo"],
            "values": inputs.get("values", {}),
        }
    if resource.type.startswith("kubernetes:") and "kind" in inputs:
        return inputs
    return {"pulumiResource": resource.type, "name": resource.name, "inputs": inputs}


def _file_name(resource: Registration) -> str:
    inputs = resource.inputs
    folder = ""
    if resource.type == HELM_RELEASE:
        folder, stem = f"{HELM_DIR}/", inputs["name"]
    elif resource.type.startswith("kubernetes:") and "kind" in inputs:
        metadata = inputs.get("metadata", {})
        parts = [inputs["kind"], metadata.get("namespace", ""), metadata.get("name", resource.name)]
        stem = "-".join(p for p in parts if p)
    else:
        folder, stem = f"{PULUMI_DIR}/", f"{resource.type.split(':')[-1]}-{resource.name}"
    return folder + re.sub(r"[^a-z0-9.\-]+", "-", stem.lower()) + ".yaml"


def _plain(value: Any) -> Any:
    """Mock-runtime values as plain YAML data: secrets redacted, integral numbers as ints."""
    from pulumi.runtime import rpc

    if rpc.is_rpc_secret(value):
        return _redacted(rpc.unwrap_rpc_secret(value))
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _redacted(value: Any) -> Any:
    """Keep a secret's shape (so objects still validate) but none of its values."""
    from infra.stack_config import SECRET_PLACEHOLDER

    if isinstance(value, dict):
        return {key: _redacted(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_redacted(item) for item in value]
    return SECRET_PLACEHOLDER


def write(files: dict[str, dict], out: Path) -> None:
    """Replace `out` with the rendered files once all are written; if writing fails, `out`
    keeps the previous render and nothing is left behind."""
    staging = Path(tempfile.mkdtemp(prefix=".render-", dir=out.parent))
    try:
        for name, document in sorted(files.items()):
            path = staging / name
            path.parent.mkdir(exist_ok=True)
            path.write_text(yaml.safe_dump(document, sort_keys=True))
    except BaseException:
        shutil.rmtree(staging)
        raise
    if out.exists():
        previous = staging.with_name(f"{staging.name}-previous")
        out.rename(previous)
        staging.rename(out)
        shutil.rmtree(previous)
    else:
        staging.rename(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m stacks.render", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--stack", required=True, help="stack name, e.g. dev or prod")
    parser.add_argument(
        "--config-file", type=Path, help="stack file to render (default: Pulumi.<stack>.yaml)"
    )
    parser.add_argument("--out", type=Path, required=True, help="directory to write YAML into")
    args = parser.parse_args(argv)
    config_file = args.config_file or REPO_ROOT / f"Pulumi.{args.stack}.yaml"
    if not config_file.is_file():
        print(f"error: stack file {config_file} does not exist", file=sys.stderr)
        return 2
    from infra.stack_config import StackConfigError

    try:
        declared = render_stack(args.stack, config_file)
    except StackConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for waiting in declared.outputs.get("pendingDeployments", {}).values():
        print(f"warning: {waiting}", file=sys.stderr)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    files = documents(declared)
    write(files, args.out)
    print(f"rendered {len(files)} files for stack '{args.stack}' into {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
