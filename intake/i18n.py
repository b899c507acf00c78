"""Languages of the reporter's pages: the URL prefix (``/en/``,
``/zh-hant/``) chooses the locale; ``Accept-Language`` picks the first
visit's default at ``/``."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, g, request
from flask_babel import Babel


@dataclass(frozen=True)
class Language:
    """A shipped language: URL code, Babel locale, BCP 47 tag for
    ``<html lang>``, text direction and its own name."""

    code: str
    locale: str
    tag: str
    direction: str
    name: str


LANGUAGES: dict[str, Language] = {
    lang.code: lang
    for lang in (
        Language("en", "en", "en", "ltr", "English"),
        Language("zh-hant", "zh_Hant", "zh-Hant", "ltr", "繁體中文"),
    )
}
DEFAULT_LANGUAGE = "en"

babel = Babel()


def current_language() -> Language:
    """The request's language (the URL's, else the default)."""
    code = g.get("lang_code")
    return LANGUAGES.get(code or "", LANGUAGES[DEFAULT_LANGUAGE])


def _locale_selector() -> str:
    return current_language().locale


def best_language() -> str:
    """The URL code that best matches ``Accept-Language``."""
    by_locale = {lang.tag.lower(): lang.code for lang in LANGUAGES.values()}
    by_locale.update({"zh-tw": "zh-hant", "zh-hk": "zh-hant", "zh-mo": "zh-hant", "zh": "zh-hant"})
    for value, _quality in request.accept_languages:
        tag = value.lower()
        if tag in by_locale:
            return by_locale[tag]
        primary = tag.split("-")[0]
        if primary in by_locale:
            return by_locale[primary]
    return DEFAULT_LANGUAGE


def init_i18n(app: Flask, translations: str) -> None:
    """Bind Flask-Babel with the catalogs in ``translations``."""
    app.config.setdefault("BABEL_DEFAULT_LOCALE", "en")
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = translations
    babel.init_app(app, locale_selector=_locale_selector)

    @app.context_processor
    def _languages() -> dict[str, object]:
        return {"languages": LANGUAGES, "language": current_language()}
