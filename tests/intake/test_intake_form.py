"""The reporter's form on the no-JavaScript path: languages, server sealing,
receipts, errors that keep what was typed."""

from __future__ import annotations

import io
import re
import tempfile
from pathlib import Path

import pytest
import werkzeug.formparser
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

import intake
from core.envelope import RecipientPrivateKey, SealedEnvelope, open_envelope
from core.envelope.conversation import lookup_value
from core.envelope.replykey import reply_seed
from core.receipts import lookup_hash, normalize_receipt
from intake.store.models import Envelope, ReceiptRecord

from ..helpers import asset_tag, multipart, write_key_file

CANARY = "CANARY-form-7f3e9c 漢字 😀"


def _stored(app: Flask) -> list[SealedEnvelope]:
    db = app.extensions["intake.db"]
    blobs = app.extensions["intake.blobs"]
    with db.sessions() as session:
        rows = list(session.scalars(select(Envelope).order_by(Envelope.seq)))
        return [
            SealedEnvelope(
                header=row.header,
                body=row.body,
                attachments=tuple(
                    b"".join(blobs.read_chunks(row.envelope_id, i)) for i in range(len(row.sizes))
                ),
            )
            for row in rows
        ]


@pytest.mark.parametrize(
    ("path", "lang", "phrase"),
    [
        ("/en/", "en", "Tell us what happened"),
        ("/zh-hant/", "zh-Hant", "告訴我們發生了什麼事"),
        ("/zh-hans/", "zh-Hans", "告诉我们发生了什么事"),
        ("/fr/", "fr", "Dites-nous ce qui s’est passé"),
    ],
)
def test_form_in_each_language(intake_client: FlaskClient, path: str, lang: str, phrase: str) -> None:
    response = intake_client.get(path)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert f'<html lang="{lang}" dir="ltr">' in html
    assert phrase in html
    assert 'enctype="multipart/form-data"' in html
    # The form is plain HTML; the scripts are same-origin files: leave
    # quickly (every page) and the sealing bundle.
    app = intake_client.application
    assert re.findall(r"<script[^>]*>", html) == [
        asset_tag(app, "js/page.js"),
        asset_tag(app, "js/intake.js"),
    ]


def test_form_shows_recipient_fingerprint(intake_client: FlaskClient, org_key: RecipientPrivateKey) -> None:
    html = intake_client.get("/en/").get_data(as_text=True)
    assert org_key.public_key.fingerprint in html


@pytest.mark.parametrize(
    ("accept", "target"),
    [("zh-TW,zh;q=0.9", "/zh-hant/"), ("zh-Hant-HK", "/zh-hant/"), ("en-CA,en", "/en/"), ("de", "/en/")],
)
def test_root_redirects_by_accept_language(intake_client: FlaskClient, accept: str, target: str) -> None:
    response = intake_client.get("/", headers={"Accept-Language": accept})
    assert response.status_code == 302
    assert response.headers["Location"].endswith(target)


def test_unknown_language_is_404(intake_client: FlaskClient) -> None:
    assert intake_client.get("/xx/").status_code == 404


def test_submission_is_sealed_and_opens_for_the_recipient(
    intake_app: Flask, intake_client: FlaskClient, org_key: RecipientPrivateKey
) -> None:
    attachment = b"\x89PNG fake " + CANARY.encode() + bytes(2 * 1024 * 1024)
    body, content_type = multipart(
        {"narrative": CANARY, "attachments": (attachment, "威脅截圖.png", "image/png")}
    )
    response = intake_client.post("/zh-hant/", data=body, content_type=content_type)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "我們已收到您的報告" in html
    shown = re.search(r"<output>([\d ]+)</output>", html)
    assert shown is not None
    digits = normalize_receipt(shown.group(1))

    [sealed] = _stored(intake_app)
    opened = open_envelope(sealed, [org_key])
    assert opened.header.sealed_by == "server"
    assert opened.report["narrative"] == CANARY
    assert opened.report["language"] == "zh-Hant"
    [file] = opened.attachments
    assert (file.name, file.media_type, file.data) == ("威脅截圖.png", "image/png", attachment)

    with intake_app.extensions["intake.db"].sessions() as session:
        stored_hash = session.scalar(select(ReceiptRecord.receipt_hash))
    # The keyed hash of the receipt's lookup value, labelled v2 (format v2).
    assert stored_hash == lookup_hash(
        intake_app.config["RECEIPT_SECRET"], lookup_value(reply_seed(digits)), 2
    )
    assert digits not in str(stored_hash)


def test_envelope_is_sealed_to_every_active_key_only(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    first = write_key_file(keys, "org-one")
    second = write_key_file(keys, "org-two")
    retired = write_key_file(keys, "org-two", retired=True)
    app = intake.create_app(
        {"TESTING": True, "DATA_DIR": str(tmp_path / "d"), "KEYS_DIR": str(keys), "WTF_CSRF_ENABLED": False}
    )
    posted = {"narrative": "x", "recipients": ["org-one", "org-two"]}
    assert app.test_client().post("/en/", data=posted).status_code == 200
    [sealed] = _stored(app)
    for key in (first, second):
        assert open_envelope(sealed, [key]).report["narrative"] == "x"
    with pytest.raises(Exception, match="none of the unlocked keys"):
        open_envelope(sealed, [retired])
    app.extensions["intake.db"].engine.dispose()


def test_empty_report_keeps_nothing_and_says_why(intake_app: Flask, intake_client: FlaskClient) -> None:
    response = intake_client.post("/en/", data={"narrative": "   ", "recipients": "test-org"})
    assert response.status_code == 400
    assert "Please tell us what happened, or choose at least one thing" in response.get_data(as_text=True)
    assert _stored(intake_app) == []


def test_missing_csrf_gets_translated_400_and_keeps_the_text(
    tmp_path: Path, keys_dir: Path, org_key: object
) -> None:
    app = intake.create_app({"TESTING": True, "DATA_DIR": str(tmp_path / "d"), "KEYS_DIR": str(keys_dir)})
    client = app.test_client()
    client.get("/zh-hant/")
    # From the reporter's own page (the browser says so): the text is kept.
    own_page = {"Sec-Fetch-Site": "same-origin"}
    response = client.post("/zh-hant/", data={"narrative": "我寫了很長的故事"}, headers=own_page)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "頁面已過期" in html
    assert "我寫了很長的故事" in html  # nothing typed is lost
    assert _stored(app) == []
    # From another site, or a client that does not say: nothing it carried
    # reaches the page (tests/browser/test_cross_site.py), a fresh form.
    for headers in ({"Sec-Fetch-Site": "cross-site"}, {}):
        response = client.post("/zh-hant/", data={"narrative": "別人寫的"}, headers=headers)
        assert response.status_code == 400
        html = response.get_data(as_text=True)
        assert "別人寫的" not in html and "另一個網站" in html
    assert _stored(app) == []
    app.extensions["intake.db"].engine.dispose()


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (
            b'--xx\r\nContent-Disposition: form-data; name="narrative"\r\n\r\nabc',
            "multipart/form-data; boundary=xx",
        ),
        (b"\xff\xfe\x00garbage", "multipart/form-data"),
        (b"{}", "application/json"),
    ],
)
def test_malformed_post_is_400_in_the_users_language(
    intake_client: FlaskClient, body: bytes, content_type: str
) -> None:
    response = intake_client.post("/zh-hant/", data=body, content_type=content_type)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert 'lang="zh-Hant"' in html
    assert "Traceback" not in html


def test_too_large_upload_is_413_translated(tmp_path: Path, keys_dir: Path, org_key: object) -> None:
    app = intake.create_app(
        {
            "TESTING": True,
            "DATA_DIR": str(tmp_path / "d"),
            "KEYS_DIR": str(keys_dir),
            "WTF_CSRF_ENABLED": False,
            "MAX_CONTENT_LENGTH": 100_000,
        }
    )
    # Past four times the limit (core/uploads.py): refused unread.
    body, content_type = multipart({"narrative": "x", "attachments": (bytes(500_000), "big.bin", "x/y")})
    response = app.test_client().post("/zh-hant/", data=body, content_type=content_type)
    assert response.status_code == 413
    assert "檔案太大" in response.get_data(as_text=True)
    app.extensions["intake.db"].engine.dispose()


def test_uploads_never_touch_a_temporary_file(
    intake_client: FlaskClient, monkeypatch: pytest.MonkeyPatch, intake_app: Flask
) -> None:
    spooled: list[str] = []

    def record(*_args: object, **_kwargs: object) -> io.BytesIO:
        spooled.append("temporary file")
        return io.BytesIO()

    # Werkzeug imports these names into its form parser; patch them there.
    monkeypatch.setattr(werkzeug.formparser, "SpooledTemporaryFile", record)
    for name in ("SpooledTemporaryFile", "TemporaryFile", "NamedTemporaryFile", "mkstemp"):
        monkeypatch.setattr(tempfile, name, record)

    # The patch sees Werkzeug's default factory (so this test can fail) ...
    werkzeug.formparser.default_stream_factory(3 * 1024 * 1024, "application/octet-stream", "f")
    assert spooled == ["temporary file"]
    spooled.clear()
    # ... and the intake's request class never calls it.
    body, content_type = multipart(
        {"narrative": "x", "attachments": (bytes(3 * 1024 * 1024), "big.bin", "x/y")}
    )
    response = intake_client.post("/en/", data=body, content_type=content_type)
    assert response.status_code == 200
    assert spooled == []
    assert len(_stored(intake_app)) == 1


def test_healthz(intake_client: FlaskClient) -> None:
    response = intake_client.get("/healthz")
    assert response.status_code == 200
    assert response.get_data(as_text=True).strip() == "ok"


def test_reporter_pages_set_privacy_headers(intake_client: FlaskClient) -> None:
    for path in ("/en/", "/zh-hant/", "/nope/", "/healthz"):
        headers = intake_client.get(path).headers
        assert headers["Referrer-Policy"] == "no-referrer"
        assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
        assert "'unsafe-inline'" not in headers["Content-Security-Policy"]
        assert headers["Cache-Control"] == "no-store"


def test_session_cookie_is_session_only(tmp_path: Path, keys_dir: Path, org_key: object) -> None:
    app = intake.create_app({"TESTING": True, "DATA_DIR": str(tmp_path / "d"), "KEYS_DIR": str(keys_dir)})
    response = app.test_client().get("/en/")
    cookies = response.headers.getlist("Set-Cookie")
    assert cookies, "the CSRF token needs a session cookie"
    for cookie in cookies:
        assert "Expires" not in cookie and "Max-Age" not in cookie
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    app.extensions["intake.db"].engine.dispose()


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("GET", "/zh-hant/nope", 404), ("PUT", "/zh-hant/", 405), ("DELETE", "/zh-hant/", 405)],
)
def test_errors_without_a_route_answer_in_the_paths_language(
    intake_client: FlaskClient, method: str, path: str, status: int
) -> None:
    response = intake_client.open(path, method=method)
    assert response.status_code == status
    html = response.get_data(as_text=True)
    assert 'lang="zh-Hant"' in html
    assert "此頁面不存在" in html


def test_the_upload_endpoint_answers_json_even_to_a_wrong_method(intake_client: FlaskClient) -> None:
    response = intake_client.get("/zh-hant/sealed")
    assert response.status_code == 405
    assert response.is_json


def test_an_arrival_leaves_no_file_of_its_own_to_date_it(
    intake_app: Flask, intake_client: FlaskClient
) -> None:
    """Invariant 3 (the day only): attachments live in the database by
    default, so no per-envelope file keeps the arrival's exact time in its
    mtime or ctime; the data folder holds the same files before and after."""
    intake_client.post("/en/", data={"narrative": "first"})
    data_dir = Path(intake_app.config["DATA_DIR"])
    before = sorted(p.relative_to(data_dir) for p in data_dir.rglob("*"))
    response = intake_client.post(
        "/en/",
        data={"narrative": "with a file", "attachments": (io.BytesIO(b"evidence" * 1000), "photo.jpg")},
        content_type="multipart/form-data",
    )
    assert re.search(r"<output>[\d ]+</output>", response.get_data(as_text=True))
    assert sorted(p.relative_to(data_dir) for p in data_dir.rglob("*")) == before
    assert not (data_dir / "blobs").exists()


def test_files_over_the_request_limit_keep_what_was_typed(
    tmp_path: Path, keys_dir: Path, org_key: RecipientPrivateKey
) -> None:
    """Without JavaScript a post over MAX_CONTENT_LENGTH used to be refused
    unread, losing the typed report. Up to four times that size the text is
    read, the file bytes past the allowance are dropped as they arrive, and
    the form comes back with the text and a message; beyond, 413."""
    app = intake.create_app(
        {
            "TESTING": True,
            "DATA_DIR": str(tmp_path / "data"),
            "KEYS_DIR": str(keys_dir),
            "WTF_CSRF_ENABLED": False,
            "MAX_CONTENT_LENGTH": 2 * 1024 * 1024,
            "MAX_TOTAL_FILE_SIZE": 600_000,
            "MAX_FILE_SIZE": 500_000,
        }
    )
    client = app.test_client()
    narrative = "They followed me home from the vigil. 他們跟蹤我回家。"
    body, content_type = multipart(
        {
            "narrative": narrative,
            "city": "Toronto",
            "attachments": (bytes(5 * 1024 * 1024), "video.mp4", "video/mp4"),
        }
    )
    response = client.post("/en/", data=body, content_type=content_type)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert narrative in page and 'value="Toronto"' in page
    assert "larger than" in page
    with app.extensions["intake.db"].sessions() as session:
        assert session.scalar(select(func.count()).select_from(Envelope)) == 0
    # Far past the limit the request is still refused unread.
    body, content_type = multipart(
        {"narrative": narrative, "attachments": (bytes(9 * 1024 * 1024), "v.mp4", "video/mp4")}
    )
    assert client.post("/en/", data=body, content_type=content_type).status_code == 413
    app.extensions["intake.db"].engine.dispose()


def test_scripts_and_stylesheets_carry_integrity_and_hashed_names(intake_client: FlaskClient) -> None:
    """Subresource Integrity on every script and stylesheet; long caching
    only for the content-hashed names; the pages stay no-store."""
    import base64
    import hashlib

    from core.db import ROOT

    page = intake_client.get("/en/")
    assert page.headers["Cache-Control"] == "no-store"
    html = page.get_data(as_text=True)
    tags = re.findall(r"<(?:script|link)\b[^>]*>", html)
    loaded = [t for t in tags if "src=" in t or 'rel="stylesheet"' in t]
    assert len(loaded) == 3  # intake.css, page.js, intake.js
    for tag in loaded:
        url = re.search(r'(?:src|href)="([^"]+)"', tag)
        integrity = re.search(r'integrity="sha384-([^"]+)"', tag)
        assert url and integrity, tag
        hashed = url.group(1)
        plain = re.sub(r"\.[0-9a-f]{16}(\.(?:js|css))$", r"\1", hashed)
        assert plain != hashed
        release = (ROOT / plain.lstrip("/")).read_bytes()
        assert base64.b64decode(integrity.group(1)) == hashlib.sha384(release).digest()
        assert hashlib.sha256(release).hexdigest()[:16] in hashed
        with intake_client.get(hashed) as served:
            assert served.status_code == 200 and served.data == release
            assert served.headers["Cache-Control"] == "public, max-age=31536000, immutable"
        with intake_client.get(plain) as revalidated:
            assert revalidated.headers["Cache-Control"] == "no-cache"
