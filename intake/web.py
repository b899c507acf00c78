"""Response headers and error pages of the reporter's side, set in one
place (DESIGN.md invariant 6)."""

from __future__ import annotations

from flask import Flask, Response, jsonify, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

#: No inline script or style, nothing from another origin, no framing.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "font-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; "
    "frame-ancestors 'none'"
)


def set_security_headers(response: Response) -> Response:
    """Headers every intake response carries."""
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Cross-Origin-Opener-Policy"] = "same-origin"
    response.headers["Cross-Origin-Resource-Policy"] = "same-origin"
    response.headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=(), interest-cohort=()"
    if not request.path.startswith("/static/"):
        response.headers["Cache-Control"] = "no-store"
    return response


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
    """A translated error page with status ``code``; never a stack trace."""
    title, detail = _error_text(code)
    return render_template("intake/error.html", title=title, detail=detail, code=code), code


def init_web(app: Flask) -> None:
    """Register headers and error handlers."""
    app.after_request(set_security_headers)

    @app.errorhandler(CSRFError)
    def _csrf(_exc: CSRFError) -> tuple[str, int]:
        return render_error(400)

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> tuple[str, int] | Response:
        if request.path.startswith("/api/"):
            response = jsonify(error=exc.name)
            response.status_code = exc.code or 500
            return response
        return render_error(exc.code or 500)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> tuple[str, int] | Response:
        # Log the class only: the exception text could hold form content.
        app.logger.error("unhandled %s on %s", exc.__class__.__name__, request.endpoint)
        if request.path.startswith("/api/"):
            response = jsonify(error="Internal Server Error")
            response.status_code = 500
            return response
        return render_error(500)
