"""Languages of the reviewer console: English, French and Traditional
Chinese, chosen per account (``User.locale``, set on the account page) and,
for an account that has not chosen and on the pages before login, from the
browser's ``Accept-Language``.

The console has its own catalogs (``admin/translations/``, extracted with
``babel-admin.cfg`` by ``scripts/translations.sh``), apart from the
reporter pages' (``intake/translations/``): the two apps are separate and
their words are written for different readers.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import has_request_context, request
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from werkzeug.exceptions import HTTPException


@dataclass(frozen=True)
class ConsoleLanguage:
    """A console language: Babel locale (what ``User.locale`` stores), BCP 47
    tag for ``<html lang>``, and its name written in itself."""

    locale: str
    tag: str
    name: str


LANGUAGES: dict[str, ConsoleLanguage] = {
    lang.locale: lang
    for lang in (
        ConsoleLanguage("en", "en", "English"),
        ConsoleLanguage("fr", "fr", "Français"),
        ConsoleLanguage("zh_Hant", "zh-Hant", "繁體中文"),
    )
}
DEFAULT_LOCALE = "en"

#: Language (or extended language) subtags read in Chinese characters
#: (ISO 639-3, as RFC 5646 lists them under ``zh``). The console has one
#: Chinese catalog, Traditional: a reviewer whose browser asks for
#: Simplified Chinese reads it far more easily than English, and can
#: choose another language on the account page.
_CHINESE = frozenset(
    {"zh", "cmn", "yue", "nan", "hak", "wuu", "gan", "hsn", "cjy", "cdo", "cpx", "czh", "czo", "mnp"}
)


def locale_for_tag(tag: str) -> str | None:
    """The console locale serving a reader who asks for the BCP 47 ``tag``
    (``fr-CA``, ``zh-HK``, ``zh-Hant-TW``, ``yue``, ``en-GB``; case and
    ``_`` ignored), or None when the console has no such language.
    Every Chinese tag, whatever its script or region, gets ``zh_Hant``."""
    subtags = [s for s in tag.lower().replace("_", "-").split("-") if s]
    if not subtags:
        return None
    languages = {subtags[0]}
    if len(subtags) > 1 and len(subtags[1]) == 3 and subtags[1].isalpha():
        languages.add(subtags[1])  # an extended language subtag: zh-yue, zh-cmn
    if languages & _CHINESE:
        return "zh_Hant"
    return subtags[0] if subtags[0] in LANGUAGES else None


def browser_locale() -> str:
    """The console locale that best matches ``Accept-Language``, in the
    header's order of preference, else English."""
    for value, _quality in request.accept_languages:
        found = locale_for_tag(value)
        if found is not None:
            return found
    return DEFAULT_LOCALE


def select_locale() -> str:
    """Flask-Babel's locale selector: the logged-in account's choice, else
    the browser's; English outside a request (commands)."""
    if not has_request_context():
        return DEFAULT_LOCALE
    if current_user and current_user.is_authenticated:
        chosen = getattr(current_user, "locale", None)
        if chosen in LANGUAGES:
            return str(chosen)
    return browser_locale()


def language_tag(locale: object) -> str:
    """The BCP 47 tag of a console locale (``zh_Hant`` → ``zh-Hant``)."""
    found = LANGUAGES.get(str(locale))
    return found.tag if found is not None else DEFAULT_LOCALE


def http_error_message(error: HTTPException) -> str:
    """What an error page says: the view's own (translated) description, or
    for werkzeug's default English one, the console's words for that code."""
    if error.description != type(error).description:
        return str(error.description)
    messages = {
        400: _l("The request was not understood. Go back and try again."),
        403: _l("Your account may not open this page."),
        404: _l("There is no such page."),
        405: _l("This page cannot be used that way."),
        413: _l("What was sent is too large."),
        415: _l("This kind of file cannot be shown here."),
        429: _l("Too many requests. Wait a moment and try again."),
        500: _l("Something went wrong."),
        503: _l("The console is busy. Wait a moment and try again."),
    }
    message = messages.get(error.code or 0)
    return str(message) if message is not None else str(error.description)


#: Account roles (admin/models.py ``Role``) -> label.
ROLE_LABELS = {
    "reviewer": _l("Reviewer"),
    "coordinator": _l("Coordinator"),
    "admin": _l("Administrator"),
}


def role_label(code: str) -> str:
    """The label of a role code (the code itself if unknown)."""
    return str(ROLE_LABELS.get(code, code))


#: Where an envelope was sealed (``Case.sealed_by``) -> label, for the inbox
#: and case pages (``{{ case.sealed_by|sealed_by }}``).
SEALED_BY_LABELS = {
    "browser": _l("the reporter's browser"),
    "server": _l("the intake server"),
    "console": _l("this console (interview)"),
}


def sealed_by_label(code: str) -> str:
    """The label of a ``sealed_by`` code (the code itself if unknown)."""
    return str(SEALED_BY_LABELS.get(code, code))
