"""Inbox views: list cases, run a sync."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, select
from werkzeug.wrappers import Response

from .. import audit, search, taxonomy
from ..errors import ConsoleError, KeyLockedError
from ..extensions import data_dir, db, db_session, keyring
from ..forms import ActionForm
from ..models import DISPOSITIONS, Quarantine
from ..sync import client_from_config, sync
from ..triage import TAG_RE, InboxFilter, InboxRow, assignable_users, inbox_page

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
    elif who.isascii() and who.isdigit():
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
    page = request.args.get("page", 1, type=int) or 1
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
        audit.record(db_session(), current_user.email, audit.Action.SYNC_FAILED, None, exc.__class__.__name__)
        db_session().commit()
        flash(_("Sync failed: %(reason)s", reason=str(exc)), "error")
    else:
        audit.record(
            db_session(),
            current_user.email,
            audit.Action.SYNC,
            None,
            f"added={result.added} quarantined={result.quarantined} skipped={result.skipped}",
        )
        db_session().commit()
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


@bp.get("/quarantine")
def quarantine() -> str:
    """Envelopes that did not open, with the reason (never dropped)."""
    rows = db_session().scalars(select(Quarantine).order_by(Quarantine.seq.desc()).limit(500)).all()
    return render_template("inbox/quarantine.html", rows=rows)
