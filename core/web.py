"""Response headers and error pages, set in one place (DESIGN.md invariant 6).

:func:`apply_security_headers` is the single header policy of both apps: the
intake calls it through :func:`set_security_headers`, the console through its
own ``after_request`` with its stricter CSP. A view that needs more in its CSP
(the browser-sealing page needs ``'wasm-unsafe-eval'`` in ``script-src``)
says so with :func:`csp_allow`; nothing else edits the header.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from flask import Flask, Response, current_app, g, jsonify, render_template, request
from flask_babel import gettext as _
from flask_babel import refresh
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import HTTPException

from .i18n import available_languages

#: The intake's CSP: no inline script or style, nothing from another origin,
#: no framing, forms post only to this origin.
CSP_DIRECTIVES: dict[str, tuple[str, ...]] = {
    "default-src": ("'none'",),
    "script-src": ("'self'",),
    "style-src": ("'self'",),
    "img-src": ("'self'",),
    "font-src": ("'self'",),
    "connect-src": ("'self'",),
    "form-action": ("'self'",),
    "base-uri": ("'none'",),
    "frame-ancestors": ("'none'",),
}

#: Sources a view may add with :func:`csp_allow`. Never ``'unsafe-inline'``,
#: ``'unsafe-eval'``, a wildcard or another origin.
ALLOWED_EXTRA_SOURCES = frozenset({"'wasm-unsafe-eval'"})

#: Directives that ``default-src`` does not cover; always present.
NAVIGATION = frozenset({"frame-ancestors", "form-action", "base-uri"})

PERMISSIONS_POLICY = (
    "accelerometer=(), camera=(), display-capture=(), geolocation=(), gyroscope=(), "
    "magnetometer=(), microphone=(), payment=(), usb=(), interest-cohort=(), browsing-topics=()"
)

F = TypeVar("F", bound=Callable[..., Any])


def format_csp(directives: Mapping[str, tuple[str, ...]]) -> str:
    """``"default-src 'none'; script-src 'self'; …"`` in the given order."""
    return "; ".join(f"{name} {' '.join(sources)}" for name, sources in directives.items())


#: The intake's CSP as a header value (for tests and documentation).
CSP = format_csp(CSP_DIRECTIVES)


def csp_allow(directive: str, *sources: str) -> Callable[[F], F]:
    """Decorate a view to add ``sources`` to one CSP ``directive`` on its
    responses only, e.g. ``@csp_allow("script-src", "'wasm-unsafe-eval'")``.

    Raises:
        ValueError: at import time, for a source outside
            :data:`ALLOWED_EXTRA_SOURCES` or a directive the policy lacks.
    """
    if directive not in CSP_DIRECTIVES:
        raise ValueError(f"unknown CSP directive {directive!r}")
    bad = [s for s in sources if s not in ALLOWED_EXTRA_SOURCES]
    if bad:
        raise ValueError(f"CSP source not allowed: {bad}")

    def decorate(view: F) -> F:
        extra: dict[str, tuple[str, ...]] = dict(getattr(view, "_csp_extra", {}))
        extra[directive] = extra.get(directive, ()) + sources
        view._csp_extra = extra  # type: ignore[attr-defined]
        return view

    return decorate


def _view_csp_extra() -> Mapping[str, tuple[str, ...]]:
    if request.endpoint is None:
        return {}
    view = current_app.view_functions.get(request.endpoint)
    return getattr(view, "_csp_extra", {}) if view is not None else {}


def build_csp(base: Mapping[str, tuple[str, ...]], extra: Mapping[str, tuple[str, ...]] | None = None) -> str:
    """``base`` with ``extra`` sources appended per directive."""
    merged = {name: tuple(sources) for name, sources in base.items()}
    for name, sources in (extra or {}).items():
        merged[name] = merged.get(name, ()) + tuple(s for s in sources if s not in merged.get(name, ()))
    return format_csp(merged)


def _is_onion(host: str) -> bool:
    return host.split(":", 1)[0].rstrip(".").lower().endswith(".onion")


def apply_security_headers(
    response: Response,
    *,
    csp: str,
    no_store: bool = True,
    hsts_max_age: int = 0,
    onion_address: str | None = None,
) -> Response:
    """Set the security headers of one response (both apps call this).

    Args:
        csp: the Content-Security-Policy value.
        no_store: send ``Cache-Control: no-store`` (every page but static
            files: a shared or seized browser keeps no copy of a report page).
        hsts_max_age: seconds of ``Strict-Transport-Security``; 0 sends
            none. Never sent on a ``.onion`` host, where it has no meaning
            and a later clearnet visit must not inherit it.
        onion_address: the onion service's host name; when set, responses
            on any other host carry ``Onion-Location`` (Tor Browser offers
            the onion version of the same page).
    """
    headers = response.headers
    own = headers.get("Content-Security-Policy")
    if own:
        # A view set a stricter policy of its own (the console's attachment
        # download: "sandbox; default-src 'none'"). Keep it, and add the
        # navigation directives it lacks, which default-src does not cover.
        named = {part.split()[0] for part in own.split(";") if part.split()}
        missing = [
            part for part in csp.split("; ") if part.split()[0] in NAVIGATION and part.split()[0] not in named
        ]
        headers["Content-Security-Policy"] = "; ".join([own.strip().rstrip(";"), *missing])
    else:
        headers["Content-Security-Policy"] = csp
    headers["Referrer-Policy"] = "no-referrer"
    headers["X-Content-Type-Options"] = "nosniff"
    headers["X-Frame-Options"] = "DENY"
    headers["Cross-Origin-Opener-Policy"] = "same-origin"
    headers["Cross-Origin-Resource-Policy"] = "same-origin"
    headers["Permissions-Policy"] = PERMISSIONS_POLICY
    if no_store:
        headers["Cache-Control"] = "no-store"
        headers.pop("Expires", None)
        headers.pop("ETag", None)
        headers.pop("Last-Modified", None)
    on_onion = _is_onion(request.host)
    if hsts_max_age > 0 and not on_onion:
        headers["Strict-Transport-Security"] = f"max-age={int(hsts_max_age)}"
    else:
        headers.pop("Strict-Transport-Security", None)
    if onion_address and not on_onion:
        path = request.full_path if request.query_string else request.path
        headers["Onion-Location"] = f"http://{onion_address}{path}"
    # Whatever the server adds later, the application adds no detail.
    headers.pop("Server", None)
    headers.pop("X-Powered-By", None)
    return response


def set_security_headers(response: Response) -> Response:
    """Headers every intake response carries (``after_request``)."""
    config = current_app.config
    extra = _view_csp_extra()
    return apply_security_headers(
        response,
        # Most views add nothing: the policy made once at import is the same
        # string build_csp would make again for every response.
        csp=build_csp(CSP_DIRECTIVES, extra) if extra else CSP,
        no_store=not request.path.startswith("/static/") or response.status_code >= 400,
        hsts_max_age=int(config.get("HSTS_MAX_AGE") or 0),
        onion_address=config.get("ONION_ADDRESS") or None,
    )


def _error_text(code: int) -> tuple[str, str]:
    if code == 400:
        return _("Something in the form did not arrive as expected."), _(
            "Nothing was sent. Please go back and try again."
        )
    if code == 404:
        return _("This page does not exist."), _("Check the address, or start from the report form.")
    if code == 413:
        return _("The files are too large."), _(
            "Nothing was sent. Please choose smaller or fewer files and try again."
        )
    if code == 503:
        return _("The service is busy or under maintenance."), _(
            "Nothing was sent. Please try again in a few minutes."
        )
    return _("Something went wrong on our side."), _("Nothing was sent. Please try again later.")


def render_error(code: int) -> tuple[str, int]:
    """A translated error page with status ``code``; never a stack trace.

    When no route matched (404, 405), the language still comes from the
    path's first segment, so ``/zh-hant/nope`` answers in Chinese."""
    if g.get("lang_code") is None:
        first = request.path.lstrip("/").split("/", 1)[0]
        if first in available_languages():
            g.lang_code = first
            refresh()  # Flask-Babel may have cached the default already
    title, detail = _error_text(404 if code == 405 else code)
    return render_template("intake/error.html", title=title, detail=detail, code=code), code


def _api_error(name: str, code: int) -> Response:
    response = jsonify(error=name)
    response.status_code = code
    return response


def _server_error(what: str, exc: Exception, code: int, name: str) -> tuple[str, int] | Response:
    """The answer to a request the server could not finish: logs ``what``
    happened with the exception's class only (its text can hold form
    content or query parameters) and the endpoint, then answers ``code``:
    JSON ``{"error": name}`` under ``/api/``, the translated error page
    elsewhere."""
    current_app.logger.error("%s %s on %s", what, exc.__class__.__name__, request.endpoint)
    if request.path.startswith("/api/"):
        return _api_error(name, code)
    return render_error(code)


def init_web(app: Flask) -> None:
    """Register headers and error handlers."""
    app.after_request(set_security_headers)

    @app.errorhandler(CSRFError)
    def _csrf(_exc: CSRFError) -> tuple[str, int]:
        return render_error(400)

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> tuple[str, int] | Response:
        # The API and the browser upload endpoint always answer JSON.
        if request.path.startswith("/api/") or request.path.endswith("/sealed"):
            return _api_error(exc.name, exc.code or 500)
        return render_error(exc.code or 500)

    @app.errorhandler(SQLAlchemyError)
    def _database(exc: SQLAlchemyError) -> tuple[str, int] | Response:
        # The database is down or refused: nothing was stored, say so and
        # ask to come back.
        return _server_error("database error", exc, 503, "Service Unavailable")

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> tuple[str, int] | Response:
        return _server_error("unhandled", exc, 500, "Internal Server Error")
