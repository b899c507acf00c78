"""WebAuthn security keys and passkeys (py_webauthn, W3C WebAuthn Level 2).

Why this is the default second factor: the browser binds every assertion to
the relying party id and the page's origin, so a look-alike phishing site or
a relay proxy gets nothing it can replay, unlike a TOTP code.

Challenges are random 32 bytes, kept in the signed session cookie only
until the answer comes back, then dropped (one use).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flask import current_app, request
from sqlalchemy import select
from sqlalchemy.orm import Session
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers.exceptions import InvalidAuthenticationResponse, InvalidRegistrationResponse
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from ..models import User, WebAuthnCredential


class PasskeyError(ValueError):
    """A WebAuthn answer does not verify (wrong origin or RP id, replayed
    challenge, unknown credential, bad signature, counter went back)."""


class ClonedKeyError(PasskeyError):
    """A security key's answer carries a valid signature but a signature
    counter that did not move forward (WebAuthn Level 2, 7.2 step 21): two
    devices hold the key's secret, a sign that it was copied (cloned).
    Not a mistyped code or a phishing page: the key's own secret signed.

    Attributes:
        key: the stored credential (its id and name identify it).
        stored: the counter the console had stored.
        received: the counter the answer carried.
    """

    def __init__(self, key: WebAuthnCredential, stored: int, received: int) -> None:
        super().__init__(f"signature counter {received} did not move past {stored}")
        self.key = key
        self.stored = stored
        self.received = received


@dataclass(frozen=True)
class RelyingParty:
    """The console as a WebAuthn relying party."""

    id: str
    name: str
    origin: str


def relying_party() -> RelyingParty:
    """From ``WEBAUTHN_RP_ID`` / ``WEBAUTHN_ORIGIN`` or, when unset, from the
    request's host: only with ``DEVELOPMENT`` or ``TESTING``, since the
    ``Host`` header is whatever the client sends (a production start without
    both settings is refused, :func:`admin.config.check_production`)."""
    cfg = current_app.config
    if not (cfg.get("WEBAUTHN_RP_ID") and cfg.get("WEBAUTHN_ORIGIN")) and not (
        cfg.get("DEVELOPMENT") or cfg.get("TESTING")
    ):
        raise RuntimeError("WEBAUTHN_RP_ID and WEBAUTHN_ORIGIN must be set in production")
    rp_id = cfg.get("WEBAUTHN_RP_ID") or (request.host.rsplit(":", 1)[0] if request.host else "localhost")
    origin = cfg.get("WEBAUTHN_ORIGIN") or request.host_url.rstrip("/")
    return RelyingParty(id=str(rp_id), name=str(cfg.get("WEBAUTHN_RP_NAME", "console")), origin=str(origin))


def credentials_of(db: Session, user: User) -> list[WebAuthnCredential]:
    """The account's registered keys, oldest first."""
    return list(
        db.scalars(
            select(WebAuthnCredential)
            .where(WebAuthnCredential.user_id == user.id)
            .order_by(WebAuthnCredential.id)
        )
    )


def registration_options(db: Session, user: User, rp: RelyingParty) -> tuple[str, bytes]:
    """Options for ``navigator.credentials.create`` (JSON) and the challenge."""
    options = generate_registration_options(
        rp_id=rp.id,
        rp_name=rp.name,
        user_name=user.email,
        user_id=f"tnr-console-user-{user.id}".encode("ascii"),
        user_display_name=user.email,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.PREFERRED,
            user_verification=UserVerificationRequirement.PREFERRED,
        ),
        exclude_credentials=[
            PublicKeyCredentialDescriptor(id=c.credential_id) for c in credentials_of(db, user)
        ],
    )
    return options_to_json(options), options.challenge


def register(
    db: Session, user: User, credential: dict[str, Any] | str, challenge: bytes, rp: RelyingParty, name: str
) -> WebAuthnCredential:
    """Verify a ``create()`` answer and store the key. The caller commits.

    Raises:
        PasskeyError: it does not verify, or the key is registered already.
    """
    try:
        verified = verify_registration_response(
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=rp.id,
            expected_origin=rp.origin,
        )
    except (InvalidRegistrationResponse, ValueError, KeyError, TypeError) as exc:
        raise PasskeyError(f"the security key's answer does not verify ({exc.__class__.__name__})") from exc
    if db.scalar(
        select(WebAuthnCredential.id).where(WebAuthnCredential.credential_id == verified.credential_id)
    ):
        raise PasskeyError("this security key is registered already")
    row = WebAuthnCredential(
        user_id=user.id,
        credential_id=verified.credential_id,
        public_key=verified.credential_public_key,
        sign_count=verified.sign_count,
        name=(name.strip() or "security key")[:64],
        created_day=datetime.now(UTC).date(),
    )
    db.add(row)
    return row


def authentication_options(db: Session, user: User, rp: RelyingParty) -> tuple[str, bytes]:
    """Options for ``navigator.credentials.get`` limited to the account's
    keys (JSON), and the challenge."""
    options = generate_authentication_options(
        rp_id=rp.id,
        allow_credentials=[
            PublicKeyCredentialDescriptor(id=c.credential_id) for c in credentials_of(db, user)
        ],
        user_verification=UserVerificationRequirement.PREFERRED,
    )
    return options_to_json(options), options.challenge


def authenticate(
    db: Session, user: User, credential: dict[str, Any] | str, challenge: bytes, rp: RelyingParty
) -> WebAuthnCredential:
    """Verify a ``get()`` answer from one of ``user``'s keys; updates the
    signature counter. The caller commits.

    Raises:
        ClonedKeyError: the signature holds but the counter went back or
            stood still (the caller audits it and raises an alarm).
        PasskeyError: unknown key, or the answer does not verify.
    """
    try:
        raw_id = _raw_id(credential)
    except (ValueError, KeyError, TypeError) as exc:
        raise PasskeyError("the answer names no key") from exc
    stored = next((c for c in credentials_of(db, user) if c.credential_id == raw_id), None)
    if stored is None:
        raise PasskeyError("this security key is not registered to this account")
    try:
        verified = verify_authentication_response(
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=rp.id,
            expected_origin=rp.origin,
            credential_public_key=stored.public_key,
            # The counter is checked below, after the signature: py_webauthn
            # reports a counter that went back as just another invalid
            # answer, and that one must be told apart (a copied key).
            credential_current_sign_count=0,
        )
    except (InvalidAuthenticationResponse, ValueError, KeyError, TypeError) as exc:
        raise PasskeyError(f"the security key's answer does not verify ({exc.__class__.__name__})") from exc
    received = int(verified.new_sign_count)
    # Keys without a counter send 0 every time; a counter that is in use
    # (either side non-zero) must grow with every answer.
    if (received > 0 or stored.sign_count > 0) and received <= stored.sign_count:
        raise ClonedKeyError(stored, int(stored.sign_count), received)
    stored.sign_count = received
    return stored


def _raw_id(credential: dict[str, Any] | str) -> bytes:
    import json

    from webauthn.helpers import base64url_to_bytes

    doc = json.loads(credential) if isinstance(credential, str) else credential
    return base64url_to_bytes(str(doc["rawId"]))
