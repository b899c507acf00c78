"""Alarms views: the list, and acknowledging one (a coordinator or admin)."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response

from ..extensions import db_session
from ..forms import ActionForm
from . import service as alarms

bp = Blueprint("alarms", __name__, url_prefix="/alarms")


@bp.get("/")
def index() -> str:
    """Every alarm, newest first: open ones with an Acknowledge button for
    those who may press it."""
    return render_template("alarms/index.html", rows=alarms.recent_alarms(db_session()), form=ActionForm())


@bp.post("/<int:alarm_id>/acknowledge")
def acknowledge(alarm_id: int) -> Response:
    """Acknowledge an alarm: its banner ends for everyone. Audited
    (``alarm.acknowledge``). Acknowledge only once the steps in
    docs/threat-model.md ("Seized intake") are under way."""
    if not ActionForm().validate_on_submit():
        abort(400)
    session = db_session()
    try:
        alarms.acknowledge(session, alarm_id, current_user)
    except alarms.AlarmError:
        abort(404)
    session.commit()
    flash(_("Alarm acknowledged."), "info")
    return redirect(url_for("alarms.index"))
