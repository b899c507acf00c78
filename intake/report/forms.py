"""The report form, and what the follow-up form (intake/followup/forms.py)
shares with it. WTForms holds the CSRF token, the narrative, the files and
the one-time submission token; the coded fields are rendered from
:mod:`core.schema.fields` and read by
:func:`core.schema.fields.report_from_form`, the one definition both paths
share."""

from __future__ import annotations

import math
import time
from typing import Any

from flask import current_app, g
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, MultipleFileField, TextAreaField
from wtforms.validators import Length, ValidationError

from core.limits import current_limits, megabytes
from core.schema.fields import MAX_NARRATIVE
from core.uploads import chosen_files, file_size


def within_limits(_form: Any, field: Any) -> None:
    """The same size limits the browser checks before it seals (limits.py)."""
    limits = current_limits()
    files = chosen_files(field.data)
    if len(files) > limits.max_files:
        raise ValidationError(_("Please choose at most %(count)s files.", count=limits.max_files))
    sizes = [file_size(f) for f in files]
    for file, size in zip(files, sizes, strict=True):
        if size > limits.max_file:
            raise ValidationError(
                _(
                    "“%(name)s” is larger than %(size)s MB. Please choose a smaller file.",
                    name=file.filename,
                    size=megabytes(limits.max_file),
                )
            )
    if sum(sizes) > limits.max_total:
        raise ValidationError(
            _(
                "The files together are larger than %(size)s MB. Please choose fewer or smaller files.",
                size=megabytes(limits.max_total),
            )
        )


def note_request_start() -> None:
    """Remember when this request's headers arrived (``before_request``):
    its body, the files of an upload, is read after."""
    g.request_started = time.monotonic()


def csrf_time_limit() -> int | None:
    """``WTF_CSRF_TIME_LIMIT`` (seconds, None: no limit), counted to the
    start of the request rather than its end: a token that was valid when
    an upload began stays valid however long the files take to arrive, so
    a slow connection is not refused at the end of every try."""
    limit = current_app.config["WTF_CSRF_TIME_LIMIT"]
    if limit is None:
        return None
    started = g.get("request_started")
    elapsed = time.monotonic() - started if started is not None else 0.0
    return int(limit) + math.ceil(elapsed)


class UploadForm(FlaskForm):  # type: ignore[misc]
    """A form that carries files: its CSRF time limit is
    :func:`csrf_time_limit`."""

    class Meta:
        @property
        def csrf_time_limit(self) -> int | None:
            return csrf_time_limit()


def narrative_field(label: Any, rows: int) -> TextAreaField:
    """The free text of a report or a follow-up, under ``label`` (a lazy
    string) in a box ``rows`` lines high: at most
    :data:`core.schema.fields.MAX_NARRATIVE` characters, and never
    autocompleted or spell-checked (a browser's spell checker may send
    the text to a server)."""
    return TextAreaField(
        label,
        validators=[
            Length(max=MAX_NARRATIVE, message=_l("Please keep the text under 100,000 characters.")),
        ],
        render_kw={"rows": rows, "autocomplete": "off", "spellcheck": "false"},
    )


class ReportForm(UploadForm):
    """What happened, and evidence files. "A narrative or one tactic" is
    checked by :func:`core.schema.fields.report_from_form`, which sees both."""

    narrative = narrative_field(_l("What happened?"), rows=10)
    attachments = MultipleFileField(_l("Evidence files (optional)"), validators=[within_limits])
    #: One-time token of this rendered form (core.receipts): the same form
    #: posted twice stores one envelope. Rendered by ``form.hidden_tag()``.
    submission = HiddenField()
