"""Inbox, case page, attachment downloads and the cases CLI."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner

from admin.display import content_disposition
from admin.extensions import DB_EXTENSION, KEYRING_EXTENSION
from core.envelope import AttachmentInput
from tests.admin.admin_testlib import PASSPHRASE, AuthActions, FakeIntake, Served, canary, synced

SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'


def add_report(fake: FakeIntake, text: str) -> Served:
    return fake.add(
        {"narrative": f"A man followed me home. {text}", "language": "zh", "province": "ON"},
        (
            AttachmentInput("photo.svg", "image/svg+xml", SVG),
            AttachmentInput("long.bin", "application/octet-stream", bytes(range(256)) * 700),
        ),
        sealed_by="browser",
    )


def test_inbox_snippets_only_when_unlocked(
    console_app: Flask, console_client: FlaskClient, auth: AuthActions, fake_intake: FakeIntake
) -> None:
    text = canary()
    add_report(fake_intake, text)
    synced(console_app, fake_intake)
    auth.login_as("reviewer")
    page = console_client.get("/").get_data(as_text=True)
    assert "A man followed me home." in page
    assert "browser" in page
    assert "1 case." in page

    console_app.extensions[KEYRING_EXTENSION].lock()
    locked = console_client.get("/").get_data(as_text=True)
    assert "A man followed me home." not in locked
    assert "<em>locked</em>" in locked
    assert "Key locked" in locked


def test_inbox_pages(
    console_app: Flask, console_client: FlaskClient, auth: AuthActions, fake_intake: FakeIntake
) -> None:
    console_app.config["CASES_PER_PAGE"] = 2
    for n in range(5):
        fake_intake.add({"narrative": f"number-{n}-end"})
    synced(console_app, fake_intake)
    auth.login_as("reviewer")
    first = console_client.get("/").get_data(as_text=True)
    assert "number-4-end" in first and "number-3-end" in first and "number-2-end" not in first
    assert "Page 1 of 3" in first
    last = console_client.get("/?page=3").get_data(as_text=True)
    assert "number-0-end" in last and "number-1-end" not in last


def test_case_page_shows_every_field_escaped(
    console_app: Flask, console_client: FlaskClient, auth: AuthActions, fake_intake: FakeIntake
) -> None:
    text = canary()
    served = fake_intake.add(
        {
            "narrative": f"{text} <script>alert(1)</script>",
            "language": "zh",
            "tactics": ["threats", "family"],
        },
        (AttachmentInput("<b>evil</b>.html", "text/html", b"<html>hi</html>"),),
    )
    synced(console_app, fake_intake)
    auth.login_as("reviewer")
    page = console_client.get(f"/cases/{served.envelope_id}").get_data(as_text=True)
    assert text in page
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "tactics" in page and "threats" in page
    assert "&lt;b&gt;evil&lt;/b&gt;.html" in page
    assert hashlib.sha256(b"<html>hi</html>").hexdigest() in page
    assert served.envelope_id in page

    # By seq number too, and not at all when locked.
    assert text in console_client.get("/cases/1").get_data(as_text=True)
    console_app.extensions[KEYRING_EXTENSION].lock()
    locked = console_client.get(f"/cases/{served.envelope_id}").get_data(as_text=True)
    assert text not in locked
    assert "the report cannot be read" in locked
    assert console_client.get("/cases/" + "f" * 32).status_code == 404


def test_attachment_download_is_never_inline(
    console_app: Flask, console_client: FlaskClient, auth: AuthActions, fake_intake: FakeIntake
) -> None:
    served = add_report(fake_intake, canary())
    synced(console_app, fake_intake)
    auth.login_as("reviewer")
    response = console_client.get(f"/cases/{served.envelope_id}/attachments/0")
    assert response.status_code == 200
    assert response.data == SVG
    assert response.headers["Content-Type"] == "application/octet-stream"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert 'filename="photo.svg"' in response.headers["Content-Disposition"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Content-Security-Policy"].startswith("sandbox; default-src 'none'")
    assert response.headers["Content-Length"] == str(len(SVG))

    big = console_client.get(f"/cases/{served.envelope_id}/attachments/1")
    assert big.data == bytes(range(256)) * 700
    assert console_client.get(f"/cases/{served.envelope_id}/attachments/2").status_code == 404

    console_app.extensions[KEYRING_EXTENSION].lock()
    locked = console_client.get(f"/cases/{served.envelope_id}/attachments/0")
    assert locked.status_code == 302


def test_damaged_blob_is_refused(
    console_app: Flask, console_client: FlaskClient, auth: AuthActions, fake_intake: FakeIntake
) -> None:
    served = add_report(fake_intake, canary())
    synced(console_app, fake_intake)
    blob = Path(console_app.config["DATA_DIR"]) / "blobs" / f"{served.envelope_id}-0.sealed"
    data = bytearray(blob.read_bytes())
    data[5] ^= 1
    blob.write_bytes(bytes(data))
    auth.login_as("reviewer")
    response = console_client.get(f"/cases/{served.envelope_id}/attachments/0")
    assert response.status_code == 500
    assert SVG not in response.data


def test_cases_list_says_how_many_more_and_shows_all(
    console_app: Flask, console_runner: FlaskCliRunner, fake_intake: FakeIntake
) -> None:
    """A listing cut at one page says on stderr how many cases it left out
    and how to see them; --limit and --all show them."""
    served = [fake_intake.add({"narrative": f"report {n}"}) for n in range(5)]
    synced(console_app, fake_intake)
    console_app.config["CASES_PER_PAGE"] = 2

    def listed(result: object) -> list[str]:
        out = result.stdout  # type: ignore[attr-defined]
        return [s.envelope_id for s in reversed(served) if s.envelope_id in out]

    first = console_runner.invoke(args=["cases", "list"])
    assert first.exit_code == 0, first.output
    assert len(listed(first)) == 2
    assert "3 more case(s) not shown: --page 2 for the next 2" in first.stderr
    last = console_runner.invoke(args=["cases", "list", "--page", "3"])
    assert len(listed(last)) == 1 and "not shown" not in last.stderr
    wide = console_runner.invoke(args=["cases", "list", "--limit", "5"])
    assert len(listed(wide)) == 5 and "not shown" not in wide.stderr
    every = console_runner.invoke(args=["cases", "list", "--all"])
    assert listed(every) == [s.envelope_id for s in reversed(served)]
    assert "not shown" not in every.stderr


def test_cases_cli(console_app: Flask, console_runner: FlaskCliRunner, fake_intake: FakeIntake) -> None:
    text = canary()
    served = add_report(fake_intake, text)
    synced(console_app, fake_intake)
    console_app.extensions[KEYRING_EXTENSION].lock()

    listing = console_runner.invoke(args=["cases", "list"])
    assert listing.exit_code == 0, listing.output
    assert served.envelope_id in listing.output
    assert text not in listing.output

    for ref in ("1", served.envelope_id):
        shown = console_runner.invoke(args=["cases", "show", ref], input=PASSPHRASE + "\n")
        assert shown.exit_code == 0, shown.output
        assert text in shown.output
        assert "photo.svg" in shown.output and "long.bin" in shown.output
        # The form's labels, as on the case page; a code of no table flagged.
        assert "What happened:" in shown.output
        assert "Where: ON (not a code of this form)" in shown.output
    assert not console_app.extensions[KEYRING_EXTENSION].unlocked

    wrong = console_runner.invoke(args=["cases", "show", "1"], input="not it\n")
    assert wrong.exit_code == 1
    assert text not in wrong.output
    missing = console_runner.invoke(args=["cases", "show", "99"], input=PASSPHRASE + "\n")
    assert missing.exit_code == 1
    assert "no case" in missing.output


def test_cases_show_prints_no_terminal_control_from_a_report(
    console_app: Flask, console_runner: FlaskCliRunner, fake_intake: FakeIntake
) -> None:
    """A report is sealed by anyone: escape sequences in its text, its keys
    or an attachment's name must not reach the reviewer's terminal (set the
    title, clear the screen, rewrite a line)."""
    title, clear, back = "\x1b]0;pwned\x07", "\x1b[2J", "\rSAFE"
    fake_intake.add(
        {
            "narrative": f"first line{title}\nsecond{clear} line{back}",
            "city": f"Toronto{clear}",
            f"odd{title}key": "x",
            "tactics": [f"T01{clear}"],
        },
        (AttachmentInput(f"name{title}.txt", f"text/plain{clear}", b"x"),),
    )
    synced(console_app, fake_intake)
    console_app.extensions[KEYRING_EXTENSION].lock()
    shown = console_runner.invoke(args=["cases", "show", "1"], input=PASSPHRASE + "\n")
    assert shown.exit_code == 0, shown.output
    assert "\x1b" not in shown.output and "\x07" not in shown.output and "\r" not in shown.output
    assert "⟨U+001B⟩]0;pwned⟨U+0007⟩" in shown.output and "⟨U+000D⟩SAFE" in shown.output
    assert "    first line" in shown.output and "    second⟨U+001B⟩[2J line" in shown.output


def test_users_cli(console_app: Flask, console_runner: FlaskCliRunner, auth: AuthActions) -> None:
    password = "a password from stdin"
    result = console_runner.invoke(
        args=["users", "create", "cli@example.org", "--role", "coordinator"], input=password + "\n"
    )
    assert result.exit_code == 0, result.output
    assert password not in result.output
    assert auth.login("cli@example.org", password).status_code == 302
    short = console_runner.invoke(
        args=["users", "create", "b@example.org", "--role", "reviewer"], input="short\n"
    )
    assert short.exit_code == 1
    bad_role = console_runner.invoke(
        args=["users", "create", "c@example.org", "--role", "root"], input=password + "\n"
    )
    assert bad_role.exit_code == 2


def test_migrations_down_and_up(console_app: Flask) -> None:
    db = console_app.extensions[DB_EXTENSION]
    db.downgrade("base")
    db.upgrade()


def test_case_page_title_is_only_the_title(
    console_app: Flask, console_client: FlaskClient, auth: AuthActions, fake_intake: FakeIntake
) -> None:
    """Browsers keep titles in their history: nothing but the case number."""
    served = add_report(fake_intake, canary())
    synced(console_app, fake_intake)
    auth.login_as("reviewer")
    page = console_client.get(f"/cases/{served.envelope_id}").get_data(as_text=True)
    title = page.split("<title>", 1)[1].split("</title>", 1)[0]
    assert title.startswith("Case 1")
    assert len(title) < 80
    assert "<" not in title and "csrf" not in title.lower()


def test_spoofing_characters_in_names_and_text_are_made_visible(
    console_app: Flask, console_client: FlaskClient, auth: AuthActions, fake_intake: FakeIntake
) -> None:
    spoof = "invoice\u202egnp.exe"
    served = fake_intake.add(
        {"narrative": "look\u200bhere \u2067hidden\u2069"},
        (AttachmentInput(spoof + "x" * 5000, "application/octet-stream", b"MZ"),),
    )
    synced(console_app, fake_intake)
    auth.login_as("reviewer")
    page = console_client.get(f"/cases/{served.envelope_id}").get_data(as_text=True)
    assert "\u202e" not in page and "\u200b" not in page and "\u2067" not in page
    assert "invoice⟨U+202E⟩gnp.exe" in page
    assert "look⟨U+200B⟩here" in page
    assert "x" * 300 not in page  # long names are cut
    download = console_client.get(f"/cases/{served.envelope_id}/attachments/0")
    disposition = download.headers["Content-Disposition"]
    assert "%E2%80%AE" not in disposition  # no RLO in the saved file's name
    assert len(disposition) < 1000


@pytest.mark.parametrize(
    ("name", "plain", "utf8_end"),
    [
        ("威脅截圖.png", 'filename="attachment-0.png"', "%E5%9C%96.png"),
        ("a" * 300 + ".png", 'filename="' + "a" * 146 + '.png"', "aaa.png"),
        ("IMG_0001.jpg", 'filename="IMG_0001.jpg"', "IMG_0001.jpg"),
        ("", 'filename="attachment-0"', "attachment-0"),
        (".png", 'filename="attachment-0.png"', "attachment-0.png"),
        ("..png", 'filename="attachment-0.png"', "attachment-0.png"),
        ("report.tar.gz", 'filename="report.tar.gz"', "report.tar.gz"),
    ],
)
def test_download_names_keep_their_extension(name: str, plain: str, utf8_end: str) -> None:
    """The saved file keeps its type: a name with no ASCII stem falls back
    to attachment-N with its extension (never just "png"), and a long name
    is cut before the extension, not through it."""
    header = content_disposition(name, "attachment-0")
    assert header.startswith("attachment; ") and plain in header
    assert header.endswith(utf8_end)
    redacted = content_disposition(name, "attachment-0", suffix="-redacted", extension="png")
    assert redacted.endswith("-redacted.png") and '-redacted.png"' in redacted
