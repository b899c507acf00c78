"""Why a form's CSRF check failed when its session cookie never came back.

The forms' CSRF token lives in the session cookie (Flask-WTF). A post that
arrives without that cookie fails the check every time, so "the page
expired, press Send again" would loop for ever. Two causes are told apart:

* ``SESSION_COOKIE_SECURE`` is on but the request came over plain http (no
  TLS in front, or a proxy whose ``X-Forwarded-Proto`` the app does not
  trust): browsers do not send a ``Secure`` cookie back over http. This is
  the operator's mistake; it is logged (once per process, no request
  detail) and the reporter is told the form cannot work on this address.
* otherwise the browser blocks cookies: the reporter is told the form needs
  one (a session cookie that holds no report content).
"""

from __future__ import annotations

from flask import current_app, request
from flask_babel import gettext as _

_warned = False


def secure_cookie_over_http() -> bool:
    """Whether ``SESSION_COOKIE_SECURE`` is on but this request came over
    plain http: no browser returns the session cookie here, so no form can
    be sent from this address at all (the operator's mistake)."""
    config = current_app.config
    return bool(config.get("SESSION_COOKIE_SECURE")) and not request.is_secure


def missing_cookie_message() -> str | None:
    """The reporter's message when this post carries no session cookie (see
    the module docstring), or None when it does (the page did expire)."""
    global _warned
    config = current_app.config
    if request.cookies.get(config.get("SESSION_COOKIE_NAME") or "session"):
        return None
    if secure_cookie_over_http():
        if not _warned:
            _warned = True
            current_app.logger.warning(
                "SESSION_COOKIE_SECURE is set but a form was posted over plain http: browsers do not "
                "return the session cookie, so no form can be sent. Serve the intake over https (and "
                "trust the proxy's X-Forwarded-Proto) or turn SESSION_COOKIE_SECURE off."
            )
        return str(
            _(
                "This form cannot be sent from this address: the site is set up for a secure "
                "(https://) connection and your browser is not using one. Nothing was sent. If you "
                "know the site's https:// address, please open the form there."
            )
        )
    return str(
        _(
            "This form needs a cookie, and your browser did not send it back. The cookie only "
            "protects the form and is deleted when you close the browser. Please allow cookies for "
            "this site, then send again; what you wrote is still here."
        )
    )
