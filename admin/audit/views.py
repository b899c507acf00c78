"""Audit log views: the newest entries, paged."""

from __future__ import annotations

from flask import Blueprint, render_template, request
from flask_login import current_user
from sqlalchemy import func, select

from ..extensions import db_session
from ..models import AuditEntry
from . import log as audit

bp = Blueprint("audit", __name__, url_prefix="/audit")

PER_PAGE = 100


@bp.get("/")
def index() -> str:
    """Entries, newest first, ``?page=N``. Viewing is itself recorded."""
    db = db_session()
    page_asked = max(1, request.args.get("page", 1, type=int) or 1)
    audit.record(db, current_user.email, audit.Action.AUDIT_VIEW, None, f"page={page_asked}")
    db.commit()
    total = db.scalar(select(func.count(AuditEntry.seq))) or 0
    pages = max(1, -(-total // PER_PAGE))
    page = min(page_asked, pages)
    entries = db.scalars(
        select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(PER_PAGE).offset((page - 1) * PER_PAGE)
    ).all()
    return render_template("auditlog/index.html", entries=entries, page=page, pages=pages, total=total)
