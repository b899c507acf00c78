"""Flood limits on the intake: what one receipt and the whole disk may
take (docs/deployment.md, "Floods").

``FOLLOWUP_DAILY_COUNT``, ``FOLLOWUP_DAILY_BYTES``
    Follow-ups one report may receive per day, and their stored bytes
    (header, body and attachments, as sealed). Counted over follow-ups
    dated yesterday, today and tomorrow (the days an upload may carry),
    inside the transaction that stores the next one, so parallel uploads
    under one receipt cannot pass the quota together. Defaults: 20 and
    256 MiB.
``MIN_FREE_DISK``
    Bytes that must stay free on the data folder's file system once an
    upload is stored; an upload that would go below is refused with a
    message that keeps what the reporter wrote. Default: 1 GiB. With
    PostgreSQL on another machine, set the same floor there (the
    database's own disk is not visible from here).
"""

from __future__ import annotations

import shutil

from flask import current_app
from flask_babel import gettext as _

from core.limits import MIB

DEFAULT_FOLLOWUP_DAILY_COUNT = 20
DEFAULT_FOLLOWUP_DAILY_BYTES = 256 * MIB
DEFAULT_MIN_FREE_DISK = 1024 * MIB


def followup_quota() -> tuple[int, int]:
    """``(count, bytes)``: what one report may receive in follow-ups per
    day (``FOLLOWUP_DAILY_COUNT``, ``FOLLOWUP_DAILY_BYTES``)."""
    config = current_app.config
    return (
        int(config.get("FOLLOWUP_DAILY_COUNT") or DEFAULT_FOLLOWUP_DAILY_COUNT),
        int(config.get("FOLLOWUP_DAILY_BYTES") or DEFAULT_FOLLOWUP_DAILY_BYTES),
    )


def disk_has_room(size: int) -> bool:
    """Whether ``size`` more bytes leave at least ``MIN_FREE_DISK`` bytes
    free on the file system of the data folder (where SQLite and the
    ``files`` blob store write). True when the free space cannot be read:
    the store's own errors still stop a write that fails."""
    floor = current_app.config.get("MIN_FREE_DISK")
    floor = DEFAULT_MIN_FREE_DISK if floor is None else int(floor)
    try:
        free = shutil.disk_usage(current_app.config["DATA_DIR"]).free
    except OSError:
        return True
    return free - size >= floor


def disk_full_message() -> str:
    """What a reporter reads when the disk floor refuses an upload."""
    return str(
        _(
            "This service cannot store anything more right now. Nothing was sent, and what you "
            "wrote is still here. Please keep a copy and try again later."
        )
    )


def quota_message() -> str:
    """What a reporter reads when a report's daily follow-up quota is used."""
    return str(
        _(
            "A lot has been added to this report today. Nothing was sent, and what you wrote is "
            "still here. Please keep a copy and try again tomorrow."
        )
    )
