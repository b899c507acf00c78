"""Briefing views (coordinator or admin): a preview of the protected tables
and downloads of every output. Views validate, call the services, render."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, current_app, render_template, request
from flask_login import current_user

from .. import audit
from ..extensions import db_session, keyring
from ..models import Role
from . import render
from .build import MIN_CELL, TABLES, Briefing, Period, PeriodError, build
from .records import briefing_records
from .sdc import DisclosureError

bp = Blueprint("briefing", __name__, url_prefix="/briefing")

#: Who may build briefings: they see every coded case's numbers.
BRIEFING_ROLES = frozenset({Role.COORDINATOR.value, Role.ADMIN.value})
DOWNLOADS = (
    *(f"{t.id}.csv" for t in TABLES),
    "disclosure-log.csv",
    "briefing-en.pdf",
    "briefing-fr.pdf",
    "briefing-en.html",
    "briefing-fr.html",
)


@bp.before_request
def _coordinators_only() -> None:
    if current_user.role not in BRIEFING_ROLES:
        abort(403)


def _params() -> tuple[dict[str, Any], str | None]:
    args = {
        "start": request.args.get("from", ""),
        "end": request.args.get("to", ""),
        "k": request.args.get("k", current_app.config.get("BRIEFING_MIN_CELL", 5), type=int),
    }
    if not args["start"] or not args["end"]:
        return args, None
    if args["k"] is None or not MIN_CELL <= args["k"] <= 100:
        return args, f"k must be between {MIN_CELL} (restricted briefings) and 100; 10 for anything public."
    return args, ""


def _build(args: dict[str, Any]) -> Briefing:
    """The briefing; with the console's released vignettes when the key is
    unlocked (they are encrypted: locked, the briefing has none of them)."""
    from ..vignettes import for_briefing  # the case side of the console

    session = db_session()
    released = for_briefing(session, keyring()) if keyring().unlocked else []
    return build(
        briefing_records(session), Period.parse(args["start"], args["end"]), args["k"], released=released
    )


@bp.get("/")
def index() -> str:
    """The form (period, k) and, when given, the English preview."""
    args, error = _params()
    context: dict[str, Any] | None = None
    if error == "":
        try:
            briefing = _build(args)
        except (PeriodError, DisclosureError) as exc:
            error = str(exc)
        else:
            context = render.report_context(briefing, "en")
    return render_template(
        "briefing/index.html",
        args=args,
        error=error,
        report=context,
        downloads=DOWNLOADS,
        locked=not keyring().unlocked,
    )


@bp.get("/download/<name>")
def download(name: str) -> Response:
    """One output file, as an attachment."""
    if name not in DOWNLOADS:
        abort(404)
    args, error = _params()
    if error != "":
        abort(400, error or "Give the period: from and to (YYYY-MM).")
    try:
        briefing = _build(args)
    except (PeriodError, DisclosureError) as exc:
        abort(400, str(exc))
    if name == "disclosure-log.csv":
        data: bytes | str = render.disclosure_log_csv(briefing)
    elif name.endswith(".csv"):
        table = next(t for t in briefing.tables if f"{t.spec.id}.csv" == name)
        data = render.table_csv(briefing, table)
    elif name.endswith(".pdf"):
        data = render.report_pdf(briefing, name[9:11])
    else:
        data = render.report_html(briefing, name[9:11])
    if briefing.vignettes and not name.endswith(".csv"):
        # Free text leaves the console here (invariant 8): say who took it.
        audit.record(
            db_session(),
            current_user.email,
            audit.Action.BRIEFING_VIGNETTES,
            None,
            f"file={name} vignettes={len(briefing.vignettes)}",
        )
        db_session().commit()
    mimetype = {"csv": "text/csv", "pdf": "application/pdf", "html": "text/html"}[name.rsplit(".", 1)[1]]
    response = Response(data, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
