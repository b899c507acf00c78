"""Typed errors of the console's services.

Views and CLI commands map these to a message a person can act on. Messages
never carry report content, passphrases or tokens.
"""

from __future__ import annotations


class ConsoleError(Exception):
    """Base class of the console's own errors."""


class KeyLockedError(ConsoleError):
    """The organization key is locked: unlock it with the passphrase first."""


class NoPrivateKeyError(ConsoleError):
    """No private key file in ``DATA_DIR/private-keys``."""


class DataKeyError(ConsoleError):
    """The console's data key cannot be opened with the unlocked keys."""


class IntakeError(ConsoleError):
    """The intake cannot be reached or answered something unusable.
    ``status``: the HTTP status it answered, when that was the fault."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class IntakeAuthError(IntakeError):
    """The intake refused the reviewer API token (HTTP 401 or 403)."""


class SyncStoppedError(ConsoleError):
    """A reviewer stopped the sync (the Stop button); what was opened
    before is stored."""


class SyncDeadlineError(ConsoleError):
    """The sync ran for its time limit (``SYNC_DEADLINE``); what it stored
    is kept and the next sync goes on from there."""


class SyncLimitError(ConsoleError):
    """The sync wrote as many attachment bytes as one sync may
    (``SYNC_MAX_BYTES``); what it stored is kept and the next sync goes on
    from there."""


class SyncBusyError(ConsoleError):
    """A sync cannot go on now: another process (the web console or a
    timer's command) holds ``DATA_DIR/sync.lock``, or the database stayed
    busy while an envelope was stored. Syncing again later is safe."""


class SyncNotConfiguredError(ConsoleError):
    """``INTAKE_URL`` or ``INTAKE_TOKEN`` is not set."""


class CaseNotFoundError(ConsoleError):
    """No case with that seq number or envelope id."""
