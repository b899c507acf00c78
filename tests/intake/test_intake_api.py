"""The reviewer API: a token reaches its own organization's envelopes, in
order, paged, and nothing else."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

import intake
from core.envelope import (
    AttachmentInput,
    RecipientPrivateKey,
    RecipientPublicKey,
    SealedEnvelope,
    open_envelope,
    seal,
)
from core.timing import today_utc
from intake.store.envelopes import store_envelope

from ..helpers import database_bytes, write_key_file


@pytest.fixture
def two_orgs(tmp_path: Path) -> tuple[Flask, RecipientPrivateKey, RecipientPrivateKey]:
    keys = tmp_path / "keys"
    one = write_key_file(keys, "org-one")
    two = write_key_file(keys, "org-two")
    app = intake.create_app({"TESTING": True, "DATA_DIR": str(tmp_path / "data"), "KEYS_DIR": str(keys)})
    yield app, one, two
    app.extensions["intake.db"].engine.dispose()


def _token(app: Flask, recipient_id: str) -> str:
    result = app.test_cli_runner().invoke(args=["api-token", "create", recipient_id])
    assert result.exit_code == 0, result.output
    return result.output.strip().splitlines()[-1]


def _store(app: Flask, to: list[RecipientPublicKey], text: str, files: tuple[bytes, ...] = ()) -> str:
    sealed = seal(
        {"narrative": text},
        to,
        day=today_utc(),
        attachments=[AttachmentInput(f"f{i}", "application/octet-stream", d) for i, d in enumerate(files)],
    )
    with app.app_context(), app.extensions["intake.db"].sessions() as session:
        recipient_of_key = app.extensions["intake.keyring"].recipient_of_key()
        store_envelope(session, app.extensions["intake.blobs"], sealed, recipient_of_key)
    return sealed.envelope_id


def _get(client: FlaskClient, token: str, url: str) -> tuple[int, object]:
    response = client.get(url, headers={"Authorization": f"Bearer {token}"})
    return response.status_code, response.get_json(silent=True)


def test_token_is_printed_once_and_stored_hashed(
    two_orgs: tuple[Flask, RecipientPrivateKey, RecipientPrivateKey],
) -> None:
    app, _one, _two = two_orgs
    token = _token(app, "org-one")
    assert token.startswith("tnr_") and len(token) > 40
    assert token.encode() not in database_bytes(app)


def test_token_for_unknown_recipient_is_refused(
    two_orgs: tuple[Flask, RecipientPrivateKey, RecipientPrivateKey],
) -> None:
    app, _one, _two = two_orgs
    result = app.test_cli_runner().invoke(args=["api-token", "create", "nobody"])
    assert result.exit_code != 0
    assert "nobody" in result.output


@pytest.mark.parametrize(
    "header", [None, "Bearer", "Bearer tnr_wrong", "Basic dXNlcjpwYXNz", "bearer " + "x" * 500]
)
def test_bad_or_missing_token_is_401(
    two_orgs: tuple[Flask, RecipientPrivateKey, RecipientPrivateKey], header: str | None
) -> None:
    app, one, _two = two_orgs
    _store(app, [one.public_key], "secret")
    headers = {"Authorization": header} if header else {}
    response = app.test_client().get("/api/v1/envelopes", headers=headers)
    assert response.status_code == 401
    assert response.get_json() == {"error": "a valid bearer token is required"}


def test_each_token_sees_only_its_organization(
    two_orgs: tuple[Flask, RecipientPrivateKey, RecipientPrivateKey],
) -> None:
    app, one, two = two_orgs
    only_one = _store(app, [one.public_key], "for one", (b"a",))
    both = _store(app, [one.public_key, two.public_key], "for both")
    only_two = _store(app, [two.public_key], "for two", (b"b",))
    client = app.test_client()
    token_one, token_two = _token(app, "org-one"), _token(app, "org-two")

    status, page = _get(client, token_one, "/api/v1/envelopes")
    assert status == 200 and isinstance(page, dict)
    assert [e["id"] for e in page["envelopes"]] == [only_one, both]
    status, page = _get(client, token_two, "/api/v1/envelopes")
    assert isinstance(page, dict)
    assert [e["id"] for e in page["envelopes"]] == [both, only_two]

    # Another organization's attachment is as absent as a missing one.
    assert _get(client, token_one, f"/api/v1/envelopes/{only_two}/attachments/0")[0] == 404
    assert _get(client, token_two, f"/api/v1/envelopes/{only_two}/attachments/0")[0] == 200


def test_listing_is_ordered_paged_and_opens(
    two_orgs: tuple[Flask, RecipientPrivateKey, RecipientPrivateKey],
) -> None:
    app, one, _two = two_orgs
    ids = [_store(app, [one.public_key], f"report {i}", (bytes([i]) * (70_000 + i),)) for i in range(5)]
    client = app.test_client()
    token = _token(app, "org-one")
    seen: list[str] = []
    after = 0
    while True:
        status, page = _get(client, token, f"/api/v1/envelopes?after={after}&limit=2")
        assert status == 200 and isinstance(page, dict)
        for item in page["envelopes"]:
            assert item["seq"] > after
            after = item["seq"]
            seen.append(item["id"])
            [att] = item["attachments"]
            blob = client.get(att["url"], headers={"Authorization": f"Bearer {token}"})
            assert blob.status_code == 200
            assert blob.mimetype == "application/octet-stream"
            assert len(blob.data) == att["size"]
            sealed = SealedEnvelope(
                base64.b64decode(item["header"]), base64.b64decode(item["body"]), (blob.data,)
            )
            opened = open_envelope(sealed, [one])
            assert opened.report["narrative"] == f"report {len(seen) - 1}"
        if not page["more"]:
            break
    assert seen == ids


def test_pages_stop_at_the_byte_budget_and_hold_at_least_one(
    two_orgs: tuple[Flask, RecipientPrivateKey, RecipientPrivateKey],
) -> None:
    """Bodies may be up to 1 MiB each: a page holds only as many envelopes
    as fit in API_PAGE_BYTES of sealed header and body, however large the
    limit, and one envelope larger than the budget still comes, alone."""
    app, one, _two = two_orgs
    app.config["API_PAGE_BYTES"] = 60_000
    texts = ["a" * 20_000, "b" * 20_000, "c" * 150_000, "d" * 20_000, "e" * 20_000, "f" * 20_000]
    ids = [_store(app, [one.public_key], text) for text in texts]
    client = app.test_client()
    token = _token(app, "org-one")
    pages: list[list[str]] = []
    after = 0
    while True:
        status, page = _get(client, token, f"/api/v1/envelopes?after={after}&limit=500")
        assert status == 200 and isinstance(page, dict)
        items = page["envelopes"]
        assert items, "a page with more to come is never empty"
        size = sum(len(base64.b64decode(i["header"])) + len(base64.b64decode(i["body"])) for i in items)
        assert len(items) == 1 or size <= 60_000
        pages.append([i["id"] for i in items])
        after = items[-1]["seq"]
        if not page["more"]:
            break
    assert [i for p in pages for i in p] == ids
    assert pages[0] == ids[:2] and pages[1] == [ids[2]]
    assert len(pages) == 4


@pytest.mark.parametrize("query", ["after=-1", "after=x", "limit=0", "limit=501", "limit=1e3"])
def test_bad_paging_arguments_are_400(
    two_orgs: tuple[Flask, RecipientPrivateKey, RecipientPrivateKey], query: str
) -> None:
    app, _one, _two = two_orgs
    token = _token(app, "org-one")
    status, body = _get(app.test_client(), token, f"/api/v1/envelopes?{query}")
    assert status == 400
    assert isinstance(body, dict) and "error" in body


def test_token_reaches_nothing_else(two_orgs: tuple[Flask, RecipientPrivateKey, RecipientPrivateKey]) -> None:
    app, one, _two = two_orgs
    envelope_id = _store(app, [one.public_key], "x", (b"1",))
    token = _token(app, "org-one")
    client = app.test_client()
    for url in (
        "/api/v1/",
        "/api/v1/tokens",
        f"/api/v1/envelopes/{envelope_id}",
        f"/api/v1/envelopes/{envelope_id}/attachments/1",
        "/api/v1/envelopes/../../healthz",
    ):
        assert _get(client, token, url)[0] in (404, 405)
    response = client.delete(
        f"/api/v1/envelopes/{envelope_id}/attachments/0", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 405
