"""Briefing views (coordinator or admin): a preview of the protected tables,
drafts (every file marked DRAFT — NOT FOR RELEASE, not recorded) and
publishing (recorded in the release ledger after the audit across
releases). Views validate, call the services, render."""

from __future__ import annotations

import dataclasses
import io
import zipfile
from datetime import date
from typing import Any

from flask import Blueprint, Response, abort, current_app, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ..audit import log as audit
from ..extensions import db_session, keyring
from ..models import Role
from . import codes, outputs, pages, render
from .build import MIN_CELL, TABLES, Briefing, FilterError, Filters, Period, PeriodError, build
from .fonts import MissingGlyphError
from .ledger import protect_across, publish
from .record_store import briefing_records
from .releases import load_releases
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
    source = request.form if request.method == "POST" else request.args
    args = {
        "start": source.get("from", ""),
        "end": source.get("to", ""),
        "k": source.get("k", current_app.config.get("BRIEFING_MIN_CELL", 5), type=int),
        "province": source.get("province", ""),
        "community": source.get("community", ""),
    }
    if not args["start"] or not args["end"]:
        return args, None
    if args["k"] is None or not MIN_CELL <= args["k"] <= 100:
        return args, _(
            "k must be between %(low)d (restricted briefings) and 100; 10 for anything public.", low=MIN_CELL
        )
    return args, ""


def _build(args: dict[str, Any], vignettes: bool = True) -> Briefing:
    """The briefing; with the console's released vignettes when the key is
    unlocked (they are encrypted: locked, the briefing has none of them)
    and ``vignettes`` is set (charts do not print them)."""
    from ..cases.vignettes import for_briefing  # the case side of the console

    session = db_session()
    released = for_briefing(session, keyring()) if vignettes and keyring().unlocked else []
    b = build(
        briefing_records(session),
        Period.parse(args["start"], args["end"]),
        args["k"],
        released=released,
        filters=Filters.parse(args["province"], args["community"]),
    )
    # Protected against every earlier release, as it would be published.
    return protect_across(b, load_releases(session))


def _query(args: dict[str, Any]) -> dict[str, Any]:
    """The page's query string for ``args`` (empty filters left out)."""
    q = {"from": args["start"], "to": args["end"], "k": args["k"]}
    q.update({name: args[name] for name in ("province", "community") if args[name]})
    return q


def _file(briefing: Briefing, name: str, issue: pages.Issue | None = None) -> bytes | str:
    if name == "disclosure-log.csv":
        return outputs.disclosure_log_csv(briefing)
    if name.endswith(".csv"):
        table = next(t for t in briefing.tables if f"{t.spec.id}.csv" == name)
        return outputs.table_csv(briefing, table)
    if name.endswith(".pdf"):
        return render.report_pdf(briefing, name[9:11], issue)
    return outputs.report_html(briefing, name[9:11], issue)


def _chart_images(args: dict[str, Any], lang: str) -> list[dict[str, Any]]:
    """The preview's charts as same-origin PNGs (the CSP allows images from
    'self' only: no inline SVG styles, no data: URLs)."""
    titles = {"quarter": render.TEXT[lang]["chart_quarter"], "family": render.TEXT[lang]["chart_family"]}
    return [
        {
            "src": url_for("briefing.chart", lang=lang, name=name, **_query(args)),
            "alt": _("Bar chart: %(title)s. The same numbers are in the tables below.", title=titles[name]),
            "width": 700,
            "height": 280,
        }
        for name in render.CHARTS
    ]


def _audit_vignettes(briefing: Briefing, name: str) -> None:
    if briefing.vignettes and not name.endswith(".csv"):
        # Free text leaves the console here (invariant 8): say who took it.
        audit.record(
            db_session(),
            current_user.email,
            audit.Action.BRIEFING_VIGNETTES,
            None,
            f"file={name} vignettes={len(briefing.vignettes)}",
        )


@bp.get("/")
def index() -> str:
    """The form (period, k, filters), the English preview as it would be
    published (protected against the release ledger), the two actions, and
    the ledger."""
    args, error = _params()
    context: dict[str, Any] | None = None
    if error == "":
        try:
            briefing = _build(args)
        except (PeriodError, FilterError, DisclosureError) as exc:
            # The reason is the builder's (English, as the command prints it).
            error = _("This briefing cannot be built: %(reason)s", reason=str(exc))
        else:
            context = render.report_context(briefing, "en")
            context["chart_images"] = _chart_images(args, "en")
            try:
                render.check_printable(briefing)
            except MissingGlyphError as exc:
                error = _("The PDF cannot be printed: %(reason)s", reason=str(exc))
    return _page(args, error, context)


@bp.get("/chart/<lang>/<name>.png")
def chart(lang: str, name: str) -> Response:
    """One chart of the preview as PNG, from the briefing's published
    numbers (suppressed: no bar, ``x``); built as the page builds it."""
    if lang not in render.LANGS or name not in render.CHARTS:
        abort(404)
    args, error = _params()
    if error != "":
        abort(400, error or "Give the period: from and to (YYYY-MM).")
    try:
        briefing = _build(args, vignettes=False)
        data = render.chart_png(briefing, lang, name)
    except (PeriodError, FilterError, DisclosureError, MissingGlyphError) as exc:
        abort(400, str(exc))
    return Response(data, mimetype="image/png")


@bp.get("/download/<name>")
def download(name: str) -> Response:
    """One output file of a draft (marked, not recorded), as an attachment."""
    if name not in DOWNLOADS:
        abort(404)
    args, error = _params()
    if error != "":
        abort(400, error or _("Give the period: from and to (YYYY-MM)."))
    try:
        briefing = dataclasses.replace(_build(args), draft=True)
        data = _file(briefing, name)
    except (PeriodError, FilterError, DisclosureError, MissingGlyphError) as exc:
        abort(400, _("This briefing cannot be built: %(reason)s", reason=str(exc)))
    _audit_vignettes(briefing, name)
    db_session().commit()
    mimetype = {"csv": "text/csv", "pdf": "application/pdf", "html": "text/html"}[name.rsplit(".", 1)[1]]
    response = Response(data, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


def _zip(briefing: Briefing, prefix: str, issue: pages.Issue | None = None) -> Response:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in DOWNLOADS:
            data = _file(briefing, name, issue)
            archive.writestr(f"{prefix}/{name}", data.encode("utf-8") if isinstance(data, str) else data)
            _audit_vignettes(briefing, name)
    response = Response(buf.getvalue(), mimetype="application/zip")
    response.headers["Content-Disposition"] = f'attachment; filename="{prefix}.zip"'
    return response


def _page(args: dict[str, Any], error: str | None, report: dict[str, Any] | None) -> str:
    """The briefing page for the parameters ``args``: the built ``report``
    (None before a build), an ``error`` or none, and the release ledger."""
    return render_template(
        "briefing/index.html",
        args=args,
        query=_query(args),
        error=error,
        report=report,
        downloads=DOWNLOADS,
        locked=not keyring().unlocked,
        releases=list(reversed(load_releases(db_session()))),
        provinces=codes.PROVINCES,
        communities=codes.COMMUNITIES,
        no_contact=not pages.Issue.current().contact,
    )


def _refused(args: dict[str, Any], message: str) -> tuple[str, int]:
    return _page(args, message, None), 400


@bp.post("/draft")
def draft() -> Response | tuple[str, int]:
    """Every output of a draft in one zip: marked DRAFT — NOT FOR RELEASE on
    every page and in every CSV, and not recorded in the release ledger."""
    args, error = _params()
    if error != "":
        return _refused(args, error or "Give the period: from and to (YYYY-MM).")
    try:
        briefing = dataclasses.replace(_build(args), draft=True)
        render.check_printable(briefing)
    except (PeriodError, FilterError, DisclosureError, MissingGlyphError) as exc:
        return _refused(args, f"No draft: {exc}")
    response = _zip(briefing, f"briefing-draft-{args['start']}-{args['end']}")
    db_session().commit()
    return response


@bp.post("/publish")
def publish_briefing() -> Response | tuple[str, int]:
    """Publish: audit against every earlier release, record the release in
    the ledger (and the audit log), and return every output in one zip.
    Refused (nothing recorded, nothing returned) when the audit fails."""
    args, error = _params()
    if error != "":
        return _refused(args, error or "Give the period: from and to (YYYY-MM).")
    session = db_session()
    try:
        briefing = _build(args)
        when = audit.now_utc()
        issue = pages.Issue.current(date.fromisoformat(when[:10]))
        render.check_printable(briefing, issue)  # before anything is recorded
        release = publish(session, briefing, current_user.email, when)
    except (PeriodError, FilterError, DisclosureError, MissingGlyphError) as exc:
        session.rollback()
        return _refused(args, f"Not published: {exc}")
    response = _zip(briefing, f"briefing-{release.uid}", issue)
    session.commit()
    return response
