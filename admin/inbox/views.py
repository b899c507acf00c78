"""Inbox views: list cases (counts per disposition, cases per week, the
filters, a search posted never put in the URL), bulk actions on chosen
cases, run a sync."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from .. import taxonomy
from ..audit import log as audit
from ..cases import bulk
from ..cases.triage import TAG_RE, InboxFilter, InboxRow, assignable_users, inbox_page
from ..errors import ConsoleError
from ..extensions import db_session, keyring
from ..forms import ActionForm
from ..models import DISPOSITIONS, Case, Quarantine
from ..permissions import allows
from ..sync.client import client_from_config
from ..sync.job import SyncStatus, sync_jobs
from . import search

bp = Blueprint("inbox", __name__)


def _filter_from(args: Mapping[str, str]) -> InboxFilter:
    """The inbox filter from the query string (or a posted search); unknown
    values are ignored."""
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


#: The inbox's chart: cases per week over the last quarter.
WEEKS = 13

#: Filter arguments the inbox keeps across paging, a search and a bulk action.
FILTER_ARGS = ("status", "urgent", "assignee", "tactic", "community", "province", "tag", "from", "to")


def _disposition_counts(session: Session) -> dict[str, int]:
    """Cases in the inbox (follow-ups under their report aside) per
    disposition code, every disposition listed."""
    counts = dict.fromkeys(DISPOSITIONS, 0)
    columns: Select[Any] = select(Case.status, func.count(Case.id))  # type: ignore[assignment]
    query = InboxFilter().apply(columns).group_by(Case.status)
    for status, count in session.execute(query):
        counts[status] = count
    return counts


def _weeks(session: Session, today: date) -> list[tuple[date, int, int]]:
    """Cases per week (Monday to Sunday, UTC days) over the last
    :data:`WEEKS` weeks, this one last, as ``(monday, count, height)``
    with ``height`` the bar's height in twentieths of the busiest week."""
    first = today - timedelta(days=today.weekday() + 7 * (WEEKS - 1))
    counts = [0] * WEEKS
    columns: Select[Any] = select(Case.day, func.count(Case.id))  # type: ignore[assignment]
    query = InboxFilter(day_from=first).apply(columns).group_by(Case.day)
    for day, count in session.execute(query):
        index = (day - first).days // 7
        if 0 <= index < WEEKS:
            counts[index] += count
    top = max(counts) or 1
    return [(first + timedelta(weeks=i), n, -(-20 * n // top)) for i, n in enumerate(counts)]


def _listing(flt: InboxFilter, kept: dict[str, str], query: str, page: int) -> str:
    """The inbox page: ``flt`` (from ``kept``, the filter arguments) and,
    when ``query`` has terms and the key is unlocked, the search."""
    # A page past the last shows the last; beyond any page count, the number
    # is cut before it reaches the database's integer.
    page = max(1, min(page, 2**31))
    per_page = int(current_app.config["CASES_PER_PAGE"])
    session = db_session()
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
    today = datetime.now(UTC).date()
    users = assignable_users(session)
    return render_template(
        "inbox/index.html",
        cases=rows,
        searching=searching,
        query=query if searching else "",
        page=page,
        pages=pages,
        total=total,
        kept=kept,
        filtered=any(k in kept for k in FILTER_ARGS),
        dispositions=DISPOSITIONS,
        counts=_disposition_counts(session),
        weeks=_weeks(session, today),
        today=today,
        tactics=taxonomy.TACTICS,
        users=users,
        quarantined=session.scalar(select(func.count(Quarantine.id))) or 0,
        syncing=(job := sync_jobs().status()) is not None and job.running,
        form=ActionForm(),
    )


def _kept(values: Mapping[str, str]) -> dict[str, str]:
    """The filter arguments among ``values`` that have a value."""
    return {k: str(values[k]) for k in FILTER_ARGS if values.get(k)}


@bp.get("/")
def index() -> str:
    """Cases matching the filters, urgent first then newest, ``?page=N``;
    snippets only when unlocked. A search is never in the URL: it is
    posted (:func:`search_reports`)."""
    page = request.args.get("page", 1, type=int) or 1
    return _listing(_filter_from(request.args), _kept(request.args), "", page)


@bp.post("/")
def search_reports() -> str:
    """The inbox searched: the terms come in the body of a POST, never in
    the URL (nor in the browser's history or a Referer), with the filters
    and the page; paging posts them again."""
    if not ActionForm().validate_on_submit():
        abort(400)
    query = request.form.get("q", "").strip()[: search.MAX_QUERY]
    page = request.form.get("page", 1, type=int) or 1
    return _listing(_filter_from(request.form), _kept(request.form), query, page)


def _bulk_refusal(reason: str) -> str:
    messages: dict[str, str] = {
        "none": _("Choose at least one case."),
        "too_many": _("Choose at most %(count)d cases at once.", count=bulk.MAX_CASES),
        "disposition": _("Choose a disposition."),
        "assignee": _("Choose an account."),
    }
    return messages.get(reason, str(_("Choose what to do with the chosen cases.")))


@bp.post("/bulk")
def bulk_action() -> Response:
    """Assign, set the disposition of, or mark as spam the chosen cases:
    each checked and audited as its own case page's action
    (:mod:`admin.cases.bulk`); refused whole, changing nothing, when the
    account may not do it to one of them."""
    if not ActionForm().validate_on_submit():
        abort(400)
    # Back to the inbox as it was filtered (the filters came as keep-<name>).
    kept: dict[str, Any] = _kept({k[5:]: v for k, v in request.form.items() if k.startswith("keep-")})
    back = redirect(url_for("inbox.index", **kept))
    session = db_session()
    try:
        wanted = bulk.parse(
            session,
            request.form.get("do", ""),
            request.form.getlist("case"),
            request.form.get("disposition", ""),
            request.form.get("assignee", ""),
            current_user,
        )
    except bulk.BulkError as exc:
        flash(_bulk_refusal(exc.reason), "error")
        return back
    if not allows(current_user.role, bulk.needed(wanted, current_user)):
        abort(403)
    count = bulk.apply(session, wanted, current_user)
    session.commit()
    flash(ngettext("%(num)d case changed.", "%(num)d cases changed.", count), "info")
    return back


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
