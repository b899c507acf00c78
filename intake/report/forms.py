"""The report form (walking-skeleton fields; the full TNR field set of
shared/TAXONOMY.md comes with the reporter-side issue)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import MultipleFileField, TextAreaField
from wtforms.validators import DataRequired, Length

MAX_NARRATIVE = 100_000


class ReportForm(FlaskForm):  # type: ignore[misc]
    """What happened, and evidence files."""

    narrative = TextAreaField(
        _l("What happened?"),
        validators=[
            DataRequired(message=_l("Please tell us what happened.")),
            Length(max=MAX_NARRATIVE, message=_l("Please keep the text under 100,000 characters.")),
        ],
        render_kw={"rows": 10, "autocomplete": "off", "spellcheck": "false"},
    )
    attachments = MultipleFileField(_l("Evidence files (optional)"))
