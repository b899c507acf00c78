"""Search across decrypted reports: in memory, NFKC + casefold, every text
field, combined with the inbox filters, paged; the query never stored."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from flask import Flask
from sqlalchemy import select, update

from admin.cases.triage import InboxFilter
from admin.extensions import DB_EXTENSION, KEYRING_EXTENSION
from admin.inbox import search
from admin.models import AuditEntry, Case
from admin.sync.client import IntakeClient
from admin.sync.run import sync
from tests.admin.admin_testlib import AuthActions, FakeIntake, canary, files_containing, unlock

EVERY_CASE = InboxFilter()


def test_normalization() -> None:
    assert search.terms_of("  ＷｅＣｈａｔ  STRASSE wechat ") == ["wechat", "strasse"]
    assert search.report_matches({"narrative": "Straße"}, ["strasse"])
    assert search.report_matches({"narrative": "ﬁle"}, ["file"])  # ligature, NFKC
    assert search.report_matches({"a": {"b": ["x", "Deep Value"]}}, ["deep", "value"])
    assert not search.report_matches({"narrative": "x"}, [])
    assert not search.report_matches({"threat": "x"}, ["threat"])  # keys are not text


def _setup(
    make_app: Callable[..., Flask], intake_factory: Callable[[Flask], FakeIntake], **config: object
) -> tuple[Flask, dict[str, str]]:
    app = make_app(**config)
    fake = intake_factory(app)
    reports = {
        "wechat": {"narrative": "Harassment on ＷｅＣｈａｔ by a stranger"},
        "street": {"narrative": "Two men waited in the Hauptstraße", "language": "de"},
        "nested": {"narrative": "calls", "other": {"details": ["A THREATENING call at night"]}},
    }
    ids = {name: fake.add(report).envelope_id for name, report in reports.items()}
    for i in range(7):
        ids[f"bulk{i}"] = fake.add({"narrative": f"bulk report {i} about WeChat groups"}).envelope_id
    unlock(app)
    with IntakeClient(fake.url, fake.token) as c:
        sync(app.extensions[DB_EXTENSION], app.extensions[KEYRING_EXTENSION], Path(app.config["DATA_DIR"]), c)
    return app, ids


def test_search_function(
    make_console: Callable[..., Flask], intake_factory: Callable[[Flask], FakeIntake]
) -> None:
    app, ids = _setup(make_console, intake_factory)
    keyring = app.extensions[KEYRING_EXTENSION]
    with app.extensions[DB_EXTENSION].session() as session:

        def found(query: str, flt: InboxFilter = EVERY_CASE, page: int = 1, per_page: int = 50) -> list[str]:
            return [
                r.envelope_id
                for r in search.search(session, keyring, flt, query, page=page, per_page=per_page).rows
            ]

        assert found("hauptstrasse") == [ids["street"]]
        assert found("threatening NIGHT") == [ids["nested"]]
        assert found("wechat stranger") == [ids["wechat"]]
        assert found("nothing-like-this") == []
        everything = search.search(session, keyring, InboxFilter(), "wechat", per_page=3)
        assert (everything.total, everything.scanned) == (8, 10)
        # Inbox order (newest first), paged.
        all_ids = found("wechat")
        assert all_ids[0] == ids["bulk6"] and all_ids[-1] == ids["wechat"]
        assert found("wechat", page=2, per_page=3) == all_ids[3:6]
        # Combined with a filter: only the cases it leaves are decrypted.
        session.execute(update(Case).where(Case.envelope_id == ids["bulk3"]).values(status="verified"))
        narrowed = search.search(session, keyring, InboxFilter(status="verified"), "wechat")
        assert ([r.envelope_id for r in narrowed.rows], narrowed.scanned) == ([ids["bulk3"]], 1)


def test_inbox_search_box(
    make_console: Callable[..., Flask], intake_factory: Callable[[Flask], FakeIntake], tmp_path: Path
) -> None:
    app, ids = _setup(make_console, intake_factory, CASES_PER_PAGE=5)
    client = app.test_client()
    AuthActions(app, client).login_as("reviewer")
    page = client.post("/", data={"q": "Hauptstrasse"})
    assert b"1 case matches the search" in page.data
    assert ids["street"].encode() in page.data and ids["wechat"].encode() not in page.data

    first = client.post("/", data={"q": "wechat"})
    assert b"8 cases match" in first.data and b"Page 1 of 2" in first.data
    # Paging posts the query again: a form, never a link with the terms.
    assert b"q=wechat" not in first.data
    assert b'name="q" value="wechat"' in first.data and b'name="page" value="2"' in first.data
    second = client.post("/", data={"q": "wechat", "page": "2"})
    assert b"Page 2 of 2" in second.data and ids["wechat"].encode() in second.data
    # A query in the URL is not a search.
    assert b"match the search" not in client.get("/?q=wechat").data

    # The query is never stored: not in the audit log, not in any file.
    secret = canary()
    assert b"No case matches." in client.post("/", data={"q": secret}).data
    with app.extensions[DB_EXTENSION].session() as session:
        details = list(session.scalars(select(AuditEntry.detail).where(AuditEntry.action == "search")))
    assert details[0] == "terms=1 matches=1 scanned=10"
    assert details[-1] == "terms=1 matches=0 scanned=10"
    assert not files_containing(tmp_path, secret.encode())

    # Locked: no search, a message instead.
    app.extensions[KEYRING_EXTENSION].lock()
    locked = client.post("/", data={"q": "wechat"}, follow_redirects=True)
    assert b"Unlock the organization key to search the reports." in locked.data
    assert b"match the search" not in locked.data
