"""The pinned coalition roster: every recipient key the coalition uses, as
the console trusts it, never as the intake says.

A roster file (JSON, UTF-8) lists the coalition's recipient keys::

    {
      "format": "tnr-intake-roster",
      "version": 1,
      "keys": [
        {"recipient_id": "nccc", "name": {"en": "...", "zh": "..."},
         "key_id": "<64 hex: SHA-256 of the public key>",
         "public_key": "<base64 of the 1216-byte X-Wing public key>",
         "created": "2026-11-01", "expires": "2028-11-01",
         "status": "active"}
      ]
    }

``status`` is ``active`` (offered to reporters), ``retired`` (no longer
offered; old envelopes still open) or ``revoked`` (must never be sealed to:
its private half may have leaked). Keys are sorted by recipient id then key
id; :func:`roster_digest` is the SHA-256 of the canonical JSON, for the
coalition's organizations to compare by telephone.

``flask --app admin roster make KEYFILE... --out FILE`` builds one from
public key files, ``roster import FILE`` pins it in the console database
(:class:`admin.models.RosterKey`), ``roster show`` prints what is pinned.
An import refuses a roster that drops a pinned key, changes its
organization, names or dates, or brings a revoked key back, unless
``--replace`` (audited as ``roster.replace``); adding keys and retiring or
revoking them are the normal steps of a rotation. The organization's own
entries (its recipient ids: those of the private key files in
``DATA_DIR/private-keys``) must be exactly the keys the console holds.

Without an imported roster, the console pins its own keys only: an
envelope that names any other key raises an alarm. A coalition console
imports the roster before its first sync.

On every sync (:func:`check_header_keys`), an envelope naming a key
outside the pinned roster, a revoked key, or a key of this organization the
console does not hold, is quarantined with :class:`UnpinnedKeyError`
before anything is opened, and raises an alarm naming the key's
fingerprint as the form shows it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from core.envelope import (
    EnvelopeError,
    KeyFileError,
    PublicKeyFile,
    RecipientPublicKey,
    parse_public_key_file,
)
from core.envelope.keys import b64encode, group_fingerprint

from ..models import RosterKey
from .custody import list_private_keys

FORMAT = "tnr-intake-roster"
VERSION = 1
STATUSES = ("active", "retired", "revoked")
#: The longest organization name kept (characters).
MAX_NAME = 200
#: Status changes an import makes without ``--replace``: they only take trust away.
_ALLOWED_STATUS_CHANGES = frozenset({("active", "retired"), ("active", "revoked"), ("retired", "revoked")})


class RosterError(ValueError):
    """A roster file is malformed, or an import is refused; the message says
    why and names keys by fingerprint."""


class UnpinnedKeyError(EnvelopeError):
    """An envelope names a key the pinned roster does not allow: outside the
    roster, revoked, or this organization's but not held by this console.
    The envelope is quarantined and an alarm raised (``key_id``, ``kind``)."""

    def __init__(self, message: str, key_id: str, kind: str) -> None:
        super().__init__(message)
        self.key_id = key_id
        self.kind = kind


@dataclass(frozen=True)
class RosterEntry:
    """One recipient key of the coalition, as the roster lists it."""

    recipient_id: str
    name_en: str
    name_zh: str
    public_key: RecipientPublicKey
    created: date
    expires: date
    status: str = "active"

    @property
    def key_id(self) -> str:
        """SHA-256 of the public key, 64 hex digits."""
        return self.public_key.key_id

    @property
    def fingerprint(self) -> str:
        """The key id grouped in fours, as the form shows it."""
        return self.public_key.fingerprint

    def document(self) -> dict[str, Any]:
        """The entry as in the roster file."""
        return {
            "recipient_id": self.recipient_id,
            "name": {"en": self.name_en, "zh": self.name_zh},
            "key_id": self.key_id,
            "public_key": b64encode(self.public_key.raw),
            "created": self.created.isoformat(),
            "expires": self.expires.isoformat(),
            "status": self.status,
        }

    @classmethod
    def from_key_file(cls, key: PublicKeyFile, status: str | None = None) -> RosterEntry:
        """From a public key file (its ``retired`` flag gives the status)."""
        return cls(
            recipient_id=key.recipient_id,
            name_en=key.name_en,
            name_zh=key.name_zh,
            public_key=key.public_key,
            created=key.created,
            expires=key.expires,
            status=status or ("retired" if key.retired else "active"),
        )


@dataclass(frozen=True)
class Roster:
    """A coalition roster: its entries sorted by recipient id, then key id."""

    entries: tuple[RosterEntry, ...]

    @classmethod
    def of(cls, entries: Iterable[RosterEntry]) -> Roster:
        """Sorted, and refused with two entries for one key.

        Raises:
            RosterError: a key listed twice.
        """
        ordered = sorted(entries, key=lambda e: (e.recipient_id, e.key_id))
        seen: set[str] = set()
        for entry in ordered:
            if entry.key_id in seen:
                raise RosterError(f"key {entry.fingerprint} is listed twice")
            if max(len(entry.name_en), len(entry.name_zh)) > MAX_NAME:
                raise RosterError(f"key {entry.fingerprint}: a name is longer than {MAX_NAME} characters")
            seen.add(entry.key_id)
        return cls(tuple(ordered))

    def by_key_id(self) -> dict[str, RosterEntry]:
        """Key id -> entry."""
        return {e.key_id: e for e in self.entries}

    def document(self) -> dict[str, Any]:
        """The roster file's JSON document."""
        return {"format": FORMAT, "version": VERSION, "keys": [e.document() for e in self.entries]}

    def to_json(self) -> str:
        """The roster file's text: pretty JSON with a trailing newline."""
        return json.dumps(self.document(), ensure_ascii=False, indent=2) + "\n"

    @property
    def digest(self) -> str:
        """SHA-256 (hex) of the canonical JSON: what organizations compare."""
        return roster_digest(self)


def roster_digest(roster: Roster) -> str:
    """SHA-256, hex, of the roster's canonical JSON (sorted keys, no white
    space, UTF-8): the same roster gives the same digest on every console."""
    canonical = json.dumps(roster.document(), ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def parse_roster(text: str, source: str = "roster") -> Roster:
    """Parse and check a roster file.

    Raises:
        RosterError: not a roster, a malformed entry (named), a key id that
            is not the key's SHA-256, a key listed twice, or no key at all.
    """
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError) as exc:  # RecursionError: nested thousands deep
        raise RosterError(f"{source}: not JSON") from exc
    if not isinstance(doc, dict) or doc.get("format") != FORMAT or doc.get("version") != VERSION:
        raise RosterError(f"{source}: not a {FORMAT} version {VERSION} file")
    keys = doc.get("keys")
    if not isinstance(keys, list) or not keys:
        raise RosterError(f"{source}: lists no key")
    entries = []
    for index, item in enumerate(keys):
        where = f"{source}: key {index + 1}"
        if not isinstance(item, dict):
            raise RosterError(f"{where}: not a JSON object")
        status = item.get("status")
        if status not in STATUSES:
            raise RosterError(f"{where}: status must be one of {', '.join(STATUSES)}")
        # The entry's fields are a public key file's: one parser checks both.
        as_key_file = {
            "format": "tnr-intake-public-key",
            "version": 1,
            "kem": "X-Wing",
            "recipient_id": item.get("recipient_id"),
            "name": item.get("name"),
            "public_key": item.get("public_key"),
            "fingerprint": item.get("key_id"),
            "created": item.get("created"),
            "expires": item.get("expires"),
        }
        try:
            # Expiry is not checked here: a roster keeps expired keys that
            # old envelopes were sealed to.
            key = parse_public_key_file(json.dumps(as_key_file), where, date.min)
        except KeyFileError as exc:
            message = str(exc).replace("fingerprint does not match", "key_id does not match")
            raise RosterError(message) from exc
        entries.append(RosterEntry.from_key_file(key, status=str(status)))
    return Roster.of(entries)


def make_roster(key_files: Sequence[Path], revoke: Iterable[str] = ()) -> Roster:
    """A roster of the public key files ``key_files`` (``keys/`` files of
    every organization); keys whose id starts with one of ``revoke``
    (fingerprints, spaces ignored, at least 8 hex digits) are ``revoked``.

    Raises:
        RosterError: a file cannot be read or parsed (named), a key listed
            twice, a ``revoke`` that matches no key.
    """
    entries = []
    refs = ["".join(r.split()).lower() for r in revoke]
    for ref in refs:
        if len(ref) < 8:
            raise RosterError("give at least the first 8 hex digits of a key to revoke")
    used: set[str] = set()
    for path in key_files:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise RosterError(f"{path}: cannot be read ({exc.__class__.__name__})") from exc
        try:
            key = parse_public_key_file(text, path.name, date.min)
        except KeyFileError as exc:
            raise RosterError(str(exc)) from exc
        revoked = [r for r in refs if key.key_id.startswith(r)]
        used.update(revoked)
        entries.append(RosterEntry.from_key_file(key, status="revoked" if revoked else None))
    unmatched = [r for r in refs if r not in used]
    if unmatched:
        raise RosterError(f"no key file has a key starting with {unmatched[0]}")
    return Roster.of(entries)


# --------------------------------------------------------------------------
# Pinning


def pinned(session: Session) -> Roster | None:
    """The pinned roster, or None when none was imported."""
    rows = session.scalars(select(RosterKey)).all()
    if not rows:
        return None
    return Roster.of(
        RosterEntry(
            recipient_id=r.recipient_id,
            name_en=r.name_en,
            name_zh=r.name_zh,
            public_key=RecipientPublicKey(r.public_key),
            created=r.created,
            expires=r.expires,
            status=r.status,
        )
        for r in rows
    )


def held_keys(data_dir: Path) -> dict[str, str]:
    """Key id -> recipient id of every private key file the console holds
    (their cleartext fields: no passphrase needed).

    Raises:
        KeyFileError: a private key file cannot be read.
    """
    return {info.key_id: info.recipient_id for info, _doc in list_private_keys(data_dir)}


@dataclass
class ImportPlan:
    """What an import changes, by fingerprint: keys added, status changes
    made without ``--replace``, and the drops and changes that need it."""

    added: list[RosterEntry] = field(default_factory=list)
    status_changed: list[tuple[RosterEntry, str]] = field(default_factory=list)
    dropped: list[RosterEntry] = field(default_factory=list)
    changed: list[tuple[RosterEntry, str]] = field(default_factory=list)

    @property
    def needs_replace(self) -> bool:
        return bool(self.dropped or self.changed)


def plan_import(current: Roster | None, new: Roster, held: Mapping[str, str]) -> ImportPlan:
    """Compare ``new`` with the pinned roster ``current`` and with the keys
    the console holds (``held``: key id -> recipient id).

    Raises:
        RosterError: the console holds no private key; the roster lists a
            key of this organization that the console does not hold, or
            leaves out one it holds (the message names the fingerprint).
    """
    if not held:
        raise RosterError(
            "this console holds no private key; make the organization's key first "
            "(flask --app admin keys generate) so its roster entries can be checked"
        )
    own = set(held.values())
    listed = new.by_key_id()
    for entry in new.entries:
        if entry.recipient_id in own and entry.key_id not in held:
            raise RosterError(
                f"the roster lists key {entry.fingerprint} for {entry.recipient_id} (this organization), "
                "but this console does not hold its private key"
            )
    for key_id, recipient_id in sorted(held.items()):
        mine = listed.get(key_id)
        if mine is None:
            raise RosterError(
                f"this console holds key {group_fingerprint(key_id)} of {recipient_id}, "
                "which the roster does not list"
            )
        if mine.recipient_id != recipient_id:
            raise RosterError(
                f"the roster lists key {mine.fingerprint} under {mine.recipient_id}, "
                f"but it is this console's key of {recipient_id}"
            )
    plan = ImportPlan()
    old = current.by_key_id() if current is not None else {}
    for entry in new.entries:
        before = old.get(entry.key_id)
        if before is None:
            plan.added.append(entry)
            continue
        what = [
            name
            for name, a, b in (
                ("organization", before.recipient_id, entry.recipient_id),
                ("English name", before.name_en, entry.name_en),
                ("Chinese name", before.name_zh, entry.name_zh),
                ("created", before.created, entry.created),
                ("expires", before.expires, entry.expires),
            )
            if a != b
        ]
        if before.status != entry.status:
            if (before.status, entry.status) in _ALLOWED_STATUS_CHANGES:
                plan.status_changed.append((entry, f"{before.status} -> {entry.status}"))
            else:
                what.append(f"status {before.status} -> {entry.status}")
        if what:
            plan.changed.append((entry, ", ".join(what)))
    plan.dropped = [e for key_id, e in sorted(old.items()) if key_id not in listed]
    return plan


def pin(session: Session, roster: Roster, today: date) -> None:
    """Make ``roster`` the pinned one, in ``session``'s transaction (the
    caller audits and commits)."""
    session.execute(delete(RosterKey))
    session.add_all(
        RosterKey(
            key_id=e.key_id,
            recipient_id=e.recipient_id,
            name_en=e.name_en,
            name_zh=e.name_zh,
            public_key=e.public_key.raw,
            created=e.created,
            expires=e.expires,
            status=e.status,
            pinned_day=today,
        )
        for e in roster.entries
    )
    session.flush()


# --------------------------------------------------------------------------
# At sync


@dataclass(frozen=True)
class Pins:
    """What a sync checks each envelope's recipient keys against: the
    pinned roster's keys by id (None: no roster imported, only the held
    keys are pinned) and the keys the console holds (key id -> recipient
    id)."""

    roster: Mapping[str, RosterEntry] | None
    held: Mapping[str, str]

    @classmethod
    def load(cls, session: Session, data_dir: Path) -> Pins:
        """The pins now (read once per sync).

        Raises:
            KeyFileError: a private key file cannot be read.
        """
        current = pinned(session)
        return cls(current.by_key_id() if current is not None else None, held_keys(data_dir))

    def name_of(self, key_id: str) -> str | None:
        """The organization a pinned key belongs to, ``"Name (id)"``, or None."""
        entry = (self.roster or {}).get(key_id)
        return f"{entry.name_en} ({entry.recipient_id})" if entry is not None else None


def check_header_keys(key_ids: Sequence[str], pins: Pins) -> None:
    """Refuse an envelope whose header names a key the pins do not allow.

    Raises:
        UnpinnedKeyError: the first key outside the roster (or, with no
            roster imported, not held by this console), a revoked key, or a
            key of this organization that the console does not hold. The
            message names the key's fingerprint as the form shows it.
    """
    own = set(pins.held.values())
    for key_id in key_ids:
        fingerprint = group_fingerprint(key_id)
        if pins.roster is None:
            if key_id not in pins.held:
                raise UnpinnedKeyError(
                    f"the envelope is sealed to key {fingerprint}, which is not pinned "
                    "(no coalition roster is imported: only this console's own keys are pinned)",
                    key_id,
                    "roster.unpinned_key",
                )
            continue
        entry = pins.roster.get(key_id)
        if entry is None:
            raise UnpinnedKeyError(
                f"the envelope is sealed to key {fingerprint}, which is not in the pinned roster",
                key_id,
                "roster.unpinned_key",
            )
        if entry.status == "revoked":
            raise UnpinnedKeyError(
                f"the envelope is sealed to key {fingerprint} of {entry.recipient_id}, "
                "which the roster revokes",
                key_id,
                "roster.unpinned_key",
            )
        if entry.recipient_id in own and key_id not in pins.held:
            raise UnpinnedKeyError(
                f"the envelope is sealed to key {fingerprint} of {entry.recipient_id} (this organization), "
                "which this console does not hold",
                key_id,
                "roster.missing_private_key",
            )
