"""Reading and checking the parts of a browser upload (the contract is in
:mod:`.upload`): the refusals an upload can meet, and the checks of the
header and part lengths against what this intake expects. The intake
cannot read the envelope, only its header."""

from __future__ import annotations

from collections.abc import Mapping

from flask import current_app, request
from flask_babel import gettext as _
from flask_wtf.csrf import validate_csrf
from werkzeug.exceptions import RequestEntityTooLarge
from wtforms.validators import ValidationError

from core.envelope import Header, SealedEnvelope
from core.limits import UploadLimits, current_limits
from core.receipts import is_submission_token, submission_hash
from core.timing import today_utc

from ..envelope_parts import PartsRefused, check_sizes, read_parts
from ..keyring import current_keyring
from .cookies import missing_cookie_message
from .forms import csrf_time_limit

DAY_TOLERANCE = 1


class UploadRefused(Exception):
    """The upload is not stored: ``error`` is the machine code, ``message``
    the reporter's translated text, ``status`` the HTTP status."""

    def __init__(self, error: str, message: str, status: int = 400) -> None:
        super().__init__(error)
        self.error = error
        self.message = message
        self.status = status


def stale() -> UploadRefused:
    """The page is out of date: the header is not what this intake expects."""
    return UploadRefused(
        "stale",
        _(
            "This page is out of date. Nothing was stored. Copy what you wrote, "
            "reload the page, and send again."
        ),
    )


def _incomplete() -> UploadRefused:
    return UploadRefused(
        "incomplete", _("Your report did not arrive complete. Nothing was stored. Please send again.")
    )


def _too_large() -> UploadRefused:
    return UploadRefused(
        "too_large",
        # One string per message, never sentences joined here: Chinese puts
        # no space between sentences, and each language punctuates its own.
        _("The files are too large. Nothing was sent. Please choose smaller or fewer files and try again."),
        413,
    )


def unavailable() -> UploadRefused:
    """The store or the database failed: nothing was kept."""
    return UploadRefused(
        "unavailable",
        _("The service is busy or under maintenance. Nothing was sent. Please try again in a few minutes."),
        503,
    )


def busy() -> UploadRefused:
    """Too many attempts: a throttle refused."""
    return UploadRefused(
        "busy", _("Too many attempts in a short time. Please wait a few minutes and try again."), 429
    )


def check_browser_envelope(
    header: Header,
    body_length: int,
    attachment_lengths: list[int],
    *,
    active_keys: Mapping[str, str],
    limits: UploadLimits,
    expected_key_ids: frozenset[str] | None = None,
) -> None:
    """Check a browser-sealed envelope against what this intake expects.

    Args:
        header: the parsed header.
        body_length, attachment_lengths: byte lengths of the received parts.
        active_keys: key id → recipient id of every active key.
        limits: the size limits.
        expected_key_ids: for a follow-up, exactly the key ids it must name.

    Raises:
        UploadRefused: ``stale`` (sealed_by, recipients, day, reply key),
            ``too_large`` (limits), ``incomplete`` (part count or lengths).
    """
    _check_recipients(header, active_keys, expected_key_ids)
    _check_sizes(header, body_length, attachment_lengths, limits)


def _check_recipients(
    header: Header, active_keys: Mapping[str, str], expected_key_ids: frozenset[str] | None
) -> None:
    """Refuse as ``stale`` an envelope not sealed by a browser, today, to
    every active key of the organizations it names (for a follow-up:
    exactly ``expected_key_ids``, and no reply key)."""
    if header.sealed_by != "browser":
        raise stale()
    if expected_key_ids is not None and header.reply_key is not None:
        raise stale()
    named = frozenset(header.key_ids)
    if not named or not named <= active_keys.keys():
        raise stale()
    chosen = {active_keys[k] for k in named}
    if named != {k for k, recipient in active_keys.items() if recipient in chosen}:
        raise stale()
    if expected_key_ids is not None and named != expected_key_ids:
        raise stale()
    if abs((header.day - today_utc()).days) > DAY_TOLERANCE:
        raise stale()


def _check_sizes(
    header: Header, body_length: int, attachment_lengths: list[int], limits: UploadLimits
) -> None:
    """Refuse as ``too_large`` a header over ``limits``, as ``incomplete``
    parts whose count or lengths differ from what the header declares."""
    try:
        check_sizes(header, body_length, attachment_lengths, limits)
    except PartsRefused as exc:
        raise (_too_large() if exc.problem == "too_large" else _incomplete()) from exc


def receive_browser_envelope(
    expected_key_ids: frozenset[str] | None = None,
) -> tuple[SealedEnvelope, Header, str | None]:
    """Read and check the parts of a browser upload (see the module
    docstring); returns the envelope, its parsed header, and the keyed hash
    of the form's submission token (or None).

    Raises:
        UploadRefused: anything the checks refuse.
    """
    try:
        form, files = request.form, request.files
    except RequestEntityTooLarge as exc:
        raise _too_large() from exc
    if current_app.config.get("WTF_CSRF_ENABLED", True):
        try:
            validate_csrf(form.get("csrf_token"), time_limit=csrf_time_limit())
        except ValidationError as exc:
            raise UploadRefused("csrf", _expired_page(followup=expected_key_ids is not None)) from exc
    token = form.get("submission")
    submitted = None
    if token is not None and is_submission_token(token):
        submitted = submission_hash(current_app.config["RECEIPT_SECRET"], token)
    try:
        raw_header, header, body, attachments = read_parts(files)
    except PartsRefused as exc:
        raise _incomplete() from exc
    keyring = current_keyring()
    check_browser_envelope(
        header,
        len(body),
        [len(a) for a in attachments],
        active_keys={k.key_id: k.recipient_id for k in keyring.active},
        limits=current_limits(),
        expected_key_ids=expected_key_ids,
    )
    return SealedEnvelope(header=raw_header, body=body, attachments=attachments), header, submitted


def _expired_page(*, followup: bool) -> str:
    """The expired-token message, naming the button of the page that sent:
    "Send report" on the form, "Send" on the follow-up page."""
    # No session cookie came back at all: say why (cookies.py), or the
    # reporter would press again for ever.
    missing = missing_cookie_message()
    if missing:
        return missing
    if followup:
        return str(_("The page expired. Please press “Send” again."))
    return str(_("The page expired. Please press “Send report” again."))
