"""Command line of the console (``flask --app admin …``).

Secrets (passwords, passphrases) are read from standard input when it is not
a terminal (the first line, without its line ending), else prompted with
the echo off. Never from the command line: it ends up in shell history and
in the process list.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext
from sqlalchemy.orm import Session

from core.envelope import KeyFileError, WrongPassphraseError

from .auth import accounts
from .cases import reportview
from .cases.service import find_case, list_cases, open_case
from .display import visible_controls
from .errors import ConsoleError, SyncBusyError
from .extensions import data_dir, db, keyring
from .keys import custody
from .models import ROLES
from .sync.client import client_from_config
from .sync.limits import limits_from_config
from .sync.run import SyncProgress, sync
from .sync.storage import SyncResult


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


def _audit(session: Session, action: str, object_id: str | None = None, detail: str = "") -> None:
    # Console issue: commands are audited too, with the actor "cli".
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
            _audit(session, "UNLOCK", None, "for one command")
    except WrongPassphraseError as exc:
        raise click.ClickException("wrong passphrase") from exc
    except (ConsoleError, KeyFileError) as exc:
        raise click.ClickException(str(exc)) from exc


def lock_after_command() -> None:
    """Lock the key again after a command that unlocked it, audited as
    ``key.lock`` (the pair of :func:`unlock_from_stdin`'s ``key.unlock``)."""
    keyring().lock()
    with db().session() as session:
        _audit(session, "LOCK", None, "after one command")


# --------------------------------------------------------------------------

keys_cli = AppGroup("keys", help="The organization's key pair.")


@keys_cli.command("generate")
@click.option("--recipient-id", required=True, help="The organization's id, e.g. 'nccc' (a-z, 0-9, -).")
@click.option("--name-en", required=True, help="The organization's name in English.")
@click.option("--name-zh", required=True, help="The organization's name in Chinese.")
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Where to write the public key file <ID>.json (the intake's keys/).",
)
@click.option("--expires-days", default=730, show_default=True, type=click.IntRange(min=1))
@click.option(
    "--rotate",
    is_flag=True,
    help="A further key of this organization: name the public key file <ID>-<key id>.json.",
)
def generate_command(
    recipient_id: str, name_en: str, name_zh: str, out_dir: Path, expires_days: int, rotate: bool
) -> None:
    """Make a key pair: the public key file goes to --out, the private key,
    sealed under a passphrase (stdin or prompt), into DATA_DIR/private-keys.
    For a rotation, give the passphrase of the current key: one unlock then
    opens both (docs/console.md, "Key rotation")."""
    passphrase = read_secret("Key passphrase", confirm=True)
    try:
        made = custody.generate_key(
            recipient_id=recipient_id,
            name_en=name_en,
            name_zh=name_zh,
            passphrase=passphrase,
            out_dir=out_dir,
            data_dir=data_dir(),
            expires_days=expires_days,
            argon2id=current_app.config["ARGON2ID"],
            rotate=rotate,
        )
    except (ValueError, FileExistsError) as exc:
        raise click.ClickException(str(exc)) from exc
    with db().session() as session:
        _audit(session, "KEY_GENERATE", made.public_file.key_id[:16], f"recipient={recipient_id}")
    click.echo(f"public key:  {made.public_path}")
    click.echo(f"private key: {made.private_path}")
    click.echo(f"expires:     {made.public_file.expires.isoformat()}")
    click.echo(f"fingerprint: {made.public_file.fingerprint}")


@keys_cli.command("retire")
@click.argument("key_ref", metavar="KEY_ID")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where to write the retired public key file (the intake's keys/, or a folder to copy from).",
)
@click.option("--force", is_flag=True, help="Retire even the organization's last active key.")
def retire_command(key_ref: str, out_dir: Path | None, force: bool) -> None:
    """Mark a key retired (KEY_ID: its fingerprint, at least 8 hex digits).
    Its public key file gets "retired": true; copy it over the old one in
    the intake's keys/ and restart the intake: reporters are no longer
    offered the key. The private key stays, so old envelopes still open."""
    try:
        retired = custody.retire_key(data_dir(), key_ref, out_dir=out_dir, force=force)
    except (ValueError, KeyFileError) as exc:
        raise click.ClickException(str(exc)) from exc
    with db().session() as session:
        public = retired.public_file
        _audit(session, "KEY_RETIRE", public.key_id[:16], f"recipient={public.recipient_id}")
    click.echo(f"retired:     {retired.public_file.fingerprint}")
    click.echo(f"console copy: {retired.copy_path}")
    if retired.out_path is not None:
        click.echo(f"public key:  {retired.out_path}  (in the intake's keys/, it replaces the old file)")
    else:
        click.echo("copy the console copy to the intake's keys/, replacing the key's old file")


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
            _audit(session, "ACCOUNT_CREATE", str(user.id), f"role={user.role}")
            click.echo(f"created {user.email} ({user.role})")
    except accounts.AccountError as exc:
        raise click.ClickException(str(exc)) from exc


@click.command("sync")
@click.option(
    "--rescan",
    is_flag=True,
    help="List every envelope again from the start (after the intake was restored from a backup, or a "
    "cap was raised): those stored are skipped, those in quarantine are tried again.",
)
@with_appcontext
def sync_command(rescan: bool) -> None:
    """Pull new envelopes from the intake (key passphrase from stdin or a
    prompt)."""
    try:
        client = client_from_config(current_app.config)
    except ConsoleError as exc:
        raise click.ClickException(str(exc)) from exc
    unlock_from_stdin()

    def report(step: SyncProgress) -> None:
        # Counts only (stderr, so a timer's journal shows the run moving):
        # never an envelope id, which would tie the journal to the intake.
        click.echo(
            f"page {step.page}: {step.envelopes} envelopes; so far added {step.added}, "
            f"quarantined {step.quarantined}, skipped {step.skipped}",
            err=True,
        )

    result = SyncResult()
    # The rescan moves the cursor inside the sync, under its lock: never
    # while another process's sync would move it on again.
    how = " (rescan from the start)" if rescan else ""
    try:
        with client:
            sync(
                db(),
                keyring(),
                data_dir(),
                client,
                int(current_app.config["SYNC_PAGE_SIZE"]),
                progress=report,
                into=result,
                from_start=rescan,
                limits=limits_from_config(current_app.config),
            )
        with db().session() as session:
            _audit(session, "SYNC", None, result.counts() + how)
    except ConsoleError as exc:
        # What was stored before the failure stays stored: say so, and
        # audit it, so the log's counts add up to the cases. A busy sync
        # lock means nothing was done at all, the rescan included.
        done = "" if isinstance(exc, SyncBusyError) else how
        with db().session() as session:
            _audit(session, "SYNC_FAILED", None, f"{exc.__class__.__name__} {result.counts()}{done}")
        click.echo(f"stored before it stopped: {result}", err=True)
        raise click.ClickException(str(exc)) from exc
    finally:
        lock_after_command()
    click.echo(str(result))
    if current_app.config.get("INTAKE_CHECK_ON_SYNC", True):
        differences, failure = check_intake_now()
        if failure is not None:
            click.echo(f"intake check: {failure}", err=True)
        result.alarms.extend(f"intake check: {line}" for line in differences)
    if result.alarms:
        # Stored and alarmed; the timer's run fails so someone looks now.
        for detail in result.alarms:
            click.echo(f"ALARM: {detail}", err=True)
        raise click.ClickException(
            f"{len(result.alarms)} alarm(s) raised (see the console's Alarms page and "
            "docs/threat-model.md, 'Seized intake')"
        )


cases_cli = AppGroup("cases", help="Stored cases.")


@cases_cli.command("list")
@click.option("--page", default=1, type=click.IntRange(min=1))
def list_command(page: int) -> None:
    """List cases, newest first: seq, envelope id, day, sealed by,
    attachments, status. Either the seq or the envelope id names a case."""
    with db().session() as session:
        rows = list_cases(session, keyring(), page=page, per_page=int(current_app.config["CASES_PER_PAGE"]))
        click.echo("seq\tenvelope id\tday\tsealed by\tattachments\tstatus")
        for row in rows:
            click.echo(
                f"{row.seq}\t{row.envelope_id}\t{row.day.isoformat()}\t{row.sealed_by}\t"
                f"{row.attachment_count}\t{row.status}"
            )


@cases_cli.command("show")
@click.argument("case_ref", metavar="CASE_ID")
def show_command(case_ref: str) -> None:
    """Print a decrypted case (CASE_ID: seq number or envelope id); the key
    passphrase comes from stdin or a prompt."""
    unlock_from_stdin()
    try:
        with db().session() as session:
            opened = open_case(find_case(session, case_ref), keyring())
            s = opened.summary
            interview = reportview.taken_by_interview(session, opened.report, s.sealed_by, s.envelope_id)
            _audit(session, "CASE_VIEW", opened.summary.envelope_id)
    except ConsoleError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        lock_after_command()
    click.echo(f"case {s.seq}  envelope {s.envelope_id}")
    click.echo(f"day: {s.day.isoformat()}  sealed by: {s.sealed_by}  status: {s.status}")
    for line in report_lines(opened.report, interview=interview):
        click.echo(line)
    click.echo("Attachments" if opened.attachments else "Attachments: none")
    for a in opened.attachments:
        name, media_type = visible_controls(a.name, 300), visible_controls(a.media_type, 100)
        click.echo(f"  [{a.position}] {name}  ({media_type}, {a.size} bytes, sha256 {a.sha256})")


def report_lines(report: Mapping[str, Any], *, interview: bool = False) -> list[str]:
    """The report as the case page shows it (admin/cases/reportview.py: the
    form's labels, codes beside tactics, unknown codes flagged), as lines
    of text for a terminal. Every untrusted text goes through
    :func:`admin.display.visible_controls`: a report is sealed by anyone,
    and an escape sequence printed raw would drive the reviewer's
    terminal (rewrite lines, set its title, and worse)."""
    from .cases.reportview import report_sections

    lines: list[str] = []
    for section in report_sections(report, interview=interview):
        lines.append(section.title)
        for row in section.rows:
            label = visible_controls(row.label, 300)
            if row.pre:
                lines.append(f"  {label}:")
                for value in row.values:
                    lines.extend("    " + part for part in visible_controls(value.text).split("\n"))
                continue
            shown = [
                (f"{visible_controls(v.code, 40)} " if v.code else "")
                + visible_controls(v.text, 1000).replace("\n", " ")
                + (" (not a code of this form)" if v.unknown else "")
                for v in row.values
            ]
            lines.append(f"  {label}: " + ("; ".join(shown) if shown else "—"))
    return lines


# --------------------------------------------------------------------------
# Console issue: second-factor recovery and the audit log.


@users_cli.command("reset-2fa")
@click.argument("email")
def reset_second_factor_command(email: str) -> None:
    """Recovery: forget EMAIL's authenticator app and security keys, end its
    sessions and clear its lockout. It enrols a new second factor at its
    next password login."""
    from .audit import log as audit

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
    from .audit import log as audit

    with db().session() as session:
        user = accounts.find_user(session, email)
        if user is None:
            raise click.ClickException("no account with this e-mail")
        accounts.record_success(user, known_device=None)
        audit.record(session, "cli", audit.Action.LOGIN_UNPAUSE, str(user.id))
        click.echo(f"login pause cleared for {user.email}")


audit_cli = AppGroup("audit", help="The hash-chained audit log.")


@audit_cli.command("verify")
def audit_verify_command() -> None:
    """Check every entry's hash, the chain and the sequence, and that the log
    reaches the recorded head (DATA_DIR/audit-head.json). Exits 1 naming the
    first bad entry."""
    from .audit import log as audit

    try:
        head = audit.read_head(data_dir())
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    with db().session() as session:
        result = audit.verify(session, head)
    if not result.ok:
        raise click.ClickException(f"audit log damaged: {result.reason}")
    last = f"head {result.head[0]} {result.head[1]}" if result.head else "empty"
    click.echo(f"audit log intact: {result.count} entries, {last}")


@click.command("purge")
@click.option("--dry-run", is_flag=True, help="Only list the envelope ids that would be purged.")
@with_appcontext
def purge_command(dry_run: bool) -> None:
    """Remove closed cases older than RETENTION_DAYS_CLOSED (0: keep
    forever) from the console, after the intake confirmed it deleted each
    envelope for this organization (docs/console.md, "Retention and purge").
    No passphrase needed: nothing is decrypted."""
    from .operations import retention

    days = int(current_app.config["RETENTION_DAYS_CLOSED"])
    if days <= 0 and not dry_run:
        click.echo("RETENTION_DAYS_CLOSED is 0: cases are kept forever; nothing to purge")
        return
    client = None
    if not dry_run:
        try:
            client = client_from_config(current_app.config)
        except ConsoleError as exc:
            raise click.ClickException(str(exc)) from exc

    def report(outcome: retention.PurgeOutcome) -> None:
        extra = "" if outcome.remaining_recipients is None else f" (remaining {outcome.remaining_recipients})"
        click.echo(f"{outcome.envelope_id}\tintake: {outcome.intake}{extra}")

    try:
        if client is not None:
            with client:
                result = retention.purge(db(), data_dir(), client, days, progress=report)
        else:
            result = retention.purge(db(), data_dir(), None, days, dry_run=True)
    except ConsoleError as exc:
        raise click.ClickException(str(exc)) from exc
    if dry_run:
        for envelope_id in result.due:
            click.echo(envelope_id)
        click.echo(
            f"{len(result.due)} cases would be purged (closed {days} days or more ago, with follow-ups)"
        )
        return
    click.echo(f"purged {result.purged}, failed {result.failed} (retried by the next purge)")
    if result.failed:
        raise click.exceptions.Exit(1)


@click.command("digest")
@with_appcontext
def digest_command() -> None:
    """E-mail every active account how many cases wait (new, needs
    information, urgent): counts only, no case, no link; sent also when all
    are zero. Off (exit 0) without ADMIN_SMTP_HOST."""
    from .operations import digest

    try:
        settings = digest.SmtpSettings.from_config(current_app.config)
        if settings is None:
            click.echo("digest: not configured (set ADMIN_SMTP_HOST to send it)")
            return
        result = digest.send_digest(db(), settings)
    except digest.DigestError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"digest: sent {result.sent}, failed {result.failed}")
    if result.failed:
        raise click.exceptions.Exit(1)


roster_cli = AppGroup("roster", help="The pinned coalition roster of recipient keys.")


@roster_cli.command("make")
@click.argument("key_files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--out", "out_file", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--revoke",
    multiple=True,
    metavar="FINGERPRINT",
    help="Mark this key revoked (at least 8 hex digits; repeatable): never to be sealed to.",
)
def roster_make_command(key_files: tuple[Path, ...], out_file: Path, revoke: tuple[str, ...]) -> None:
    """Build a roster file from the public key files of every organization
    of the coalition (their keys/ files; a retired file makes a retired
    entry). Prints the roster's digest: compare it by telephone with every
    organization before each imports it."""
    from .keys import roster

    try:
        made = roster.make_roster(list(key_files), revoke)
    except roster.RosterError as exc:
        raise click.ClickException(str(exc)) from exc
    if out_file.exists():
        raise click.ClickException(f"{out_file} exists already; choose another name")
    out_file.write_text(made.to_json(), encoding="utf-8")
    for entry in made.entries:
        click.echo(f"{entry.recipient_id}\t{entry.status}\t{entry.fingerprint}")
    click.echo(f"roster: {out_file} ({len(made.entries)} keys), digest {made.digest}")


@roster_cli.command("import")
@click.argument("roster_file", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option(
    "--replace",
    is_flag=True,
    help="Accept a roster that drops or changes a pinned key (audited as roster.replace).",
)
def roster_import_command(roster_file: Path, replace: bool) -> None:
    """Pin a roster: from the next sync on, an envelope sealed to any key
    outside it raises an alarm. The organization's own entries must be
    exactly the private keys this console holds. Adding keys, retiring and
    revoking them need nothing more; dropping a pinned key or changing its
    organization, names or dates needs --replace."""
    from datetime import UTC, datetime

    from .keys import roster

    try:
        new = roster.parse_roster(roster_file.read_text(encoding="utf-8"), roster_file.name)
        with db().session() as session:
            plan = roster.plan_import(roster.pinned(session), new, roster.held_keys(data_dir()))
            if plan.needs_replace and not replace:
                for entry in plan.dropped:
                    click.echo(f"dropped: {entry.recipient_id} {entry.fingerprint}", err=True)
                for entry, what in plan.changed:
                    click.echo(f"changed: {entry.recipient_id} {entry.fingerprint} ({what})", err=True)
                raise click.ClickException(
                    "the roster drops or changes pinned keys; nothing was imported. If the coalition "
                    "really replaced them, import it again with --replace"
                )
            roster.pin(session, new, datetime.now(UTC).date())
            counts = (
                f"keys={len(new.entries)} added={len(plan.added)} status={len(plan.status_changed)} "
                f"digest={new.digest[:16]}"
            )
            if plan.needs_replace:
                gone = ",".join(e.key_id[:16] for e in plan.dropped)
                changed = ",".join(e.key_id[:16] for e, _what in plan.changed)
                _audit(session, "ROSTER_REPLACE", None, f"{counts} dropped={gone} changed={changed}")
            else:
                _audit(session, "ROSTER_IMPORT", None, counts)
    except (roster.RosterError, KeyFileError, UnicodeDecodeError, OSError) as exc:
        raise click.ClickException(str(exc)) from exc
    for entry in plan.added:
        click.echo(f"added: {entry.recipient_id} {entry.status} {entry.fingerprint}")
    for entry, what in plan.status_changed:
        click.echo(f"status: {entry.recipient_id} {entry.fingerprint} {what}")
    for entry in plan.dropped:
        click.echo(f"dropped (--replace): {entry.recipient_id} {entry.fingerprint}")
    for entry, what in plan.changed:
        click.echo(f"changed (--replace): {entry.recipient_id} {entry.fingerprint} ({what})")
    click.echo(f"pinned {len(new.entries)} keys, roster digest {new.digest}")


@roster_cli.command("show")
def roster_show_command() -> None:
    """Print the pinned roster (organization, status, fingerprint as the
    form shows it, expiry; "ours" marks this console's keys) and its digest."""
    from core.envelope.keys import group_fingerprint

    from .keys import roster

    try:
        held = roster.held_keys(data_dir())
    except KeyFileError as exc:
        raise click.ClickException(str(exc)) from exc
    with db().session() as session:
        current = roster.pinned(session)
    if current is None:
        click.echo("no roster imported: only this console's own keys are pinned")
        for key_id, recipient_id in sorted(held.items()):
            click.echo(f"{recipient_id}\tours\t{group_fingerprint(key_id)}")
        return
    for e in current.entries:
        mark = "ours" if e.key_id in held else ""
        click.echo(
            f"{e.recipient_id}\t{e.status}\t{e.fingerprint}\texpires {e.expires.isoformat()}\t"
            f"{e.name_en} / {e.name_zh}\t{mark}".rstrip()
        )
    listed = current.by_key_id()
    for key_id, recipient_id in sorted(held.items()):
        if key_id not in listed:
            # A key made since (keys generate --rotate): envelopes sealed to
            # it alarm until a roster that lists it is imported.
            click.echo(f"{recipient_id}\tNOT IN THE ROSTER\t{group_fingerprint(key_id)}\tours")
    click.echo(f"roster digest {current.digest}")


intake_cli = AppGroup("intake", help="The public intake, watched from the console.")


def check_intake_now(actor: str = "cli") -> tuple[list[str], str | None]:
    """:func:`admin.sync.watch.check_now` with the current app's settings."""
    from .sync import watch

    return watch.check_now(current_app.config, db(), data_dir(), actor=actor)


@intake_cli.command("check")
def intake_check_command() -> None:
    """Fetch the intake's public pages in every language, its key set
    (/keys.json) and every script and stylesheet they load, and compare
    them with the pinned roster and this console's copy of the release.
    Each difference raises an alarm and is printed; exits 1 if any. No
    passphrase needed. Through Tor: ADMIN_INTAKE_CHECK_PROXY."""
    differences, failure = check_intake_now()
    for line in differences:
        click.echo(f"ALARM: intake check: {line}", err=True)
    if failure is not None and not differences:
        raise click.ClickException(failure)
    if failure is not None:
        click.echo(failure, err=True)
    if differences:
        raise click.ClickException(
            f"the intake differs from the pinned roster or this release in {len(differences)} way(s); "
            "alarms raised (docs/threat-model.md, 'Seized intake')"
        )
    click.echo("intake check: the intake serves the pinned keys and this release")


alarms_cli = AppGroup("alarms", help="Alarms: what only a seized or tampered intake would do.")


@alarms_cli.command("list")
@click.option("--all", "show_all", is_flag=True, help="Also the acknowledged ones (newest 200).")
def alarms_list_command(show_all: bool) -> None:
    """List the unacknowledged alarms (id, raised, times, kind, detail).
    Exits 1 while any is open, so a timer or a monitoring script can act on
    it. A coordinator acknowledges them on the console's Alarms page."""
    from .alarms import service as alarms

    with db().session() as session:
        rows = alarms.recent_alarms(session) if show_all else alarms.open_alarms(session)
        for a in rows:
            state = "open" if a.acknowledged_at is None else f"acknowledged {a.acknowledged_at}"
            click.echo(f"{a.id}\t{a.raised_at}\t{a.count}\t{state}\t{a.kind}\t{a.detail}")
        still_open = alarms.count_open(session)
    click.echo(f"{still_open} unacknowledged", err=True)
    if still_open:
        raise click.exceptions.Exit(1)


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
