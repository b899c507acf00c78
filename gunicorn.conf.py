"""gunicorn settings for both apps (``gunicorn -c gunicorn.conf.py wsgi:intake``).

No access log: an access log records client addresses, user agents and exact
times, which DESIGN.md invariant 3 forbids. The error log goes to stderr
through :class:`core.logs.ScrubFilter`, because gunicorn itself writes
``Invalid request from ip=<address>`` at WARNING for a malformed request.

Environment (all optional): ``GUNICORN_BIND`` (default ``127.0.0.1:5000``:
nginx or the Tor daemon in front), ``GUNICORN_WORKERS`` (default 2; the
console must run with 1, see docs/console.md), ``GUNICORN_THREADS`` (default
1), ``GUNICORN_TIMEOUT`` (default 120). See docs/deployment.md.
"""

import os

from gunicorn.glogging import Logger

from core.logs import install_scrubbing

# Files the apps create (databases, blobs, logs) are for the service account
# only: ciphertext, but days, sizes and order are still worth hiding from
# other local users. Workers inherit this from the master.
os.umask(0o077)

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:5000")
workers = int(os.environ.get("GUNICORN_WORKERS", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "1"))
# Build the app once in the master: migrations run once, and a bad key file
# stops the start with its message instead of crash-looping workers.
preload_app = True
accesslog = None
disable_redirect_access_to_syslog = True
errorlog = "-"
loglevel = "warning"
# Uploads are held in memory and sealed there. nginx in front reads every
# body whole before a worker sees it (deploy/nginx/), so this bounds the
# work of one request, never a slow client's sending.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "120"))
graceful_timeout = 30
# A flood of connections waits in the kernel's queue rather than being
# refused; nginx in front bounds it further (docs/deployment.md).
backlog = 2048
proc_name = "tnr"
forwarded_allow_ips = os.environ.get("GUNICORN_FORWARDED_ALLOW_IPS", "127.0.0.1")


class ScrubbedLogger(Logger):
    """gunicorn's logger with addresses scrubbed from the error log and the
    access log unconditionally off (even if ``--access-logfile`` is given on
    the command line)."""

    # No timestamp: a line caused by a request (a malformed one, say) would
    # otherwise pin the moment someone used the form. Where the process
    # manager stamps lines itself (journald), see docs/deployment.md.
    error_fmt = "[%(process)d] [%(levelname)s] %(message)s"

    def setup(self, cfg):
        super().setup(cfg)
        install_scrubbing(self.error_log)

    def access(self, resp, req, environ, request_time):
        return None


logger_class = ScrubbedLogger
