"""Case views: the decrypted report, attachment downloads."""

from __future__ import annotations

import itertools
from urllib.parse import quote

from flask import Blueprint, abort, current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from werkzeug.utils import secure_filename
from werkzeug.wrappers import Response

from intake.envelope import EnvelopeError

from ..cases import find_case, open_attachment, open_case
from ..errors import CaseNotFoundError, DataKeyError
from ..extensions import data_dir, db_session, keyring
from ..models import Case

bp = Blueprint("case", __name__, url_prefix="/cases")


def _case_or_404(envelope_id: str) -> Case:
    try:
        return find_case(db_session(), envelope_id)
    except CaseNotFoundError:
        abort(404)


@bp.get("/<envelope_id>")
def show(envelope_id: str) -> str:
    """The case page; with the key locked, only the cleartext facts."""
    case = _case_or_404(envelope_id)
    opened = open_case(case, keyring()) if keyring().unlocked else None
    return render_template("case/show.html", case=case, opened=opened)


@bp.get("/<envelope_id>/attachments/<int:position>")
def attachment(envelope_id: str, position: int) -> Response:
    """Download one attachment, decrypted from its sealed blob.

    Always a download, never rendered: the file came from anyone and may be
    HTML, SVG or a PDF built to attack the reviewer, so it is sent as
    ``application/octet-stream`` with ``Content-Disposition: attachment``,
    ``nosniff`` and a sandboxing CSP (invariant 7).
    """
    case = _case_or_404(envelope_id)
    if not keyring().unlocked:
        flash(_("Unlock the organization key to open attachments."), "error")
        return redirect(url_for("case.show", envelope_id=case.envelope_id))
    try:
        info, data = open_attachment(case, position, keyring(), data_dir())
        # Decrypt the first chunk before answering, so a missing or damaged
        # blob gives an error page rather than a broken download.
        first = next(data, b"")
    except CaseNotFoundError:
        abort(404)
    except (EnvelopeError, DataKeyError, OSError) as exc:
        current_app.logger.error(
            "attachment %d of case %s cannot be opened: %s",
            position,
            case.envelope_id,
            exc.__class__.__name__,
        )
        abort(500, _("This attachment cannot be opened: its stored copy is missing or damaged."))
    fallback = secure_filename(info.name) or f"attachment-{position}"
    response = Response(itertools.chain([first], data), mimetype="application/octet-stream")
    response.headers["Content-Length"] = str(info.size)
    response.headers["Content-Disposition"] = (
        f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(info.name, safe='')}"
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "sandbox; default-src 'none'"
    return response
