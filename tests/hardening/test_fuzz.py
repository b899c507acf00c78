"""Fuzzing with Hypothesis: the envelope parser and opener,
the reviewer API, the report form and the receipt handling. No input may
raise anything but the documented error types, and no request may end in a
500.

Sizes: ``TNR_FUZZ`` picks a profile. ``ci`` (default) runs a few hundred
inputs per target in seconds; ``nightly`` runs 25,000 per target, over
100,000 in all (``TNR_FUZZ=nightly pytest -m fuzz -p no:cacheprovider``).
No example database is written (the inputs are not kept on disk).
"""

from __future__ import annotations

import contextlib
import os
import string
from collections.abc import Iterator
from datetime import date

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import intake
from core.envelope import (
    EnvelopeError,
    RecipientPrivateKey,
    SealedEnvelope,
    open_envelope,
    parse_header,
    seal,
)
from core.receipts import (
    ReceiptFormatError,
    is_submission_token,
    new_receipt,
    normalize_receipt,
)
from core.timing import equal
from intake.api.tokens import create_token

from ..helpers import write_key_file

pytestmark = pytest.mark.fuzz

PER_TARGET = {"ci": 150, "nightly": 25_000}
PROFILE = os.environ.get("TNR_FUZZ", "ci")
for name, count in PER_TARGET.items():
    settings.register_profile(
        name,
        max_examples=count,
        deadline=None,
        database=None,
        derandomize=name == "ci",  # CI: the same inputs each run
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
FUZZ = settings.get_profile(PROFILE)


# --- envelope parser and opener

KEY = RecipientPrivateKey.generate()
VALID = seal(
    {"narrative": "fuzz"},
    [KEY.public_key],
    day=date(2026, 1, 1),
    sealed_by="server",
    attachments=[],
)


@FUZZ
@given(st.binary(max_size=4096))
def test_parse_header_random_bytes(data: bytes) -> None:
    with contextlib.suppress(EnvelopeError):
        parse_header(data)


@st.composite
def mutated_header(draw: st.DrawFn) -> bytes:
    header = bytearray(VALID.header)
    for _ in range(draw(st.integers(1, 4))):
        action = draw(st.sampled_from(["flip", "cut", "insert"]))
        if not header:
            break
        i = draw(st.integers(0, len(header) - 1))
        if action == "flip":
            header[i] ^= draw(st.integers(1, 255))
        elif action == "cut":
            del header[i : i + draw(st.integers(1, 64))]
        else:
            header[i:i] = draw(st.binary(min_size=1, max_size=16))
    return bytes(header)


@FUZZ
@given(mutated_header(), st.binary(max_size=64), st.booleans())
def test_open_mutated_envelope(header: bytes, noise: bytes, cut_body: bool) -> None:
    body = VALID.body[: len(VALID.body) // 2] if cut_body else VALID.body + noise
    try:
        open_envelope(SealedEnvelope(header, body, ()), [KEY])
    except EnvelopeError:
        return
    # Opening anyway is only possible with the header and body untouched.
    assert header == VALID.header and body == VALID.body


# --- the web apps


@pytest.fixture(scope="module")
def fuzz_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Flask, str]]:
    base = tmp_path_factory.mktemp("fuzz")
    keys = base / "keys"
    write_key_file(keys, "test-org")
    # SQLite in the temporary folder for either run: the fuzzer's thousands
    # of requests test the handlers, not the database.
    app = intake.create_app(
        {
            "TESTING": True,
            "DATA_DIR": str(base / "data"),
            "KEYS_DIR": str(keys),
            "WTF_CSRF_ENABLED": False,
            "DATABASE_URL": f"sqlite:///{base / 'data' / 'fuzz.db'}",
            "MAX_CONTENT_LENGTH": 256 * 1024,
            # Thousands of posts from one client: past the submission
            # throttle every one would be a 429 and the form's handling
            # would go untested (tests/intake/test_reporter_flood.py covers it).
            "SUBMISSION_THROTTLE": False,
        }
    )
    with app.app_context(), app.extensions["intake.db"].sessions() as session:
        token = create_token(session, "test-org")
    yield app, token
    app.extensions["intake.db"].engine.dispose()


@pytest.fixture
def fuzz_client(fuzz_app: tuple[Flask, str]) -> FlaskClient:
    return fuzz_app[0].test_client()


text = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=200)
one_line = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=["Cs", "Cc", "Zl", "Zp"]), max_size=100
)
path_segment = st.text(alphabet=string.ascii_letters + string.digits + "-_.~%", min_size=0, max_size=40)
query_value = st.one_of(st.integers(-(2**70), 2**70).map(str), text, st.just(""))


@FUZZ
@given(
    st.sampled_from(
        ["envelopes", "envelopes/{id}/attachments/{n}", "{seg}", "envelopes/{seg}/attachments/{seg}"]
    ),
    path_segment,
    st.integers(-5, 2**40),
    st.dictionaries(st.sampled_from(["after", "limit", "x", "after[]"]), query_value, max_size=3),
    st.sampled_from(["good", "none", "garbage", "other scheme", "long"]),
    st.sampled_from(["GET", "POST", "DELETE", "PUT"]),
)
def test_reviewer_api_never_500(
    fuzz_app: tuple[Flask, str],
    fuzz_client: FlaskClient,
    template: str,
    seg: str,
    n: int,
    query: dict[str, str],
    auth: str,
    method: str,
) -> None:
    _app, token = fuzz_app
    path = "/api/v1/" + template.format(id="0" * 32, n=n, seg=seg)
    headers = {
        "good": {"Authorization": f"Bearer {token}"},
        "none": {},
        "garbage": {"Authorization": "Bearer tnr_" + seg},
        "other scheme": {"Authorization": f"Basic {token}"},
        "long": {"Authorization": "Bearer tnr_" + "a" * 5000},
    }[auth]
    response = fuzz_client.open(path, method=method, query_string=query, headers=headers)
    assert response.status_code < 500, (path, response.status_code)
    if response.status_code == 200 and response.is_json:
        assert isinstance(response.get_json(), dict)


form_fields = st.dictionaries(
    st.sampled_from(["narrative", "submission", "csrf_token", "attachments", "other", "narrative[]"]),
    st.one_of(text, st.binary(max_size=300).map(lambda b: b.decode("latin-1"))),
    max_size=5,
)


@FUZZ
@given(
    st.sampled_from(["/en/", "/zh-hant/", "/xx/", "/"]),
    form_fields,
    # File names and types without line breaks: the test client itself
    # refuses those before they reach the server.
    st.lists(st.tuples(st.binary(max_size=2048), one_line, one_line), max_size=3),
)
def test_report_form_never_500(
    fuzz_client: FlaskClient, path: str, fields: dict[str, str], files: list[tuple[bytes, str, str]]
) -> None:
    import io

    data: dict[str, object] = dict(fields)
    if files:
        data["attachments"] = [
            (io.BytesIO(content), name or "f", kind or "x/y") for content, name, kind in files
        ]
    response = fuzz_client.post(path, data=data, content_type="multipart/form-data")
    assert response.status_code < 500, response.status_code
    assert b"Traceback" not in response.data


@FUZZ
@given(
    st.sampled_from(
        [
            "multipart/form-data; boundary=XyZ",
            "multipart/form-data",
            "application/x-www-form-urlencoded",
            "text/plain",
            "multipart/form-data; boundary=" + "a" * 80,
            "",
        ]
    ),
    st.binary(max_size=4096),
)  # fmt: skip
def test_raw_bodies_never_500(fuzz_client: FlaskClient, content_type: str, body: bytes) -> None:
    if content_type.endswith("XyZ") and body:
        body = b"--XyZ\r\n" + body + b"\r\n--XyZ--\r\n"
    response = fuzz_client.post("/en/", data=body, content_type=content_type)
    assert response.status_code < 500, response.status_code


# --- receipts


@FUZZ
@given(st.one_of(text, st.text(alphabet="0123456789 -０１２３４５６７８９٠١٢", max_size=40)))
def test_receipt_handling(typed: str) -> None:
    try:
        digits = normalize_receipt(typed)
    except ReceiptFormatError:
        return
    assert len(digits) == 28 and digits.isascii() and digits.isdigit()
    assert normalize_receipt(digits) == digits


@FUZZ
@given(st.data())
def test_receipts_round_trip_and_compare(data: st.DataObject) -> None:
    receipt = new_receipt()
    spaced = data.draw(st.sampled_from([" ", "-", "  ", "\u3000", ""]))
    typed = spaced.join(receipt[i : i + 4] for i in range(0, 28, 4))
    assert normalize_receipt(typed) == receipt
    assert equal(receipt, normalize_receipt(typed))
    other = data.draw(st.text(max_size=40))
    assert equal(receipt, other) == (receipt == other)
    assert is_submission_token(other) == (
        len(other) == 22 and all(c in string.ascii_letters + string.digits + "-_" for c in other)
    )


def test_profile_is_known() -> None:
    assert PROFILE in PER_TARGET, f"TNR_FUZZ must be one of {sorted(PER_TARGET)}"


def test_count_of_targets_reaches_the_nightly_floor() -> None:
    targets = [name for name in globals() if name.startswith("test_") and name not in (
        "test_profile_is_known", "test_count_of_targets_reaches_the_nightly_floor")]  # fmt: skip
    assert len(targets) * PER_TARGET["nightly"] >= 100_000
