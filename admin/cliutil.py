"""What the console's commands share (``flask --app admin …``, each
feature's ``cli.py``): reading a secret, unlocking the organization key
for one command and locking it after, auditing with the actor ``cli``.

Secrets (passwords, passphrases) are read from standard input when it is not
a terminal (the first line, without its line ending), else prompted with
the echo off. Never from the command line: it ends up in shell history and
in the process list.
"""

from __future__ import annotations

import sys

import click
from sqlalchemy.orm import Session

from core.envelope import KeyFileError, WrongPassphraseError

from .errors import ConsoleError
from .extensions import data_dir, db, keyring
from .keys import custody


def read_secret(prompt: str, *, confirm: bool = False) -> str:
    """A secret from stdin (not a terminal: first line) or a hidden prompt.

    Raises:
        click.ClickException: empty.
    """
    stdin = sys.stdin
    if stdin is not None and stdin.isatty():
        value = str(click.prompt(prompt, hide_input=True, confirmation_prompt=confirm))
    else:
        value = stdin.readline() if stdin is not None else ""
        value = value.removesuffix("\n").removesuffix("\r")
    if not value:
        raise click.ClickException(f"{prompt}: nothing was given")
    return value


def audit_command(session: Session, action: str, object_id: str | None = None, detail: str = "") -> None:
    """Record ``action`` (an :class:`admin.audit.log.Action` name) with the
    actor ``cli``: commands are audited as the console's pages are."""
    from .audit import log as audit

    audit.record(session, "cli", getattr(audit.Action, action), object_id, detail)


def unlock_from_stdin() -> None:
    """Unlock the organization key for one command (passphrase from stdin or
    a prompt), audited as ``key.unlock``.

    Raises:
        click.ClickException: wrong passphrase, no key, damaged key file.
    """
    passphrase = read_secret("Key passphrase")
    try:
        with db().session() as session:
            custody.unlock(keyring(), session, data_dir(), passphrase)
            audit_command(session, "UNLOCK", None, "for one command")
    except WrongPassphraseError as exc:
        raise click.ClickException("wrong passphrase") from exc
    except (ConsoleError, KeyFileError) as exc:
        raise click.ClickException(str(exc)) from exc


def lock_after_command() -> None:
    """Lock the key again after a command that unlocked it, audited as
    ``key.lock`` (the pair of :func:`unlock_from_stdin`'s ``key.unlock``)."""
    keyring().lock()
    with db().session() as session:
        audit_command(session, "LOCK", None, "after one command")
