"""Logs that name no one (DESIGN.md invariant 3).

Both apps, the ``flask run`` development server and gunicorn share one rule:
no client address, no user agent, no per-request timestamp in any log line.
Our own code never logs those; this module is the net under the servers'
code that does:

- Werkzeug's development server (``flask run``) writes one line per request,
  ``<address> - - [<time>] "GET / HTTP/1.1" 200 -``, and prefixes its error
  lines with the same address and time. :class:`ScrubFilter` drops the
  request lines and strips the prefix from the rest.
- gunicorn logs ``Invalid request from ip=<address>`` at WARNING for a
  malformed request; ``gunicorn.conf.py`` installs :class:`ScrubFilter` on
  its error log.
- Any remaining IPv4 or IPv6 address in a message is replaced by
  ``[address]``.
"""

from __future__ import annotations

import ipaddress
import logging
import re

#: IPv4 dotted quads and IPv6 addresses (with or without brackets, zone ids
#: and an embedded IPv4 tail). Broad on purpose: a false positive costs a
#: redacted number in a log line, a false negative a reporter's address.
_IPV4 = r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.])"
_IPV6 = (
    r"(?<![0-9A-Fa-f:])"
    r"(?=[0-9A-Fa-f:]*:[0-9A-Fa-f:]*:)"  # at least two colons
    r"(?:[0-9A-Fa-f]{0,4}:){2,7}(?:[0-9A-Fa-f]{0,4}|(?:\d{1,3}\.){3}\d{1,3})"
    r"(?:%[0-9A-Za-z_.-]+)?"
    r"(?![0-9A-Fa-f:])"
)
ADDRESS = re.compile(f"{_IPV6}|{_IPV4}")
#: Werkzeug's request-handler prefix: ``<address> - - [<date>] ``.
_WERKZEUG_PREFIX = re.compile(r"^\S+ - - \[[^\]]*\] ")
#: Werkzeug's request line, after the prefix: ``"GET /path HTTP/1.1" 200 -``.
_WERKZEUG_REQUEST = re.compile(r'^"[^"]*" \S+ \S+$')
#: Werkzeug's start-up banner (`` * Running on http://127.0.0.1:5000``) names
#: the server's own address, which is not a secret and which a developer
#: needs to see.
_BANNER = " * "

REDACTED = "[address]"


def _redact(match: re.Match[str]) -> str:
    found = match.group(0)
    if "." in found and ":" not in found:
        return REDACTED  # dotted quad: redact even if not a valid address
    try:
        ipaddress.ip_address(found.split("%", 1)[0])
    except ValueError:
        return found  # "12:30:45" and the like: not an address
    return REDACTED


def scrub(text: str) -> str:
    """``text`` with every IP address replaced by ``[address]``."""
    return ADDRESS.sub(_redact, text)


class ScrubFilter(logging.Filter):
    """Drop per-request log lines and remove addresses from the others.

    The record's message is formatted once here and frozen (``args``
    cleared), so a handler cannot re-insert an address from the arguments.
    An exception attached to the record is reduced to its class name: its
    text or traceback could carry form content or an address.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record: keep the template only
            message = str(record.msg)
        if message.startswith(_BANNER):
            return True
        prefixed = _WERKZEUG_PREFIX.match(message)
        if prefixed:
            message = message[prefixed.end() :]
            if _WERKZEUG_REQUEST.match(message.strip()):
                return False  # a request line: the access log we do not keep
        if record.exc_info and record.exc_info[0] is not None:
            message = f"{message} ({record.exc_info[0].__name__})"
            record.exc_info = None
            record.exc_text = None
        record.stack_info = None
        record.msg = scrub(message)
        record.args = None
        return True


_FILTER = ScrubFilter()


def install_scrubbing(*loggers: logging.Logger | str) -> None:
    """Add the shared :class:`ScrubFilter` to each logger (by object or
    name) and to every handler it has now. Idempotent."""
    for item in loggers:
        logger = logging.getLogger(item) if isinstance(item, str) else item
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
        for handler in logger.handlers:
            if _FILTER not in handler.filters:
                handler.addFilter(_FILTER)


def install_app_scrubbing(logger: logging.Logger) -> None:
    """What both app factories call: scrub the app's logger and Werkzeug's
    (the ``flask run`` server's request log)."""
    install_scrubbing(logger, "werkzeug")
