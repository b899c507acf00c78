"""What one sync may cost, whatever the intake sends (:class:`SyncLimits`),
and the running count of it (:class:`Bounds`): an envelope whose header
declares more than the envelope cap is quarantined without downloading it;
attachment bytes are counted as they arrive, before they are written, and
a sync stops at its byte cap; the range of sequence numbers the console
accepts (:func:`usable_seq`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeGuard

from core.envelope import EnvelopeError

from ..errors import SyncLimitError


@dataclass(frozen=True)
class SyncLimits:
    """What one sync may cost, whatever the intake sends.

    Attributes:
        envelope_bytes: the most one envelope may declare in its header
            (header, body and attachments, in bytes); a larger one is
            quarantined without downloading it. Never more than half of
            ``sync_bytes`` (see :attr:`envelope_cap`).
        sync_bytes: the most attachment bytes one sync writes; counted as
            they arrive, before they are written. The sync then stops
            (:class:`SyncLimitError`); what it stored is kept.
        deadline: seconds one sync may run in all (:class:`SyncDeadlineError`).
    """

    envelope_bytes: int = 256 * 1024 * 1024
    sync_bytes: int = 4 * 1024 * 1024 * 1024
    deadline: float = 1800.0

    @property
    def envelope_cap(self) -> int:
        """``envelope_bytes``, at most half of ``sync_bytes``: an envelope
        that fits is always downloaded by some sync (one that starts with
        nothing written yet), so the sync cap never stops progress."""
        return max(0, min(self.envelope_bytes, self.sync_bytes // 2))


def limits_from_config(config: Mapping[str, Any]) -> SyncLimits:
    """:class:`SyncLimits` from ``SYNC_MAX_ENVELOPE_BYTES``,
    ``SYNC_MAX_BYTES`` and ``SYNC_DEADLINE`` (defaults where unset)."""
    default = SyncLimits()
    return SyncLimits(
        envelope_bytes=int(config.get("SYNC_MAX_ENVELOPE_BYTES") or default.envelope_bytes),
        sync_bytes=int(config.get("SYNC_MAX_BYTES") or default.sync_bytes),
        deadline=float(config.get("SYNC_DEADLINE") or default.deadline),
    )


class OversizedEnvelopeError(EnvelopeError):
    """An envelope declares more bytes than this console takes in one
    envelope (``SYNC_MAX_ENVELOPE_BYTES``): quarantined, never downloaded;
    ``sync --rescan`` retries it after the setting was raised."""


class Bounds:
    """The byte caps of one sync (:class:`SyncLimits`): attachment bytes
    written so far, counted as they arrive. One sync thread uses it."""

    def __init__(self, limits: SyncLimits) -> None:
        self.limits = limits
        self.written = 0

    def admit(self, declared: int, attachments: int) -> None:
        """Before an envelope is downloaded: ``declared`` its bytes in all
        (header, body, attachments), ``attachments`` those to write.

        Raises:
            OversizedEnvelopeError: over the envelope cap (it is quarantined).
            SyncLimitError: it would pass the sync's cap; it is left for
                the next sync, which starts with nothing written.
        """
        cap = self.limits.envelope_cap
        if declared > cap:
            raise OversizedEnvelopeError(
                f"the envelope declares {declared} bytes, more than this console takes in one "
                f"envelope ({cap}, SYNC_MAX_ENVELOPE_BYTES); it was not downloaded"
            )
        if self.written + attachments > self.limits.sync_bytes:
            raise self._full()

    def take(self, count: int) -> None:
        """Count ``count`` bytes about to be written.

        Raises:
            SyncLimitError: they would pass the sync's cap.
        """
        if self.written + count > self.limits.sync_bytes:
            raise self._full()
        self.written += count

    def _full(self) -> SyncLimitError:
        return SyncLimitError(
            f"the sync wrote as much as one sync may ({self.limits.sync_bytes} bytes, SYNC_MAX_BYTES); "
            "what it stored is kept, and the next sync goes on from there"
        )


#: The largest ``seq`` an honest intake can issue, and the console store:
#: both keep it in an ``Integer`` column, 32 bits on PostgreSQL. A larger
#: one (a seized intake's) would overflow the console's database mid-commit.
MAX_SEQ = 2**31 - 1


def usable_seq(seq: object, cursor: int) -> TypeGuard[int]:
    """Whether ``seq`` (from the intake's JSON) can follow ``cursor``: an
    integer (not a bool) above it and at most :data:`MAX_SEQ`."""
    return isinstance(seq, int) and not isinstance(seq, bool) and cursor < seq <= MAX_SEQ
