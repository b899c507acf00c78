"""Reply templates: replies for common situations, written in every reporter
language, kept by coordinators (pages in :mod:`admin.replytemplates.views`).

A reviewer picks one on the case page and sees its meaning in the console's
language; the reply box is filled with its text in the language of the
report's form (the sealed report's ``language``, the BCP 47 tag of the page
the reporter wrote on: ``en``, ``fr``, ``zh-Hant``, ``zh-Hans``; see
core/schema/fields.py). The reviewer may edit it, and sends it as any
reply (:mod:`admin.cases.replies`). Templates hold the organization's words only,
never a reporter's, so they are stored in clear.

``[…]`` in a text marks what the reviewer must write in: a reply that still
holds it is not sent (:func:`has_placeholder`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.envelope.replykey import MAX_REPLY_TEXT
from core.i18n import LANGUAGES

from ..models import ReplyTemplate
from .starter import STARTER

#: Reporter languages (Babel locale) a template is written in, with the
#: BCP 47 tag a report records for each (core/i18n.py).
REPLY_LANGUAGES: dict[str, str] = {lang.locale: lang.tag for lang in LANGUAGES.values()}
#: Console languages a template's title and meaning are written in
#: (English is required; the others fall back to it).
CONSOLE_LANGUAGES = ("en", "fr", "zh_Hant")
#: What the reviewer must replace before sending.
PLACEHOLDER = "[…]"
MAX_TITLE = 120
MAX_SUMMARY = 1000
KEY_PATTERN = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?")


def _column(locale: str) -> str:
    """``zh_Hant`` -> ``zh_hant``: the column suffix of a locale."""
    return locale.lower()


class ReplyTemplateError(ValueError):
    """A template cannot be saved: ``field`` (a form field name such as
    ``text_fr``) and a reason for the coordinator."""

    def __init__(self, field: str, message: object) -> None:
        super().__init__(str(field))
        self.field = field
        #: A lazy gettext string: shown in the console's language.
        self.message = message


def language_of_report(tag: object) -> str | None:
    """The reporter language (``en``, ``fr``, ``zh_Hant``, ``zh_Hans``) of
    a report whose form recorded ``tag`` as its ``language``; None when the
    report recorded none or one the templates are not written in (an
    interview in another language, an older report)."""
    if not isinstance(tag, str):
        return None
    wanted = tag.strip().lower()
    return next((locale for locale, t in REPLY_LANGUAGES.items() if t.lower() == wanted), None)


def language_name(locale: str) -> str:
    """A reporter language's own name (``繁體中文``), as the intake shows it."""
    tag = REPLY_LANGUAGES.get(locale)
    return next((lang.name for lang in LANGUAGES.values() if lang.tag == tag), locale)


def text_in(template: ReplyTemplate, locale: str) -> str:
    """The template's text in reporter language ``locale`` (English for a
    locale it has no column for)."""
    column = f"text_{_column(locale)}" if locale in REPLY_LANGUAGES else "text_en"
    return str(getattr(template, column))


def title_in(template: ReplyTemplate, console_locale: str) -> str:
    """The title in the console's language, English when it has none."""
    return _console_value(template, "title", console_locale)


def summary_in(template: ReplyTemplate, console_locale: str) -> str:
    """The meaning in the console's language, English when it has none."""
    return _console_value(template, "summary", console_locale)


def _console_value(template: ReplyTemplate, what: str, console_locale: str) -> str:
    locale = next(
        (c for c in CONSOLE_LANGUAGES if c.lower() == console_locale.replace("-", "_").lower()), "en"
    )
    value = str(getattr(template, f"{what}_{_column(locale)}") or "")
    return value or str(getattr(template, f"{what}_en"))


def has_placeholder(text: str) -> bool:
    """Whether ``text`` still holds a :data:`PLACEHOLDER` to write in."""
    return PLACEHOLDER in text


def offered(session: Session) -> list[ReplyTemplate]:
    """The templates a reviewer may pick: not retired, in their order."""
    return list(
        session.scalars(
            select(ReplyTemplate)
            .where(ReplyTemplate.retired.is_(False))
            .order_by(ReplyTemplate.position, ReplyTemplate.id)
        )
    )


def every(session: Session) -> list[ReplyTemplate]:
    """All templates, retired ones last, for the coordinators' list."""
    return list(
        session.scalars(
            select(ReplyTemplate).order_by(ReplyTemplate.retired, ReplyTemplate.position, ReplyTemplate.id)
        )
    )


def find(session: Session, template_id: object) -> ReplyTemplate | None:
    """The template with id ``template_id`` (an int or its digits), or None."""
    if isinstance(template_id, str) and template_id.isdigit() and len(template_id) < 10:
        template_id = int(template_id)
    if not isinstance(template_id, int):
        return None
    return session.get(ReplyTemplate, template_id)


@dataclass(frozen=True)
class TemplateValues:
    """What a coordinator typed for a template: ``titles`` and
    ``summaries`` by console language, ``texts`` by reporter language."""

    key: str
    position: int
    titles: Mapping[str, str]
    summaries: Mapping[str, str]
    texts: Mapping[str, str]


def _clean(text: str | None) -> str:
    return (text or "").replace("\r\n", "\n").replace("\r", "\n").strip()


def save(session: Session, template: ReplyTemplate | None, values: TemplateValues) -> ReplyTemplate:
    """Add a template (``template`` None) or change one. The caller audits
    and commits.

    Raises:
        ReplyTemplateError: a bad or taken key, an English title or meaning
            missing, a text missing in a reporter language (a template with
            no text in a language would answer that reporter in another),
            or anything over its length.
    """
    key = values.key.strip().lower()
    if template is None or key != template.key:
        if not KEY_PATTERN.fullmatch(key):
            raise ReplyTemplateError(
                "key", _l("A name is 1 to 40 lower-case letters a-z, digits and hyphens.")
            )
        if session.scalar(select(ReplyTemplate.id).where(ReplyTemplate.key == key)) is not None:
            raise ReplyTemplateError("key", _l("Another template has this name."))
    if not 0 <= values.position <= 10_000:
        raise ReplyTemplateError("position", _l("The order is a number from 0 to 10000."))
    fields: dict[str, str] = {}
    for locale in CONSOLE_LANGUAGES:
        title, summary = _clean(values.titles.get(locale)), _clean(values.summaries.get(locale))
        if locale == "en" and not title:
            raise ReplyTemplateError("title_en", _l("Write the English title."))
        if locale == "en" and not summary:
            raise ReplyTemplateError("summary_en", _l("Write what the template says, in English."))
        if len(title) > MAX_TITLE:
            raise ReplyTemplateError(
                f"title_{_column(locale)}", _l("At most %(count)d characters.", count=MAX_TITLE)
            )
        if len(summary) > MAX_SUMMARY:
            raise ReplyTemplateError(
                f"summary_{_column(locale)}", _l("At most %(count)d characters.", count=MAX_SUMMARY)
            )
        fields[f"title_{_column(locale)}"] = title
        fields[f"summary_{_column(locale)}"] = summary
    for locale in REPLY_LANGUAGES:
        text = _clean(values.texts.get(locale))
        name = f"text_{_column(locale)}"
        if not text:
            raise ReplyTemplateError(name, _l("Write the text in every reporter language."))
        if len(text) > MAX_REPLY_TEXT:
            raise ReplyTemplateError(name, _l("At most %(count)d characters.", count=MAX_REPLY_TEXT))
        fields[name] = text
    if template is None:
        template = ReplyTemplate(key=key, position=values.position, retired=False, **fields)
        session.add(template)
    else:
        template.key = key
        template.position = values.position
        for name, value in fields.items():
            setattr(template, name, value)
    session.flush()
    return template


def seed(session: Session) -> list[str]:
    """Add the starter set's templates (admin/replytemplates/starter.py) whose key no
    template has yet, and return their keys. A template a coordinator
    edited or retired is left as it is. The caller audits and commits."""
    have = set(session.scalars(select(ReplyTemplate.key)))
    added = []
    for starter in STARTER:
        if starter.key in have:
            continue
        save(
            session,
            None,
            TemplateValues(starter.key, starter.position, starter.titles, starter.summaries, starter.texts),
        )
        added.append(starter.key)
    return added


def prefill(template: ReplyTemplate, locale: str, typed: str, every_text: list[str]) -> str:
    """The reply box after "Use template": the template's text in
    ``locale``, then what the reviewer had typed below it unless that was
    only another template's text (so switching templates replaces, and a
    reviewer's own words are never lost)."""
    text = text_in(template, locale)
    typed = _clean(typed)
    if not typed or typed in {_clean(t) for t in every_text}:
        return text
    return f"{text}\n\n{typed}"


def all_texts(session: Session) -> list[str]:
    """Every template's text in every reporter language (for :func:`prefill`)."""
    return [text_in(t, locale) for t in every(session) for locale in REPLY_LANGUAGES]
