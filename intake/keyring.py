"""The recipients the intake seals to: every public key file in ``keys/``,
loaded once at start."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

from flask import current_app

from core.envelope import PublicKeyFile, RecipientPublicKey, load_key_directory


@dataclass(frozen=True)
class PublicKeyring:
    """The recipients' public key files the intake loaded (the form seals
    to their active keys). Not the console's ``admin.keys.custody.UnlockedKeyring``,
    which holds private keys.

    Raises (from :meth:`load`):
        KeyFileError: no key, or a malformed or expired file (named).
    """

    files: tuple[PublicKeyFile, ...]

    @classmethod
    def load(cls, directory: Path, today: date) -> PublicKeyring:
        """Load and check every ``*.json`` in ``directory``."""
        return cls(tuple(load_key_directory(directory, today)))

    @property
    def active(self) -> tuple[PublicKeyFile, ...]:
        """Keys offered to reporters (not retired)."""
        return tuple(k for k in self.files if not k.retired)

    @property
    def recipient_ids(self) -> tuple[str, ...]:
        """Distinct recipient ids, in file order."""
        return tuple(dict.fromkeys(k.recipient_id for k in self.files))

    def recipient_of_key(self) -> dict[str, str]:
        """Key id → recipient id, for every loaded key."""
        return {k.key_id: k.recipient_id for k in self.files}

    def seal_targets(self) -> list[RecipientPublicKey]:
        """The public keys a new report is sealed to: every active key."""
        return [k.public_key for k in self.active]


def current_keyring() -> PublicKeyring:
    """The running app's keyring."""
    keyring: PublicKeyring = current_app.extensions["intake.keyring"]
    return keyring
