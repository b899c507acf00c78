"""Languages of the reporter's pages: the URL prefix (``/en/``,
``/zh-hant/``, ``/zh-hans/``, ``/fr/``) chooses the locale;
``Accept-Language`` picks the first visit's default at ``/``.

A right-to-left pseudo-locale (``/qps-rtl/``: English text, ``dir="rtl"``)
is available when ``PSEUDO_LOCALES`` is set, so the layout is tested for a
right-to-left language (Uyghur) before one ships. It is never linked from
the language chooser of a shipped language.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, current_app, g, request
from flask_babel import Babel


@dataclass(frozen=True)
class Language:
    """A language: URL code, Babel locale, BCP 47 tag for ``<html lang>``,
    text direction, its own name, and whether it ships (a complete catalog,
    offered to reporters) or is a test pseudo-locale."""

    code: str
    locale: str
    tag: str
    direction: str
    name: str
    shipped: bool = True


LANGUAGES: dict[str, Language] = {
    lang.code: lang
    for lang in (
        Language("en", "en", "en", "ltr", "English"),
        Language("zh-hant", "zh_Hant", "zh-Hant", "ltr", "繁體中文"),
        Language("zh-hans", "zh_Hans", "zh-Hans", "ltr", "简体中文"),
        Language("fr", "fr", "fr", "ltr", "Français"),
    )
}
#: Test-only locales (``PSEUDO_LOCALES = True``). English strings; the
#: primary tag ``ar`` with the private-use region ``XB`` is the pseudo-bidi
#: convention (Chromium, Android).
PSEUDO_LANGUAGES: dict[str, Language] = {
    "qps-rtl": Language("qps-rtl", "en", "ar-XB", "rtl", "Pseudo RTL", shipped=False),
}
DEFAULT_LANGUAGE = "en"

#: Accept-Language tags (lower case) → URL code, beyond each language's own tag.
_ALIASES = {
    "zh-tw": "zh-hant",
    "zh-hk": "zh-hant",
    "zh-mo": "zh-hant",
    "zh-hant-tw": "zh-hant",
    "zh-hant-hk": "zh-hant",
    "zh-cn": "zh-hans",
    "zh-sg": "zh-hans",
    "zh-my": "zh-hans",
    "zh-hans-cn": "zh-hans",
    "zh": "zh-hans",
}

babel = Babel()


def available_languages() -> dict[str, Language]:
    """Languages this app serves: the shipped ones, plus the pseudo-locales
    when ``PSEUDO_LOCALES`` is set."""
    if current_app.config.get("PSEUDO_LOCALES"):
        return {**LANGUAGES, **PSEUDO_LANGUAGES}
    return LANGUAGES


def current_language() -> Language:
    """The request's language (the URL's, else the default)."""
    code = g.get("lang_code")
    return available_languages().get(code or "", LANGUAGES[DEFAULT_LANGUAGE])


def _locale_selector() -> str:
    return current_language().locale


def best_language() -> str:
    """The URL code of the shipped language that best matches
    ``Accept-Language`` (in the header's order of preference)."""
    by_tag = {lang.tag.lower(): lang.code for lang in LANGUAGES.values()}
    by_tag.update(_ALIASES)
    for value, _quality in request.accept_languages:
        tag = value.lower().replace("_", "-")
        if tag in by_tag:
            return by_tag[tag]
        parts = tag.split("-")
        if parts[0] == "zh" and len(parts) > 1 and parts[1] in ("hant", "hans"):
            return f"zh-{parts[1]}"
        if parts[0] in by_tag:
            return by_tag[parts[0]]
    return DEFAULT_LANGUAGE


def init_i18n(app: Flask, translations: str) -> None:
    """Bind Flask-Babel with the catalogs in ``translations``."""
    app.config.setdefault("BABEL_DEFAULT_LOCALE", "en")
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = translations
    babel.init_app(app, locale_selector=_locale_selector)

    @app.context_processor
    def _languages() -> dict[str, object]:
        return {"languages": available_languages(), "language": current_language()}
