"""The sealed envelope format v1 (see ``format.py`` for the construction
and the modules it names for each step, and ``docs/envelope.md`` for the
specification). One implementation, imported by the intake to seal and by
the console to open."""

from .chunks import open_attachment_chunks, split_ciphertext
from .errors import (
    EnvelopeError,
    KeyFileError,
    MalformedEnvelopeError,
    NotARecipientError,
    TamperedEnvelopeError,
    WrongPassphraseError,
)
from .format import (
    AttachmentInput,
    AttachmentSlot,
    Header,
    OpenedAttachment,
    OpenedEnvelope,
    SealedEnvelope,
    padme,
    parse_header,
)
from .keys import (
    PublicKeyFile,
    RecipientPrivateKey,
    RecipientPublicKey,
    decrypt_private_key,
    encrypt_private_key,
    load_key_directory,
    parse_public_key_file,
)
from .opening import finish_attachment, open_body, open_envelope, unwrap_content_key
from .sealing import seal

__all__ = [
    "AttachmentInput",
    "AttachmentSlot",
    "EnvelopeError",
    "Header",
    "KeyFileError",
    "MalformedEnvelopeError",
    "NotARecipientError",
    "OpenedAttachment",
    "OpenedEnvelope",
    "PublicKeyFile",
    "RecipientPrivateKey",
    "RecipientPublicKey",
    "SealedEnvelope",
    "TamperedEnvelopeError",
    "WrongPassphraseError",
    "decrypt_private_key",
    "encrypt_private_key",
    "finish_attachment",
    "load_key_directory",
    "open_attachment_chunks",
    "open_body",
    "open_envelope",
    "padme",
    "parse_header",
    "parse_public_key_file",
    "seal",
    "split_ciphertext",
    "unwrap_content_key",
]
