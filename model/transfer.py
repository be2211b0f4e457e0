"""Promotion across environments: copy a version, byte for byte, into another stack's registry.

The source version (default: its ``champion``, which the source's signed ledger must show as
champion) is downloaded and checked against its ``model_digest`` tag; it counts as gate-passed
only if the source's signed ledger records it (``model.promotion.gate_entry``, with the same
digest), never by its ``gate.passed`` tag. It is uploaded to the target as a new run and version
with the same digest, lineage tags (data hash, dataset, git commit), metrics, gate verdict and
``source.*`` tags, and read back to check the digest again (a version already in the target with
that digest tag is downloaded and checked the same way before it is reused). The target's
``champion`` then moves to it as an ``import`` ledger entry (compare-and-set, like ``promote``),
and the source ledger records an ``export``.

Each side may use its own credentials: ``MLFLOW_FROM_TRACKING_USERNAME`` / ``..._PASSWORD`` /
``..._TOKEN`` / ``..._SERVER_CERT_PATH`` and ``MLFLOW_TO_TRACKING_...`` stand in for MLflow's
``MLFLOW_TRACKING_*`` while that side is talked to, and ``MODEL_FROM_LEDGER_KEY`` /
``MODEL_TO_LEDGER_KEY`` for ``MODEL_LEDGER_KEY``; without them the ambient values apply to both.
The source's ledger is verified with the source's key: the copy trusts the source's release
path to vouch for a passed gate (docs/security.md, "Promotion ledger").
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from mlflow.exceptions import MlflowException

from model.conventions import (
    CHAMPION,
    DRIFT_REFERENCE_ARTIFACT,
    HOLDOUT_ARTIFACT,
    MODEL_ARTIFACT_PATH,
    TAG_MODEL_DIGEST,
    TAG_SOURCE_PREFIX,
)
from model.digest import model_digest
from model.errors import LifecycleError, PromotionError
from model.ledger_signing import LEDGER_KEY_ENV
from model.promotion import (
    PromotionRecord,
    champion_lineage,
    gate_entry,
    record_step,
    settled_history,
)
from model.registry import alias_version, register_version, resolve_version, version_tags
from model.store import Store

CREDENTIAL_KEYS = ("USERNAME", "PASSWORD", "TOKEN", "SERVER_CERT_PATH")
_COPIED_RUN_ARTIFACTS = (HOLDOUT_ARTIFACT, DRIFT_REFERENCE_ARTIFACT)


@dataclass(frozen=True)
class TransferOutcome:
    """What ``promote --from-tracking-uri/--to-tracking-uri`` did; ``as_dict`` is its JSON."""

    model_name: str
    from_tracking_uri: str
    from_version: str
    to_tracking_uri: str
    to_version: str
    model_digest: str
    imported: PromotionRecord | None
    exported: PromotionRecord | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@contextmanager
def side_credentials(side: str) -> Iterator[None]:
    """MLflow's ``MLFLOW_TRACKING_*`` credentials replaced by ``MLFLOW_<side>_TRACKING_*``, and
    the ledger key by ``MODEL_<side>_LEDGER_KEY`` (each registry's ledger has its own key)."""
    names = {f"MLFLOW_TRACKING_{key}": f"MLFLOW_{side}_TRACKING_{key}" for key in CREDENTIAL_KEYS}
    saved = {name: os.environ.get(name) for name in [*names, LEDGER_KEY_ENV]}
    override = {name: os.environ.get(side_name) for name, side_name in names.items()}
    ledger_key = os.environ.get(f"MODEL_{side}_LEDGER_KEY")
    try:
        if any(value is not None for value in override.values()):
            for name, value in override.items():
                _set_env(name, value)
        if ledger_key is not None:
            _set_env(LEDGER_KEY_ENV, ledger_key)
        yield
    finally:
        for name, value in saved.items():
            _set_env(name, value)


def copy_version(
    model_name: str,
    version: str | None,
    *,
    from_tracking_uri: str,
    to_tracking_uri: str,
    actor: str | None,
    reason: str,
    progress: Callable[[str], None],
    force: bool = False,
) -> TransferOutcome:
    """Copy ``version`` (default: the source champion) and make it the target's champion.

    The source's signed ledger must record the version's passed gate and, for the default,
    show it as champion (``force`` with a ``reason`` overrides, and the import entry says
    ``forced``); its files must match its digest.
    """
    if from_tracking_uri == to_tracking_uri:
        raise LifecycleError("--from-tracking-uri and --to-tracking-uri name the same registry")
    if force and not reason.strip():
        raise PromotionError("--force needs a --reason saying why the gate is overridden")
    with tempfile.TemporaryDirectory() as scratch:
        workdir = Path(scratch)
        with side_credentials("FROM"):
            source = Store.open(from_tracking_uri)
            source_ledger = settled_history(source, model_name, actor)
            asked = version
            version = resolve_version(source, model_name, version, CHAMPION)
            tags, run_id, model_dir = _fetch(source, model_name, version, workdir, progress)
        digest = tags[TAG_MODEL_DIGEST]
        lineage = champion_lineage(source_ledger.records)
        unvouched = [
            *_champion_problem(model_name, version, lineage, from_tracking_uri, asked),
            *_gate_problem(model_name, version, digest, source_ledger.records, from_tracking_uri),
        ]
        if unvouched and not force:
            raise PromotionError(
                f"{'; '.join(unvouched)}; nothing copied: pass --force with --reason to copy it "
                "anyway"
            )
        gate = None if unvouched else gate_entry(source_ledger.records, version)
        gate_passed = gate is not None
        with side_credentials("TO"):
            target = Store.open(to_tracking_uri)
            ledger = settled_history(target, model_name, actor)
            copied = _find_copy(target, model_name, digest, workdir)
            if copied is None:
                copied = _upload(
                    target, model_name, version, tags, run_id, source, model_dir, workdir
                )
                progress(f"registered {model_name} version {copied} at {to_tracking_uri}")
            current = alias_version(target, model_name, CHAMPION)
            if current == copied:
                progress(f"{model_name} version {copied} is already the target's {CHAMPION}")
                return TransferOutcome(
                    model_name, from_tracking_uri, version, to_tracking_uri, copied, digest,
                    None, None,
                )  # fmt: skip
            imported = record_step(
                target,
                ledger,
                action="import",
                model_name=model_name,
                from_version=current,
                to_version=copied,
                actor=actor,
                reason=reason,
                forced=not gate_passed,
                evidence={
                    "from_tracking_uri": from_tracking_uri,
                    "from_version": version,
                    "model_digest": digest,
                    "gate_passed": gate_passed,
                    "gate_entry": gate.sequence if gate else None,
                    "refused_unforced": unvouched,
                },
            )
        with side_credentials("FROM"):
            exported = record_step(
                source,
                settled_history(source, model_name, actor),
                action="export",
                model_name=model_name,
                from_version=version,
                to_version=version,
                actor=actor,
                reason=reason,
                forced=False,
                evidence={
                    "to_tracking_uri": to_tracking_uri,
                    "to_version": copied,
                    "model_digest": digest,
                    "import_entry": imported.sequence,
                },
            )
    return TransferOutcome(
        model_name, from_tracking_uri, version, to_tracking_uri, copied, digest, imported, exported
    )


def _fetch(
    source: Store, model_name: str, version: str, workdir: Path, progress: Callable[[str], None]
) -> tuple[dict[str, str], str | None, Path]:
    """Download the version's model (returned) and run artifacts (into ``workdir/run``).

    The model is checked against its digest tag before anything else happens.
    """
    tags = version_tags(source, model_name, version)
    recorded = tags.get(TAG_MODEL_DIGEST)
    if recorded is None:
        raise LifecycleError(
            f"{model_name} version {version} at {source.tracking_uri} has no {TAG_MODEL_DIGEST} "
            "tag; only versions registered by `python -m model train` can be copied"
        )
    progress(f"downloading {model_name} version {version} from {source.tracking_uri}")
    model_dir = _download_model(source, model_name, version, workdir / "source")
    _check_digest(model_dir, recorded, f"{model_name} version {version} at {source.tracking_uri}")
    run_id = source.client.get_model_version(model_name, version).run_id
    if run_id:
        for artifact in _COPIED_RUN_ARTIFACTS:
            destination = workdir / "run" / Path(artifact).parent
            destination.mkdir(parents=True, exist_ok=True)
            try:
                source.download(f"runs:/{run_id}/{artifact}", destination)
            except MlflowException:
                progress(f"source run {run_id} has no {artifact}; not copied")
    return tags, run_id, model_dir


def _champion_problem(
    model_name: str, version: str, lineage: list[str], uri: str, asked: str | None
) -> list[str]:
    """Why the source's champion alias is not to be trusted (copying the default only)."""
    if asked is not None or (lineage and lineage[-1] == version):
        return []
    return [
        f"the champion alias of {model_name} at {uri} points at version {version} but the "
        f"source's signed ledger says the champion is {lineage[-1] if lineage else 'none'} "
        "(the alias was moved outside the release path)"
    ]


def _gate_problem(
    model_name: str, version: str, digest: str, records: list[PromotionRecord], uri: str
) -> list[str]:
    """Why the version does not count as gate-passed: no trusted entry of the source's ledger
    records its passed gate, or the one that does names other files."""
    entry = gate_entry(records, version)
    if entry is None:
        return [
            f"{model_name} version {version} at {uri} has no passed quality gate in the "
            "source's signed ledger (no trusted candidate, unforced promote or import entry; "
            "its gate.passed tag alone does not count)"
        ]
    signed = entry.evidence.get("model_digest")
    if signed is not None and signed != digest:
        return [
            f"{model_name} version {version} at {uri} has digest {digest}, but ledger entry "
            f"#{entry.sequence} recorded its passed gate for {signed}"
        ]
    return []


def _upload(
    target: Store,
    model_name: str,
    version: str,
    tags: dict[str, str],
    source_run_id: str | None,
    source: Store,
    model_dir: Path,
    workdir: Path,
) -> str:
    """A run holding the copied artifacts and a version registered from it; digest re-checked."""
    provenance = {
        f"{TAG_SOURCE_PREFIX}tracking_uri": source.tracking_uri,
        f"{TAG_SOURCE_PREFIX}version": version,
        f"{TAG_SOURCE_PREFIX}run_id": source_run_id or "",
    }
    client = target.client
    run = client.create_run(target.ensure_experiment(model_name), tags=provenance)
    run_id = run.info.run_id
    try:
        client.log_artifacts(run_id, str(model_dir), MODEL_ARTIFACT_PATH)
        run_artifacts = workdir / "run"
        if run_artifacts.is_dir():
            client.log_artifacts(run_id, str(run_artifacts))
    except BaseException:
        client.set_terminated(run_id, "FAILED")
        raise
    client.set_terminated(run_id)
    copied = register_version(
        target,
        model_name,
        f"{run.info.artifact_uri}/{MODEL_ARTIFACT_PATH}",
        run_id,
        {**tags, **provenance},
    )
    readback = _download_model(target, model_name, copied, workdir / "readback")
    _check_digest(readback, tags[TAG_MODEL_DIGEST], f"the copy {copied} at {target.tracking_uri}")
    return copied


def _find_copy(target: Store, model_name: str, digest: str, workdir: Path) -> str | None:
    """A version of the target with this digest already (a re-run copies nothing twice); its
    files are downloaded and hashed first, as the read-back of a fresh copy is, since the tag
    alone is anybody's to write."""
    versions = target.client.search_model_versions(f"name = '{model_name}'")
    matching = [v for v in versions if v.tags.get(TAG_MODEL_DIGEST) == digest]
    if not matching:
        return None
    found = str(max(int(v.version) for v in matching))
    existing = _download_model(target, model_name, found, workdir / f"existing-{found}")
    _check_digest(existing, digest, f"version {found} already at {target.tracking_uri}")
    return found


def _download_model(store: Store, model_name: str, version: str, destination: Path) -> Path:
    destination.mkdir(parents=True, exist_ok=True)
    return store.download(
        store.client.get_model_version_download_uri(model_name, version), destination
    )


def _check_digest(directory: Path, expected: str, what: str) -> None:
    actual = model_digest(directory)
    if actual != expected:
        raise LifecycleError(
            f"model digest mismatch for {what}: the files hash to {actual}, the "
            f"{TAG_MODEL_DIGEST} tag says {expected}; refusing to copy or reuse it"
        )


def _set_env(key: str, value: str | None) -> None:
    if value is None:
        os.environ.pop(key, None)
    else:
        os.environ[key] = value
