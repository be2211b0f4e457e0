"""Promotion, rollback and the promotion ledger, kept in MLflow so they work against any server.

The ledger is the experiment ``model-promotions``: one run per promotion or rollback, tagged with
the model, who, from, to, why and the evidence. ``history`` and ``rollback`` read only the ledger.
This is also the Python API the A/B analysis calls for its ``--apply`` step.
"""

from __future__ import annotations

import getpass
import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from model.assessment import assess
from model.errors import PromotionError
from model.gate import GateThresholds, GateVerdict
from model.registry import (
    CHALLENGER,
    CHAMPION,
    DEFAULT_MODEL_NAME,
    NO_VERSION,
    TAG_GATE_CHAMPION,
    TAG_GATE_VERDICT,
    alias_version,
    resolve_version,
    version_tags,
)
from model.store import Store

LEDGER_EXPERIMENT = "model-promotions"
_TAG = "ledger."
_MAX_EVIDENCE_CHARS = 7000


@dataclass(frozen=True)
class PromotionRecord:
    """One ledger entry: ``action`` is ``promote`` or ``rollback``; versions are strings."""

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
    run_id: str

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
    return _move_champion(
        store,
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
    lineage = champion_lineage(history(model_name, tracking_uri=store.tracking_uri))
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
    return _move_champion(
        store,
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
    """Every promotion and rollback of ``model_name``, oldest first."""
    store = Store.open(tracking_uri)
    experiment = store.client.get_experiment_by_name(LEDGER_EXPERIMENT)
    if experiment is None:
        return []
    runs = store.client.search_runs(
        [experiment.experiment_id],
        filter_string=f"tags.`{_TAG}model_name` = '{_quoted(model_name)}'",
        max_results=50000,
    )
    records = [_record_from_tags(run.info.run_id, run.data.tags) for run in runs]
    return sorted(records, key=lambda record: record.sequence)


def champion_lineage(records: list[PromotionRecord]) -> list[str]:
    """The stack of champions the ledger implies: promotions push, rollbacks pop."""
    lineage: list[str] = []
    for record in records:
        if record.action == "rollback":
            lineage.pop()
        else:
            lineage.append(record.to_version)
    return lineage


def _current_verdict(
    store: Store, model_name: str, target: str, champion: str | None
) -> GateVerdict:
    """The recorded verdict if it was taken against today's champion, else a fresh one."""
    tags = version_tags(store, model_name, target)
    if TAG_GATE_VERDICT in tags and tags.get(TAG_GATE_CHAMPION) == (champion or NO_VERSION):
        return GateVerdict.from_dict(json.loads(tags[TAG_GATE_VERDICT]))
    recorded = json.loads(tags[TAG_GATE_VERDICT])["thresholds"] if TAG_GATE_VERDICT in tags else {}
    return assess(store, model_name, target, GateThresholds.parse(**recorded))


def _move_champion(
    store: Store,
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
    """Move the alias, then write the ledger entry; undo the move if the entry cannot be written."""
    evidence_json = json.dumps(evidence, separators=(",", ":"), sort_keys=True, default=str)
    if len(evidence_json) > _MAX_EVIDENCE_CHARS:
        raise PromotionError(
            f"evidence is {len(evidence_json)} characters of JSON; at most {_MAX_EVIDENCE_CHARS}"
        )
    sequence = len(history(model_name, tracking_uri=store.tracking_uri)) + 1
    tags = {
        "model_name": model_name,
        "action": action,
        "from_version": from_version or NO_VERSION,
        "to_version": to_version,
        "actor": actor or _login_name(),
        "recorded_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "reason": reason,
        "forced": str(forced).lower(),
        "sequence": str(sequence),
        "evidence": evidence_json,
    }
    store.client.set_registered_model_alias(model_name, CHAMPION, to_version)
    try:
        run = store.client.create_run(
            store.ensure_experiment(LEDGER_EXPERIMENT),
            run_name=f"{model_name} {action} {tags['from_version']}->{to_version}",
            tags={f"{_TAG}{key}": value for key, value in tags.items()},
        )
        store.client.set_terminated(run.info.run_id)
    except Exception:
        _restore_alias(store, model_name, from_version)
        raise
    return _record_from_tags(run.info.run_id, run.data.tags)


def _login_name() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def _restore_alias(store: Store, model_name: str, version: str | None) -> None:
    if version is None:
        store.client.delete_registered_model_alias(model_name, CHAMPION)
    else:
        store.client.set_registered_model_alias(model_name, CHAMPION, version)


def _record_from_tags(run_id: str, tags: dict[str, str]) -> PromotionRecord:
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
        run_id=run_id,
    )


def _quoted(value: str) -> str:
    return value.replace("'", "\\'")
