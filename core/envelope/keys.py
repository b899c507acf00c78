"""Recipient keys: X-Wing key pairs, public key files and passphrase-protected
private key files.

An X-Wing private key is kept as its 32-byte seed. Both this module and the
browser expand it the same way (draft-connolly-cfrg-xwing-kem, section
"Key derivation"): ``SHAKE256(seed, 96)`` gives the 64-byte ML-KEM-768 seed
(d || z, FIPS 203) and the 32-byte X25519 private key (RFC 7748). The public
key is the 1184-byte ML-KEM-768 encapsulation key followed by the 32-byte X25519
public key: 1216 bytes. Its SHA-256 is the key id and, grouped, the fingerprint
shown to reporters.

The primitives are all the ``cryptography`` package's; this module only
composes them.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hpke
from cryptography.hazmat.primitives.asymmetric import mlkem, x25519
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from . import argon2
from .errors import KeyFileError, WrongPassphraseError

SEED_SIZE = 32
MLKEM768_PUBLIC_SIZE = 1184
X25519_PUBLIC_SIZE = 32
PUBLIC_KEY_SIZE = MLKEM768_PUBLIC_SIZE + X25519_PUBLIC_SIZE  # 1216

PUBLIC_KEY_FORMAT = "tnr-intake-public-key"
PRIVATE_KEY_FORMAT = "tnr-intake-private-key"
KEY_FILE_VERSION = 1
KEM_NAME = "X-Wing"

#: Argon2id parameters for private key files: RFC 9106 section 4, second
#: recommended option (64 MiB, t=3, p=4). Stored in the file, so they can be
#: raised later without breaking old files.
DEFAULT_ARGON2ID = {"memory_kib": 65536, "iterations": 3, "lanes": 4}


def b64encode(data: bytes) -> str:
    """Standard base64 with padding, as ASCII text."""
    return base64.b64encode(data).decode("ascii")


def b64decode(text: object, what: str) -> bytes:
    """Strict standard base64 → bytes.

    Raises:
        ValueError: ``text`` is not a string of canonical base64; the message
            names ``what``.
    """
    if not isinstance(text, str):
        raise ValueError(f"{what} is not a base64 string")
    try:
        raw = text.encode("ascii")
        # No validate=True: characters outside the alphabet are dropped by
        # the decoder, and then the re-encoding below cannot equal the input.
        data = base64.b64decode(raw)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise ValueError(f"{what} is not valid base64") from exc
    if base64.b64encode(data) != raw:
        raise ValueError(f"{what} is not canonical base64")
    return data


def key_id_of(public_key: bytes) -> str:
    """Key id of a raw public key: SHA-256, 64 lowercase hex digits."""
    return hashlib.sha256(public_key).hexdigest()


def group_fingerprint(key_id: str) -> str:
    """A 64-hex-digit key id grouped in blocks of four for reading aloud:
    ``"ab12 cd34 …"`` (16 groups)."""
    return " ".join(key_id[i : i + 4] for i in range(0, len(key_id), 4))


class RecipientPublicKey:
    """A recipient's X-Wing public key (1216 raw bytes).

    Raises:
        KeyFileError: ``raw`` is not 1216 bytes or not a valid ML-KEM-768 /
            X25519 key.
    """

    __slots__ = ("_hpke", "key_id", "raw")

    def __init__(self, raw: bytes) -> None:
        if len(raw) != PUBLIC_KEY_SIZE:
            raise KeyFileError(f"public key is {len(raw)} bytes, expected {PUBLIC_KEY_SIZE}")
        try:
            self._hpke = hpke.MLKEM768X25519PublicKey(
                mlkem.MLKEM768PublicKey.from_public_bytes(raw[:MLKEM768_PUBLIC_SIZE]),
                x25519.X25519PublicKey.from_public_bytes(raw[MLKEM768_PUBLIC_SIZE:]),
            )
        except ValueError as exc:
            raise KeyFileError("public key is not a valid X-Wing key") from exc
        self.raw = bytes(raw)
        self.key_id = key_id_of(self.raw)

    @property
    def hpke_key(self) -> hpke.MLKEM768X25519PublicKey:
        """The key as the ``cryptography`` HPKE object."""
        return self._hpke

    @property
    def fingerprint(self) -> str:
        """SHA-256 of the public key, grouped for reading (see
        :func:`group_fingerprint`)."""
        return group_fingerprint(self.key_id)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RecipientPublicKey) and other.raw == self.raw

    def __hash__(self) -> int:
        return hash(self.raw)

    def __repr__(self) -> str:
        return f"RecipientPublicKey(key_id={self.key_id[:16]}…)"


class RecipientPrivateKey:
    """An X-Wing private key held as its 32-byte seed.

    The seed is expanded with SHAKE256 to 96 bytes (X-Wing draft,
    ``expandDecapsulationKey``): bytes 0–63 seed ML-KEM-768 (FIPS 203
    ``KeyGen_internal(d, z)``), bytes 64–95 are the X25519 private scalar.

    Raises:
        KeyFileError: ``seed`` is not 32 bytes.
    """

    __slots__ = ("_hpke", "public_key", "seed")

    def __init__(self, seed: bytes) -> None:
        if len(seed) != SEED_SIZE:
            raise KeyFileError(f"private key seed is {len(seed)} bytes, expected {SEED_SIZE}")
        expanded = hashlib.shake_256(seed).digest(96)
        mlkem_key = mlkem.MLKEM768PrivateKey.from_seed_bytes(expanded[:64])
        x25519_key = x25519.X25519PrivateKey.from_private_bytes(expanded[64:])
        self._hpke = hpke.MLKEM768X25519PrivateKey(mlkem_key, x25519_key)
        self.seed = bytes(seed)
        self.public_key = RecipientPublicKey(
            mlkem_key.public_key().public_bytes_raw() + x25519_key.public_key().public_bytes_raw()
        )

    @classmethod
    def generate(cls) -> RecipientPrivateKey:
        """A new key from 32 bytes of the operating system's CSPRNG."""
        return cls(secrets.token_bytes(SEED_SIZE))

    @property
    def hpke_key(self) -> hpke.MLKEM768X25519PrivateKey:
        """The key as the ``cryptography`` HPKE object."""
        return self._hpke

    @property
    def key_id(self) -> str:
        """The key id of the public half."""
        return self.public_key.key_id

    def __repr__(self) -> str:  # never show the seed
        return f"RecipientPrivateKey(key_id={self.key_id[:16]}…)"


@dataclass(frozen=True)
class PublicKeyFile:
    """A recipient's public key file in ``keys/`` (format: ``keys/README.md``).

    Attributes:
        recipient_id: the organization's stable id (``[a-z0-9-]``, 2–64 chars).
        name_en, name_zh: the organization's name in English and Chinese.
        public_key: the X-Wing public key.
        created, expires: calendar days (UTC); the key is refused after
            ``expires``.
        retired: a retired key opens old envelopes but is offered to no reporter.
    """

    recipient_id: str
    name_en: str
    name_zh: str
    public_key: RecipientPublicKey
    created: date
    expires: date
    retired: bool = False

    @property
    def key_id(self) -> str:
        """SHA-256 of the public key, 64 hex digits."""
        return self.public_key.key_id

    @property
    def fingerprint(self) -> str:
        """The key id grouped in fours."""
        return self.public_key.fingerprint

    def to_json(self) -> str:
        """The file's text: pretty JSON with a trailing newline."""
        doc = {
            "format": PUBLIC_KEY_FORMAT,
            "version": KEY_FILE_VERSION,
            "kem": KEM_NAME,
            "recipient_id": self.recipient_id,
            "name": {"en": self.name_en, "zh": self.name_zh},
            "public_key": b64encode(self.public_key.raw),
            "fingerprint": self.key_id,
            "created": self.created.isoformat(),
            "expires": self.expires.isoformat(),
            "retired": self.retired,
        }
        return json.dumps(doc, ensure_ascii=False, indent=2) + "\n"


def _valid_recipient_id(value: object) -> bool:
    return (
        isinstance(value, str)
        and 2 <= len(value) <= 64
        and all(c.isascii() and (c.islower() or c.isdigit() or c == "-") for c in value)
        and not value.startswith("-")
    )


def parse_public_key_file(text: str, source: str, today: date) -> PublicKeyFile:
    """Parse and check one public key file.

    Args:
        text: the file's content.
        source: the file name, used in error messages.
        today: the day to check expiry against.

    Raises:
        KeyFileError: malformed JSON or fields, a fingerprint that does not
            match the key, or an expired key; the message starts with
            ``source``.
    """
    try:
        doc = json.loads(text)
        if not isinstance(doc, dict):
            raise ValueError("not a JSON object")
        if doc.get("format") != PUBLIC_KEY_FORMAT or doc.get("version") != KEY_FILE_VERSION:
            raise ValueError(f"not a {PUBLIC_KEY_FORMAT} version {KEY_FILE_VERSION} file")
        if doc.get("kem") != KEM_NAME:
            raise ValueError(f"kem must be {KEM_NAME!r}")
        if "seed" in doc or "private_key" in doc:
            raise ValueError("holds private key material; keys/ is for public keys only")
        recipient_id = doc.get("recipient_id")
        if not _valid_recipient_id(recipient_id):
            raise ValueError("recipient_id must be 2-64 characters of a-z, 0-9 and -")
        names = doc.get("name")
        if not isinstance(names, dict) or not all(
            isinstance(names.get(k), str) and names.get(k) for k in ("en", "zh")
        ):
            raise ValueError("name must give non-empty 'en' and 'zh' names")
        raw = b64decode(doc.get("public_key"), "public_key")
        public_key = RecipientPublicKey(raw)
        if doc.get("fingerprint") != public_key.key_id:
            raise ValueError("fingerprint does not match the public key")
        created = date.fromisoformat(str(doc.get("created")))
        expires = date.fromisoformat(str(doc.get("expires")))
        retired = doc.get("retired", False)
        if not isinstance(retired, bool):
            raise ValueError("retired must be true or false")
    except KeyFileError as exc:
        raise KeyFileError(f"{source}: {exc}") from exc
    except (ValueError, TypeError) as exc:
        raise KeyFileError(f"{source}: {exc}") from exc
    except RecursionError as exc:  # JSON nested thousands deep
        raise KeyFileError(f"{source}: not JSON") from exc
    if expires < today:
        raise KeyFileError(f"{source}: key expired on {expires.isoformat()}")
    return PublicKeyFile(
        recipient_id=str(recipient_id),
        name_en=names["en"],
        name_zh=names["zh"],
        public_key=public_key,
        created=created,
        expires=expires,
        retired=retired,
    )


def load_key_directory(directory: str | os.PathLike[str], today: date) -> list[PublicKeyFile]:
    """Load every ``*.json`` public key file in ``directory``, sorted by name.

    Raises:
        KeyFileError: the directory is missing or holds no key file, a file is
            malformed or expired (the message names it), or two files hold the
            same key.
    """
    path = Path(directory)
    if not path.is_dir():
        raise KeyFileError(f"{path}: the keys directory does not exist")
    keys: list[PublicKeyFile] = []
    seen: dict[str, str] = {}
    for file in sorted(path.glob("*.json")):
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise KeyFileError(f"{file.name}: cannot be read ({exc.__class__.__name__})") from exc
        key = parse_public_key_file(text, file.name, today)
        if key.key_id in seen:
            raise KeyFileError(f"{file.name}: same key as {seen[key.key_id]}")
        seen[key.key_id] = file.name
        keys.append(key)
    if not keys:
        raise KeyFileError(
            f"{path}: no public key file (*.json); generate one with 'flask --app admin keys generate'"
        )
    return keys


def encrypt_private_key(
    key: RecipientPrivateKey,
    passphrase: str,
    *,
    recipient_id: str,
    argon2id: Mapping[str, int] | None = None,
) -> dict[str, Any]:
    """Seal a private key's seed under a passphrase.

    Argon2id (RFC 9106) derives a 32-byte key from the UTF-8 passphrase and a
    16-byte random salt; AES-256-GCM (NIST SP 800-38D) with a random 96-bit
    nonce encrypts the seed, with the key id and recipient id as associated
    data so a file cannot be relabelled.

    Returns:
        The JSON document to write (parameters included).

    Raises:
        ValueError: empty passphrase.
    """
    if not passphrase:
        raise ValueError("the passphrase must not be empty")
    params = dict(argon2id or DEFAULT_ARGON2ID)
    salt = secrets.token_bytes(16)
    nonce = secrets.token_bytes(12)
    wrapping_key = _argon2id(passphrase, salt, params)
    aad = _private_key_aad(recipient_id, key.key_id)
    ciphertext = AESGCM(wrapping_key).encrypt(nonce, key.seed, aad)
    return {
        "format": PRIVATE_KEY_FORMAT,
        "version": KEY_FILE_VERSION,
        "kem": KEM_NAME,
        "recipient_id": recipient_id,
        "key_id": key.key_id,
        "kdf": {"name": "argon2id", "salt": b64encode(salt), **params},
        "aead": {"name": "AES-256-GCM", "nonce": b64encode(nonce)},
        "ciphertext": b64encode(ciphertext),
    }


def decrypt_private_key(doc: Mapping[str, Any], passphrase: str, source: str) -> RecipientPrivateKey:
    """Open a private key document made by :func:`encrypt_private_key`.

    Raises:
        WrongPassphraseError: the passphrase does not open it.
        KeyFileError: the document is malformed or its key id does not match
            the seed inside; the message starts with ``source``.
    """
    try:
        if doc.get("format") != PRIVATE_KEY_FORMAT or doc.get("version") != KEY_FILE_VERSION:
            raise ValueError(f"not a {PRIVATE_KEY_FORMAT} version {KEY_FILE_VERSION} file")
        kdf = doc["kdf"]
        if kdf.get("name") != "argon2id":
            raise ValueError("kdf must be argon2id")
        params = {k: int(kdf[k]) for k in ("memory_kib", "iterations", "lanes")}
        salt = b64decode(kdf["salt"], "kdf.salt")
        nonce = b64decode(doc["aead"]["nonce"], "aead.nonce")
        ciphertext = b64decode(doc["ciphertext"], "ciphertext")
        recipient_id = str(doc["recipient_id"])
        key_id = str(doc["key_id"])
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise KeyFileError(f"{source}: malformed private key file ({exc})") from exc
    wrapping_key = _argon2id(passphrase, salt, params)
    try:
        seed = AESGCM(wrapping_key).decrypt(nonce, ciphertext, _private_key_aad(recipient_id, key_id))
    except InvalidTag as exc:
        raise WrongPassphraseError(f"{source}: wrong passphrase, or the file was edited") from exc
    key = RecipientPrivateKey(seed)
    if key.key_id != key_id:
        raise KeyFileError(f"{source}: key id does not match the key")
    return key


def _private_key_aad(recipient_id: str, key_id: str) -> bytes:
    return f"{PRIVATE_KEY_FORMAT}/v{KEY_FILE_VERSION}\x00{recipient_id}\x00{key_id}".encode()


def _argon2id(passphrase: str, salt: bytes, params: Mapping[str, int]) -> bytes:
    return argon2.derive(
        passphrase.encode("utf-8"),
        salt,
        iterations=params["iterations"],
        lanes=params["lanes"],
        memory_kib=params["memory_kib"],
    )
