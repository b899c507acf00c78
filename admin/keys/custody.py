"""Key custody: the organization's private key files, the in-memory keyring,
and the console's data key.

- Private keys live in ``DATA_DIR/private-keys/<recipient_id>-<key_id[:16]>.json``,
  each sealed under a passphrase (Argon2id + AES-256-GCM, see
  :func:`core.envelope.encrypt_private_key`).
- Unlocking decrypts them into a :class:`UnlockedKeyring` held by the process only:
  never in the session cookie, the database or a file.
- Opened content is stored under a random 32-byte *data key* (AES-256-GCM,
  NIST SP 800-38D; the fields: :mod:`.fields`) whose copies are HPKE-sealed (RFC 9180, X-Wing,
  HKDF-SHA256, AES-256-GCM) to each organization public key in
  ``data_key_wraps``. Unlocking a private key unwraps the data key into the
  keyring. So a stolen console database or blob folder is as closed as the
  envelopes themselves, post-quantum included.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hpke
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.envelope import (
    KeyFileError,
    PublicKeyFile,
    RecipientPrivateKey,
    WrongPassphraseError,
    decrypt_private_key,
    encrypt_private_key,
    parse_public_key_file,
)

from ..errors import DataKeyError, NoPrivateKeyError
from ..models import DataKeyWrap
from .fields import LABEL
from .fields import NONCE_SIZE as NONCE_SIZE  # re-exported: the field layer's home is .fields
from .fields import FieldEncryptor as FieldEncryptor
from .fields import decrypt_field as decrypt_field
from .fields import encrypt_field as encrypt_field
from .keyring import UnlockedKeyring as UnlockedKeyring  # re-exported: the keyring's home is .keyring

DATA_KEY_SIZE = 32
_SUITE = hpke.Suite(hpke.KEM.MLKEM768_X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM)
_RECIPIENT_ID = re.compile(r"[a-z0-9][a-z0-9-]{1,63}")


def private_key_dir(data_dir: Path) -> Path:
    """``DATA_DIR/private-keys``."""
    return data_dir / "private-keys"


def public_key_dir(data_dir: Path) -> Path:
    """``DATA_DIR/public-keys``: the console's copy of every public key file
    it published (``<recipient_id>-<key_id[:16]>.json``), so a key can be
    retired without the passphrase and the file shown again."""
    return data_dir / "public-keys"


# --------------------------------------------------------------------------
# Key files


@dataclass(frozen=True)
class GeneratedKey:
    """What :func:`generate_key` wrote: the public key file's path and
    content, and the private key file's path."""

    public_file: PublicKeyFile
    public_path: Path
    private_path: Path


def generate_key(
    *,
    recipient_id: str,
    name_en: str,
    name_zh: str,
    passphrase: str,
    out_dir: Path,
    data_dir: Path,
    expires_days: int = 730,
    argon2id: Mapping[str, int] | None = None,
    today: date | None = None,
    rotate: bool = False,
) -> GeneratedKey:
    """Make a new organization key pair.

    Writes the public key file to ``out_dir/<recipient_id>.json`` (for the
    intake's ``keys/``), or with ``rotate`` to
    ``out_dir/<recipient_id>-<key_id[:16]>.json`` so it can sit next to the
    key it replaces; a copy to ``data_dir/public-keys/``; and the
    passphrase-sealed private key to
    ``data_dir/private-keys/<recipient_id>-<key_id[:16]>.json`` (mode 0600).

    Raises:
        ValueError: bad recipient id, empty name or passphrase, or
            ``expires_days`` < 1.
        FileExistsError: ``out_dir/<recipient_id>.json`` exists already (move
            the old public key file away first, or pass ``rotate``; nothing is
            overwritten).
    """
    if not _RECIPIENT_ID.fullmatch(recipient_id):
        raise ValueError("the recipient id must be 2-64 characters of a-z, 0-9 and -")
    if not name_en.strip() or not name_zh.strip():
        raise ValueError("both names (English and Chinese) are required")
    if not passphrase:
        raise ValueError("the passphrase must not be empty")
    if expires_days < 1:
        raise ValueError("the key must be valid for at least one day")
    public_path = out_dir / f"{recipient_id}.json"
    if public_path.exists() and not rotate:
        raise FileExistsError(
            f"{public_path} exists already; move it away first, or pass --rotate to add a second key"
        )
    created = today or datetime.now(UTC).date()
    key = RecipientPrivateKey.generate()
    if rotate:
        public_path = out_dir / f"{recipient_id}-{key.key_id[:16]}.json"
    public_file = PublicKeyFile(
        recipient_id=recipient_id,
        name_en=name_en.strip(),
        name_zh=name_zh.strip(),
        public_key=key.public_key,
        created=created,
        expires=created + timedelta(days=expires_days),
    )
    private_path = store_private_key(
        key, passphrase, recipient_id=recipient_id, data_dir=data_dir, argon2id=argon2id
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    _write_new_file(public_path, public_file.to_json().encode("utf-8"), mode=0o644)
    _write_public_copy(data_dir, public_file)
    return GeneratedKey(public_file=public_file, public_path=public_path, private_path=private_path)


def store_private_key(
    key: RecipientPrivateKey,
    passphrase: str,
    *,
    recipient_id: str,
    data_dir: Path,
    argon2id: Mapping[str, int] | None = None,
) -> Path:
    """Seal ``key`` under ``passphrase`` and write it to
    ``data_dir/private-keys/`` (mode 0600, never overwriting). Returns the path.

    Raises:
        ValueError: empty passphrase.
        FileExistsError: a file for this key exists already.
    """
    doc = encrypt_private_key(key, passphrase, recipient_id=recipient_id, argon2id=argon2id)
    directory = private_key_dir(data_dir)
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = directory / f"{recipient_id}-{key.key_id[:16]}.json"
    _write_new_file(path, (json.dumps(doc, indent=2) + "\n").encode("ascii"), mode=0o600)
    return path


def _public_copy_path(data_dir: Path, recipient_id: str, key_id: str) -> Path:
    return public_key_dir(data_dir) / f"{recipient_id}-{key_id[:16]}.json"


def _write_public_copy(data_dir: Path, public_file: PublicKeyFile) -> Path:
    directory = public_key_dir(data_dir)
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = _public_copy_path(data_dir, public_file.recipient_id, public_file.key_id)
    _replace_file(path, public_file.to_json().encode("utf-8"), mode=0o644)
    return path


def _replace_file(path: Path, data: bytes, *, mode: int) -> None:
    # Write aside, fsync, rename: a reader sees the old file or the new one.
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _write_new_file(path: Path, data: bytes, *, mode: int) -> None:
    # O_EXCL: never overwrite a key file; the mode is set at creation, so the
    # file is never readable by others, not even for an instant.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


@dataclass(frozen=True)
class PrivateKeyFileInfo:
    """Cleartext facts of a private key file (for the keys page)."""

    path: Path
    recipient_id: str
    key_id: str

    @property
    def fingerprint(self) -> str:
        """The key id grouped in fours."""
        return " ".join(self.key_id[i : i + 4] for i in range(0, len(self.key_id), 4))


def list_private_keys(data_dir: Path) -> list[tuple[PrivateKeyFileInfo, dict[str, Any]]]:
    """Every ``*.json`` file in ``DATA_DIR/private-keys``, sorted by name,
    with its parsed document.

    Raises:
        KeyFileError: a file is not readable JSON (the message names it).
    """
    directory = private_key_dir(data_dir)
    found: list[tuple[PrivateKeyFileInfo, dict[str, Any]]] = []
    if not directory.is_dir():
        return found
    for path in sorted(directory.glob("*.json")):
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise KeyFileError(f"{path.name}: cannot be read ({exc.__class__.__name__})") from exc
        if not isinstance(doc, dict):
            raise KeyFileError(f"{path.name}: not a JSON object")
        info = PrivateKeyFileInfo(path, str(doc.get("recipient_id", "")), str(doc.get("key_id", "")))
        found.append((info, doc))
    return found


# --------------------------------------------------------------------------
# Rotation: retiring a key


@dataclass(frozen=True)
class KeyState:
    """A private key file with what the console knows of its public half:
    ``public`` is None when the console has no copy of the public key file
    (keys made before the console kept copies)."""

    info: PrivateKeyFileInfo
    public: PublicKeyFile | None

    @property
    def retired(self) -> bool:
        return self.public is not None and self.public.retired


@dataclass(frozen=True)
class RetiredKey:
    """What :func:`retire_key` wrote: the retired public key file, the
    console's copy, and the file written to ``out_dir`` (None without one)."""

    public_file: PublicKeyFile
    copy_path: Path
    out_path: Path | None


def _read_public(path: Path) -> PublicKeyFile | None:
    try:
        # Expiry is not the question here: a far past day accepts any file.
        return parse_public_key_file(path.read_text(encoding="utf-8"), path.name, date.min)
    except (OSError, UnicodeDecodeError, KeyFileError):
        return None


def key_states(data_dir: Path) -> list[KeyState]:
    """Every private key file with its public key file from
    ``DATA_DIR/public-keys`` (if the console has one).

    Raises:
        KeyFileError: a private key file is not readable JSON.
    """
    states = []
    for info, _doc in list_private_keys(data_dir):
        copy = _public_copy_path(data_dir, info.recipient_id, info.key_id)
        public = _read_public(copy) if copy.is_file() else None
        if public is not None and public.key_id != info.key_id:
            public = None  # a copy that is not this key's: ignore it
        states.append(KeyState(info, public))
    return states


def find_key(data_dir: Path, ref: str) -> PrivateKeyFileInfo:
    """The private key file whose key id starts with ``ref`` (at least 8 hex
    digits; spaces of a grouped fingerprint are ignored).

    Raises:
        ValueError: too short, not hex, no such key, or more than one.
    """
    ref = "".join(ref.split()).lower()
    if len(ref) < 8 or not all(c in "0123456789abcdef" for c in ref):
        raise ValueError("give at least the first 8 hex digits of the key id (its fingerprint)")
    found = [info for info, _doc in list_private_keys(data_dir) if info.key_id.startswith(ref)]
    if not found:
        raise ValueError("no private key with that id in DATA_DIR/private-keys")
    if len(found) > 1:
        raise ValueError("more than one key starts with that id; give more digits")
    return found[0]


def retire_key(data_dir: Path, ref: str, *, out_dir: Path | None = None, force: bool = False) -> RetiredKey:
    """Mark a key retired: its public key file gets ``"retired": true``, in
    the console's copy and, given ``out_dir``, in a file there for the
    intake's ``keys/`` (the same name as the key's file already there, else
    ``<recipient_id>-<key_id[:16]>.json``). The intake then offers the key
    to no reporter; the private key stays, so envelopes sealed to it still
    open.

    Without a console copy (keys made before copies were kept), the public
    key file is looked for in ``out_dir`` by its fingerprint.

    Raises:
        ValueError: see :func:`find_key`; no public key file found; or the
            organization would be left without an active key (generate the
            new key first; ``force`` skips this check).
    """
    info = find_key(data_dir, ref)
    states = key_states(data_dir)
    public = next((s.public for s in states if s.info.key_id == info.key_id), None)
    existing = _find_public_in(out_dir, info.key_id) if out_dir is not None else None
    if public is None and existing is not None:
        public = _read_public(existing)
    if public is None:
        raise ValueError(
            "the console has no copy of this key's public key file; pass --out with the folder "
            "that holds it (e.g. a copy of the intake's keys/)"
        )
    others = [
        s
        for s in states
        if s.info.recipient_id == info.recipient_id and s.info.key_id != info.key_id and not s.retired
    ]
    if not others and not force:
        raise ValueError(
            f"{info.recipient_id} would have no active key left; generate the new key first "
            "(flask --app admin keys generate --rotate)"
        )
    retired = dataclasses.replace(public, retired=True)
    copy_path = _write_public_copy(data_dir, retired)
    out_path: Path | None = None
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        out_path = existing or out_dir / f"{info.recipient_id}-{info.key_id[:16]}.json"
        _replace_file(out_path, retired.to_json().encode("utf-8"), mode=0o644)
    return RetiredKey(public_file=retired, copy_path=copy_path, out_path=out_path)


def _find_public_in(directory: Path, key_id: str) -> Path | None:
    if not directory.is_dir():
        return None
    for path in sorted(directory.glob("*.json")):
        public = _read_public(path)
        if public is not None and public.key_id == key_id:
            return path
    return None


def public_key_file_text(data_dir: Path, key_id: str) -> str | None:
    """The console's copy of a key's public key file, as text, or None."""
    for state in key_states(data_dir):
        if state.info.key_id == key_id and state.public is not None:
            return state.public.to_json()
    return None


# --------------------------------------------------------------------------
# Unlocking


def unlock(keyring: UnlockedKeyring, session: Session, data_dir: Path, passphrase: str) -> list[str]:
    """Open every private key file that ``passphrase`` opens, then open (or,
    on first use, create) the data key, and load both into ``keyring``.

    The caller commits ``session``: a new data key, or a copy wrapped to a
    newly unlocked key, is added to it.

    Returns:
        The key ids now unlocked.

    Raises:
        NoPrivateKeyError: no private key file.
        WrongPassphraseError: the passphrase opens no key file.
        KeyFileError: a key file is malformed.
        DataKeyError: the data key exists but is wrapped to none of the
            unlocked keys, or does not open.
    """
    files = list_private_keys(data_dir)
    if not files:
        raise NoPrivateKeyError(
            "no private key in DATA_DIR/private-keys; create one with 'flask --app admin keys generate'"
        )
    opened: list[RecipientPrivateKey] = []
    for info, doc in files:
        try:
            opened.append(decrypt_private_key(doc, passphrase, info.path.name))
        except WrongPassphraseError:
            continue
    if not opened:
        raise WrongPassphraseError("the passphrase does not open the organization key")
    data_key = _open_data_key(session, opened)
    keyring.load(opened, data_key)
    return sorted(k.key_id for k in opened)


def _wrap_info(key_id: str) -> bytes:
    return LABEL + b"data-key\x00" + key_id.encode("ascii")


def _open_data_key(session: Session, keys: list[RecipientPrivateKey]) -> bytes:
    wraps = {w.key_id: w for w in session.scalars(select(DataKeyWrap))}
    if not wraps:
        # First unlock of this console: the data key is born here.
        data_key = secrets.token_bytes(DATA_KEY_SIZE)
    else:
        data_key_or_none: bytes | None = None
        for key in keys:
            wrap = wraps.get(key.key_id)
            if wrap is None:
                continue
            try:
                data_key_or_none = _SUITE.decrypt(wrap.wrapped, key.hpke_key, info=_wrap_info(key.key_id))
            except (InvalidTag, ValueError) as exc:
                raise DataKeyError("the data key does not open with this key; its copy is damaged") from exc
            break
        if data_key_or_none is None or len(data_key_or_none) != DATA_KEY_SIZE:
            raise DataKeyError(
                "the console's data key is sealed to other keys; unlock with a passphrase of one of them"
            )
        data_key = data_key_or_none
    for key in keys:
        if key.key_id not in wraps:
            wrapped = _SUITE.encrypt(data_key, key.public_key.hpke_key, info=_wrap_info(key.key_id))
            session.add(DataKeyWrap(key_id=key.key_id, wrapped=wrapped))
    return data_key
