"""Commands for the organization's keys and the pinned roster (``flask --app admin keys …``, ``roster …``)."""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from core.envelope import KeyFileError

from ..cliutil import audit_command, read_secret
from ..extensions import data_dir, db
from . import custody

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
        audit_command(session, "KEY_GENERATE", made.public_file.key_id[:16], f"recipient={recipient_id}")
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
        audit_command(session, "KEY_RETIRE", public.key_id[:16], f"recipient={public.recipient_id}")
    click.echo(f"retired:     {retired.public_file.fingerprint}")
    click.echo(f"console copy: {retired.copy_path}")
    if retired.out_path is not None:
        click.echo(f"public key:  {retired.out_path}  (in the intake's keys/, it replaces the old file)")
    else:
        click.echo("copy the console copy to the intake's keys/, replacing the key's old file")


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
    from . import roster

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

    from . import roster

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
                audit_command(session, "ROSTER_REPLACE", None, f"{counts} dropped={gone} changed={changed}")
            else:
                audit_command(session, "ROSTER_IMPORT", None, counts)
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

    from . import roster

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
