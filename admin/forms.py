"""The console's forms (Flask-WTF: every POST carries a CSRF token).

Flask-WTF has no type information, hence the one targeted ``type: ignore``
per class (mypy: subclass of an untyped base).
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, SubmitField
from wtforms.validators import DataRequired, Length


class LoginForm(FlaskForm):  # type: ignore[misc]
    """E-mail and password."""

    email = EmailField(_l("E-mail"), validators=[DataRequired(), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=1024)])
    submit = SubmitField(_l("Log in"))


class UnlockForm(FlaskForm):  # type: ignore[misc]
    """The organization key's passphrase."""

    passphrase = PasswordField(_l("Passphrase"), validators=[DataRequired(), Length(max=1024)])
    submit = SubmitField(_l("Unlock"))


class ActionForm(FlaskForm):  # type: ignore[misc]
    """A button that changes something: only the CSRF token (log out, lock,
    sync)."""
