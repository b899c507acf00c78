"""The conversation keys of the reports a sync meets (envelope format v2):
a report's auth key is sealed for storage, a follow-up's proof is checked
under its report's key before it is filed (:class:`Conversations`)."""

from __future__ import annotations

from sqlalchemy import select

from core.db import Database
from core.envelope import MalformedEnvelopeError
from core.envelope.conversation import followup_proof, verify

from ..keys.custody import FieldEncryptor, decrypt_field
from ..models import Case
from .opening import CaseRow, ForgedFollowupError


class Conversations:
    """The conversation keys of the reports this console holds (envelope
    format v2, core/envelope/conversation.py), for checking follow-ups
    while a sync opens them.

    A report's auth key is read from its case (sealed under the data key)
    or from this sync's own earlier rows, and kept for the sync only."""

    def __init__(self, db: Database, data_key: bytes, encryptor: FieldEncryptor) -> None:
        self._db = db
        self._data_key = data_key
        self._encryptor = encryptor
        # envelope id -> auth key (v2), None (a v1 report), absent: unknown.
        self._keys: dict[str, bytes | None] = {}

    def _key_of(self, envelope_id: str) -> tuple[bool, bytes | None]:
        if envelope_id in self._keys:
            return True, self._keys[envelope_id]
        with self._db.session() as session:
            found = session.execute(
                select(Case.id, Case.auth_key_ct).where(Case.envelope_id == envelope_id)
            ).first()
        if found is None:
            return False, None
        key = (
            decrypt_field(self._data_key, envelope_id, "auth-key", found[1]) if found[1] is not None else None
        )
        self._keys[envelope_id] = key
        return True, key

    def check(self, row: CaseRow) -> None:
        """Check one opened envelope's place in its conversation, and fill
        its columns: a v2 report's auth key is sealed for storage; a
        follow-up of a v2 report must carry a proof that verifies under
        that report's key (``followup_verified``). A follow-up of an older
        (v1) report, or of a report this console does not hold, has nothing
        to be checked against: it is stored unverified and the case page
        says "not authenticated (older report)".

        Raises:
            ForgedFollowupError: a follow-up of a v2 report without a valid
                proof, or a report that carries a proof instead of a key.
            MalformedEnvelopeError: a follow-up that carries a key.
        """
        auth = row.auth
        row.auth = None
        if row.follows is None:
            if auth is not None and "key" not in auth:
                raise ForgedFollowupError("a report carries a proof instead of its conversation key")
            key = auth.get("key") if auth is not None else None
            if key is not None:
                row.auth_key_ct = self._encryptor.encrypt(row.envelope_id, "auth-key", key)
            self._keys[row.envelope_id] = key
            return
        if auth is not None and "proof" not in auth:
            raise MalformedEnvelopeError("a follow-up carries a key instead of a proof")
        held, key = self._key_of(row.follows)
        if not held or key is None:
            return
        proof = auth.get("proof") if auth is not None else None
        if not verify(followup_proof(key, row.follows, row.envelope_id), proof):
            raise ForgedFollowupError(
                "forged follow-up: its proof does not verify under the report's key; not filed on the case"
            )
        row.followup_verified = True
