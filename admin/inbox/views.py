"""Inbox views: list cases, run a sync."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import func, select
from werkzeug.wrappers import Response

from ..cases import count_cases, list_cases
from ..errors import ConsoleError, KeyLockedError
from ..extensions import data_dir, db, db_session, keyring
from ..forms import ActionForm
from ..models import Quarantine
from ..sync import client_from_config, sync

bp = Blueprint("inbox", __name__)


@bp.get("/")
def index() -> str:
    """Cases, newest first, ``?page=N``; snippets only when unlocked."""
    page = request.args.get("page", 1, type=int) or 1
    per_page = int(current_app.config["CASES_PER_PAGE"])
    session = db_session()
    total = count_cases(session)
    pages = max(1, -(-total // per_page))
    page = min(max(1, page), pages)
    return render_template(
        "inbox/index.html",
        cases=list_cases(session, keyring(), page=page, per_page=per_page),
        page=page,
        pages=pages,
        total=total,
        quarantined=session.scalar(select(func.count(Quarantine.id))) or 0,
        form=ActionForm(),
    )


@bp.post("/sync")
def run_sync() -> Response:
    """Pull new envelopes from the intake. Any logged-in account may press
    it once a coordinator has unlocked the key: sync only brings in what the
    key already lets that account read."""
    if not keyring().unlocked:
        flash(_("Unlock the organization key to sync."), "error")
        return redirect(url_for("inbox.index"))
    try:
        with client_from_config(current_app.config) as client:
            result = sync(db(), keyring(), data_dir(), client, int(current_app.config["SYNC_PAGE_SIZE"]))
    except KeyLockedError:
        flash(_("Unlock the organization key to sync."), "error")
    except ConsoleError as exc:
        # These messages name the fault (no content, no token).
        flash(_("Sync failed: %(reason)s", reason=str(exc)), "error")
    else:
        flash(
            _(
                "Sync done: %(added)d added, %(quarantined)d quarantined, %(skipped)d skipped.",
                added=result.added,
                quarantined=result.quarantined,
                skipped=result.skipped,
            ),
            "info",
        )
    return redirect(url_for("inbox.index"))
