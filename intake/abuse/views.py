"""The abuse-control route: a fresh ALTCHA challenge for the page's script
(:mod:`.proofofwork`), asked by the report form, the receipt check and the
follow-up page alike."""

from __future__ import annotations

from flask import Blueprint, jsonify
from werkzeug.wrappers import Response

from core.i18n import localize

from .proofofwork import new_challenge

bp = Blueprint("abuse", __name__)
localize(bp)


@bp.get("/<lang_code>/challenge")
def challenge() -> Response:
    """A fresh ALTCHA challenge (JSON) for the page's script; never cached
    (the intake's headers), never logged."""
    return jsonify(new_challenge())
