"""The organizations a reporter may send to: the active recipients of the
intake's keyring, grouped by recipient, and those ticked on a posted form."""

from __future__ import annotations

from dataclasses import dataclass

from werkzeug.datastructures import MultiDict

from core.envelope import PublicKeyFile

from ..keyring import PublicKeyring


@dataclass(frozen=True)
class Organization:
    """A recipient the reporter may choose, with its active keys (each
    shown with its fingerprint; the report is sealed to all of them)."""

    recipient_id: str
    keys: tuple[PublicKeyFile, ...]

    def name(self, language_code: str) -> str:
        """The organization's name in the page's language (the key files
        carry English and Chinese names)."""
        first = self.keys[0]
        return first.name_zh if language_code.startswith("zh") else first.name_en


def organizations(keyring: PublicKeyring) -> list[Organization]:
    """Active recipients in key-file order."""
    by_recipient: dict[str, list[PublicKeyFile]] = {}
    for key in keyring.active:
        by_recipient.setdefault(key.recipient_id, []).append(key)
    return [Organization(rid, tuple(keys)) for rid, keys in by_recipient.items()]


def chosen_organizations(keyring: PublicKeyring, posted: MultiDict[str, str]) -> list[Organization]:
    """The organizations ticked on a posted form (codes that are not active
    recipients are dropped). A post without the form's ``recipients_shown``
    marker (a client that never showed the choice) gets the default: all."""
    if "recipients_shown" not in posted:
        return organizations(keyring)
    chosen = set(posted.getlist("recipients"))
    return [org for org in organizations(keyring) if org.recipient_id in chosen]
