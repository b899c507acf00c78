"""The console's database models (SQLAlchemy 2, typed), one module per
feature area, all importable from here.

Nothing a reporter wrote is stored in clear: report fields, attachment names
and types, and envelope content keys are AES-256-GCM ciphertext under the
data key (see :mod:`admin.keys.custody`). The envelope header is kept as received:
it is cleartext at the intake too (ids, day, padded sizes, recipient key ids).
"""

from .accounts import ROLES, LoginSession, Role, User, WebAuthnCredential
from .base import (
    Base,
)
from .briefing import (
    BriefingRelease,
    CodedCase,
    CodedEnvelope,
)
from .cases import (
    DISPOSITIONS,
    LINK_KINDS,
    Case,
    CaseAttachment,
    CaseCoding,
    CaseCodingCommunity,
    CaseCodingTactic,
    CaseLink,
    CaseNote,
    CaseReply,
    CaseTag,
    CaseVignette,
    Disposition,
    LinkKind,
    PurgedEnvelope,
    Quarantine,
    ReplyTemplate,
)
from .keys import (
    Alarm,
    DataKeyWrap,
    RosterKey,
)
from .operations import (
    AuditEntry,
    SyncState,
)

__all__ = [
    "Alarm",
    "AuditEntry",
    "Base",
    "BriefingRelease",
    "Case",
    "CaseAttachment",
    "CaseCoding",
    "CaseCodingCommunity",
    "CaseCodingTactic",
    "CaseLink",
    "CaseNote",
    "CaseReply",
    "CaseTag",
    "CaseVignette",
    "CodedCase",
    "CodedEnvelope",
    "DISPOSITIONS",
    "DataKeyWrap",
    "Disposition",
    "LINK_KINDS",
    "LinkKind",
    "LoginSession",
    "PurgedEnvelope",
    "Quarantine",
    "ROLES",
    "ReplyTemplate",
    "Role",
    "RosterKey",
    "SyncState",
    "User",
    "WebAuthnCredential",
]
