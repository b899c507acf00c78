"""Login sessions and the check before every request.

A full login (password, then second factor) clears the Flask session and
starts a new one holding a fresh random token (rotation: nothing from
before the login survives, and an old cookie names no live session). The
database keeps only the token's SHA-256 with the login time and the last
use, so the server enforces the idle timeout and the absolute lifetime, and
logout or an admin's reset ends the session for good, whatever a copied
cookie says.

:func:`guard` runs before every request: public endpoints pass; everything
else needs a live login session, then the permission the endpoint has in
:mod:`admin.permissions` (default deny).
"""

from __future__ import annotations

import hashlib
import secrets
import time
from typing import Any
from urllib.parse import quote

from flask import Response, abort, current_app, flash, make_response, render_template, request, session
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user
from sqlalchemy import delete
from sqlalchemy.orm import Session

from ..extensions import db_session, login_manager
from ..models import LoginSession, User
from ..permissions import Permission, allows, required

_TOKEN = "sid"  # noqa: S105 (a session key name, not a secret)
#: Seconds between writes of ``last_seen`` (not one write per request).
_TOUCH_EVERY = 30


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def start(db: Session, user: User, now: float | None = None) -> None:
    """Log ``user`` in: a new Flask session with a new token, and its row.
    The caller commits."""
    now = time.time() if now is None else now
    session.clear()
    token = secrets.token_urlsafe(32)
    db.add(LoginSession(id=_digest(token), user_id=user.id, created_at=int(now), last_seen=int(now)))
    login_user(user)
    session[_TOKEN] = token


def end(db: Session) -> None:
    """Log out: delete the row, clear the Flask session. The caller commits."""
    token = session.get(_TOKEN)
    if isinstance(token, str):
        db.execute(delete(LoginSession).where(LoginSession.id == _digest(token)))
    logout_user()
    session.clear()


def _live(db: Session, now: float) -> bool:
    token = session.get(_TOKEN)
    if not isinstance(token, str):
        return False
    row = db.get(LoginSession, _digest(token))
    if row is None or row.user_id != current_user.id:
        return False
    idle = int(current_app.config["SESSION_IDLE_TIMEOUT"])
    lifetime = int(current_app.config["SESSION_ABSOLUTE_LIFETIME"])
    if now - row.last_seen > idle or now - row.created_at > lifetime:
        db.delete(row)
        db.commit()
        return False
    if now - row.last_seen >= _TOUCH_EVERY:
        row.last_seen = int(now)
        db.commit()
    return True


def live() -> bool:
    """Whether a logged-in account's session is live (for views reachable
    both before and after login)."""
    return bool(current_user.is_authenticated) and _live(db_session(), time.time())


def _cross_site_without_session() -> bool:
    """Whether this request is a link followed from another site that came
    without the session cookie. The cookie is ``SameSite=Strict``, so the
    browser leaves it off such a navigation even for a logged-in reviewer;
    answered as usual, the login redirect would write a new, empty session
    cookie over theirs and log them out. Fetch Metadata (``Sec-Fetch-*``,
    sent by current browsers over HTTPS and loopback) says who started the
    request; an old browser without it takes the usual way."""
    return (
        request.method in ("GET", "HEAD")
        and request.headers.get("Sec-Fetch-Site") == "cross-site"
        and request.headers.get("Sec-Fetch-Mode") == "navigate"
        and current_app.config["SESSION_COOKIE_NAME"] not in request.cookies
    )


#: What the reopen page keeps as it is when it writes a path and a query
#: back (RFC 3986 pchar, and "%" of what the client encoded already):
#: everything else, control characters and spaces first, is encoded.
_PATH_SAFE = "/:@!$&'()*+,;=-._~%"
_QUERY_SAFE = _PATH_SAFE + "?"


def _reopen_here() -> Response:
    """A page that opens the same address again from the console itself
    (a same-origin navigation, so the browser now sends the Strict cookie).
    It touches no session and sets no cookie; the address is the request's
    own path and query, never another host: a path that starts with two
    slashes (or a slash and a backslash) would be read by the browser as
    another host's address, an open redirect off the console, so it
    reopens the inbox instead. The path is percent-encoded again first:
    browsers drop tabs and newlines from a URL, so a decoded ``/%09/host``
    written back as it is would reach the browser as ``//host``."""
    target = quote(request.path, safe=_PATH_SAFE)
    if request.query_string:
        target += "?" + quote(request.query_string.decode("latin-1"), safe=_QUERY_SAFE)
    if not target.startswith("/") or target[1:2] in ("/", "\\"):
        target = "/"
    response = make_response(render_template("reopen.html", target=target))
    response.headers["Cache-Control"] = "no-store"
    return response


def guard() -> Any:
    """Before every request: a link from another site reopened from here
    (:func:`_cross_site_without_session`), then login, live session,
    permission."""
    if _cross_site_without_session():
        return _reopen_here()
    permission = required(request.endpoint)
    if permission is Permission.PUBLIC:
        return None
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    db = db_session()
    if not _live(db, time.time()):
        logout_user()
        session.clear()
        flash(_("Your session ended. Please log in again."), "info")
        return login_manager.unauthorized()
    if permission is None and request.routing_exception is not None:
        return None  # 404 or 405 follows, for logged-in accounts only
    if permission is None or not allows(current_user.role, permission):
        # Not in the permission table, or not for this role.
        abort(403)
    return None


def can(permission: str) -> bool:
    """For templates: whether the logged-in account has ``permission``."""
    return bool(current_user.is_authenticated) and allows(current_user.role, Permission(permission))
