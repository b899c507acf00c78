"""The forms of coming back with a receipt: the receipt check, and the
follow-up that adds text or files to a stored report."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, MultipleFileField, StringField

from ..report.forms import UploadForm, narrative_field, within_limits


class ReceiptForm(FlaskForm):  # type: ignore[misc]
    """The receipt a reporter types, and the page's one-time check token
    (:func:`.access.new_check_token`)."""

    #: One lookup without JavaScript per rendered page: see new_check_token.
    check = HiddenField()

    receipt = StringField(
        render_kw={
            "autocomplete": "off",
            "spellcheck": "false",
            "autocapitalize": "off",
            "inputmode": "numeric",
        }
    )


class FollowupForm(UploadForm):
    """More information on a stored report: text, files, or both."""

    narrative = narrative_field(_l("What would you like to add?"), rows=8)
    attachments = MultipleFileField(_l("More evidence files (optional)"), validators=[within_limits])
    submission = HiddenField()
    #: Signed, short-lived proof that this page followed a receipt check
    #: (:mod:`.access`); never the receipt itself.
    access = HiddenField()
