"""gunicorn settings for both apps (``gunicorn -c gunicorn.conf.py wsgi:intake``).

No access log: an access log records client addresses, user agents and exact
times, which DESIGN.md invariant 3 forbids. Errors go to stderr without
request details.
"""

import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:5000")
workers = int(os.environ.get("GUNICORN_WORKERS", "2"))
# Build the app once in the master: migrations run once, and a bad key file
# stops the start with its message instead of crash-looping workers.
preload_app = True
accesslog = None
disable_redirect_access_to_syslog = True
errorlog = "-"
loglevel = "warning"
# Uploads are held in memory and sealed there: allow time for a slow
# connection (Tor) to send them, but no more.
timeout = 120
graceful_timeout = 30
# Do not tell clients which server software runs.
proc_name = "tnr"
forwarded_allow_ips = os.environ.get("GUNICORN_FORWARDED_ALLOW_IPS", "127.0.0.1")
