"""Sealing on the server, for the path without JavaScript: the report form
(``views``) and the follow-up (:mod:`intake.followup.views`) seal the same
way, in memory during the request, and only the envelope is stored."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import current_app
from werkzeug.datastructures import FileStorage

from core.envelope import SealedEnvelope, seal
from core.timing import today_utc
from core.uploads import attachment_inputs

from .organizations import Organization


def seal_on_server(
    body: Mapping[str, Any],
    chosen: list[Organization],
    files: list[FileStorage] | None,
    *,
    reply_key: bytes | None = None,
    auth: Mapping[str, bytes] | None = None,
    envelope_id: str | None = None,
) -> SealedEnvelope:
    """``body`` and the chosen ``files`` (:func:`core.uploads.chosen_files`)
    sealed to every active key of the ``chosen`` organizations (both keys
    of one that is rotating), dated today (UTC), ``sealed_by`` "server", in
    chunks of ``CHUNK_SIZE`` bytes. ``reply_key``, ``auth`` and
    ``envelope_id`` go to :func:`core.envelope.seal` as they are.

    Raises:
        core.envelope.EnvelopeError: ``body`` or a file cannot be sealed.
    """
    return seal(
        body,
        [key.public_key for org in chosen for key in org.keys],
        day=today_utc(),
        sealed_by="server",
        attachments=attachment_inputs(files),
        chunk_size=current_app.config["CHUNK_SIZE"],
        reply_key=reply_key,
        auth=auth,
        envelope_id=envelope_id,
    )
