"""``python -m model reproduce <name>/<version>`` and the ``rebuild`` step it runs.

``reproduce`` exits 0 only when the rebuilt ``model_digest`` equals the registered one; else
1, listing what differs (data hash, params, environment, code).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from model.console import emit, progress, table
from model.errors import ConfigurationError

EXIT_DIFFERENT = 1


def register_reproduce(
    subcommands: argparse._SubParsersAction, common: argparse.ArgumentParser
) -> None:
    parser = subcommands.add_parser(
        "reproduce",
        parents=[common],
        help="rebuild a registered version from its recorded code, data, params and seed; "
        "exit 0 only if its model_digest is the registered one",
    )
    parser.add_argument("target", metavar="NAME/VERSION", help="e.g. iris/3")
    parser.set_defaults(handler=_reproduce)


def register_rebuild(
    subcommands: argparse._SubParsersAction, common: argparse.ArgumentParser
) -> None:
    parser = subcommands.add_parser(
        "rebuild",
        parents=[common],
        help="(used by reproduce) build the model directory of a recorded recipe, unlogged",
    )
    parser.add_argument("--spec", required=True)
    parser.add_argument("--recipe", required=True, help="the version's training.config JSON")
    parser.add_argument("--run-id", required=True)
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--data-rev")
    parser.add_argument("--data-repo")
    parser.set_defaults(handler=_rebuild)


def register_restore_data(
    subcommands: argparse._SubParsersAction, common: argparse.ArgumentParser
) -> None:
    parser = subcommands.add_parser(
        "restore-data",
        parents=[common],
        help="write specs' DVC-tracked datasets that were exported from scikit-learn's bundled "
        "copies into the working tree, where their md5 is the committed one (no remote needed)",
    )
    parser.add_argument("--spec", action="append", help="default: every spec with such a dataset")
    parser.set_defaults(handler=_restore_data)


def _restore_data(args: argparse.Namespace) -> int:
    import hashlib

    from model.data import exported_csv
    from model.locations import REPO_ROOT
    from model.specs import load_spec, spec_names
    from model.versioned_data import committed_version

    restored = {}
    for name in args.spec or spec_names():
        spec = load_spec(name)
        if spec is None:
            raise ConfigurationError(f"no training spec {name!r}; specs: {spec_names()}")
        source = spec.dataset
        if source.dvc is None or source.sklearn is None:
            continue
        version = committed_version(source.dvc, None, None)
        data = exported_csv(spec)
        md5 = hashlib.md5(data, usedforsecurity=False).hexdigest()
        if md5 != version.md5:
            raise ConfigurationError(
                f"{source.dvc}.dvc records a version ({version.md5}) "
                f"that is not the {source.sklearn} export ({md5}): `dvc pull {source.dvc}`"
            )
        (REPO_ROOT / source.dvc).write_bytes(data)
        restored[source.dvc] = md5
    emit(args.json, {"restored": restored}, "\n".join(f"{p} {m}" for p, m in restored.items()))
    return 0


def _target(text: str) -> tuple[str, str]:
    name, separator, version = text.rpartition("/")
    if not separator or not name or not version.isdigit():
        raise ConfigurationError(f"{text!r} is not NAME/VERSION (e.g. iris/3)")
    return name, version


def _reproduce(args: argparse.Namespace) -> int:
    from model.registry import resolve_version
    from model.reproduce import reproduce
    from model.store import Store

    name, version = _target(args.target)
    store = Store.open(args.tracking_uri)
    version = resolve_version(store, name, version, "")
    progress(f"reproducing {name} version {version}")
    result = reproduce(store, name, version, progress)
    rows = [
        [c.name, "same" if c.equal else "DIFFERS", c.recorded, c.rebuilt]
        for c in result.comparisons
    ]
    verdict = (
        f"reproduced: {name} version {version} rebuilt with the registered model_digest"
        if result.digest_equal
        else f"NOT reproduced: model_digest differs; what differs: {', '.join(result.differences)}"
    )
    emit(
        args.json,
        result.as_dict(),
        f"{table(['input/output', 'result', 'recorded', 'rebuilt'], rows)}\n\n{verdict}",
    )
    return 0 if result.digest_equal else EXIT_DIFFERENT


def _rebuild(args: argparse.Namespace) -> int:
    from model.data import load_spec_dataset
    from model.rebuild import rebuild
    from model.specs import load_spec

    spec = load_spec(args.spec)
    if spec is None:
        raise ConfigurationError(f"no training spec {args.spec!r} at this revision")
    recipe = json.loads(args.recipe)
    dataset = load_spec_dataset(spec, args.data_rev, args.data_repo)
    rebuilt = rebuild(dataset, recipe, args.run_id, args.out)
    emit(
        args.json,
        {
            "model_digest": rebuilt.model_digest,
            "dataset_hash": rebuilt.dataset_hash,
            "data_version": dataset.data_version.as_dict() if dataset.data_version else None,
            "recipe": recipe,
        },
        rebuilt.model_digest,
    )
    return 0
