"""Keys views: show the key state, unlock with the passphrase, lock."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response

from intake.envelope import KeyFileError, WrongPassphraseError

from .. import audit
from ..custody import PrivateKeyFileInfo, list_private_keys, unlock
from ..errors import DataKeyError, NoPrivateKeyError
from ..extensions import data_dir, db_session, keyring
from ..forms import ActionForm, UnlockForm

bp = Blueprint("keys", __name__, url_prefix="/keys")


@bp.get("/")
def index() -> str:
    """Key files, locked/unlocked state, unlock and lock forms."""
    files: list[PrivateKeyFileInfo] = []
    try:
        files = [info for info, _doc in list_private_keys(data_dir())]
    except KeyFileError as exc:
        current_app.logger.error("private key file: %s", exc)
        flash(_("A private key file cannot be read; see the server log."), "error")
    return render_template(
        "keys/index.html",
        files=files,
        unlocked_ids=keyring().key_ids(),
        unlock_form=UnlockForm(),
        lock_form=ActionForm(),
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
