"""Pins from the registry: the whole lock of a stack (`python -m release pin`), and the pin
changes that follow an alias move (a promotion, a rollback, a new candidate)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from model.conventions import LINEAGE_TAGS, TAG_GATE_CHAMPION, TAG_GATE_VERDICT
from model.errors import PromotionError
from model.promotion import PromotionRecord, gate_entry, ledger_alias, read_ledger
from model.registry import alias_version, version_tags
from model.store import Store
from release.change_request import PinChange
from release.pins import Pin, PinLock, pin_file_for, read_pins
from release.registry import (
    DIGEST_PATTERN,
    DIGEST_TAG,
    ModelRegistry,
    RegistryError,
    first_version_steps,
    pin_of,
    registered,
)
from release.stack_refs import PredictorRef, predictor_refs

PROTECTED = re.compile(r"^\s*mlops-platform:protected:\s*true\b", re.M)


def stack_name(stack_file: Path) -> str:
    """'dev' of 'Pulumi.dev.yaml'."""
    return stack_file.name.removeprefix("Pulumi.").rsplit(".", 1)[0]


def pinned_lock(stack_file: Path, registry: ModelRegistry) -> PinLock:
    """Every predictor of the stack file pinned to what the registry says now. A deployment whose
    models have no version yet is recorded as pending; the merge policy is kept from the current
    pin file, else `approval` for a protected stack (`mlops-platform:protected: true`) and
    `auto` otherwise."""
    pin_file = pin_file_for(stack_file)
    if pin_file.is_file():
        merge = read_pins(pin_file).merge
    else:
        merge = "approval" if PROTECTED.search(stack_file.read_text()) else "auto"
    refs = predictor_refs(stack_file)
    by_deployment: dict[str, list[PredictorRef]] = {}
    for ref in refs:
        by_deployment.setdefault(ref.deployment, []).append(ref)
    deployments: dict[str, dict[str, Pin]] = {}
    pending: dict[str, str] = {}
    for key, members in by_deployment.items():
        found = {m: registered(members, m, registry) for m in sorted({r.model for r in members})}
        unversioned = [m for m, model in found.items() if not model.get("latest_versions")]
        if unversioned:
            pending[key] = first_version_steps(
                key, unversioned, registry.uri, stack_name(stack_file)
            )
            continue
        deployments[key] = {r.predictor: pin_of(r, found[r.model], registry) for r in members}
    return PinLock(stack=stack_name(stack_file), merge=merge, deployments=deployments,
                   pending=pending)  # fmt: skip


def following(stack_file: Path, pin: Pin) -> list[PinChange]:
    """The pin changes that make every predictor pinned through `pin.model@pin.alias` serve
    `pin` (after the alias moved: a promotion, a rollback, a new candidate); none when they
    already do."""
    lock = read_pins(pin_file_for(stack_file))
    return [
        PinChange(deployment, predictor, pin)
        for deployment, predictors in lock.deployments.items()
        for predictor, current in predictors.items()
        if current.model == pin.model and current.alias == pin.alias and current != pin
    ]


def vouched_move(
    store: Store, model: str, alias: str, version: str
) -> tuple[PromotionRecord | None, str]:
    """The signed ledger entry recording ``version``'s passed gate, if the trusted ledger also
    shows ``alias`` at ``version``; else None and why (the alias or gate tags alone, writable
    by any pipeline login, never vouch for a version)."""
    try:
        ledger = read_ledger(store, model)
    except PromotionError as error:
        return None, f"{model}@{alias} -> {version}: {error}"
    if ledger.broken:
        return None, f"{model}@{alias} -> {version}: the ledger is broken: {ledger.broken}"
    said = ledger_alias(ledger.records, alias)
    if said != version:
        return None, (
            f"{model}@{alias} points at version {version} but the signed ledger says "
            f"{said or 'none'}: the alias was moved outside the release path"
        )
    entry = gate_entry(ledger.records, version)
    if entry is None:
        return None, (
            f"{model} version {version} ({alias}) has no passed quality gate in the signed "
            "ledger (its gate.passed tag alone does not count)"
        )
    return entry, ""


def gate_evidence(store: Store, model: str, version: str, entry: PromotionRecord) -> dict:
    """What the ledger entry recording a version's passed gate, and the version's gate and
    lineage tags say (model/conventions.py): the verdict, the champion it was judged against,
    its dataset and commit."""
    tags = version_tags(store, model, version)
    verdict = tags.get(TAG_GATE_VERDICT)
    return {
        "model": model,
        "version": version,
        "gate_passed": True,
        "gate_entry": entry.sequence,
        "gate_champion_version": tags.get(TAG_GATE_CHAMPION),
        "gate_verdict": json.loads(verdict) if verdict else None,
        **{key: tags[key] for key in LINEAGE_TAGS if key in tags},
    }


def registered_pin(store: Store, model: str, version: str, alias: str | None) -> Pin:
    """The pin of `model` version `version` as the tracking store has it (any MLflow store:
    SQLite or a server), taken through `alias`; a version without a well-formed digest is a
    RegistryError."""
    digest = version_tags(store, model, version).get(DIGEST_TAG, "")
    if not DIGEST_PATTERN.match(digest):
        raise RegistryError(
            f"version {version} of model {model!r} in {store.tracking_uri} has no well-formed "
            f"{DIGEST_TAG!r} tag ({digest!r}); register it with `python -m model train`"
        )
    return Pin(model=model, version=str(version), digest=digest, alias=alias,
               registry=store.tracking_uri)  # fmt: skip


def lock_from_store(stack_file: Path, store: Store, merge: str = "auto") -> PinLock:
    """Every predictor of the stack file pinned from a tracking store (SQLite or a server,
    through the MLflow client): for the local demos and tests, whose registries are SQLite."""
    deployments: dict[str, dict[str, Pin]] = {}
    for ref in predictor_refs(stack_file):
        version = ref.version or alias_version(store, ref.model, ref.alias or "")
        if version is None:
            raise RegistryError(f"{ref.where}: {store.tracking_uri} has no such alias")
        deployments.setdefault(ref.deployment, {})[ref.predictor] = registered_pin(
            store, ref.model, version, ref.alias
        )
    return PinLock(stack=stack_name(stack_file), merge=merge, deployments=deployments)
