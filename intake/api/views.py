"""``/api/v1``: envelopes for one organization's console, by bearer token.

A token reaches only envelopes that name one of its organization's keys, and
nothing else of the intake.
"""

from __future__ import annotations

import base64

from flask import Blueprint, Response, abort, current_app, g, jsonify, request, stream_with_context, url_for
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.db import request_session

from ..store.blobs import BlobStore
from ..store.models import Envelope, EnvelopeRecipient
from .tokens import recipient_for_token

bp = Blueprint("api", __name__, url_prefix="/api/v1")

MAX_PAGE = 500
DEFAULT_PAGE = 50


@bp.before_request
def _authenticate() -> Response | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    recipient_id = None
    if scheme.lower() == "bearer" and token:
        recipient_id = recipient_for_token(request_session("intake.db"), token.strip())
    if recipient_id is None:
        response = jsonify(error="a valid bearer token is required")
        response.status_code = 401
        response.headers["WWW-Authenticate"] = 'Bearer realm="tnr-intake"'
        return response
    g.api_recipient = recipient_id
    return None


def _int_arg(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        abort(400)
    if not low <= value <= high:
        abort(400)
    return value


@bp.get("/envelopes")
def list_envelopes() -> Response:
    """Envelopes with ``seq > after`` sealed to the caller's organization, in
    ``seq`` order, at most ``limit`` (1–500, default 50), and only as many
    as fit in ``API_PAGE_BYTES`` of sealed header and body (at least one;
    bodies may be up to 1 MiB, and a page is built, sent and parsed whole,
    in memory, on both sides): a console reads on while ``more`` is true
    and never counts on full pages.

    Response: ``{"envelopes": [{"seq", "id", "day", "header", "body",
    "attachments": [{"index", "size", "url"}], "follows"}], "more": bool}``;
    header and body are base64; ``follows`` is the envelope id of the report
    a follow-up adds to (sent with that report's receipt), else null
    (docs/report-fields.md, "Follow-ups").
    """
    after = _int_arg("after", 0, 0, 2**62)
    limit = _int_arg("limit", DEFAULT_PAGE, 1, MAX_PAGE)
    session = request_session("intake.db")
    mine = select(EnvelopeRecipient.envelope_seq).where(EnvelopeRecipient.recipient_id == g.api_recipient)
    # Sizes first (SQLite and PostgreSQL read a blob's length without its
    # bytes), then only the rows that fit the byte budget.
    sizes = session.execute(
        select(Envelope.seq, func.length(Envelope.header) + func.length(Envelope.body))
        .where(Envelope.seq > after, Envelope.seq.in_(mine))
        .order_by(Envelope.seq)
        .limit(limit + 1)
    ).all()
    budget = int(current_app.config["API_PAGE_BYTES"])
    chosen: list[int] = []
    for seq, size in sizes[:limit]:
        budget -= size
        if chosen and budget < 0:
            break
        chosen.append(seq)
    more = len(sizes) > len(chosen)
    rows = (
        list(session.scalars(select(Envelope).where(Envelope.seq.in_(chosen)).order_by(Envelope.seq)))
        if chosen
        else []
    )
    followed = {r.followup_of for r in rows if r.followup_of is not None}
    report_ids: dict[int, str] = {}
    if followed:
        found = session.execute(select(Envelope.seq, Envelope.envelope_id).where(Envelope.seq.in_(followed)))
        report_ids = {seq: envelope_id for seq, envelope_id in found}
    items = []
    for row in rows:
        items.append(
            {
                "seq": row.seq,
                "id": row.envelope_id,
                "day": row.day.isoformat(),
                "header": base64.b64encode(row.header).decode("ascii"),
                "body": base64.b64encode(row.body).decode("ascii"),
                "attachments": [
                    {
                        "index": index,
                        "size": size,
                        "url": url_for("api.attachment", envelope_id=row.envelope_id, index=index),
                    }
                    for index, size in enumerate(row.sizes)
                ],
                "follows": report_ids.get(row.followup_of) if row.followup_of is not None else None,
            }
        )
    return jsonify(envelopes=items, more=more)


def own_envelope(session: Session, envelope_id: str) -> Envelope | None:
    """The envelope ``envelope_id`` if it is sealed to the caller's
    organization, else None: another organization's envelope is as absent
    as a missing one."""
    mine = select(EnvelopeRecipient.envelope_seq).where(EnvelopeRecipient.recipient_id == g.api_recipient)
    return session.scalar(select(Envelope).where(Envelope.envelope_id == envelope_id, Envelope.seq.in_(mine)))


@bp.get("/envelopes/<envelope_id>/attachments/<int:index>")
def attachment(envelope_id: str, index: int) -> Response:
    """One attachment's ciphertext, streamed as ``application/octet-stream``."""
    session = request_session("intake.db")
    row = own_envelope(session, envelope_id)
    if row is None or not 0 <= index < len(row.sizes):
        abort(404)
    blobs: BlobStore = current_app.extensions["intake.blobs"]
    response = Response(
        stream_with_context(blobs.read_chunks(row.envelope_id, index)),
        mimetype="application/octet-stream",
    )
    response.headers["Content-Length"] = str(row.sizes[index])
    return response


@bp.delete("/envelopes/<envelope_id>")
def delete_envelope(envelope_id: str) -> Response:
    """The caller's organization is done with an envelope (its console
    purged the case, retention): remove this organization's recipient
    entries. When no organization is left, delete the envelope itself: its
    row, recipients, receipt hash, attachment blobs, and the follow-ups
    that add to it (they were addressed to the same organizations, all of
    which are done with the report).

    Answers 200 ``{"deleted": bool, "remaining_recipients": n}`` (``n``
    organizations still hold it; ``deleted`` only when ``n`` is 0), or 404
    when the envelope is not (or no longer) sealed to the caller's
    organization: another organization's envelope is as absent as a missing
    one.
    """
    session = request_session("intake.db")
    row = own_envelope(session, envelope_id)
    if row is None:
        response = jsonify(error="no such envelope for this organization")
        response.status_code = 404
        return response
    row.recipients = [r for r in row.recipients if r.recipient_id != g.api_recipient]
    remaining = len({r.recipient_id for r in row.recipients})
    gone: list[str] = []
    if remaining == 0:
        followups = list(session.scalars(select(Envelope).where(Envelope.followup_of == row.seq)))
        for envelope in [*followups, row]:
            gone.append(envelope.envelope_id)
            session.delete(envelope)  # recipients, receipt hashes, database blobs: cascade
    session.commit()
    # Blob files after the commit: a crash between leaves orphans, which
    # `flask --app intake remove-orphans` clears; never a row without blobs.
    blobs: BlobStore = current_app.extensions["intake.blobs"]
    for gone_id in gone:
        blobs.delete(gone_id)
    return jsonify(deleted=remaining == 0, remaining_recipients=remaining)
