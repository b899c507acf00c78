"""``POST /api/v1/envelopes/<id>/replies``: a console hands the intake a
reviewer's reply, already sealed to the reporter's reply key.

The intake never sees a reply in clear: it checks that the reply envelope is
addressed to exactly the report's ``reply_key`` and nothing else, and stores
header and body. The reporter opens it after typing the receipt
(intake/followup/views.py; docs/envelope.md, "Reply keys").
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from flask import Response, jsonify, request
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.db import request_session
from core.envelope import EnvelopeError, Header, parse_header
from core.envelope.format import TAG_SIZE
from core.envelope.keys import key_id_of
from core.timing import today_utc

from ..store.models import Envelope, Reply
from .views import bp, own_envelope

#: Largest padded reply body (bytes): a reply is text, a few pages at most.
MAX_REPLY_BODY = 64 * 1024
#: Replies kept per report: a bound on what one token can make the intake store.
MAX_REPLIES_PER_REPORT = 200
#: Days a reply's header day may differ from today (a console clock at midnight).
DAY_TOLERANCE = 1


def _error(code: str, status: int) -> Response:
    response = jsonify(error=code)
    response.status_code = status
    return response


def _b64(value: Any) -> bytes | None:
    if not isinstance(value, str) or len(value) > 2 * MAX_REPLY_BODY:
        return None
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None


@bp.post("/envelopes/<envelope_id>/replies")
def post_reply(envelope_id: str) -> Response:
    """Store a sealed reply to one of the caller's reports.

    Request: JSON ``{"header": b64, "body": b64}``, an envelope format v1
    with ``sealed_by: "console"``, exactly one recipient whose key id is
    that of the report's ``reply_key``, no attachments, a padded body of
    at most :data:`MAX_REPLY_BODY` bytes, and a day within one of today.

    Answers ``201 {"reply": id}`` when stored, ``200 {"reply": id}`` when
    this reply was stored before (a retry), ``404`` when the report is not
    sealed to the caller's organization, ``409 {"error": "no_reply_key"}``
    for a follow-up or a report sent without a reply key, ``409
    {"error": "too_many_replies"}`` past :data:`MAX_REPLIES_PER_REPORT`,
    ``400 {"error": …}`` for anything malformed.
    """
    session = request_session("intake.db")
    report = own_envelope(session, envelope_id)
    if report is None:
        return _error("no such envelope for this organization", 404)
    report_header = parse_header(report.header)
    if report.followup_of is not None or report_header.reply_key is None:
        return _error("no_reply_key", 409)

    posted = _posted_reply(report_header.reply_key)
    if isinstance(posted, Response):
        return posted
    header, raw_header, body = posted
    return _store_reply(session, report, header, raw_header, body)


def _posted_reply(reply_key: bytes) -> tuple[Header, bytes, bytes] | Response:
    """``(header, raw header, body)`` of the posted reply to a report whose
    header names ``reply_key``, or the ``400`` answer that refuses it."""
    try:
        doc = request.get_json(silent=True)
    except RecursionError:  # JSON nested thousands deep: silent= covers ValueError only
        doc = None
    if not isinstance(doc, dict) or set(doc) != {"header", "body"}:
        return _error("expected JSON with header and body", 400)
    raw_header, body = _b64(doc["header"]), _b64(doc["body"])
    if raw_header is None or body is None:
        return _error("header and body must be base64", 400)
    try:
        header = parse_header(raw_header)
    except EnvelopeError:
        return _error("malformed header", 400)
    if header.sealed_by != "console" or header.attachments:
        return _error("a reply is sealed by the console and has no attachments", 400)
    if header.key_ids != (key_id_of(reply_key),):
        return _error("a reply is sealed to the report's reply key only", 400)
    if header.body_size > MAX_REPLY_BODY or len(body) != header.body_size + TAG_SIZE:
        return _error("body has the wrong size", 400)
    if abs((header.day - today_utc()).days) > DAY_TOLERANCE:
        return _error("day is not today", 400)
    return header, raw_header, body


def _store_reply(
    session: Session, report: Envelope, header: Header, raw_header: bytes, body: bytes
) -> Response:
    """Store a checked reply to ``report``: ``201``, or ``200`` for a retry
    of a reply stored before, ``409`` past the replies per report."""
    earlier = session.scalar(select(Reply).where(Reply.reply_id == header.envelope_id))
    if earlier is not None:
        if earlier.envelope_seq != report.seq or earlier.header != raw_header or earlier.body != body:
            return _error("another reply has this id", 400)
        return jsonify(reply=header.envelope_id)
    count = session.scalar(select(func.count()).where(Reply.envelope_seq == report.seq)) or 0
    if count >= MAX_REPLIES_PER_REPORT:
        return _error("too_many_replies", 409)
    session.add(Reply(envelope_seq=report.seq, reply_id=header.envelope_id, header=raw_header, body=body))
    try:
        session.commit()
    except IntegrityError:  # the same reply, racing itself
        session.rollback()
        return jsonify(reply=header.envelope_id)
    response = jsonify(reply=header.envelope_id)
    response.status_code = 201
    return response
