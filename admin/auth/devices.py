"""Known browsers: a signed device token for each account that completed a
full login (password and second factor) in this browser.

Why: failed logins pause an account, and a stranger who knows a
reviewer's e-mail could otherwise keep that account paused for ever. With
the token, the reviewer's usual browser counts its failures apart from
everyone else's (admin/auth/accounts.py, "Lockout"). The token proves only that
this browser logged in to the account before; it never skips the password
or the second factor.

The cookie ``tnr_console_device`` holds a list of ``[account id, tag]``
pairs, signed with the app's ``SECRET_KEY`` (itsdangerous, HMAC-SHA1 under a
derived key, as Flask's own session), so nobody can make one without a
login. ``tag`` is the first 16 hex digits of the SHA-256 of the account's
password hash: a new password (or a new hash) forgets every known browser.
At most :data:`MAX_ACCOUNTS` accounts per browser, newest last.
"""

from __future__ import annotations

import hashlib
from typing import Any

from flask import Response, after_this_request, current_app, request
from itsdangerous import BadSignature, URLSafeSerializer

from ..models import User

COOKIE = "tnr_console_device"
MAX_ACCOUNTS = 8
_SALT = "tnr-console/v1/known-device"


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(str(current_app.config["SECRET_KEY"]), salt=_SALT)


def _tag(user: User) -> str:
    return hashlib.sha256(user.password_hash.encode("utf-8")).hexdigest()[:16]


def _entries() -> list[list[Any]]:
    raw = request.cookies.get(COOKIE)
    if not raw:
        return []
    try:
        value = _serializer().loads(raw)
    except BadSignature:
        return []
    if not isinstance(value, list):
        return []
    return [e for e in value if isinstance(e, list) and len(e) == 2][-MAX_ACCOUNTS:]


def is_known(user: User) -> bool:
    """Whether this request's browser completed a login to ``user`` before
    (with the account's current password)."""
    return [user.id, _tag(user)] in _entries()


def remember(user: User) -> None:
    """Mark this browser as known to ``user`` (on the response of the
    current request). Called once a login is complete."""
    entries = [e for e in _entries() if e[0] != user.id] + [[user.id, _tag(user)]]
    value = _serializer().dumps(entries[-MAX_ACCOUNTS:])
    cfg = current_app.config

    @after_this_request
    def _set(response: Response) -> Response:
        response.set_cookie(
            COOKIE,
            value,
            max_age=int(cfg["LOGIN_DEVICE_DAYS"]) * 86400,
            secure=bool(cfg["SESSION_COOKIE_SECURE"]),
            httponly=True,
            samesite="Strict",
        )
        return response
