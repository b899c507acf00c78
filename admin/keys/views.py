"""Keys views: show the key state, unlock with the passphrase, lock."""

from __future__ import annotations

import json

from flask import Blueprint, abort, current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response

from core.envelope import KeyFileError, WrongPassphraseError

from ..audit import log as audit
from ..errors import DataKeyError, NoPrivateKeyError
from ..extensions import data_dir, db_session, keyring
from ..forms import ActionForm, UnlockForm
from .custody import KeyState, key_states, public_key_file_text, retire_key, unlock

bp = Blueprint("keys", __name__, url_prefix="/keys")


@bp.get("/")
def index() -> str:
    """Key files, locked/unlocked state, unlock and lock forms."""
    files: list[KeyState] = []
    try:
        files = key_states(data_dir())
    except KeyFileError as exc:
        current_app.logger.error("private key file: %s", exc)
        flash(_("A private key file cannot be read; see the server log."), "error")
    return render_template(
        "keys/index.html",
        files=files,
        unlocked_ids=keyring().key_ids(),
        unlock_form=UnlockForm(),
        lock_form=ActionForm(),
        retire_form=ActionForm(),
        idle_minutes=int(current_app.config["KEY_IDLE_TIMEOUT"]) // 60,
    )


@bp.post("/unlock")
def unlock_key() -> Response:
    """Unlock with the passphrase (coordinator or admin: see
    admin/permissions.py). The keys go into this process's memory only."""
    form = UnlockForm()
    if not form.validate_on_submit():
        flash(_("Enter the passphrase."), "error")
        return redirect(url_for("keys.index"))
    session = db_session()
    try:
        key_ids = unlock(keyring(), session, data_dir(), form.passphrase.data)
        audit.record(
            session,
            current_user.email,
            audit.Action.UNLOCK,
            None,
            "keys=" + ",".join(k[:16] for k in key_ids),
        )
        session.commit()
    except WrongPassphraseError:
        session.rollback()
        audit.record(session, current_user.email, audit.Action.UNLOCK_FAILED)
        session.commit()
        flash(_("Wrong passphrase."), "error")
    except NoPrivateKeyError:
        session.rollback()
        flash(_("There is no private key yet. Create one with: flask --app admin keys generate"), "error")
    except DataKeyError as exc:
        session.rollback()
        current_app.logger.error("data key: %s", exc)
        flash(_("The console's data key cannot be opened with this key; see the server log."), "error")
    except KeyFileError as exc:
        session.rollback()
        current_app.logger.error("private key file: %s", exc)
        flash(_("A private key file cannot be read; see the server log."), "error")
    else:
        flash(_("The organization key is unlocked."), "info")
    return redirect(url_for("keys.index"))


@bp.post("/lock")
def lock_key() -> Response:
    """Lock now. Any logged-in account may lock: it is always safe."""
    keyring().lock()
    audit.record(db_session(), current_user.email, audit.Action.LOCK)
    db_session().commit()
    flash(_("The organization key is locked."), "info")
    return redirect(url_for("keys.index"))


# --------------------------------------------------------------------------
# Rotation (docs/console.md, "Key rotation")


def _valid_key_id(key_id: str) -> bool:
    return len(key_id) == 64 and all(c in "0123456789abcdef" for c in key_id)


@bp.post("/<key_id>/retire")
def retire(key_id: str) -> Response:
    """Mark a key retired in the console's copy of its public key file; the
    page then offers the retired file for the intake's keys/. Refused when it
    is the organization's last active key (generate the new one first)."""
    form = ActionForm()
    if not form.validate_on_submit() or not _valid_key_id(key_id):
        abort(400)
    try:
        retired = retire_key(data_dir(), key_id)
    except (ValueError, KeyFileError) as exc:
        flash(_("The key was not retired: %(reason)s", reason=str(exc)), "error")
        return redirect(url_for("keys.index"))
    audit.record(
        db_session(),
        current_user.email,
        audit.Action.KEY_RETIRE,
        key_id[:16],
        f"recipient={retired.public_file.recipient_id}",
    )
    db_session().commit()
    flash(
        _(
            "The key is retired. Download its public key file below and put it in the "
            "intake's keys/ in place of the old one, then restart the intake."
        ),
        "info",
    )
    return redirect(url_for("keys.index"))


@bp.get("/<key_id>/public.json")
def public_file(key_id: str) -> Response:
    """The console's copy of a key's public key file, as a download (to copy
    to the intake's keys/)."""
    if not _valid_key_id(key_id):
        abort(404)
    text = public_key_file_text(data_dir(), key_id)
    if text is None:
        abort(404)
    audit.record(db_session(), current_user.email, audit.Action.KEY_PUBLIC_FILE, key_id[:16])
    db_session().commit()
    recipient_id = str(json.loads(text).get("recipient_id", "key"))
    response = Response(text.encode("utf-8"), mimetype="application/json")
    # The recipient id is [a-z0-9-] (checked when the file was parsed).
    response.headers["Content-Disposition"] = f'attachment; filename="{recipient_id}-{key_id[:16]}.json"'
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "sandbox; default-src 'none'"
    return response
