"""The hash-chained audit log: who did what to which object, and when.

Each entry is ``seq, at, actor, action, object_id, detail, prev_hash, hash``
with ``hash = SHA-256(canonical JSON of the other fields)`` and ``prev_hash``
the previous entry's hash (:data:`GENESIS` for the first). Editing an entry
changes its hash; deleting or reordering entries breaks the sequence or the
chain; :func:`verify` names the first entry where that happens.

Appending is serialized, across threads, processes and hosts: an entry
gets its ``seq`` and ``prev_hash`` only when its transaction commits
(:func:`record` queues it; a ``before_commit`` hook appends), after the
transaction's own changes are flushed and under the chain's lock: on
PostgreSQL a transaction-scoped advisory lock, on SQLite the database's one
write lock (taken with a write that changes nothing, if the transaction has
not written yet). The head is read and the entries inserted under that
lock, and the lock is released by the commit right after, so two actions
at the same moment both get their entry, one after the other, instead of
one of them failing on a taken ``seq``. Taking the lock only after the
change's own rows are written means a transaction waiting for the chain
never holds it, so no two transactions wait on each other.

A chain alone cannot show that its *last* entries were cut off, so after
every commit that adds entries the newest ``seq`` and ``hash`` are written
to ``DATA_DIR/audit-head.json`` (a file apart from the database, which an
operator may also copy elsewhere); :func:`verify` checks the log still
reaches that head. Writers of the head file take ``DATA_DIR/audit-head.lock``
(``flock``) and each writes a temporary file of its own before the rename,
so processes sharing the data folder never trip over each other's file.
Someone who can rewrite both the database and the data folder can rebuild
a consistent chain: the log is tamper-evident against edits through the
database, not a signature.

What goes in: actor (the account's e-mail, ``cli`` or ``anonymous``), an
action name, an object id (envelope id, account id, key id) and a short
detail the console writes itself (``status=verified``). Never report
content, passphrases, tokens or what someone typed into a login form.
Time is kept to the second in UTC: this is the console, run by the
organization, and reviewers' actions need a time; no reporter's time is
recorded.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import tempfile
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import Connection, event, insert, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, SessionTransaction

from core.db import Database

from ..models import AuditEntry

GENESIS = "0" * 64
HEAD_FILE = "audit-head.json"
HEAD_LOCK_FILE = "audit-head.lock"
_INFO_KEY = "audit_head"
_PENDING_KEY = "audit_pending"
_head_lock = threading.Lock()


class Action:
    """Action names (stable: tests and operators grep for them)."""

    LOGIN = "login"
    LOGIN_FAILED = "login.failed"
    LOGOUT = "logout"
    SECOND_FACTOR_ENROLLED = "second_factor.enrolled"
    SECOND_FACTOR_RESET = "second_factor.reset"
    LOGIN_UNPAUSE = "login.unpause"
    #: A security key answered with a signature counter at or below the
    #: one stored: its secret may have been copied to another device.
    SECOND_FACTOR_POSSIBLE_CLONE = "second_factor.possible_clone"
    UNLOCK = "key.unlock"
    UNLOCK_FAILED = "key.unlock_failed"
    LOCK = "key.lock"
    SYNC = "sync"
    SYNC_FAILED = "sync.failed"
    CASE_VIEW = "case.view"
    ATTACHMENT_DOWNLOAD = "attachment.download"
    ATTACHMENT_PREVIEW = "attachment.preview"
    CASE_UPDATE = "case.update"
    CASE_CODE = "case.code"
    CASE_NOTE = "case.note"
    CASE_ASSIGN = "case.assign"
    ACCOUNT_CREATE = "account.create"
    #: An account chose its console language (detail: the locale, or "browser").
    ACCOUNT_LANGUAGE = "account.language"
    AUDIT_VIEW = "audit.view"
    # Key rotation, retention, redacted copies, search.
    KEY_GENERATE = "key.generate"
    KEY_RETIRE = "key.retire"
    KEY_PUBLIC_FILE = "key.public_file"
    PURGE = "case.purge"
    PURGE_FAILED = "case.purge_failed"
    PURGE_RUN = "purge"
    ATTACHMENT_REDACTED = "attachment.redacted"
    SEARCH = "search"
    CASE_LINK = "case.link"
    CASE_UNLINK = "case.unlink"
    VIGNETTE_SAVE = "vignette.save"
    VIGNETTE_RELEASE = "vignette.release"
    VIGNETTE_WITHDRAW = "vignette.withdraw"
    BRIEFING_VIGNETTES = "briefing.vignettes"
    #: A briefing recorded in the release ledger (admin/briefing/ledger.py).
    BRIEFING_PUBLISH = "briefing.publish"
    #: Releases imported with coded records (another console's ledger).
    BRIEFING_LEDGER_IMPORT = "briefing.ledger_import"
    DIGEST = "digest"
    CASE_REPLY = "case.reply"
    # Against a seized intake (admin/alarms/service.py, admin/keys/roster.py, admin/sync/watch.py).
    ALARM = "alarm"
    ALARM_ACKNOWLEDGE = "alarm.acknowledge"
    ROSTER_IMPORT = "roster.import"
    ROSTER_REPLACE = "roster.replace"
    INTAKE_CHECK = "intake.check"
    # Reply templates (admin/replytemplates/service.py): the template's name only.
    REPLY_TEMPLATE_ADD = "reply_template.add"
    REPLY_TEMPLATE_EDIT = "reply_template.edit"
    REPLY_TEMPLATE_RETIRE = "reply_template.retire"
    REPLY_TEMPLATE_RESTORE = "reply_template.restore"
    REPLY_TEMPLATE_SEED = "reply_template.seed"


def canonical(
    seq: int, at: str, actor: str, action: str, object_id: str | None, detail: str, prev_hash: str
) -> bytes:
    """The bytes an entry's hash covers: a JSON array, UTF-8, no spaces."""
    return json.dumps(
        [seq, at, actor, action, object_id, detail, prev_hash], ensure_ascii=False, separators=(",", ":")
    ).encode("utf-8")


def entry_hash(entry: AuditEntry) -> str:
    """SHA-256 hex of :func:`canonical` of ``entry``'s fields."""
    return hashlib.sha256(
        canonical(
            entry.seq, entry.at, entry.actor, entry.action, entry.object_id, entry.detail, entry.prev_hash
        )
    ).hexdigest()


def now_utc() -> str:
    """Now, UTC, to the second, as stored in ``at``."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def record(
    session: Session,
    actor: str,
    action: str,
    object_id: str | None = None,
    detail: str = "",
    *,
    at: str | None = None,
) -> AuditEntry:
    """Queue an entry in ``session``'s transaction; it is appended when the
    caller commits (so a change and its entry are stored together or not at
    all), after the entries queued before it.

    Returns:
        The entry; its ``seq``, ``prev_hash`` and ``hash`` are set at commit.
    """
    entry = AuditEntry(
        at=at or now_utc(),
        actor=actor[:254],
        action=action[:64],
        object_id=object_id[:64] if object_id else None,
        detail=detail[:500],
    )
    session.info.setdefault(_PENDING_KEY, []).append(entry)
    return entry


#: PostgreSQL advisory lock of the chain, held from reading the head to the
#: commit of the entries after it.
CHAIN_LOCK = 0x746E7261  # "tnra"
_TAKE_CHAIN_LOCK = text("SELECT pg_advisory_xact_lock(:key)").bindparams(key=CHAIN_LOCK)
#: A write that changes nothing: on SQLite it takes the database's write
#: lock (and opens the transaction) if the transaction holds it not yet.
_TAKE_SQLITE_WRITE_LOCK = text("DELETE FROM audit_log WHERE seq < 0")
#: Tries to append when the head moved under us anyway (a process without
#: the chain lock, e.g. an older version during an upgrade).
APPEND_TRIES = 5
_INSERT = insert(AuditEntry.__table__)  # type: ignore[arg-type]


def _lock_chain(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(_TAKE_CHAIN_LOCK)
    else:
        connection.execute(_TAKE_SQLITE_WRITE_LOCK)


def _append_pending(session: Session) -> None:
    """``before_commit``: append the queued entries at the head of the chain."""
    pending: list[AuditEntry] | None = session.info.pop(_PENDING_KEY, None)
    if not pending:
        return
    # The change itself first: its rows (and row locks) are taken before the
    # chain's lock, so a transaction waiting for the chain holds nothing the
    # holder of the chain could wait for.
    session.flush()
    connection = session.connection()
    _lock_chain(connection)
    for attempt in range(APPEND_TRIES):
        last = connection.execute(
            select(AuditEntry.seq, AuditEntry.hash).order_by(AuditEntry.seq.desc()).limit(1)
        ).first()
        seq, prev = (last[0], last[1]) if last is not None else (0, GENESIS)
        for entry in pending:
            seq += 1
            entry.seq, entry.prev_hash = seq, prev
            entry.hash = prev = entry_hash(entry)
        try:
            with connection.begin_nested():
                connection.execute(_INSERT, [_columns(entry) for entry in pending])
        except IntegrityError:
            if attempt == APPEND_TRIES - 1:
                raise
            time.sleep(0.01 * (attempt + 1))
            continue
        session.info[_INFO_KEY] = (seq, prev)
        return


def _columns(entry: AuditEntry) -> dict[str, Any]:
    return {
        "seq": entry.seq,
        "at": entry.at,
        "actor": entry.actor,
        "action": entry.action,
        "object_id": entry.object_id,
        "detail": entry.detail,
        "prev_hash": entry.prev_hash,
        "hash": entry.hash,
    }


@dataclass(frozen=True)
class Verification:
    """Result of :func:`verify`: entries checked, and the first bad entry
    (its seq) with the reason, or None when the log is intact."""

    count: int
    head: tuple[int, str] | None
    bad_seq: int | None = None
    reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.bad_seq is None


def verify(session: Session, head: Mapping[str, Any] | None = None) -> Verification:
    """Walk the log in ``seq`` order and check sequence, chain and hashes,
    then that it reaches ``head`` (``{"seq", "hash"}`` from the head file).
    Stops at the first bad entry."""
    expected_seq, prev, count = 1, GENESIS, 0
    last: tuple[int, str] | None = None
    # yield_per is a server-side cursor on PostgreSQL: close it also when
    # returning early (found by the suite's PostgreSQL run).
    with session.scalars(
        select(AuditEntry).order_by(AuditEntry.seq).execution_options(yield_per=1000)
    ) as entries:
        for entry in entries:
            if entry.seq != expected_seq:
                what = "missing (deleted)" if entry.seq > expected_seq else "out of order"
                return Verification(count, last, expected_seq, f"entry {expected_seq} is {what}")
            if entry.prev_hash != prev:
                return Verification(
                    count, last, entry.seq, f"entry {entry.seq} does not follow entry {entry.seq - 1}"
                )
            if entry_hash(entry) != entry.hash:
                return Verification(
                    count, last, entry.seq, f"entry {entry.seq} was edited (hash does not match)"
                )
            prev, expected_seq, count = entry.hash, expected_seq + 1, count + 1
            last = (entry.seq, entry.hash)
            if head is not None and entry.seq == head.get("seq") and entry.hash != head.get("hash"):
                return Verification(
                    count, last, entry.seq, f"entry {entry.seq} differs from the recorded head"
                )
    if head is not None and isinstance(head.get("seq"), int) and head["seq"] > (last[0] if last else 0):
        first_gone = (last[0] if last else 0) + 1
        return Verification(
            count, last, first_gone, f"entries from {first_gone} to {head['seq']} were deleted"
        )
    return Verification(count, last)


def head_path(data_dir: Path) -> Path:
    """``DATA_DIR/audit-head.json``."""
    return data_dir / HEAD_FILE


def read_head(data_dir: Path) -> dict[str, Any] | None:
    """The recorded head, or None if there is none yet.

    Raises:
        ValueError: the file is not the expected JSON (itself a finding).
    """
    try:
        doc = json.loads(head_path(data_dir).read_text(encoding="ascii"))
    except FileNotFoundError:
        return None
    if (
        not isinstance(doc, dict)
        or not isinstance(doc.get("seq"), int)
        or not isinstance(doc.get("hash"), str)
    ):
        raise ValueError(f"{HEAD_FILE} is not a valid audit head")
    return doc


def _write_head(data_dir: Path, seq: int, digest: str) -> None:
    """Move the head file forward to ``seq`` (never back). Threads take
    :data:`_head_lock`, processes ``audit-head.lock``; the new content goes
    to a temporary file of this writer's own, then replaces the head."""
    path = head_path(data_dir)
    with _head_lock, (data_dir / HEAD_LOCK_FILE).open("a") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        try:
            try:
                current = read_head(data_dir)
            except ValueError:
                current = None
            if current is not None and current["seq"] >= seq:
                return  # a later commit got here first
            fd, tmp = tempfile.mkstemp(prefix=".audit-head.", suffix=".tmp", dir=data_dir)
            try:
                with os.fdopen(fd, "w", encoding="ascii") as f:
                    json.dump({"seq": seq, "hash": digest}, f)
                    f.flush()
                    os.fsync(f.fileno())
                os.replace(tmp, path)
            finally:
                Path(tmp).unlink(missing_ok=True)
        finally:
            fcntl.flock(lock.fileno(), fcntl.LOCK_UN)


def init_app(app: Flask, database: Database) -> None:
    """After each commit of the app's sessions that appended entries, move
    the head file forward."""
    data_dir = Path(app.config["DATA_DIR"])

    def after_commit(session: Session) -> None:
        head = session.info.pop(_INFO_KEY, None)
        if head is not None:
            try:
                _write_head(data_dir, head[0], head[1])
            except OSError as exc:
                # The change and its entry are committed: never answer an
                # error for them. The next commit moves the head on.
                app.logger.error("the audit head file could not be written (%s)", exc.__class__.__name__)

    def after_rollback(session: Session) -> None:
        session.info.pop(_INFO_KEY, None)
        session.info.pop(_PENDING_KEY, None)

    event.listen(database.sessions, "before_commit", _append_pending)
    event.listen(database.sessions, "after_commit", after_commit)

    def after_soft_rollback(session: Session, previous: SessionTransaction) -> None:
        if not previous.nested:  # a savepoint's rollback keeps the outer entries
            after_rollback(session)

    event.listen(database.sessions, "after_soft_rollback", after_soft_rollback)
