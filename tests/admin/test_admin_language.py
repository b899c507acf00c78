"""The console's language, over real HTTP (a threaded server on 127.0.0.1,
real CSRF tokens): an account's choice renders every page in that language
whatever the browser asks for, is audited, and can be given back to the
browser; before login, Accept-Language decides."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
import requests
from flask import Flask
from sqlalchemy import select

from admin.extensions import DB_EXTENSION
from admin.i18n import locale_for_tag
from admin.models import AuditEntry, User
from tests.admin.admin_testlib import PASSWORD, AuthActions, FakeIntake, synced


def _browser(accept_language: str) -> requests.Session:
    http = requests.Session()
    http.trust_env = False  # loopback only
    http.headers["Accept-Language"] = accept_language
    return http


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html) or re.search(
        r'name="csrf_token" value="([^"]+)"', html
    )
    assert found, "no CSRF token on the page"
    return found.group(1)


def _lang(html: str) -> str:
    found = re.search(r'<html lang="([^"]+)"', html)
    assert found
    return found.group(1)


def _log_in(http: requests.Session, base: str, auth: AuthActions, email: str) -> None:
    token = _csrf(http.get(f"{base}/login").text)
    first = http.post(f"{base}/login", data={"email": email, "password": PASSWORD, "csrf_token": token})
    assert first.url.endswith("/login/second-factor"), first.url
    token = _csrf(first.text)
    done = http.post(f"{base}/login/totp", data={"code": auth.next_code(email), "csrf_token": token})
    assert done.url == f"{base}/", done.url


def _choose(http: requests.Session, base: str, locale: str) -> requests.Response:
    token = _csrf(http.get(f"{base}/account").text)
    return http.post(f"{base}/account/language", data={"locale": locale, "csrf_token": token})


def _audited(app: Flask) -> list[tuple[str, str | None, str]]:
    with app.extensions[DB_EXTENSION].session() as session:
        rows = session.scalars(select(AuditEntry).where(AuditEntry.action == "account.language"))
        return [(e.actor, e.object_id, e.detail) for e in rows]


def _stored(app: Flask, email: str) -> str | None:
    with app.extensions[DB_EXTENSION].session() as session:
        user = session.scalar(select(User).where(User.email == email))
        assert user is not None
        return user.locale


def test_an_account_language_wins_over_the_browser(live_console: Callable[..., tuple[Flask, str]]) -> None:
    app, base = live_console()
    auth = AuthActions(app, app.test_client())
    email = auth.create("reviewer", email="lea@example.org")
    # An English browser: the console is English until the account chooses.
    http = _browser("en-CA,en;q=0.9")
    _log_in(http, base, auth, email)
    account = http.get(f"{base}/account").text
    assert _lang(account) == "en" and "Console language" in account

    chosen = _choose(http, base, "fr")
    assert chosen.url == f"{base}/account"
    # The confirmation is in the new language already.
    assert _lang(chosen.text) == "fr" and "La langue de votre console est enregistrée." in chosen.text
    assert _stored(app, email) == "fr"

    # Whatever the browser asks for now, every page is French.
    for accept in ("zh-TW,zh;q=0.9", "en-US", "de"):
        http.headers["Accept-Language"] = accept
        inbox = http.get(f"{base}/").text
        assert _lang(inbox) == "fr", accept
        assert "Boîte de réception" in inbox and "Se déconnecter" in inbox and ">Inbox<" not in inbox
        keys = http.get(f"{base}/keys/").text
        assert _lang(keys) == "fr" and "Clé de l’organisme" in keys
        missing = http.get(f"{base}/no-such-page")
        assert missing.status_code == 404 and "Cette page n’existe pas." in missing.text

    # Traditional Chinese, from a French browser.
    http.headers["Accept-Language"] = "fr-CA"
    page = _choose(http, base, "zh_Hant").text
    assert _lang(page) == "zh-Hant" and "控制台語言" in page and "收件匣" in page
    selected = re.search(r"<option[^>]*\bselected\b[^>]*>", page)
    assert selected and 'value="zh_Hant"' in selected.group(0)

    # Back to the browser's choice: French again, from the French browser.
    page = _choose(http, base, "").text
    assert _lang(page) == "fr" and _stored(app, email) is None

    entries = _audited(app)
    assert [(actor, detail) for actor, _id, detail in entries] == [
        (email, "fr"), (email, "zh_Hant"), (email, "browser")
    ]  # fmt: skip


def test_a_language_the_console_does_not_offer_is_refused(
    live_console: Callable[..., tuple[Flask, str]],
) -> None:
    app, base = live_console()
    auth = AuthActions(app, app.test_client())
    email = auth.create("reviewer", email="sam@example.org")
    http = _browser("en")
    _log_in(http, base, auth, email)
    for forged in ("zh_Hans", "../../etc", "x" * 40):
        page = _choose(http, base, forged).text
        assert "Choose one of the languages offered." in page
    assert _stored(app, email) is None and _audited(app) == []


@pytest.mark.parametrize(
    ("accept", "lang", "heading"),
    [
        ("fr-CA,fr;q=0.9,en;q=0.5", "fr", "Se connecter"),
        ("zh-HK,zh;q=0.9", "zh-Hant", "登入"),
        ("zh-TW", "zh-Hant", "登入"),
        # Simplified readers read Traditional far better than English.
        ("zh-CN,zh;q=0.9", "zh-Hant", "登入"),
        ("de-DE,de;q=0.9,fr;q=0.8", "fr", "Se connecter"),
        ("de-DE", "en", "Log in"),
        ("", "en", "Log in"),
    ],
)
def test_the_login_page_follows_the_browser(
    live_console: Callable[..., tuple[Flask, str]], accept: str, lang: str, heading: str
) -> None:
    _app, base = live_console()
    http = _browser(accept)
    page = http.get(f"{base}/login").text
    assert _lang(page) == lang
    assert f"<h1>{heading}</h1>" in page
    # A logged-out visit to a console page lands on the login page, in the
    # browser's language, with the "log in" message translated.
    redirected = http.get(f"{base}/keys/").text
    assert _lang(redirected) == lang and f"<h1>{heading}</h1>" in redirected


def test_language_tags() -> None:
    assert locale_for_tag("fr-CA") == "fr"
    for chinese in ("zh-Hant-TW", "yue-HK", "zh-cmn-Hans-CN", "zh_Hans", "nan-TW"):
        assert locale_for_tag(chinese) == "zh_Hant", chinese
    assert locale_for_tag("en-GB") == "en"
    assert locale_for_tag("de") is None and locale_for_tag("") is None and locale_for_tag("*") is None


def test_case_page_refusals_are_in_the_accounts_language(
    live_console: Callable[..., tuple[Flask, str]], intake_factory: Callable[[Flask], FakeIntake]
) -> None:
    """A link, a triage value, a coding or a vignette the console refuses is
    explained in the account's language (not the services' English), the
    page keeps what was typed, and it is never a server error."""
    app, base = live_console()
    fake = intake_factory(app)
    a, b = (fake.add({"narrative": n, "consent": {"statistics": True, "quote": False}}) for n in "ab")
    synced(app, fake)
    auth = AuthActions(app, app.test_client())
    email = auth.create("coordinator", email="ines@example.org")
    http = _browser("en")
    _log_in(http, base, auth, email)
    _choose(http, base, "fr")
    case = f"{base}/cases/{a.envelope_id}"

    def post(path: str, **data: str) -> requests.Response:
        token = _csrf(http.get(case).text)
        return http.post(f"{case}/{path}", data={**data, "csrf_token": token})

    def refused(response: requests.Response, french: str, *kept: str, status: int = 400) -> None:
        assert response.status_code == status, response.status_code
        assert _lang(response.text) == "fr"
        assert french in response.text, french
        for typed in kept:
            assert typed in response.text, typed

    refused(
        post("links", other=str(a.seq), kind="related"),
        "Un dossier ne peut pas être lié à lui-même.",
        f'value="{a.seq}"',
    )
    refused(
        post("links", other="999", kind="duplicate"),
        "Aucun dossier ne porte ce numéro ou cet identifiant d’enveloppe.",
        'value="999"',
    )
    assert post("links", other=b.envelope_id, kind="duplicate").status_code == 200
    refused(
        post("links", other=b.envelope_id, kind="related"),
        "Ces dossiers sont déjà liés\u202f; retirez d’abord ce lien.",
        f'value="{b.envelope_id}"',
    )
    refused(
        post("triage", status="new", tags="ok Bad_Tag"),
        "Les étiquettes ne peuvent contenir que a-z, 0-9 et -",
        'value="ok Bad_Tag"',
    )
    future = f"{datetime.now(UTC).year + 1}-03"
    refused(
        post("coding", tactics="T04", incident_month=future),
        "Le mois de l’incident ne peut pas être dans l’avenir.",
        f'value="{future}"',
    )
    refused(
        post("vignette", text_en=" ", text_fr="\n"), "Rédigez d’abord la vignette en anglais ou en français."
    )
    # Release and withdraw come back to the case page with the reason.
    saved = post("vignette", text_en="An account.", text_fr="")
    assert saved.status_code == 200 and "An account." in saved.text
    refused(
        post("vignette/release", rev="7"),
        "La vignette a changé depuis que vous l’avez lue\u202f; relisez-la avant de l’autoriser.",
        status=200,
    )
    refused(
        post("vignette/release", rev="1"),
        "La personne n’a pas consenti à être citée\u00a0: une vignette ne peut pas être autorisée.",
        status=200,
    )
    refused(post("vignette/withdraw"), "Ce dossier n’a aucune vignette autorisée.", status=200)

    # Traditional Chinese, for a reviewer in Taiwan or Hong Kong.
    _choose(http, base, "zh_Hant")
    chinese = post("links", other=str(a.seq), kind="related")
    assert chinese.status_code == 400 and "個案不能與自己連結。" in chinese.text
