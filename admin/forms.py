"""The console's forms (Flask-WTF: every POST carries a CSRF token).

Flask-WTF has no type information, hence the one targeted ``type: ignore``
per class (mypy: subclass of an untyped base).
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    EmailField,
    HiddenField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length

from core.schema.fields import normalize_narrative


class LoginForm(FlaskForm):  # type: ignore[misc]
    """E-mail and password."""

    email = EmailField(_l("E-mail"), validators=[DataRequired(), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=1024)])
    submit = SubmitField(_l("Log in"))


class LanguageForm(FlaskForm):  # type: ignore[misc]
    """The console language of one's own account ("" follows the browser)."""

    locale = SelectField(_l("Console language"), choices=[], default="")
    submit = SubmitField(_l("Save language"))


def language_choices() -> list[tuple[str, str]]:
    """The languages an account chooses from (value, label): each named in
    itself, so a reader finds their own in a page they cannot read."""
    from .i18n import LANGUAGES

    return [("", str(_l("As my browser asks"))), *((lang.locale, lang.name) for lang in LANGUAGES.values())]


class UnlockForm(FlaskForm):  # type: ignore[misc]
    """The organization key's passphrase."""

    passphrase = PasswordField(_l("Passphrase"), validators=[DataRequired(), Length(max=1024)])
    submit = SubmitField(_l("Unlock"))


class ActionForm(FlaskForm):  # type: ignore[misc]
    """A button that changes something: only the CSRF token (log out, lock,
    sync)."""


# --------------------------------------------------------------------------
# Second factor and triage forms.


class TotpForm(FlaskForm):  # type: ignore[misc]
    """A 6-digit code from an authenticator app."""

    code = StringField(_l("Code from the authenticator app"), validators=[DataRequired(), Length(max=16)])
    submit = SubmitField(_l("Verify"))


class TriageForm(FlaskForm):  # type: ignore[misc]
    """Disposition, urgency and tags of a case."""

    status = SelectField(_l("Disposition"), choices=[])
    urgent = BooleanField(_l("Imminent danger"))
    tags = StringField(_l("Tags (a-z, 0-9, -; separated by spaces)"), validators=[Length(max=400)])
    submit = SubmitField(_l("Save"))


def _line_breaks_as_lf(text: str | None) -> str | None:
    """A WTForms filter: CRLF (what a browser posts for a line break, HTML
    spec) as LF, before the length check. The browser's ``maxlength``
    counts a line break as one character; without this, a text at the
    limit with line breaks would be refused (and the limit would mean
    less for a text with many lines)."""
    return None if text is None else normalize_narrative(text)


class CodingForm(FlaskForm):  # type: ignore[misc]
    """The reviewer's TNR coding of a case (shared/TAXONOMY.md)."""

    tactics = SelectMultipleField(_l("Tactics"), choices=[])
    communities = SelectMultipleField(_l("Communities"), choices=[])
    province = SelectField(_l("Where"), choices=[], default="")
    state = SelectField(_l("State believed responsible"), choices=[], default="")
    attribution = SelectField(_l("Attribution"), choices=[], default="")
    confidence = SelectField(_l("Confidence"), choices=[], default="")
    incident_month = StringField(_l("Month of the incident (YYYY-MM)"), validators=[Length(max=7)])
    submit = SubmitField(_l("Save coding"))


class NoteForm(FlaskForm):  # type: ignore[misc]
    """An internal note (stored encrypted under the data key)."""

    body = TextAreaField(
        _l("Internal note"), validators=[DataRequired(), Length(max=20_000)], filters=[_line_breaks_as_lf]
    )
    submit = SubmitField(_l("Add note"))


class ReplyForm(FlaskForm):  # type: ignore[misc]
    """A reply to the reporter (sealed to the reporter's reply key)."""

    body = TextAreaField(
        _l("Reply to the reporter"),
        validators=[DataRequired(), Length(max=8000)],
        filters=[_line_breaks_as_lf],
    )
    submit = SubmitField(_l("Send reply"))


class AssignForm(FlaskForm):  # type: ignore[misc]
    """Assign a case to an account (coordinators, admins)."""

    assignee = SelectField(_l("Assign to"), choices=[])
    submit = SubmitField(_l("Assign"))


# --------------------------------------------------------------------------
# Links between cases, briefing vignettes.


class LinkForm(FlaskForm):  # type: ignore[misc]
    """Link this case to another by case number or envelope id."""

    other = StringField(_l("Other case (number or envelope id)"), validators=[DataRequired(), Length(max=64)])
    kind = SelectField(_l("Kind"), choices=[])  # set by the view: link_kind_choices()
    submit = SubmitField(_l("Link"))


def link_kind_choices() -> list[tuple[str, str]]:
    """The kinds a reviewer chooses from (value, label)."""
    return [("related", str(_l("related"))), ("duplicate", str(_l("this case is a duplicate of it")))]


class VignetteForm(FlaskForm):  # type: ignore[misc]
    """A short anonymized account for briefings (stored encrypted). Two
    languages, because briefings are bilingual; one may stay empty."""

    text_en = TextAreaField(
        _l("Vignette (English)"), validators=[Length(max=1200)], filters=[_line_breaks_as_lf]
    )
    text_fr = TextAreaField(
        _l("Vignette (French)"), validators=[Length(max=1200)], filters=[_line_breaks_as_lf]
    )
    submit = SubmitField(_l("Save vignette"))


class ReleaseForm(FlaskForm):  # type: ignore[misc]
    """Release the vignette revision the coordinator read (coordinators, admins)."""

    rev = HiddenField(validators=[DataRequired(), Length(max=12)])
    submit = SubmitField(_l("Release for briefings"))
