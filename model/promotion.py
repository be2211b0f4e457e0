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

Entries are signed with the release path's key (``model.ledger_signing``) and verified on every
read: an entry that is unsigned, signed with another key, malformed or misnamed is reported and
skipped, never trusted and never a lock. Only names ``model-promotions/<model>/`` + six ASCII
digits count; only trusted entries decide the next number, which hops over any name taken by an
untrusted entry (also one squatted between the read and the write).

The trusted entries form a chain: each signs (tag ``ledger.previous``) the status signature of
the trusted entry before it, which covers that entry's own signature and final state. Altering,
removing or re-signing-as-pending a genuine entry breaks the chain at the next one; the reader
then names the entry and every step that moves an alias refuses (``Ledger.broken``) instead of
deciding on a ledger with a hole. Entries written before chaining (no ``ledger.previous``) are
read as before; they are not checked for a predecessor.

A version counts as gate-passed only if a trusted, committed entry records it (``gate_entry``):
training's ``candidate`` (written only on a passed gate), or an unforced ``promote`` or
``import``. The ``gate.passed`` tag alone, writable by any pipeline login, never does.
"""

from __future__ import annotations

import getpass
import json
import os
import re
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from mlflow.entities import ViewType
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import RESOURCE_ALREADY_EXISTS, ErrorCode

from model.assessment import assess
from model.console import progress
from model.conventions import (
    CANDIDATE,
    CHALLENGER,
    CHAMPION,
    DEFAULT_MODEL_NAME,
    NO_VERSION,
    TAG_GATE_CHAMPION,
    TAG_GATE_PASSED,
    TAG_GATE_VERDICT,
)
from model.errors import PromotionError
from model.gate import GateThresholds, GateVerdict
from model.ledger_signing import sign, signing_key, verify
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
ALIAS_OF_ACTION = {
    **dict.fromkeys(ALIAS_MOVING_ACTIONS, CHAMPION),
    "candidate": CANDIDATE,
    "expose": CHALLENGER,
}
"""The alias each alias-moving action compare-and-sets: a version that passed its gate becomes
the ``candidate`` (training), a candidate that passed the shadow is exposed as ``challenger``
(the rollout's start), the rollout's end promotes it to ``champion``."""

_TAG = "ledger."
_NO_LINK = "none"
_SEQUENCE_NAME = re.compile(r"[0-9]{6}")
_MAX_SQUATS_SKIPPED = 100
_MAX_EVIDENCE_CHARS = 7000
STATUS = "status"
"""The one tag (``ledger.status``, JSON) a later step rewrites: state, note and their signature;
the other tags are fixed, and signed, when the entry is reserved."""


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


@dataclass(frozen=True)
class Ledger:
    """The entries readers trust, oldest first; the ones they refused, each with why; the
    highest trusted sequence and every sequence a well-formed name takes (the next step reserves
    the first free number after the trusted ones, so a squatted name never blocks it); the link
    the next entry signs (``head``); and why the chain is broken, naming the entry, if it is."""

    records: list[PromotionRecord]
    rejected: list[str]
    last_sequence: int
    taken: frozenset[int] = frozenset()
    head: str = ""
    broken: str | None = None


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
    """Point ``champion`` at ``version`` (default: the ``challenger``, else the ``candidate``
    where no rollout exposed one) if its gate passed.

    A failed gate refuses unless ``force`` is set with a ``reason``. ``evidence`` (JSON-able)
    is stored in the ledger beside the gate verdict.
    """
    if force and not reason.strip():
        raise PromotionError("--force needs a --reason saying why the gate is overridden")
    store = Store.open(tracking_uri)
    ledger = settled_history(store, model_name, actor)
    default_alias = CHALLENGER if alias_version(store, model_name, CHALLENGER) else CANDIDATE
    target = resolve_version(
        store, model_name, None if version is None else str(version), default_alias
    )
    current = alias_version(store, model_name, CHAMPION)
    if current == target:
        raise PromotionError(f"{model_name} version {target} is already the {CHAMPION}")
    verdict = _current_verdict(store, ledger, model_name, target, current)
    if not verdict.passed and not force:
        failed = "; ".join(f"{c.name}: {c.detail}" for c in verdict.checks if not c.passed)
        raise PromotionError(
            f"{model_name} version {target} failed the quality gate against {CHAMPION} "
            f"{current} ({failed}); pass --force with --reason to promote anyway"
        )
    return record_step(
        store,
        ledger,
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
    force: bool = False,
) -> PromotionRecord:
    """Return ``champion`` to the version it held before the latest promotion still in effect,
    if that version's gate passed; a gate-failed one needs ``force`` with a ``reason``."""
    if force and not reason.strip():
        raise PromotionError("--force needs a --reason saying why a gate-failed version serves")
    store = Store.open(tracking_uri)
    ledger = settled_history(store, model_name, actor)
    lineage = champion_lineage(ledger.records)
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
    target = lineage[-2]
    gate = gate_entry(ledger.records, target)
    gate_passed = gate is not None
    if not gate_passed and not force:
        raise PromotionError(
            f"{model_name} version {target}, the previous {CHAMPION}, has no passed quality "
            "gate in the signed ledger (no trusted candidate, unforced promote or import entry "
            f"records it; the {TAG_GATE_PASSED} tag alone does not count); pass --force with "
            "--reason to roll back to it anyway, or promote a version whose gate passed"
        )
    return record_step(
        store,
        ledger,
        action="rollback",
        model_name=model_name,
        from_version=current,
        to_version=target,
        actor=actor,
        reason=reason,
        forced=not gate_passed,
        evidence={
            "rolled_back_version": current,
            "gate_passed": gate_passed,
            "gate_entry": gate.sequence if gate else None,
        },
    )


def record_candidate(
    store: Store, model_name: str, version: str, evidence: dict[str, Any], actor: str | None = None
) -> PromotionRecord:
    """Make ``version``, which passed its gate, the ``candidate``: one signed ledger entry
    (compare-and-set on the alias like every move)."""
    ledger = settled_history(store, model_name, actor)
    return record_step(
        store,
        ledger,
        action="candidate",
        model_name=model_name,
        from_version=alias_version(store, model_name, CANDIDATE),
        to_version=version,
        actor=actor,
        reason="passed its quality gate",
        forced=False,
        evidence=evidence,
    )


def expose(
    model_name: str = DEFAULT_MODEL_NAME,
    *,
    tracking_uri: str | None = None,
    actor: str | None = None,
    reason: str = "",
    evidence: dict[str, Any] | None = None,
) -> PromotionRecord:
    """Point ``challenger`` at the current ``candidate``: the start of a rollout, after the
    shadow's screening (``evidence`` holds it)."""
    store = Store.open(tracking_uri)
    ledger = settled_history(store, model_name, actor)
    target = resolve_version(store, model_name, None, CANDIDATE)
    current = alias_version(store, model_name, CHALLENGER)
    if current == target:
        raise PromotionError(f"{model_name} version {target} is already the {CHALLENGER}")
    return record_step(
        store,
        ledger,
        action="expose",
        model_name=model_name,
        from_version=current,
        to_version=target,
        actor=actor,
        reason=reason,
        forced=False,
        evidence=evidence or {},
    )


def history(
    model_name: str = DEFAULT_MODEL_NAME, *, tracking_uri: str | None = None
) -> list[PromotionRecord]:
    """The trusted ledger entries of ``model_name``, oldest first (pending ones included);
    ``read_ledger`` also lists the refused ones."""
    return read_ledger(Store.open(tracking_uri), model_name).records


def gate_entry(records: list[PromotionRecord], version: str) -> PromotionRecord | None:
    """The latest trusted entry recording that ``version`` passed its quality gate: a committed
    ``candidate`` (training writes it only on a passed gate) or unforced ``promote``/``import``."""
    for record in reversed(records):
        vouches = record.action == "candidate" or (
            record.action in ("promote", "import") and not record.forced
        )
        if vouches and record.state == COMMITTED and record.to_version == version:
            return record
    return None


def ledger_alias(records: list[PromotionRecord], alias: str) -> str | None:
    """The version the trusted ledger says ``alias`` points at (None: no entry moved it)."""
    if alias == CHAMPION:
        lineage = champion_lineage(records)
        return lineage[-1] if lineage else None
    moved = [
        r for r in records if r.state == COMMITTED and ALIAS_OF_ACTION.get(r.action) == alias
    ]
    return moved[-1].to_version if moved else None


def champion_lineage(records: list[PromotionRecord]) -> list[str]:
    """The stack of champions the committed entries imply: promotions push, rollbacks pop."""
    lineage: list[str] = []
    for record in records:
        if record.state != COMMITTED or record.action not in ALIAS_MOVING_ACTIONS:
            continue
        if record.action == "rollback":
            if lineage:
                lineage.pop()
        else:
            lineage.append(record.to_version)
    return lineage


def settled_history(store: Store, model_name: str, actor: str | None) -> Ledger:
    """The trusted ledger with a dead step's pending entry settled; refused while a live step
    holds it, or while its chain is broken. Refused entries are reported on stderr and play no
    part."""
    ledger = read_ledger(store, model_name)
    _report(ledger)
    if ledger.broken:
        raise PromotionError(
            f"the promotion ledger of {model_name} is broken: {ledger.broken}. Nothing changed; "
            "`python -m model history` lists the refused entries. An admin restores the "
            "altered entry's tags from the registry's backup before anything moves"
        )
    records = ledger.records
    if not records or records[-1].state != PENDING:
        return ledger
    last = records[-1]
    lease_until = datetime.fromisoformat(last.recorded_at) + _lease()
    if datetime.now(UTC) < lease_until:
        raise PromotionError(
            f"ledger entry #{last.sequence} of {model_name} ({last.action} "
            f"{last.from_version or NO_VERSION} -> {last.to_version} by {last.actor}) is in "
            f"flight until {lease_until.isoformat(timespec='seconds')}; nothing changed, retry "
            "after that (`python -m model history` shows it)"
        )
    alias = ALIAS_OF_ACTION.get(last.action)
    current = alias_version(store, model_name, alias) if alias else None
    applied = alias is None or current == last.to_version
    state = COMMITTED if applied else ABORTED
    note = (
        f"settled {state} by {actor or _login_name()} at {_now()}: the step stopped part-way; "
        f"the {alias or CHAMPION} alias was found at {current or NO_VERSION}"
    )
    head = _set_status(store, last.entry_id, state, note)
    settled = [*records[:-1], replace(last, state=state, note=note)]
    return replace(ledger, records=settled, head=head)


def record_step(
    store: Store,
    ledger: Ledger,
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

    ``ledger`` is the settled ledger the caller decided on; ``from_version`` is the alias as
    the caller read it.
    """
    evidence_json = json.dumps(evidence, separators=(",", ":"), sort_keys=True, default=str)
    if len(evidence_json) > _MAX_EVIDENCE_CHARS:
        raise PromotionError(
            f"evidence is {len(evidence_json)} characters of JSON; at most {_MAX_EVIDENCE_CHARS}"
        )
    base = {
        "model_name": model_name,
        "action": action,
        "from_version": from_version or NO_VERSION,
        "to_version": to_version,
        "actor": actor or _login_name(),
        "recorded_at": _now(),
        "reason": reason,
        "forced": str(forced).lower(),
        "evidence": evidence_json,
        "previous": ledger.head or _NO_LINK,
    }
    key = signing_key(store.tracking_uri)
    entry_id, fixed = _reserve(store, ledger, base, key)
    sequence = int(fixed["sequence"])
    record = _record_from_tags(entry_id, {**fixed, "state": PENDING, "note": ""})
    alias = ALIAS_OF_ACTION.get(action)
    if alias is None:
        return _commit(store, record)
    found = alias_version(store, model_name, alias)
    if found != from_version:
        note = f"compare-and-set failed: {alias} was {found or NO_VERSION}, not {from_version}"
        _set_status(store, entry_id, ABORTED, note)
        raise PromotionError(
            f"the {alias} alias of {model_name} moved from {from_version or NO_VERSION} to "
            f"{found or NO_VERSION} while this {action} ran; nothing changed (ledger entry "
            f"#{sequence} aborted): re-read `python -m model history` and retry"
        )
    if datetime.now(UTC) >= datetime.fromisoformat(fixed["recorded_at"]) + _lease():
        _set_status(store, entry_id, ABORTED, "lease ran out")
        raise PromotionError(f"ledger entry #{sequence} outlived its lease; nothing changed")
    store.client.set_registered_model_alias(model_name, alias, to_version)
    _after_alias_move()
    return _commit(store, record)


def _after_alias_move() -> None:
    """Test seam: nothing happens here. tests/model/test_model_promotion_faults.py replaces it
    to kill the MLflow server between the alias move and the ledger commit."""


def _reserve(
    store: Store, ledger: Ledger, base: dict[str, str], key: bytes | None
) -> tuple[str, dict[str, str]]:
    """Create the next free ledger entry, signed, pending; its unique experiment name makes
    this the lock. A name taken by a trusted entry means another step won the race; one taken
    by an untrusted entry (a squat) is skipped for the next number."""
    model_name = base["model_name"]
    sequence = ledger.last_sequence + 1
    for _ in range(_MAX_SQUATS_SKIPPED):
        while sequence in ledger.taken:
            sequence += 1
        fixed = {**base, "sequence": str(sequence)}
        signature = sign(key, fixed) if key else None
        tags = {**fixed, **({"signature": signature} if signature else {})}
        tags[STATUS] = _status(key, signature, PENDING, "")
        name = _entry_name(model_name, sequence)
        try:
            entry_id = store.client.create_experiment(
                name,
                artifact_location=artifact_location(store.tracking_uri, name),
                tags={f"{_TAG}{k}": value for k, value in tags.items()},
            )
            return entry_id, fixed
        except MlflowException as exc:
            if exc.error_code != ErrorCode.Name(RESOURCE_ALREADY_EXISTS):
                raise
        try:
            found = store.client.get_experiment_by_name(name)
            if found is None:
                raise _Refused("gone again")
            _checked_entry(found, model_name, f"{sequence:06d}", key)
        except _Refused as refused:
            progress(f"ledger entry name {name} is squatted by an untrusted entry ({refused}); "
                     "taking the next number")  # fmt: skip
            sequence += 1
            continue
        raise PromotionError(
            f"another promotion of {model_name} took ledger entry #{sequence} first (lost the "
            "race); nothing changed: re-read `python -m model history` and retry"
        )
    raise PromotionError(
        f"{_MAX_SQUATS_SKIPPED} ledger entry names of {model_name} after #{ledger.last_sequence} "
        "were squatted while this step ran; nothing changed: retry"
    )


def _commit(store: Store, record: PromotionRecord) -> PromotionRecord:
    try:
        _set_status(store, record.entry_id, COMMITTED, "")
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


def _status(key: bytes | None, signature: str | None, state: str, note: str) -> str:
    """The entry's mutable part as one tag (one write, so never half-updated): its state and
    note, signed together with the entry's own signature."""
    status: dict[str, str | None] = {"state": state, "note": note}
    if key:
        status["signature"] = sign(key, {"entry": signature, **status})
    return json.dumps(status, separators=(",", ":"), sort_keys=True)


def _set_status(store: Store, entry_id: str, state: str, note: str) -> str:
    """Rewrite the entry's status; returns its new link (what the next entry signs)."""
    key = signing_key(store.tracking_uri)
    signature = store.client.get_experiment(entry_id).tags.get(f"{_TAG}signature")
    status = _status(key, signature, state, note)
    store.client.set_experiment_tag(entry_id, f"{_TAG}{STATUS}", status)
    return json.loads(status).get("signature") or ""


def read_ledger(store: Store, model_name: str) -> Ledger:
    """Every entry named ``model-promotions/<model>/<NNNNNN>``, checked: an entry that is
    malformed, misnamed, unsigned or signed with another key is refused (listed in
    ``rejected``), never trusted; then the trusted entries' chain is checked."""
    key = signing_key(store.tracking_uri)
    prefix = f"{LEDGER_EXPERIMENT}/{model_name}/"
    pattern = prefix.replace("\\", "\\\\").replace("'", "\\'")
    entries: list[_Entry] = []
    rejected: list[str] = []
    taken: set[int] = set()
    token = None
    while True:
        page = store.client.search_experiments(
            view_type=ViewType.ALL,
            max_results=1000,
            filter_string=f"name LIKE '{pattern}%'",
            page_token=token,
        )
        # LIKE treats "_" and "%" in model names as wildcards: keep exact prefixes only.
        for entry in (e for e in page if e.name.startswith(prefix)):
            suffix = entry.name.removeprefix(prefix)
            where = f"{entry.name[:120]} (experiment {entry.experiment_id})"
            if not _SEQUENCE_NAME.fullmatch(suffix):
                rejected.append(f"{where}: misnamed (a ledger entry ends in six ASCII digits)")
                continue
            taken.add(int(suffix))
            try:
                entries.append(_checked_entry(entry, model_name, suffix, key))
            except _Refused as refused:
                rejected.append(f"{where}: {refused}")
        token = page.token
        if not token:
            break
    entries.sort(key=lambda e: e.record.sequence)
    records = [e.record for e in entries]
    return Ledger(
        records,
        rejected,
        records[-1].sequence if records else 0,
        frozenset(taken),
        entries[-1].link if entries else "",
        _chain_break(entries) if key else None,
    )


@dataclass(frozen=True)
class _Entry:
    """A trusted entry with its chain fields: the link it signed (None: written before
    chaining) and its own link, the signature of its status."""

    record: PromotionRecord
    previous: str | None
    link: str


def _chain_break(entries: list[_Entry]) -> str | None:
    """Why the trusted entries do not form one chain, naming the entry; None if they do."""
    head, before = _NO_LINK, "none (it is the first)"
    for index, entry in enumerate(entries):
        record = entry.record
        if entry.previous is not None and entry.previous != head:
            return (
                f"entry #{record.sequence} ({record.action} -> {record.to_version}) does not "
                f"follow the trusted entry before it ({before}): an entry between them was "
                "altered or removed"
            )
        if record.state == PENDING and index < len(entries) - 1:
            return (
                f"entry #{record.sequence} ({record.action} -> {record.to_version}) is pending "
                "although later entries follow it: its state was set back"
            )
        head, before = entry.link, f"#{record.sequence}"
    return None


class _Refused(Exception):
    """Why one ledger entry is not trusted."""


def _checked_entry(entry: Any, model_name: str, suffix: str, key: bytes | None) -> _Entry:
    tags = {k.removeprefix(_TAG): v for k, v in entry.tags.items() if k.startswith(_TAG)}
    try:
        status = json.loads(tags.pop(STATUS))
        signature = tags.pop("signature", None)
        previous = tags.pop("previous", None)
        if key is not None:
            signed = tags if previous is None else {**tags, "previous": previous}
            if not verify(key, signed, signature):
                raise _Refused("not signed with the release path's ledger key")
            state = {"entry": signature, "state": status["state"], "note": status["note"]}
            if not verify(key, state, status.get("signature")):
                raise _Refused("its state is not signed with the release path's ledger key")
        record = _record_from_tags(entry.experiment_id, {**tags, **status})
    except (KeyError, ValueError, TypeError, AttributeError) as exc:
        raise _Refused(f"malformed ({type(exc).__name__}: {exc})") from None
    if record.model_name != model_name or f"{record.sequence:06d}" != suffix:
        raise _Refused(f"records {record.model_name} #{record.sequence}, not its own name")
    if record.state not in (PENDING, COMMITTED, ABORTED) or not isinstance(record.evidence, dict):
        raise _Refused(f"malformed (state {record.state!r})")
    return _Entry(record, previous, status.get("signature") or "")


def _report(ledger: Ledger) -> None:
    for line in ledger.rejected:
        progress(f"ledger entry skipped, not trusted: {line}")


def _entry_name(model_name: str, sequence: int) -> str:
    """``model-promotions/<model>/<NNNNNN>``."""
    return f"{LEDGER_EXPERIMENT}/{model_name}/{sequence:06d}"


def _current_verdict(
    store: Store, ledger: Ledger, model_name: str, target: str, champion: str | None
) -> GateVerdict:
    """The recorded verdict if it was taken against today's champion and the signed ledger
    records the version's passed gate, else a fresh one (the tags alone are not trusted)."""
    tags = version_tags(store, model_name, target)
    recorded = TAG_GATE_VERDICT in tags and gate_entry(ledger.records, target) is not None
    if recorded and tags.get(TAG_GATE_CHAMPION) == (champion or NO_VERSION):
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


def _record_from_tags(entry_id: str, field: dict[str, str]) -> PromotionRecord:
    """A record from an entry's tags (without the ``ledger.`` prefix)."""
    return PromotionRecord(
        sequence=int(field["sequence"]),
        action=field["action"],
        model_name=field["model_name"],
        from_version=None if field["from_version"] == NO_VERSION else field["from_version"],
        to_version=field["to_version"],
        actor=field["actor"],
        recorded_at=datetime.fromisoformat(field["recorded_at"]).isoformat(timespec="milliseconds"),
        reason=field["reason"],
        forced=field["forced"] == "true",
        evidence=json.loads(field["evidence"]),
        state=field["state"],
        note=field["note"],
        entry_id=entry_id,
    )
