"""The key set document's stable names, shared by the intake that serves
it (intake/keyset.py) and the console that checks it against the roster
(admin/sync/watch.py): the format tag, its version, and the URL path."""

from __future__ import annotations

FORMAT = "tnr-intake-keyset"
VERSION = 1
#: Where the intake serves it (stable: consoles and scripts fetch it).
PATH = "/keys.json"
