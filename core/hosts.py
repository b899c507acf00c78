"""The host names an app answers to (``TRUSTED_HOSTS``), checked before
anything reads the request's ``Host`` header.

Both apps build absolute addresses from ``Host``: Werkzeug's slash
redirects (``/en`` answers ``Location: https://<Host>/en/``) and any
``url_for(..., _external=True)``. A forged ``Host`` would put another site's
name there, for a cache on the way to keep and serve to others. nginx in
front closes requests for other names (``deploy/nginx``); this is the
second layer, for an app reached some other way (a proxy set up without the
shipped files, a port left open).

Flask 3.1 checks the same setting itself, but while the request's context
is made: a refused request is left without a URL adapter, so every
``url_for`` after it (in a before-request hook, in the error page) raises,
and ``request.host`` raises again in the header hook: a 500. Here a WSGI
middleware looks first: an unknown name is replaced by the first trusted
one and the request is marked, and the app's first before-request hook
answers 400 with the app's own, translated error page. Nothing in the app
ever sees the name the client sent, and Flask's own check, given the same
list, always passes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask, abort, current_app, request
from werkzeug.exceptions import SecurityError
from werkzeug.wsgi import get_host

__all__ = ["install", "parse_trusted_hosts"]

#: WSGI environ key of a request whose host name was not trusted.
UNTRUSTED = "tnr.untrusted_host"

_warned = False


def parse_trusted_hosts(value: object) -> list[str] | None:
    """``TRUSTED_HOSTS`` as a list of names, or None: any host (unset).

    Accepts a list of names, or one string of names separated by commas or
    spaces (``intake.example.org,example.onion``: an environment file then
    needs no JSON quoting). Empty means unset. A name that starts with a dot
    also matches every name under it (Werkzeug's rule); ports are ignored.

    Raises:
        ValueError: anything else (a number, a mapping).
    """
    if value is None:
        return None
    if isinstance(value, str):
        names = value.replace(",", " ").split()
    elif isinstance(value, list | tuple | set | frozenset):
        names = [str(name).strip() for name in value if str(name).strip()]
    else:
        raise ValueError(f"TRUSTED_HOSTS must be host names, not {type(value).__name__}")
    return names or None


class _HostCheck:
    """WSGI middleware: a request whose ``Host`` (or, without one, the
    server's address) is not trusted reaches the app with the first trusted
    name instead, and marked :data:`UNTRUSTED`."""

    def __init__(self, app: Callable[..., Iterable[bytes]], trusted: list[str]) -> None:
        self.app = app
        self.trusted = trusted
        self.fallback = trusted[0].lstrip(".")

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        try:
            host = get_host(environ, self.trusted)
        except SecurityError:
            host = ""
        if not host:  # untrusted, unreadable, or none at all
            environ = {**environ, "HTTP_HOST": self.fallback, UNTRUSTED: True}
        return self.app(environ, start_response)


def _refuse_untrusted_host() -> None:
    """The first before-request hook: 400 for a marked request, before any
    other hook can redirect it or build an address."""
    global _warned
    if not request.environ.get(UNTRUSTED):
        return
    if not _warned:
        _warned = True
        # Never the name itself: it is whatever the client sent.
        current_app.logger.warning(
            "refused a request for a host name not in TRUSTED_HOSTS (400); if it was this "
            "site's own name, add it to the setting"
        )
    abort(400)


def install(app: Flask, *also_trusted: str | None) -> None:
    """Check every request's host name against ``app.config["TRUSTED_HOSTS"]``
    (see :func:`parse_trusted_hosts`; stored back as a list or None), with
    the names in ``also_trusted`` added when the setting is on (the
    intake's onion address). Unset, every name is served (the demo, and
    development on 127.0.0.1).

    Raises:
        ValueError: the setting is neither names nor unset.
    """
    trusted = parse_trusted_hosts(app.config.get("TRUSTED_HOSTS"))
    if trusted is not None:
        trusted += [name for name in also_trusted if name and name not in trusted]
    app.config["TRUSTED_HOSTS"] = trusted
    if trusted is None:
        return
    app.wsgi_app = _HostCheck(app.wsgi_app, trusted)  # type: ignore[method-assign]
    app.before_request_funcs.setdefault(None, []).insert(0, _refuse_untrusted_host)
