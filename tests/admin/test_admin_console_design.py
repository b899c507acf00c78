"""The console as a reviewer works in it, in headless Chromium over real
HTTP (real CSRF tokens, the real CSP): the inbox with 200 cases (counts per
disposition, cases per week, folding filters, bulk actions), a case with
follow-ups, replies, notes and an Uyghur narrative laid out right to left,
a search that never puts its terms in a URL, axe-core's WCAG 2.2 AA rules
on every page in the light and the dark colour scheme, and screenshots at
1280 and 1920 px.

Screenshots go to ``$TNR_SCREENSHOT_DIR`` when set, else under pytest's
temporary directory, as ``console-<scheme>-<width>-<page>.png``.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select, update

from admin.auth import accounts
from admin.extensions import DB_EXTENSION
from admin.models import AuditEntry, Case, CaseTag, User
from core.envelope.replykey import reply_private_key
from core.receipts import new_receipt
from tests.admin.admin_testlib import PASSWORD, AuthActions, FakeIntake, canary, sync_from, totp_code, unlock

playwright_api = pytest.importorskip("playwright.sync_api")

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
AXE_PATH = "/__test__/axe.min.js"  # served by the test's route only
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
WIDTHS = (1280, 1920)
SCHEMES = ("light", "dark")
#: The console's languages, as the browser asks for them (an account with no
#: language of its own follows Accept-Language), and the <html lang> served.
CONSOLE_LANGUAGES = (("en-CA", "en"), ("fr-CA", "fr"), ("zh-TW", "zh-Hant"))

UYGHUR = (
    "مەن تورونتودا تۇرىمەن. ئۆتكەن ئايدا نامەلۇم كىشىلەر ئاپامغا تېلېفون قىلىپ، "
    "مېنىڭ نامايىشقا قاتناشقانلىقىمنى ئېيتتى. ئۇلار مېنى توختىتىشنى تەلەپ قىلدى!"
)


@pytest.fixture(scope="module")
def screenshot_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    configured = os.environ.get("TNR_SCREENSHOT_DIR")
    folder = Path(configured) if configured else tmp_path_factory.mktemp("console-screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _log_in(page: Any, base: str, auth: AuthActions, email: str) -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(f"{base}/login/second-factor")
    # The current step (each account logs in once here): a code of the
    # step before may age out of the window while the page loads.
    page.fill("input[name=code]", totp_code(auth.secrets[email], int(time.time()) // accounts.TOTP_STEP))
    page.click("form[action$='/login/totp'] input[type=submit]")
    page.wait_for_url(f"{base}/")


def _axe(page: Any) -> list[str]:
    page.add_script_tag(url=page.url.split("/", 3)[0] + "//" + page.url.split("/", 3)[2] + AXE_PATH)
    result = page.evaluate(
        """async (tags) => {
          const options = { runOnly: { type: "tag", values: tags }, resultTypes: ["violations"] };
          const r = await axe.run(document, options);
          return r.violations.map((v) => ({
            id: v.id, impact: v.impact, nodes: v.nodes.map((n) => n.target.join(" ")),
          }));
        }""",
        TAGS,
    )
    return [f"{page.url}: {v['id']} ({v['impact']}) {json.dumps(v['nodes'][:5])}" for v in result]


def _serve_axe(context: Any) -> None:
    assert AXE.exists(), "node_modules/axe-core is missing: run npm ci (scripts/test.sh does)"
    source = AXE.read_bytes()
    context.route(
        "**" + AXE_PATH, lambda route: route.fulfill(status=200, body=source, content_type="text/javascript")
    )


def _followup(fake: FakeIntake, of: str, text: str) -> str:
    served = fake.add({"form_version": 2, "kind": "followup", "follows": of, "narrative": text})
    served.follows = of
    return served.envelope_id


def _two_hundred_cases(app: Flask, fake: FakeIntake) -> tuple[str, str]:
    """200 cases over the last quarter (one Uyghur, with a reply key and two
    follow-ups), synced; returns the Uyghur case's envelope id and the
    reporter's receipt."""
    receipt = new_receipt()
    uyghur = fake.add(
        {"narrative": UYGHUR, "language": "en", "consent": {"quote": True}},
        reply_key=reply_private_key(receipt).public_key.raw,
    ).envelope_id
    for i in range(199):
        fake.add(
            {"narrative": f"Report {i}: a man followed me after the community meeting.", "language": "en"}
        )
    _followup(fake, uyghur, "ئۇلار يەنە تېلېفون قىلدى.")
    _followup(fake, uyghur, "They called again on Sunday; I kept the number.")
    unlock(app)
    result = sync_from(app, fake)
    assert result.added == 202
    today = datetime.now(UTC).date()
    with app.extensions[DB_EXTENSION].session() as session:
        ids = list(session.scalars(select(Case.id).order_by(Case.seq)))
        assignees = list(session.scalars(select(User.id)))
        for n, case_id in enumerate(ids[1:200], start=1):
            # Some days of each week of the quarter (the Uyghur case and
            # its follow-ups are today's).
            values: dict[str, Any] = {"day": today - timedelta(days=(n * n) % 90)}
            if assignees and n % 3 == 0:
                values["assignee_id"] = assignees[n % len(assignees)]
            if n % 17 == 3:
                values["urgent"] = True
            if n % 5 == 1:
                values["status"] = ("in_review", "needs_information", "verified", "closed")[n % 4]
            session.execute(update(Case).where(Case.id == case_id).values(**values))
            for tag in ("harbin", "wechat", "consulate")[: n % 4] if n % 2 else ():
                session.add(CaseTag(case_id=case_id, tag=tag))
        session.commit()
    return uyghur, receipt


def _shoot(page: Any, folder: Path, scheme: str, width: int, name: str) -> Path:
    sideways = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert sideways <= 0, f"{name} at {width} px ({scheme}) scrolls sideways by {sideways}px"
    path = folder / f"console-{scheme}-{width}-{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def test_inbox_and_case_page_in_both_schemes_rtl_axe_and_screenshots(
    live_console: Callable[..., tuple[Flask, str]],
    browser: Any,
    intake_factory: Callable[[Flask], FakeIntake],
    screenshot_dir: Path,
) -> None:
    app, base = live_console(CASES_PER_PAGE=50)
    fake = intake_factory(app)
    auth = AuthActions(app, app.test_client())
    email = auth.create("coordinator", email="coord@example.org")
    auth.create("reviewer", email="reviewer.one@example.org")
    uyghur, _receipt = _two_hundred_cases(app, fake)
    csp_errors: list[str] = []

    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.on("console", lambda m: csp_errors.append(m.text) if "Content Security Policy" in m.text else None)
    _log_in(page, base, auth, email)

    # A reply, a note, and a refused coding that keeps what was ticked and typed.
    page.goto(f"{base}/cases/{uyghur}")
    page.fill(
        "form[action*='/reply'] textarea[name=body]", "رەھمەت. We read your report; we will write again."
    )
    page.click("form[action*='/reply'] input[type=submit]")
    page.wait_for_selector("text=Reply sent.")
    page.fill("form[action*='/notes'] textarea[name=body]", "Called the community liaison; waiting.")
    page.click("form[action*='/notes'] input[type=submit]")
    page.wait_for_selector("text=Note added.")
    page.check("#tactic-T05")
    page.check("#tactic-T11")
    page.check("#community-uyghur")
    page.fill("#coding-form input[name=incident_month]", "2099-01")
    page.click("#coding-form input[type=submit]")
    page.wait_for_selector("#coding-form")
    assert page.locator("section[aria-labelledby=coding] [role=alert]").count() == 1
    assert (
        page.is_checked("#tactic-T05")
        and page.is_checked("#tactic-T11")
        and page.is_checked("#community-uyghur")
    )
    assert not page.is_checked("#tactic-T06")
    assert page.input_value("#coding-form input[name=incident_month]") == "2099-01"

    # The timeline: two follow-ups, the reply and the note, in time order.
    kinds = page.eval_on_selector_all("ol.timeline > li", "els => els.map((e) => e.className)")
    assert sorted(kinds) == ["followup", "followup", "note", "reply"]
    assert kinds.index("reply") < kinds.index("note")

    # Uyghur reads right to left; an English follow-up left to right.
    narrative = page.locator("#report-narrative pre")
    assert narrative.evaluate("(el) => getComputedStyle(el).direction") == "rtl"
    directions = page.eval_on_selector_all(
        "ol.timeline li.followup pre", "els => els.map((e) => getComputedStyle(e).direction)"
    )
    assert sorted(directions) == ["ltr", "rtl"]
    state = context.storage_state()
    context.close()

    found: list[str] = []
    shots: list[Path] = []
    # Every console language in both schemes at 1280 px, and English at
    # 1920 px too.
    views = [(browser, lang, scheme, 1280) for browser, lang in CONSOLE_LANGUAGES for scheme in SCHEMES]
    views += [("en-CA", "en", scheme, 1920) for scheme in SCHEMES]
    for browser_locale, html_lang, scheme, width in views:
        ctx = browser.new_context(
            viewport={"width": width, "height": 900},
            color_scheme=scheme,
            storage_state=state,
            locale=browser_locale,
        )
        _serve_axe(ctx)
        pg = ctx.new_page()
        pg.on(
            "console",
            lambda m: csp_errors.append(m.text) if "Content Security Policy" in m.text else None,
        )
        pg.goto(f"{base}/")
        assert pg.locator("html").get_attribute("lang") == html_lang
        assert pg.locator("table.inbox tbody tr").count() == 50
        assert pg.locator("ol.bars li").count() == 13
        assert pg.locator("details.filters").get_attribute("open") is None  # folded away
        shots.append(_shoot(pg, screenshot_dir, scheme, width, f"inbox-{html_lang}"))
        found += _axe(pg)
        pg.goto(f"{base}/cases/{uyghur}")
        side = pg.locator(".case-side").bounding_box()
        main = pg.locator(".case-main").bounding_box()
        assert side is not None and main is not None
        assert side["x"] > main["x"] + main["width"] - 1, "two columns from 1280 px"
        shots.append(_shoot(pg, screenshot_dir, scheme, width, f"case-{html_lang}"))
        found += _axe(pg)
        ctx.close()
    # One column on a narrow screen.
    ctx = browser.new_context(viewport={"width": 800, "height": 900}, storage_state=state)
    _serve_axe(ctx)
    pg = ctx.new_page()
    pg.goto(f"{base}/cases/{uyghur}")
    side = pg.locator(".case-side").bounding_box()
    main = pg.locator(".case-main").bounding_box()
    assert side is not None and main is not None and side["y"] >= main["y"] + main["height"] - 1
    pg.goto(f"{base}/?status=in_review&urgent=no")
    assert pg.locator("details.filters").get_attribute("open") is not None
    found += _axe(pg)
    ctx.close()

    assert found == [], "\n".join(found)
    assert csp_errors == []
    assert all(p.stat().st_size > 0 for p in shots)


def test_a_search_is_posted_and_never_in_a_url(
    live_console: Callable[..., tuple[Flask, str]],
    browser: Any,
    intake_factory: Callable[[Flask], FakeIntake],
) -> None:
    app, base = live_console(CASES_PER_PAGE=3)
    fake = intake_factory(app)
    term = canary()
    for i in range(7):
        fake.add({"narrative": f"case {i} mentions {term} at the consulate"})
    fake.add({"narrative": "nothing to find here"})
    unlock(app)
    sync_from(app, fake)
    auth = AuthActions(app, app.test_client())
    email = auth.create("reviewer")

    context = browser.new_context()
    _serve_axe(context)
    urls: list[str] = []

    def keep(route: Any) -> None:
        urls.append(route.request.url)
        route.fallback()

    context.route("**/*", keep)
    page = context.new_page()
    page.on("framenavigated", lambda frame: urls.append(frame.url))
    _log_in(page, base, auth, email)
    page.fill("#search-q", term)
    page.click("#search-form button[type=submit]")
    page.wait_for_selector("text=7 cases match the search")
    assert page.locator("table.inbox tbody tr").count() == 3
    assert _axe(page) == []
    # Paging posts the terms again.
    page.click("nav.pages >> text=Older")
    page.wait_for_selector("text=Page 2 of 3")
    history = page.evaluate("() => [location.href, document.referrer]")
    assert [u for u in urls + history if term in u] == []
    assert page.locator("table.inbox tbody tr").count() == 3
    assert page.input_value("#search-q") == term
    assert len(urls) > 5
    context.close()


def _bulk_page(page: Any, base: str) -> None:
    page.goto(f"{base}/")
    page.wait_for_selector("#bulk-form")


def _audit(app: Flask, action: str) -> list[tuple[str, str]]:
    with app.extensions[DB_EXTENSION].session() as session:
        return [
            (str(ref), str(detail))
            for ref, detail in session.execute(
                select(AuditEntry.object_id, AuditEntry.detail)
                .where(AuditEntry.action == action)
                .order_by(AuditEntry.seq)
            )
        ]


def test_bulk_actions_over_http_audited_per_case_and_refused_without_permission(
    live_console: Callable[..., tuple[Flask, str]],
    browser: Any,
    intake_factory: Callable[[Flask], FakeIntake],
) -> None:
    app, base = live_console()
    fake = intake_factory(app)
    ids = [fake.add({"narrative": f"report {i}"}).envelope_id for i in range(6)]
    unlock(app)
    sync_from(app, fake)
    auth = AuthActions(app, app.test_client())
    coordinator = auth.create("coordinator")
    reviewer = auth.create("reviewer")
    with app.extensions[DB_EXTENSION].session() as session:
        users = {u.email: u.id for u in session.scalars(select(User))}

    def status_of(envelope_id: str) -> tuple[str, int | None]:
        with app.extensions[DB_EXTENSION].session() as session:
            case = session.scalars(select(Case).where(Case.envelope_id == envelope_id)).one()
            return case.status, case.assignee_id

    # A coordinator: disposition, assignment to another account, spam.
    context = browser.new_context()
    page = context.new_page()
    _log_in(page, base, auth, coordinator)
    for envelope_id in ids[:3]:
        page.check(f"#bulk-form input[name=case][value='{envelope_id}']")
    page.select_option("#bulk-form select[name=disposition]", "in_review")
    page.click("#bulk-form button[value=disposition]")
    page.wait_for_selector("text=3 cases changed.")
    assert [status_of(i)[0] for i in ids] == ["in_review"] * 3 + ["new"] * 3
    assert sorted(_audit(app, "case.update")) == sorted((i, "status=in_review") for i in ids[:3])

    for envelope_id in ids[1:4]:
        page.check(f"#bulk-form input[name=case][value='{envelope_id}']")
    page.select_option("#bulk-form select[name=assignee]", str(users[reviewer]))
    page.click("#bulk-form button[value=assign]")
    page.wait_for_selector("text=3 cases changed.")
    assert [status_of(i)[1] for i in ids] == [None] + [users[reviewer]] * 3 + [None] * 2
    assert sorted(_audit(app, "case.assign")) == sorted((i, f"to={users[reviewer]}") for i in ids[1:4])

    page.check(f"#bulk-form input[name=case][value='{ids[5]}']")
    page.click("#bulk-form button[value=spam]")
    page.wait_for_selector("text=1 case changed.")
    assert status_of(ids[5])[0] == "spam"
    assert _audit(app, "case.update")[-1] == (ids[5], "status=spam")
    # Nothing chosen: refused, nothing changed.
    page.click("#bulk-form button[value=spam]")
    page.wait_for_selector("text=Choose at least one case.")
    context.close()

    # A reviewer may take cases, not give them to someone else nor to nobody.
    context = browser.new_context()
    page = context.new_page()
    _log_in(page, base, auth, reviewer)
    _bulk_page(page, base)
    assert page.locator(f"#bulk-form select[name=assignee] option[value='{users[coordinator]}']").count() == 0
    token = page.get_attribute("meta[name=csrf-token]", "content")
    before = _audit(app, "case.assign")
    for target in (str(users[coordinator]), ""):
        refused = page.request.post(
            f"{base}/bulk",
            form={"csrf_token": token, "do": "assign", "assignee": target, "case": ids[0]},
            headers={"Referer": f"{base}/"},
            max_redirects=0,
        )
        assert refused.status == 403
    assert status_of(ids[0])[1] is None and _audit(app, "case.assign") == before
    page.check(f"#bulk-form input[name=case][value='{ids[0]}']")
    page.select_option("#bulk-form select[name=assignee]", "me")
    page.click("#bulk-form button[value=assign]")
    page.wait_for_selector("text=1 case changed.")
    assert status_of(ids[0])[1] == users[reviewer]
    assert _audit(app, "case.assign")[-1] == (ids[0], f"to={users[reviewer]}")
    context.close()

    result = app.test_cli_runner().invoke(args=["audit", "verify"])
    assert result.exit_code == 0, result.output


#: The console's other pages, as an administrator sees them.
OTHER_PAGES = (
    "/keys/",
    "/audit/",
    "/alarms/",
    "/briefing/",
    "/interview",
    "/account",
    "/users",
    "/quarantine",
    "/sync",
    "/no-such-page",
)


@pytest.mark.parametrize("scheme", SCHEMES)
def test_every_other_console_page_has_no_wcag_violation(
    live_console: Callable[..., tuple[Flask, str]],
    browser: Any,
    intake_factory: Callable[[Flask], FakeIntake],
    scheme: str,
) -> None:
    """The inbox and the case page are checked above; the rest of the
    console here, logged out (the login page) and in, in ``scheme``."""
    app, base = live_console()
    fake = intake_factory(app)
    fake.add({"narrative": "one report"})
    unlock(app)
    sync_from(app, fake)
    auth = AuthActions(app, app.test_client())
    email = auth.create("admin")
    context = browser.new_context(viewport={"width": 1280, "height": 900}, color_scheme=scheme)
    _serve_axe(context)
    page = context.new_page()
    page.goto(f"{base}/login")
    found = _axe(page)
    _log_in(page, base, auth, email)
    for path in OTHER_PAGES:
        page.goto(f"{base}{path}")
        found += _axe(page)
    context.close()
    assert found == [], "\n".join(found)
