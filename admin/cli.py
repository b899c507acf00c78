"""Command line of the console (``flask --app admin …``): each feature's
commands live beside it (``admin/<feature>/cli.py``); this module only
registers them. What the commands share (secrets from stdin, unlocking the
key for one command, auditing) is :mod:`admin.cliutil`.
"""

from __future__ import annotations

from flask import Flask

from .alarms.cli import alarms_cli
from .audit.cli import audit_cli
from .auth.cli import users_cli
from .cases.cli import cases_cli
from .keys.cli import keys_cli, roster_cli
from .operations.cli import digest_command, purge_command
from .sync.cli import intake_cli, sync_command


def register_commands(app: Flask) -> None:
    """Add the console's command groups to ``app.cli``."""
    for command in (
        keys_cli,
        users_cli,
        cases_cli,
        sync_command,
        audit_cli,
        purge_command,
        digest_command,
        alarms_cli,
        roster_cli,
        intake_cli,
    ):
        app.cli.add_command(command)
