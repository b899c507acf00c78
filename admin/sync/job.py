"""The sync the console's page starts, run in the background with its
progress kept for the page to show, so a long sync is seen to move
rather than taken for a hang.

A first sync, or one over Tor with many attachments, can take minutes:
run inside the request it would keep the reviewer's browser waiting with
nothing to see, and a gunicorn worker timeout could kill the one process
that holds the unlocked key in the middle of it. So the page hands the sync
to a thread of the console's process (the key lives there, and only there:
docs/console.md, one worker with threads), waits a few seconds for a short
one to finish, and otherwise shows a status page that refreshes itself
until it is done. At most one sync runs per process; the CLI's
``flask --app admin sync`` is the same :func:`admin.sync.run.sync`, and across
processes the unique envelope ids keep a case from being stored twice.

What is kept and shown is counts only (:class:`admin.sync.run.SyncProgress`),
never an envelope id or content.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import cast

from flask import Flask, current_app
from sqlalchemy.exc import IntegrityError

from ..audit import log as audit
from ..errors import ConsoleError, KeyLockedError, SyncStoppedError
from ..extensions import DB_EXTENSION, KEYRING_EXTENSION
from .client import client_from_config
from .limits import limits_from_config
from .run import SyncProgress, sync
from .storage import SyncResult

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
    #: Set once the job is over (its status final, its audit entry written).
    done: threading.Event = field(default_factory=threading.Event, compare=False, repr=False)
    #: Set by :meth:`SyncJobs.stop`: the sync ends after what it is opening.
    stop: threading.Event = field(default_factory=threading.Event, compare=False, repr=False)
    #: Who pressed Stop, if anyone did.
    stopped_by: str | None = None

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

    def status(self) -> SyncStatus | None:
        """The running or last sync, None before the first."""
        with self._lock:
            return self._status

    def start(self, actor: str) -> SyncStatus:
        """Start a sync for ``actor`` (the account that pressed Sync, for
        the audit log) unless one is running.

        Returns:
            The job this call started, or the one already running; wait for
            it with its ``done`` event, and find its outcome with
            :meth:`outcome`.
        """
        with self._lock:
            if self._status is not None and self._status.running:
                return self._status
            job = self._status = SyncStatus(actor=actor, started=time.monotonic())
        threading.Thread(target=self._run, args=(job,), name="sync-job", daemon=True).start()
        return job

    def stop(self, actor: str) -> bool:
        """Ask the running sync to stop: at once, a download in progress
        included (what it stored is kept; admin/sync/run.py, ``_Watch``).
        True if one was running."""
        with self._lock:
            current = self._status
            if current is None or not current.running:
                return False
            self._status = replace(current, stopped_by=current.stopped_by or actor)
            current.stop.set()
            return True

    def outcome(self, job: SyncStatus) -> SyncStatus | None:
        """The latest status of ``job``, None if another sync has started
        since (its status is that one's now)."""
        current = self.status()
        return current if current is not None and current.done is job.done else None

    def _progress(self, step: SyncProgress) -> None:
        with self._lock:
            if self._status is not None:
                self._status = replace(self._status, progress=step)

    def _finish(
        self,
        job: SyncStatus,
        result: SyncResult | None = None,
        error: str | None = None,
        locked: bool = False,
    ) -> None:
        with self._lock:
            current = self._status
            if current is not None and current.done is job.done and current.finished is None:
                self._status = replace(
                    current, finished=time.monotonic(), result=result, error=error, locked=locked
                )

    def _run(self, job: SyncStatus) -> None:
        try:
            with self._app.app_context():
                self._sync(job)
        finally:
            # Whatever happened, this job is over (an error not caught
            # below still ends it, with no result); only then is it done.
            self._finish(job, error="the sync stopped")
            job.done.set()

    def _sync(self, job: SyncStatus) -> None:
        app = self._app
        result = SyncResult()
        failure: str | None = None
        message: str | None = None
        locked = False
        try:
            with client_from_config(app.config) as client:
                sync(
                    app.extensions[DB_EXTENSION],
                    app.extensions[KEYRING_EXTENSION],
                    Path(app.config["DATA_DIR"]),
                    client,
                    int(app.config["SYNC_PAGE_SIZE"]),
                    progress=self._progress,
                    into=result,
                    stop=job.stop,
                    limits=limits_from_config(app.config),
                )
        except KeyLockedError:
            failure, message, locked = "KeyLockedError", "the organization key is locked", True
        except SyncStoppedError:
            stopper = (self.status() or job).stopped_by or "someone"
            failure, message = "SyncStoppedError", f"stopped by {stopper}"
        except ConsoleError as exc:
            failure, message = exc.__class__.__name__, str(exc)
        except Exception as exc:  # noqa: BLE001
            # Logged by class only: a message could quote what was synced.
            app.logger.error("background sync failed: %s", exc.__class__.__name__)
            failure, message = exc.__class__.__name__, "an unexpected error (see the console's log)"
        if app.config.get("INTAKE_CHECK_ON_SYNC", True) and not locked:
            # The watch from the trusted side runs with every sync: its
            # differences are alarms (the banner shows them).
            from .watch import check_now

            differences, _failure = check_now(
                app.config, app.extensions[DB_EXTENSION], Path(app.config["DATA_DIR"]), actor=job.actor
            )
            result.alarms.extend(f"intake check: {line}" for line in differences)
        # The outcome is shown first, then audited: what was stored before a
        # failure stays stored, and is audited with it, so the log's counts
        # add up to the cases.
        self._finish(job, result=result, error=message, locked=locked)
        if failure is None:
            self._audit(job.actor, audit.Action.SYNC, result.counts())
        else:
            self._audit(job.actor, audit.Action.SYNC_FAILED, f"{failure} {result.counts()}")

    def _audit(self, actor: str, action: str, detail: str) -> None:
        # Two transactions appending at once compute the same audit seq and
        # the second is refused (admin/audit/log.py): tried again, a few times.
        for attempt in range(AUDIT_TRIES):
            try:
                with self._app.extensions[DB_EXTENSION].session() as session:
                    audit.record(session, actor, action, None, detail)
                return
            except IntegrityError:
                time.sleep(0.05 * (attempt + 1))
        self._app.logger.error("the audit entry of a background sync could not be written")


#: Tries to append a sync's audit entry.
AUDIT_TRIES = 5


def sync_jobs() -> SyncJobs:
    """The current app's :class:`SyncJobs` (made in :func:`admin.create_app`)."""
    return cast(SyncJobs, current_app.extensions[EXTENSION])
