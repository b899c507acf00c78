"""Login and logout views."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user
from werkzeug.wrappers import Response

from .. import accounts
from ..extensions import db_session
from ..forms import LoginForm
from ..models import User

bp = Blueprint("auth", __name__)


@bp.route("/login", methods=["GET", "POST"])
def login() -> Response | str:
    """The login form; on success, to the inbox (never to a ``next`` URL
    from the query string: no open redirect)."""
    if current_user.is_authenticated:
        return redirect(url_for("inbox.index"))
    form = LoginForm()
    if form.validate_on_submit():
        user = accounts.authenticate(
            db_session(), form.email.data, form.password.data, current_app.config["ARGON2ID"]
        )
        if user is not None:
            return _complete_login(user)
        # One message for unknown e-mail and wrong password.
        flash(_("Wrong e-mail or password."), "error")
    return render_template("auth/login.html", form=form)


def _complete_login(user: User) -> Response:
    # Second-factor seam: when WebAuthn/TOTP lands, store the user id as
    # "pending" here, redirect to the second-factor view, and call
    # login_user() only there. Nothing else logs a user in.
    session.clear()  # no state carried over from before login
    login_user(user)
    return redirect(url_for("inbox.index"))


@bp.post("/logout")
def logout() -> Response:
    """End the session. A POST, so CSRFProtect checks its token and no other
    page can log you out. The organization key stays as it is: it belongs to
    the console process, not to this account; lock it on the keys page."""
    logout_user()
    session.clear()
    flash(_("You are logged out."), "info")
    return redirect(url_for("auth.login"))
