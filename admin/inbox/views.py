"""Inbox views: list cases, run a sync."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, select
from werkzeug.wrappers import Response

from .. import taxonomy
from ..audit import log as audit
from ..cases.triage import TAG_RE, InboxFilter, InboxRow, assignable_users, inbox_page
from ..errors import ConsoleError
from ..extensions import db_session, keyring
from ..forms import ActionForm
from ..models import DISPOSITIONS, Quarantine
from ..sync.client import client_from_config
from ..sync.job import SyncStatus, sync_jobs
from . import search

bp = Blueprint("inbox", __name__)


def _filter_from_args() -> InboxFilter:
    """The inbox filter from the query string; unknown values are ignored."""
    args = request.args
    status = args.get("status") if args.get("status") in DISPOSITIONS else None
    urgent = {"yes": True, "no": False}.get(args.get("urgent", ""))
    who = args.get("assignee", "")
    assignee: int | str | None = None
    if who == "me":
        assignee = int(current_user.id)
    elif who == "none":
        assignee = "none"
    elif who.isascii() and who.isdigit() and int(who) < 2**63:
        assignee = int(who)
    tactic = args.get("tactic") if args.get("tactic") in taxonomy.TACTICS else None
    community = args.get("community") if args.get("community") in taxonomy.COMMUNITIES else None
    province = args.get("province") if args.get("province") in taxonomy.PROVINCES else None
    tag = args.get("tag", "").strip().lower() or None
    return InboxFilter(
        status=status,
        urgent=urgent,
        assignee=assignee,
        tactic=tactic,
        community=community,
        province=province,
        tag=tag if tag and TAG_RE.fullmatch(tag) else None,
        day_from=_day(args.get("from")),
        day_to=_day(args.get("to")),
    )


def _day(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


@bp.get("/")
def index() -> str:
    """Cases matching the filters, urgent first then newest, ``?page=N``;
    snippets only when unlocked."""
    # A page past the last shows the last; beyond any page count, the number
    # is cut before it reaches the database's integer.
    page = max(1, min(request.args.get("page", 1, type=int) or 1, 2**31))
    per_page = int(current_app.config["CASES_PER_PAGE"])
    session = db_session()
    flt = _filter_from_args()
    query = request.args.get("q", "").strip()[: search.MAX_QUERY]
    searching = bool(search.terms_of(query))
    if searching and not keyring().unlocked:
        flash(_("Unlock the organization key to search the reports."), "error")
        searching = False

    def fetch(page: int) -> tuple[list[InboxRow], int]:
        if not searching:
            return inbox_page(session, keyring(), flt, page=page, per_page=per_page)
        found = search.search(session, keyring(), flt, query, page=page, per_page=per_page)
        # The query itself is never logged: it may be a person's name.
        audit.record(
            session,
            current_user.email,
            audit.Action.SEARCH,
            None,
            f"terms={len(search.terms_of(query))} matches={found.total} scanned={found.scanned}",
        )
        session.commit()
        return found.rows, found.total

    rows, total = fetch(page)
    pages = max(1, -(-total // per_page))
    if page > pages:
        page = pages
        rows, total = fetch(page)
    # Filter values to carry into the paging links.
    kept = {k: v for k, v in request.args.items() if k != "page" and v}
    return render_template(
        "inbox/index.html",
        cases=rows,
        searching=searching,
        page=page,
        pages=pages,
        total=total,
        kept=kept,
        args=request.args,
        dispositions=DISPOSITIONS,
        tactics=taxonomy.TACTICS,
        users=assignable_users(session),
        quarantined=session.scalar(select(func.count(Quarantine.id))) or 0,
        syncing=(job := sync_jobs().status()) is not None and job.running,
        form=ActionForm(),
    )


@bp.post("/sync")
def run_sync() -> Response:
    """Pull new envelopes from the intake, in the background
    (admin/sync/job.py). Any logged-in account may press it once a
    coordinator has unlocked the key: sync only brings in what the key
    already lets that account read. A short sync is waited for (up to
    ``SYNC_WAIT`` seconds) and its counts shown in the inbox; a long one
    goes on while the status page shows its progress."""
    if not keyring().unlocked:
        flash(_("Unlock the organization key to sync."), "error")
        return redirect(url_for("inbox.index"))
    try:
        client_from_config(current_app.config).close()
    except ConsoleError as exc:
        flash(_("Sync failed: %(reason)s", reason=str(exc)), "error")
        return redirect(url_for("inbox.index"))
    jobs = sync_jobs()
    job = jobs.start(current_user.email)
    if not job.done.wait(max(0.0, float(current_app.config["SYNC_WAIT"]))):
        return redirect(url_for("inbox.sync_status"))
    outcome = jobs.outcome(job)
    if outcome is not None:
        _flash_outcome(outcome)
    return redirect(url_for("inbox.index"))


@bp.get("/sync")
def sync_status() -> str:
    """The running or last sync: pages and counts so far, refreshed every
    few seconds while it runs (a meta refresh: no script needed)."""
    return render_template("inbox/sync.html", status=sync_jobs().status(), form=ActionForm())


@bp.post("/sync/stop")
def stop_sync() -> Response:
    """Stop the running sync at once, a download in progress included (what
    it stored is kept; the next sync goes on from there). Audited with the
    sync's outcome (``sync.failed``, ``SyncStoppedError``)."""
    if not ActionForm().validate_on_submit():
        abort(400)
    if sync_jobs().stop(current_user.email):
        flash(_("Stopping the sync now: what it stored is kept."), "info")
    return redirect(url_for("inbox.sync_status"))


def _flash_outcome(status: SyncStatus) -> None:
    if status.locked:
        flash(_("Unlock the organization key to sync."), "error")
    elif status.error is not None:
        flash(_("Sync failed: %(reason)s", reason=status.error), "error")
        if status.result is not None and (status.result.added or status.result.quarantined):
            flash(
                _(
                    "Stored before it stopped (and kept): %(added)d added, %(quarantined)d quarantined.",
                    added=status.result.added,
                    quarantined=status.result.quarantined,
                ),
                "info",
            )
    elif status.result is not None:
        result = status.result
        flash(
            _(
                "Sync done: %(added)d added, %(quarantined)d quarantined, %(skipped)d skipped.",
                added=result.added,
                quarantined=result.quarantined,
                skipped=result.skipped,
            ),
            "info",
        )


@bp.get("/quarantine")
def quarantine() -> str:
    """Envelopes that did not open, with the reason (never dropped)."""
    rows = db_session().scalars(select(Quarantine).order_by(Quarantine.seq.desc()).limit(500)).all()
    return render_template("inbox/quarantine.html", rows=rows)
