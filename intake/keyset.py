"""The intake's key set, served as JSON at a stable URL (``/keys.json``) as
well as in the form, so that consoles can compare what the intake offers
reporters with the coalition roster they pinned (``flask --app admin
intake check``, docs/threat-model.md, "Seized intake").

Each entry has the fields of a roster entry (admin/keys/roster.py): recipient id,
names, key id, public key (base64), created, expires, and a status
(``active``: offered to reporters; ``retired``: kept for follow-ups and old
envelopes). The list is in the order the form shows it.
"""

from __future__ import annotations

from typing import Any

from core.envelope.keys import b64encode
from core.keyset import FORMAT, VERSION

from .keyring import PublicKeyring


def keyset_document(keyring: PublicKeyring) -> dict[str, Any]:
    """The key set as served: ``{"format", "version", "keys": [...]}``."""
    return {
        "format": FORMAT,
        "version": VERSION,
        "keys": [
            {
                "recipient_id": k.recipient_id,
                "name": {"en": k.name_en, "zh": k.name_zh},
                "key_id": k.key_id,
                "public_key": b64encode(k.public_key.raw),
                "created": k.created.isoformat(),
                "expires": k.expires.isoformat(),
                "status": "retired" if k.retired else "active",
            }
            for k in keyring.files
        ],
    }
