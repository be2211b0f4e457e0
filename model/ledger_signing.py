"""Signatures on promotion-ledger entries: HMAC-SHA256 with a key only the release path holds.

Any login that may create an experiment could once write an entry that looks like the ledger's,
so readers trust an entry only when its signature checks out with ``MODEL_LEDGER_KEY``. A
shared registry (an ``http(s)://`` tracking URI) always needs the key; a local file or SQLite
store, whose only writer is whoever owns the file, signs and verifies when it is set and
otherwise keeps unsigned entries.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from typing import Any

from model.errors import PromotionError

LEDGER_KEY_ENV = "MODEL_LEDGER_KEY"
MIN_KEY_CHARS = 32
_SHARED_SCHEMES = ("http://", "https://", "databricks")


def signing_key(tracking_uri: str) -> bytes | None:
    """The key from ``MODEL_LEDGER_KEY``; required for a shared registry, else optional."""
    raw = os.environ.get(LEDGER_KEY_ENV, "")
    if raw and len(raw) < MIN_KEY_CHARS:
        raise PromotionError(
            f"{LEDGER_KEY_ENV} holds {len(raw)} characters; it must hold at least "
            f"{MIN_KEY_CHARS} (e.g. `openssl rand -hex 32`)"
        )
    if not raw and tracking_uri.startswith(_SHARED_SCHEMES):
        raise PromotionError(
            f"{LEDGER_KEY_ENV} is unset: the promotion ledger at {tracking_uri} is signed and "
            "verified with the release path's key; set it to that registry's ledger key, the "
            'CI secret MODEL_LEDGER_KEY (docs/security.md, "CI")'
        )
    return raw.encode() if raw else None


def sign(key: bytes, fields: dict[str, Any]) -> str:
    """The hex HMAC-SHA256 of ``fields`` as canonical JSON."""
    message = json.dumps(fields, separators=(",", ":"), sort_keys=True).encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def verify(key: bytes, fields: dict[str, Any], signature: str | None) -> bool:
    return signature is not None and hmac.compare_digest(sign(key, fields), signature)
