"""A link from another site cannot log a reviewer out.

The console's session cookie is ``SameSite=Strict``: a browser leaves it
off any request another site starts, a top-level link included. Such a
request used to reach the login redirect, whose flashed message wrote a
new, empty session cookie over the reviewer's: any page on the web (or a
link in an e-mail read in webmail) could end every reviewer's session by
linking to the console. Now a cross-site navigation that carries no session
cookie gets a page that reopens the same address from the console itself,
sets no cookie, and the reviewer lands where the link pointed, still
logged in.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from typing import Any

import pytest
import requests
from flask import Flask

from tests.admin.admin_testlib import PASSWORD, AuthActions

pytest.importorskip("playwright.sync_api")

ATTACKER = "http://attacker.example"


def _session_cookie(context: Any, app: Flask) -> str | None:
    name = app.config["SESSION_COOKIE_NAME"]
    return next((c["value"] for c in context.cookies() if c["name"] == name), None)


def test_a_link_from_another_site_keeps_the_reviewer_logged_in(
    live_console: Callable[..., tuple[Flask, str]], browser: Any
) -> None:
    app, base = live_console()
    auth = AuthActions(app, app.test_client())
    email = auth.create("reviewer")
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(f"{base}/login")
        page.fill("input[name=email]", email)
        page.fill("input[name=password]", PASSWORD)
        page.click("input[type=submit]")
        page.wait_for_url(f"{base}/login/second-factor")
        page.fill("input[name=code]", auth.next_code(email))
        page.click("form[action$='/login/totp'] input[type=submit]")
        page.wait_for_url(f"{base}/")
        logged_in = _session_cookie(context, app)
        assert logged_in

        # Another site links to a console page; the reviewer follows it.
        page.route(
            f"{ATTACKER}/**",
            lambda route: route.fulfill(
                status=200,
                content_type="text/html",
                body=f'<!doctype html><title>news</title><a id="l" href="{base}/keys/">read</a>',
            ),
        )
        page.goto(f"{ATTACKER}/")
        page.click("#l")
        page.wait_for_url(f"{base}/keys/")
        page.wait_for_selector("#key-state")  # the logged-in layout, not the login form
        assert _session_cookie(context, app) == logged_in
        page.goto(f"{base}/")
        assert page.locator("h1").inner_text() == "Inbox"
    finally:
        context.close()


def test_the_reopen_page_sets_no_cookie_and_names_only_this_console(
    live_console: Callable[..., tuple[Flask, str]],
) -> None:
    app, base = live_console()
    navigation = {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document"}
    response = requests.get(f"{base}/cases/?q=x", headers=navigation, allow_redirects=False, timeout=30)
    assert response.status_code == 200
    assert "Set-Cookie" not in response.headers
    assert 'http-equiv="refresh"' in response.text
    assert 'content="0;url=/cases/?q=x"' in response.text
    assert "Cache-Control" in response.headers and "no-store" in response.headers["Cache-Control"]
    # A same-site request, or a cross-site one that carries a cookie
    # (Lax or none on an old browser), takes the usual way.
    same = requests.get(
        f"{base}/cases/",
        headers={**navigation, "Sec-Fetch-Site": "same-origin"},
        allow_redirects=False,
        timeout=30,
    )
    assert same.status_code == 302
    # A cross-site post is never turned into a get.
    post = requests.post(f"{base}/logout", headers=navigation, allow_redirects=False, timeout=30)
    assert 'http-equiv="refresh"' not in post.text


@pytest.mark.parametrize(
    "path",
    [
        "//attacker.example/login",
        "/%2F/attacker.example/",
        "/\\attacker.example/",
        "/%09/attacker.example/",
        "/%0A/attacker.example/",
        "/%0D%0A/attacker.example/",
    ],
)
def test_the_reopen_page_never_sends_the_reviewer_to_another_host(
    live_console: Callable[..., tuple[Flask, str]], path: str
) -> None:
    """A link to ``https://console//attacker.example/`` must not turn the
    reopen page into a redirect off the console (a phishing page for
    reviewers' passwords would follow it)."""
    _app, base = live_console()
    navigation = {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document"}
    response = requests.get(f"{base}{path}", headers=navigation, allow_redirects=False, timeout=30)
    refresh = re.search(r'http-equiv="refresh" content="0;url=([^"]*)"', response.text)
    if refresh is not None:
        # As a browser reads it: the URL parser drops every tab and
        # newline, so "/<TAB>/host" is "//host", another host.
        target = re.sub(r"[\t\n\r]", "", html.unescape(refresh.group(1)))
        assert target.startswith("/") and target[1:2] not in ("/", "\\"), target
    assert "attacker.example" not in response.headers.get("Location", "")
