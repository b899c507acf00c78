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

from flask import Blueprint, Flask, abort, current_app, g, request
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

#: Chinese regions whose readers use Traditional characters when a tag names
#: no script (RFC 5646 region subtags, lower case).
_TRADITIONAL_REGIONS = frozenset({"tw", "hk", "mo"})
#: Language (or extended language) subtags read in Chinese characters:
#: Mandarin, Cantonese, Min Nan, Hakka, Wu and the other Chinese languages
#: (ISO 639-3, as RFC 5646 lists them under ``zh``).
_CHINESE = frozenset(
    {"zh", "cmn", "yue", "nan", "hak", "wuu", "gan", "hsn", "cjy", "cdo", "cpx", "czh", "czo", "mnp"}
)
#: Chinese languages written in Traditional characters when the tag names no
#: script: Cantonese is read in Hong Kong and Macao.
_TRADITIONAL_LANGUAGES = frozenset({"yue"})

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


def language_for_tag(tag: str) -> str | None:
    """The URL code of the shipped language that serves a reader asking for
    the BCP 47 ``tag`` (RFC 5646: ``zh-TW-u-ca-chinese``, ``zh-cmn-Hant-TW``,
    ``yue-HK``, ``zh_Hans``; case and ``_`` ignored), or None.

    Chinese tags choose the script: an explicit ``Hant``/``Hans`` script
    subtag wins; otherwise Taiwan, Hong Kong and Macao, and Cantonese, read
    Traditional characters, every other Chinese tag Simplified. Extensions
    and private use (everything from a singleton such as ``-u-`` or ``-x-``)
    are ignored.
    """
    subtags = _subtags(tag)
    if not subtags:
        return None
    primary, languages, script, region = _parse_subtags(subtags)
    if languages & _CHINESE:
        return _chinese_code(languages, script, region)
    by_language = {lang.tag.lower(): lang.code for lang in LANGUAGES.values() if "-" not in lang.tag}
    return by_language.get(primary)


def _subtags(tag: str) -> list[str]:
    """The lower-case subtags of ``tag`` before any extension or private use."""
    subtags = [s for s in tag.lower().replace("_", "-").split("-") if s]
    # Extensions and private use follow a single-letter subtag.
    for i, subtag in enumerate(subtags):
        if len(subtag) == 1:
            return subtags[:i]
    return subtags


def _parse_subtags(subtags: list[str]) -> tuple[str, set[str], str | None, str | None]:
    """``(primary, languages, script, region)`` of non-empty lower-case
    ``subtags``: ``languages`` holds the primary language and any extended
    language subtag."""
    primary, rest = subtags[0], subtags[1:]
    languages = {primary}
    # An extended language subtag (three letters: ``zh-yue``, ``zh-cmn``).
    if rest and len(rest[0]) == 3 and rest[0].isalpha():
        languages.add(rest[0])
        rest = rest[1:]
    script = next((s for s in rest if len(s) == 4 and s.isalpha()), None)
    region = next((s for s in rest if len(s) == 2 or (len(s) == 3 and s.isdigit())), None)
    return primary, languages, script, region


def _chinese_code(languages: set[str], script: str | None, region: str | None) -> str:
    """The Chinese URL code for a Chinese tag: its explicit script, else
    Traditional for Taiwan, Hong Kong, Macao and Cantonese, else Simplified."""
    if script in ("hant", "hans"):
        return f"zh-{script}"
    if region in _TRADITIONAL_REGIONS or languages & _TRADITIONAL_LANGUAGES:
        return "zh-hant"
    return "zh-hans"


def best_language() -> str:
    """The URL code of the shipped language that best matches
    ``Accept-Language`` (in the header's order of preference; see
    :func:`language_for_tag`), else English."""
    for value, _quality in request.accept_languages:
        code = language_for_tag(value)
        if code is not None:
            return code
    return DEFAULT_LANGUAGE


def localize(bp: Blueprint) -> None:
    """Give the routes of ``bp`` the page's language as the first part of
    their address (``/<lang_code>/…``): a request's code becomes
    ``g.lang_code`` (:func:`current_language`), an unknown one is a 404,
    and ``url_for`` on ``bp``'s endpoints fills in the current language,
    else the browser's (:func:`best_language`). Every blueprint of the
    reporter's pages calls it, so a link from one to another keeps the
    language."""
    bp.url_value_preprocessor(_pull_language)
    bp.url_defaults(_add_language)


def _pull_language(_endpoint: str | None, values: dict[str, object] | None) -> None:
    if values is None or "lang_code" not in values:
        return
    code = values.pop("lang_code")
    if code not in available_languages():
        abort(404)
    g.lang_code = code


def _add_language(_endpoint: str, values: dict[str, object]) -> None:
    values.setdefault("lang_code", g.get("lang_code") or best_language())


def init_i18n(app: Flask, translations: str) -> None:
    """Bind Flask-Babel with the catalogs in ``translations``."""
    app.config.setdefault("BABEL_DEFAULT_LOCALE", "en")
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = translations
    babel.init_app(app, locale_selector=_locale_selector)

    @app.context_processor
    def _languages() -> dict[str, object]:
        return {"languages": available_languages(), "language": current_language()}
