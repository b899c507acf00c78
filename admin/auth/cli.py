"""Commands for console accounts (``flask --app admin users …``)."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from ..cliutil import audit_command, read_secret
from ..extensions import db
from ..models import ROLES
from . import accounts

users_cli = AppGroup("users", help="Console accounts.")


@users_cli.command("create")
@click.argument("email")
@click.option("--role", required=True, type=click.Choice(ROLES))
def create_user_command(email: str, role: str) -> None:
    """Create an account; the password comes from stdin or a prompt."""
    password = read_secret("Password", confirm=True)
    try:
        with db().session() as session:
            user = accounts.create_user(session, email, password, role, current_app.config["ARGON2ID"])
            audit_command(session, "ACCOUNT_CREATE", str(user.id), f"role={user.role}")
            click.echo(f"created {user.email} ({user.role})")
    except accounts.AccountError as exc:
        raise click.ClickException(str(exc)) from exc


@users_cli.command("reset-2fa")
@click.argument("email")
def reset_second_factor_command(email: str) -> None:
    """Recovery: forget EMAIL's authenticator app and security keys, end its
    sessions and clear its lockout. It enrols a new second factor at its
    next password login."""
    from ..audit import log as audit

    with db().session() as session:
        user = accounts.find_user(session, email)
        if user is None:
            raise click.ClickException("no account with this e-mail")
        accounts.reset_second_factor(session, user)
        audit.record(session, "cli", audit.Action.SECOND_FACTOR_RESET, str(user.id))
        click.echo(f"second factor reset for {user.email}; it enrols a new one at its next login")


@users_cli.command("unpause")
@click.argument("email")
def unpause_command(email: str) -> None:
    """Clear EMAIL's login pause, for every browser (after checking with the
    person: a pause means someone typed wrong passwords or codes). Its
    password and second factor are asked as always."""
    from ..audit import log as audit

    with db().session() as session:
        user = accounts.find_user(session, email)
        if user is None:
            raise click.ClickException("no account with this e-mail")
        accounts.record_success(user, known_device=None)
        audit.record(session, "cli", audit.Action.LOGIN_UNPAUSE, str(user.id))
        click.echo(f"login pause cleared for {user.email}")
