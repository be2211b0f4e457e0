"""Promotion, rollback and the promotion ledger, kept in MLflow so they work against any server.

MLflow has no compare-and-set on an alias, so the ledger is the lock. Each step is one ledger
entry: the experiment ``model-promotions/<model>/<sequence>``. Experiment names are unique in
MLflow's store (``SqlAlchemyStore.create_experiment`` turns the unique-constraint violation
into ``RESOURCE_ALREADY_EXISTS``, mlflow v3.17.2 ``mlflow/store/tracking/sqlalchemy_store.py``),
so creating the entry reserves its sequence number: of two racing steps exactly one gets it,
the other fails and changes nothing. A step then

1. reserves entry ``N`` = last seen + 1, created ``pending`` with every field (who, when, from,
   to, why, evidence) and a lease;
2. checks the alias still points where it was read (compare-and-set); if not, marks the entry
   ``aborted`` and fails;
3. moves the alias;
4. marks the entry ``committed``.

A failure between 1 and 4 leaves the entry ``pending``: ``history`` shows it, and once its lease
has run out the next step settles it by where the alias points (moved: ``committed``, not
moved: ``aborted``) before reserving its own entry. While a pending entry's lease runs, other
steps refuse, so no step can overtake one in flight. ``history`` and ``rollback`` read only the
ledger. This is also the Python API the A/B analysis calls for its ``--apply`` step.
"""

from __future__ import annotations

import getpass
import json
import os
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from mlflow.entities import ViewType
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import RESOURCE_ALREADY_EXISTS, ErrorCode

from model.assessment import assess
from model.conventions import (
    CHALLENGER,
    CHAMPION,
    DEFAULT_MODEL_NAME,
    NO_VERSION,
    TAG_GATE_CHAMPION,
    TAG_GATE_VERDICT,
)
from model.errors import PromotionError
from model.gate import GateThresholds, GateVerdict
from model.locations import artifact_location
from model.registry import alias_version, recorded_thresholds, resolve_version, version_tags
from model.store import Store

LEDGER_EXPERIMENT = "model-promotions"
LEASE_ENV = "MODEL_LEDGER_LEASE_SECONDS"
DEFAULT_LEASE_SECONDS = 120
"""How long a step holds the ledger. The CLI bounds every MLflow call (``model.failfast``), so
a live step finishes far inside it; only a step that died leaves its entry pending longer."""

PENDING, COMMITTED, ABORTED = "pending", "committed", "aborted"
ALIAS_MOVING_ACTIONS = frozenset({"promote", "rollback", "import"})
"""Actions that move ``champion``; ``export`` only records a copy to another registry."""

_TAG = "ledger."
_MAX_EVIDENCE_CHARS = 7000


@dataclass(frozen=True)
class PromotionRecord:
    """One ledger entry; versions are strings; ``state`` is pending, committed or aborted."""

    sequence: int
    action: str
    model_name: str
    from_version: str | None
    to_version: str
    actor: str
    recorded_at: str
    reason: str
    forced: bool
    evidence: dict[str, Any]
    state: str
    note: str
    entry_id: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def promote(
    model_name: str = DEFAULT_MODEL_NAME,
    version: str | int | None = None,
    *,
    tracking_uri: str | None = None,
    force: bool = False,
    reason: str = "",
    actor: str | None = None,
    evidence: dict[str, Any] | None = None,
) -> PromotionRecord:
    """Point ``champion`` at ``version`` (default: the ``challenger``) if its gate passed.

    A failed gate refuses unless ``force`` is set with a ``reason``. ``evidence`` (JSON-able)
    is stored in the ledger beside the gate verdict.
    """
    if force and not reason.strip():
        raise PromotionError("--force needs a --reason saying why the gate is overridden")
    store = Store.open(tracking_uri)
    records = settled_history(store, model_name, actor)
    target = resolve_version(
        store, model_name, None if version is None else str(version), CHALLENGER
    )
    current = alias_version(store, model_name, CHAMPION)
    if current == target:
        raise PromotionError(f"{model_name} version {target} is already the {CHAMPION}")
    verdict = _current_verdict(store, model_name, target, current)
    if not verdict.passed and not force:
        failed = "; ".join(f"{c.name}: {c.detail}" for c in verdict.checks if not c.passed)
        raise PromotionError(
            f"{model_name} version {target} failed the quality gate against {CHAMPION} "
            f"{current} ({failed}); pass --force with --reason to promote anyway"
        )
    return record_step(
        store,
        records,
        action="promote",
        model_name=model_name,
        from_version=current,
        to_version=target,
        actor=actor,
        reason=reason,
        forced=force and not verdict.passed,
        evidence={**(evidence or {}), "gate": verdict.summary()},
    )


def rollback(
    model_name: str = DEFAULT_MODEL_NAME,
    *,
    tracking_uri: str | None = None,
    reason: str = "",
    actor: str | None = None,
) -> PromotionRecord:
    """Return ``champion`` to the version it held before the latest promotion still in effect."""
    store = Store.open(tracking_uri)
    records = settled_history(store, model_name, actor)
    lineage = champion_lineage(records)
    if len(lineage) < 2:
        raise PromotionError(
            f"{model_name} has no earlier {CHAMPION} to roll back to "
            f"(champions so far: {', '.join(lineage) or 'none'})"
        )
    current = alias_version(store, model_name, CHAMPION)
    if current != lineage[-1]:
        raise PromotionError(
            f"the {CHAMPION} alias points at version {current} but the ledger says {lineage[-1]}; "
            "the alias was moved outside `python -m model promote`: promote explicitly instead"
        )
    return record_step(
        store,
        records,
        action="rollback",
        model_name=model_name,
        from_version=current,
        to_version=lineage[-2],
        actor=actor,
        reason=reason,
        forced=False,
        evidence={"rolled_back_version": current},
    )


def history(
    model_name: str = DEFAULT_MODEL_NAME, *, tracking_uri: str | None = None
) -> list[PromotionRecord]:
    """Every ledger entry of ``model_name`` as recorded, oldest first (pending ones included)."""
    return _read_ledger(Store.open(tracking_uri), model_name)


def champion_lineage(records: list[PromotionRecord]) -> list[str]:
    """The stack of champions the committed entries imply: promotions push, rollbacks pop."""
    lineage: list[str] = []
    for record in records:
        if record.state != COMMITTED or record.action not in ALIAS_MOVING_ACTIONS:
            continue
        if record.action == "rollback":
            lineage.pop()
        else:
            lineage.append(record.to_version)
    return lineage


def settled_history(store: Store, model_name: str, actor: str | None) -> list[PromotionRecord]:
    """The ledger with a dead step's pending entry settled; refused while a live step holds it."""
    records = _read_ledger(store, model_name)
    if not records or records[-1].state != PENDING:
        return records
    last = records[-1]
    lease_until = datetime.fromisoformat(last.recorded_at) + _lease()
    if datetime.now(UTC) < lease_until:
        raise PromotionError(
            f"ledger entry #{last.sequence} of {model_name} ({last.action} "
            f"{last.from_version or NO_VERSION} -> {last.to_version} by {last.actor}) is in "
            f"flight until {lease_until.isoformat(timespec='seconds')}; nothing changed, retry "
            "after that (`python -m model history` shows it)"
        )
    moved = last.action in ALIAS_MOVING_ACTIONS
    current = alias_version(store, model_name, CHAMPION) if moved else None
    applied = not moved or current == last.to_version
    state = COMMITTED if applied else ABORTED
    note = (
        f"settled {state} by {actor or _login_name()} at {_now()}: the step stopped part-way; "
        f"the {CHAMPION} alias was found at {current or NO_VERSION}"
    )
    _set_entry_tags(store, last.entry_id, {"state": state, "note": note})
    return [*records[:-1], replace(last, state=state, note=note)]


def record_step(
    store: Store,
    records: list[PromotionRecord],
    *,
    action: str,
    model_name: str,
    from_version: str | None,
    to_version: str,
    actor: str | None,
    reason: str,
    forced: bool,
    evidence: dict[str, Any],
) -> PromotionRecord:
    """Reserve the next ledger entry, compare-and-set the alias (for alias-moving actions), commit.

    ``records`` is the settled ledger the caller decided on; ``from_version`` is the alias as
    the caller read it.
    """
    evidence_json = json.dumps(evidence, separators=(",", ":"), sort_keys=True, default=str)
    if len(evidence_json) > _MAX_EVIDENCE_CHARS:
        raise PromotionError(
            f"evidence is {len(evidence_json)} characters of JSON; at most {_MAX_EVIDENCE_CHARS}"
        )
    sequence = (records[-1].sequence if records else 0) + 1
    tags = {
        "model_name": model_name,
        "action": action,
        "from_version": from_version or NO_VERSION,
        "to_version": to_version,
        "actor": actor or _login_name(),
        "recorded_at": _now(),
        "reason": reason,
        "forced": str(forced).lower(),
        "sequence": str(sequence),
        "evidence": evidence_json,
        "state": PENDING,
        "note": "",
    }
    entry_id = _reserve(store, model_name, sequence, tags)
    record = _record_from_tags(entry_id, {f"{_TAG}{k}": v for k, v in tags.items()})
    if action not in ALIAS_MOVING_ACTIONS:
        return _commit(store, record)
    found = alias_version(store, model_name, CHAMPION)
    if found != from_version:
        note = f"compare-and-set failed: {CHAMPION} was {found or NO_VERSION}, not {from_version}"
        _set_entry_tags(store, entry_id, {"state": ABORTED, "note": note})
        raise PromotionError(
            f"the {CHAMPION} alias of {model_name} moved from {from_version or NO_VERSION} to "
            f"{found or NO_VERSION} while this {action} ran; nothing changed (ledger entry "
            f"#{sequence} aborted): re-read `python -m model history` and retry"
        )
    if datetime.now(UTC) >= datetime.fromisoformat(tags["recorded_at"]) + _lease():
        _set_entry_tags(store, entry_id, {"state": ABORTED, "note": "lease ran out"})
        raise PromotionError(f"ledger entry #{sequence} outlived its lease; nothing changed")
    store.client.set_registered_model_alias(model_name, CHAMPION, to_version)
    _after_alias_move()
    return _commit(store, record)


def _after_alias_move() -> None:
    """Test seam: nothing happens here. tests/model/test_model_promotion_faults.py replaces it
    to kill the MLflow server between the alias move and the ledger commit."""


def _reserve(store: Store, model_name: str, sequence: int, tags: dict[str, str]) -> str:
    """Create ledger entry ``sequence``; its unique experiment name makes this the lock."""
    name = _entry_name(model_name, sequence)
    try:
        return store.client.create_experiment(
            name,
            artifact_location=artifact_location(store.tracking_uri, name),
            tags={f"{_TAG}{key}": value for key, value in tags.items()},
        )
    except MlflowException as exc:
        if exc.error_code != ErrorCode.Name(RESOURCE_ALREADY_EXISTS):
            raise
        raise PromotionError(
            f"another promotion of {model_name} took ledger entry #{sequence} first (lost the "
            "race); nothing changed: re-read `python -m model history` and retry"
        ) from None


def _commit(store: Store, record: PromotionRecord) -> PromotionRecord:
    try:
        _set_entry_tags(store, record.entry_id, {"state": COMMITTED})
    except MlflowException as exc:
        moved = record.action in ALIAS_MOVING_ACTIONS
        raise PromotionError(
            f"ledger entry #{record.sequence} of {record.model_name} ({record.action} "
            f"{record.from_version or NO_VERSION} -> {record.to_version}) could not be committed"
            f"{f'; the {CHAMPION} alias already points at {record.to_version}' if moved else ''}"
            f": {exc}. The entry stays pending: `python -m model history` shows it and the next "
            "promote or rollback settles it by where the alias points"
        ) from exc
    return replace(record, state=COMMITTED)


def _set_entry_tags(store: Store, entry_id: str, tags: dict[str, str]) -> None:
    for key, value in tags.items():
        store.client.set_experiment_tag(entry_id, f"{_TAG}{key}", value)


def _read_ledger(store: Store, model_name: str) -> list[PromotionRecord]:
    prefix = f"{LEDGER_EXPERIMENT}/{model_name}/"
    pattern = prefix.replace("\\", "\\\\").replace("'", "\\'")
    entries, token = [], None
    while True:
        page = store.client.search_experiments(
            view_type=ViewType.ALL,
            max_results=1000,
            filter_string=f"name LIKE '{pattern}%'",
            page_token=token,
        )
        # LIKE treats "_" and "%" in model names as wildcards: keep exact prefixes only.
        entries += [e for e in page if e.name.startswith(prefix) and f"{_TAG}sequence" in e.tags]
        token = page.token
        if not token:
            break
    records = [_record_from_tags(e.experiment_id, e.tags) for e in entries]
    return sorted(records, key=lambda record: record.sequence)


def _entry_name(model_name: str, sequence: int) -> str:
    return f"{LEDGER_EXPERIMENT}/{model_name}/{sequence:06d}"


def _current_verdict(
    store: Store, model_name: str, target: str, champion: str | None
) -> GateVerdict:
    """The recorded verdict if it was taken against today's champion, else a fresh one."""
    tags = version_tags(store, model_name, target)
    if TAG_GATE_VERDICT in tags and tags.get(TAG_GATE_CHAMPION) == (champion or NO_VERSION):
        return GateVerdict.from_dict(json.loads(tags[TAG_GATE_VERDICT]))
    recorded = recorded_thresholds(store, model_name, target)
    return assess(store, model_name, target, GateThresholds.parse(**recorded))


def _lease() -> timedelta:
    raw = os.environ.get(LEASE_ENV, str(DEFAULT_LEASE_SECONDS))
    try:
        seconds = float(raw)
    except ValueError:
        raise PromotionError(f"{LEASE_ENV}={raw!r} is not a number of seconds") from None
    return timedelta(seconds=seconds)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _login_name() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def _record_from_tags(entry_id: str, tags: dict[str, str]) -> PromotionRecord:
    field = {key.removeprefix(_TAG): value for key, value in tags.items() if key.startswith(_TAG)}
    return PromotionRecord(
        sequence=int(field["sequence"]),
        action=field["action"],
        model_name=field["model_name"],
        from_version=None if field["from_version"] == NO_VERSION else field["from_version"],
        to_version=field["to_version"],
        actor=field["actor"],
        recorded_at=field["recorded_at"],
        reason=field["reason"],
        forced=field["forced"] == "true",
        evidence=json.loads(field["evidence"]),
        state=field.get("state", COMMITTED),
        note=field.get("note", ""),
        entry_id=entry_id,
    )
