"""The report form (walking-skeleton fields; the full TNR field set of
shared/TAXONOMY.md comes with the reporter-side issue)."""

from __future__ import annotations

from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from werkzeug.datastructures import FileStorage
from wtforms import HiddenField, MultipleFileField, TextAreaField
from wtforms.validators import DataRequired, Length, ValidationError

from .limits import current_limits, megabytes

MAX_NARRATIVE = 100_000


def file_size(file: FileStorage) -> int:
    """Byte length of an uploaded file (held in memory, see uploads.py)."""
    stream = file.stream
    position = stream.tell()
    stream.seek(0, 2)
    size = stream.tell()
    stream.seek(position)
    return size


def chosen_files(files: list[FileStorage] | None) -> list[FileStorage]:
    """The files actually chosen: a browser sends one empty part when none."""
    # A text part named like the file field arrives as a str, not a file
    # (found by tests/hardening/test_fuzz.py): not a chosen file.
    return [f for f in files or [] if isinstance(f, FileStorage) and f.filename]


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
    attachments = MultipleFileField(_l("Evidence files (optional)"), validators=[within_limits])
    #: One-time token of this rendered form (intake.receipts): the same form
    #: posted twice stores one envelope. Rendered by ``form.hidden_tag()``.
    submission = HiddenField()
