"""Pages of the reply templates (admin/replytemplates/service.py): the coordinators'
list, add, edit, retire and restore; the case page's "Use template"; the
``flask --app admin replies seed`` command that adds the starter set.

Who may do which is in :mod:`admin.permissions` (``manage_reply_templates``
for the list and its forms, ``reply`` for "Use template"). Every change is
audited with the template's name, never its text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import click
from flask import Blueprint, Flask, abort, flash, g, redirect, render_template, request, url_for
from flask.cli import AppGroup
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import StringField, SubmitField, TextAreaField
from wtforms.validators import Length

from ..audit import log as audit
from ..cases.service import open_case
from ..errors import DataKeyError, KeyLockedError
from ..extensions import db, db_session, keyring
from ..forms import ActionForm, ReplyForm
from ..models import Case, ReplyTemplate
from . import service as replytemplates

bp = Blueprint("replytemplates", __name__, url_prefix="/reply-templates")

_LANGUAGE_LABELS = {
    "en": _l("English"),
    "fr": _l("French"),
    "zh_Hant": _l("Traditional Chinese"),
    "zh_Hans": _l("Simplified Chinese"),
}


class ReplyTemplateForm(FlaskForm):  # type: ignore[misc]
    """A reply template: its name and order, title and meaning per console
    language, text per reporter language."""

    key = StringField(_l("Name (lower-case letters, digits, hyphens)"), validators=[Length(max=40)])
    position = StringField(_l("Order on the case page (smallest first)"), validators=[Length(max=6)])
    title_en = StringField(_l("Title for reviewers, in English"), validators=[Length(max=120)])
    title_fr = StringField(_l("Title for reviewers, in French (optional)"), validators=[Length(max=120)])
    title_zh_hant = StringField(
        _l("Title for reviewers, in Traditional Chinese (optional)"), validators=[Length(max=120)]
    )
    summary_en = TextAreaField(_l("What it says, for reviewers, in English"), validators=[Length(max=1000)])
    summary_fr = TextAreaField(
        _l("What it says, for reviewers, in French (optional)"), validators=[Length(max=1000)]
    )
    summary_zh_hant = TextAreaField(
        _l("What it says, for reviewers, in Traditional Chinese (optional)"), validators=[Length(max=1000)]
    )
    text_en = TextAreaField(_l("The reply in English"), validators=[Length(max=8000)])
    text_fr = TextAreaField(_l("The reply in French"), validators=[Length(max=8000)])
    text_zh_hant = TextAreaField(_l("The reply in Traditional Chinese"), validators=[Length(max=8000)])
    text_zh_hans = TextAreaField(_l("The reply in Simplified Chinese"), validators=[Length(max=8000)])
    submit = SubmitField(_l("Save template"))

    def values(self) -> replytemplates.TemplateValues:
        """What was typed, for :func:`admin.replytemplates.service.save`."""
        position = (self.position.data or "").strip()

        def text(name: str) -> str:
            return str(getattr(self, name).data or "")

        return replytemplates.TemplateValues(
            key=text("key"),
            position=int(position) if position.isdigit() else -1,
            titles={c: text(f"title_{c.lower()}") for c in replytemplates.CONSOLE_LANGUAGES},
            summaries={c: text(f"summary_{c.lower()}") for c in replytemplates.CONSOLE_LANGUAGES},
            texts={r: text(f"text_{r.lower()}") for r in replytemplates.REPLY_LANGUAGES},
        )


def _form_of(template: ReplyTemplate) -> ReplyTemplateForm:
    names = ["key", "title_en", "title_fr", "title_zh_hant", "summary_en", "summary_fr", "summary_zh_hant"]
    names += [f"text_{r.lower()}" for r in replytemplates.REPLY_LANGUAGES]
    return ReplyTemplateForm(position=str(template.position), **{n: getattr(template, n) for n in names})


def _console_locale() -> str:
    return str(get_locale() or "en")


@bp.get("/")
def index() -> str:
    """Every template: offered ones in their order, then retired ones."""
    return render_template(
        "replytemplates/index.html",
        rows=replytemplates.every(db_session()),
        console=_console_locale(),
        title_in=replytemplates.title_in,
        summary_in=replytemplates.summary_in,
        form=ActionForm(),
    )


def _edit_page(form: ReplyTemplateForm, template: ReplyTemplate | None, error: str = "") -> str:
    return render_template(
        "replytemplates/edit.html",
        form=form,
        template=template,
        error=error,
        languages=replytemplates.REPLY_LANGUAGES,
    )


@bp.route("/new", methods=["GET", "POST"])
def new() -> Response | str | tuple[str, int]:
    """Add a template; a refused one comes back as typed."""
    form = ReplyTemplateForm() if request.method == "POST" else ReplyTemplateForm(position="100")
    if request.method == "GET":
        return _edit_page(form, None)
    return _save(form, None)


@bp.route("/<int(max=2147483647):template_id>", methods=["GET", "POST"])
def edit(template_id: int) -> Response | str | tuple[str, int]:
    """Change a template; a refused change comes back as typed."""
    template = replytemplates.find(db_session(), template_id) or abort(404)
    if request.method == "GET":
        return _edit_page(_form_of(template), template)
    return _save(ReplyTemplateForm(), template)


def _save(form: ReplyTemplateForm, template: ReplyTemplate | None) -> Response | tuple[str, int]:
    session = db_session()
    if not form.validate_on_submit():
        return _edit_page(form, template, _("A field is too long.")), 400
    try:
        saved = replytemplates.save(session, template, form.values())
    except replytemplates.ReplyTemplateError as exc:
        session.rollback()
        field = getattr(form, exc.field, None)
        label = str(field.label.text) if field is not None else exc.field
        return _edit_page(form, template, f"{label}: {exc.message}"), 400
    action = audit.Action.REPLY_TEMPLATE_ADD if template is None else audit.Action.REPLY_TEMPLATE_EDIT
    audit.record(session, current_user.email, action, None, f"template={saved.key}")
    session.commit()
    flash(_("Template saved."), "info")
    return redirect(url_for("replytemplates.index"))


def _set_retired(template_id: int, retired: bool) -> Response:
    if not ActionForm().validate_on_submit():
        abort(400)
    session = db_session()
    template = replytemplates.find(session, template_id) or abort(404)
    template.retired = retired
    action = audit.Action.REPLY_TEMPLATE_RETIRE if retired else audit.Action.REPLY_TEMPLATE_RESTORE
    audit.record(session, current_user.email, action, None, f"template={template.key}")
    session.commit()
    flash(
        _("Template retired: it is no longer offered.") if retired else _("Template offered again."), "info"
    )
    return redirect(url_for("replytemplates.index"))


@bp.post("/<int(max=2147483647):template_id>/retire")
def retire(template_id: int) -> Response:
    """Stop offering a template (kept, and can be restored)."""
    return _set_retired(template_id, True)


@bp.post("/<int(max=2147483647):template_id>/restore")
def restore(template_id: int) -> Response:
    """Offer a retired template again."""
    return _set_retired(template_id, False)


# --------------------------------------------------------------------------
# The case page: "Use template" (works without JavaScript)


@dataclass(frozen=True)
class Applied:
    """The template just put in the reply box: its name, title and meaning
    in the console's language, and the reporter language of its text."""

    key: str
    title: str
    summary: str
    locale: str
    language_name: str


@dataclass(frozen=True)
class Panel:
    """What ``case/_reply_templates.html`` shows: ``templates`` as (id,
    title, meaning), ``languages`` as (locale, label, BCP 47 tag), the
    report's language (None: not recorded or not one the templates are
    written in), and the choice shown."""

    templates: list[tuple[int, str, str]]
    languages: list[tuple[str, str, str]]
    report_locale: str | None
    report_language: str
    locked: bool
    chosen: int | None
    language: str
    applied: Applied | None


def report_locale_of(case: Case) -> str | None:
    """The reporter language of ``case``'s form, read from the sealed
    report (the key must be unlocked; None when locked or not recorded)."""
    if not keyring().unlocked:
        return None
    try:
        return replytemplates.language_of_report(open_case(case, keyring()).report.get("language"))
    except (KeyLockedError, DataKeyError):  # locked since, or damaged: the reviewer chooses
        return None


def _language_label(locale: str) -> str:
    """The console's name of a reporter language, then its own name."""
    label, own = str(_LANGUAGE_LABELS[locale]), replytemplates.language_name(locale)
    return label if label == own else f"{label} · {own}"


def _kept_applied(console: str) -> Applied | None:
    """The template a refused reply was started from (its hidden fields,
    posted back with the text), so the page that keeps the text keeps
    saying what it is, and the reply, once sent, is audited with it."""
    if request.method != "POST" or not audit_note(request.form):
        return None
    key, locale = request.form["reply_template"], request.form["reply_language"]
    template = next((t for t in replytemplates.every(db_session()) if t.key == key), None)
    if template is None:
        return None
    return Applied(
        key=template.key,
        title=replytemplates.title_in(template, console),
        summary=replytemplates.summary_in(template, console),
        locale=locale,
        language_name=str(_LANGUAGE_LABELS[locale]),
    )


@bp.app_template_global("reply_templates_panel")
def reply_templates_panel(case: Case, opened: Any) -> Panel:
    """The template picker of the case page's reply form (a Jinja global).
    ``opened`` is the case page's opened report, or None when locked."""
    console = _console_locale()
    report = getattr(opened, "report", None)
    report_locale = replytemplates.language_of_report(report.get("language")) if report else None
    applied: Applied | None = g.get("reply_template_applied") or _kept_applied(console)
    rows = replytemplates.offered(db_session())
    return Panel(
        templates=[
            (t.id, replytemplates.title_in(t, console), replytemplates.summary_in(t, console)) for t in rows
        ],
        languages=[
            (locale, _language_label(locale), tag) for locale, tag in replytemplates.REPLY_LANGUAGES.items()
        ],
        report_locale=report_locale,
        report_language=str(_LANGUAGE_LABELS[report_locale]) if report_locale else "",
        locked=opened is None,
        chosen=g.get("reply_template_chosen"),
        language=applied.locale if applied else (report_locale or "en"),
        applied=applied,
    )


@bp.post("/use/<envelope_id>")
def use(envelope_id: str) -> tuple[str, int] | str:
    """The case page again with the reply box holding the chosen template's
    text in the report's language (or the language chosen), its meaning
    shown in the console's language. Nothing is sent: the reviewer reads,
    edits and sends with "Send reply". What the reviewer had typed stays
    below the template's text."""
    # The case page is drawn and refused by its own modules.
    from ..cases import actions as case_actions
    from ..cases import views as case_views
    from ..cases.page import render_case

    session = db_session()
    case = case_views._case_or_404(envelope_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    form = ReplyForm()
    template = replytemplates.find(session, request.form.get("template"))
    if template is None or template.retired:
        return case_actions._refused(case, form, "reply", _("Choose a template."))
    if not keyring().unlocked:
        return case_actions._refused(
            case, form, "reply", _("Unlock the organization key to send replies."), 409
        )
    chosen = request.form.get("template_language") or ""
    locale = chosen if chosen in replytemplates.REPLY_LANGUAGES else (report_locale_of(case) or "en")
    form.body.data = replytemplates.prefill(
        template, locale, form.body.data or "", replytemplates.all_texts(session)
    )
    console = _console_locale()
    g.reply_template_chosen = template.id
    g.reply_template_applied = Applied(
        key=template.key,
        title=replytemplates.title_in(template, console),
        summary=replytemplates.summary_in(template, console),
        locale=locale,
        language_name=str(_LANGUAGE_LABELS[locale]),
    )
    case_views._record_view(case)
    return render_case(case, kept=form, section="reply")


def audit_note(form: Any) -> str:
    """`` template=<name> language=<locale>`` for the ``case.reply`` audit
    entry of a reply started from a template (the hidden fields of
    ``case/_reply_templates.html``), or ``""``. Only a well-formed name and
    a known language are written."""
    key = str(form.get("reply_template") or "")
    locale = str(form.get("reply_language") or "")
    if not replytemplates.KEY_PATTERN.fullmatch(key) or locale not in replytemplates.REPLY_LANGUAGES:
        return ""
    return f" template={key} language={locale}"


# --------------------------------------------------------------------------
# Command line

replies_cli = AppGroup("replies", help="Reply templates.")


@replies_cli.command("seed")
def seed_command() -> None:
    """Add the starter set of reply templates (those not there yet)."""
    with db().session() as session:
        added = replytemplates.seed(session)
        if added:
            audit.record(
                session, "cli", audit.Action.REPLY_TEMPLATE_SEED, None, "templates=" + ",".join(added)
            )
        session.commit()
    click.echo(f"added {len(added)} reply templates" + (f": {', '.join(added)}" if added else ""))


def init_app(app: Flask) -> None:
    """Register the pages and the ``replies`` command."""
    app.register_blueprint(bp)
    app.cli.add_command(replies_cli)
