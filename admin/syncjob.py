"""The sync the console's page starts, run in the background with its
progress kept for the page to show (issue 5: "progress shown for long
syncs").

A first sync, or one over Tor with many attachments, can take minutes:
run inside the request it would keep the reviewer's browser waiting with
nothing to see, and a gunicorn worker timeout could kill the one process
that holds the unlocked key in the middle of it. So the page hands the sync
to a thread of the console's process (the key lives there, and only there:
docs/console.md, one worker with threads), waits a few seconds for a short
one to finish, and otherwise shows a status page that refreshes itself
until it is done. At most one sync runs per process; the CLI's
``flask --app admin sync`` is the same :func:`admin.sync.sync`, and across
processes the unique envelope ids keep a case from being stored twice.

What is kept and shown is counts only (:class:`admin.sync.SyncProgress`),
never an envelope id or content.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import cast

from flask import Flask, current_app

from . import audit
from .errors import ConsoleError, KeyLockedError
from .extensions import DB_EXTENSION, KEYRING_EXTENSION
from .sync import SyncProgress, SyncResult, client_from_config, sync

EXTENSION = "admin_syncjob"


@dataclass(frozen=True)
class SyncStatus:
    """A background sync as the status page shows it.

    ``started`` and ``finished`` are ``time.monotonic()`` seconds
    (``finished`` None while it runs); ``progress`` the last committed page;
    ``result`` the counts stored once it ended (also when it failed
    part-way); ``error`` why it stopped, in words without content or token
    (:class:`admin.errors.ConsoleError` messages), once it failed.
    ``locked``: it failed because the key was locked."""

    actor: str
    started: float
    finished: float | None = None
    progress: SyncProgress | None = None
    result: SyncResult | None = None
    error: str | None = None
    locked: bool = False

    @property
    def running(self) -> bool:
        return self.finished is None

    def seconds(self, now: float | None = None) -> int:
        """Whole seconds it has run (until it finished)."""
        end = self.finished if self.finished is not None else (time.monotonic() if now is None else now)
        return int(end - self.started)


class SyncJobs:
    """At most one background sync per console process, and the status of
    the last one. Thread-safe.

    Args:
        app: the console app the syncs run in (its database, keyring,
            ``INTAKE_*`` and ``SYNC_PAGE_SIZE`` settings).
    """

    def __init__(self, app: Flask) -> None:
        self._app = app
        self._lock = threading.Lock()
        self._status: SyncStatus | None = None
        self._done = threading.Event()
        self._done.set()

    def status(self) -> SyncStatus | None:
        """The running or last sync, None before the first."""
        with self._lock:
            return self._status

    def start(self, actor: str) -> bool:
        """Start a sync for ``actor`` (the account that pressed Sync, for
        the audit log) unless one is running.

        Returns:
            True if this call started it, False if one was already running.
        """
        with self._lock:
            if self._status is not None and self._status.running:
                return False
            self._status = SyncStatus(actor=actor, started=time.monotonic())
            self._done.clear()
        threading.Thread(target=self._run, args=(actor,), name="sync-job", daemon=True).start()
        return True

    def wait(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for the running sync; True once
        none is running."""
        return self._done.wait(max(0.0, timeout))

    def _progress(self, step: SyncProgress) -> None:
        with self._lock:
            if self._status is not None:
                self._status = replace(self._status, progress=step)

    def _finish(
        self, result: SyncResult | None = None, error: str | None = None, locked: bool = False
    ) -> None:
        with self._lock:
            if self._status is not None and self._status.finished is None:
                self._status = replace(
                    self._status, finished=time.monotonic(), result=result, error=error, locked=locked
                )

    def _run(self, actor: str) -> None:
        try:
            with self._app.app_context():
                self._sync(actor)
        finally:
            # Whatever happened, the job is over (an error not caught
            # below still ends it, with no result).
            self._finish(error="the sync stopped")
            self._done.set()

    def _sync(self, actor: str) -> None:
        app = self._app
        database = app.extensions[DB_EXTENSION]
        result = SyncResult()
        try:
            with client_from_config(app.config) as client:
                sync(
                    database,
                    app.extensions[KEYRING_EXTENSION],
                    Path(app.config["DATA_DIR"]),
                    client,
                    int(app.config["SYNC_PAGE_SIZE"]),
                    progress=self._progress,
                    into=result,
                )
        except KeyLockedError:
            self._finish(error="the organization key is locked", locked=True)
            return
        except ConsoleError as exc:
            failure, message = exc.__class__.__name__, str(exc)
        except Exception as exc:  # noqa: BLE001
            # Logged by class only: a message could quote what was synced.
            app.logger.error("background sync failed: %s", exc.__class__.__name__)
            failure, message = exc.__class__.__name__, "an unexpected error (see the console's log)"
        else:
            with database.session() as session:
                audit.record(session, actor, audit.Action.SYNC, None, result.counts())
            self._finish(result=result)
            return
        # What was stored before the failure stays stored: audited and shown
        # with the failure, so the log's counts add up to the cases.
        with database.session() as session:
            audit.record(session, actor, audit.Action.SYNC_FAILED, None, f"{failure} {result.counts()}")
        self._finish(result=result, error=message)


def sync_jobs() -> SyncJobs:
    """The current app's :class:`SyncJobs` (made in :func:`admin.create_app`)."""
    return cast(SyncJobs, current_app.extensions[EXTENSION])
