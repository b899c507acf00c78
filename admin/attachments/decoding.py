"""The limits and the memory budget of decoding hostile files.

Decoded pixels are what cost memory (a 38 kB PNG can hold 40 megapixels,
160 MB once decoded): every decode first reserves its cost from a
:class:`DecodeBudget` shared by the process, and waits or is refused
rather than run the process out of memory (which would also drop the
unlocked organization key). Also the errors a decode ends with and the
redacted copy it makes (:class:`RedactedCopy`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

MAX_IMAGE_BYTES = 40 * 1024 * 1024


#: Longest side of the preview shown on the page.
PREVIEW_SIDE = 1600


class UnsafeImageError(ValueError):
    """Not an image this console will decode (type, size or pixel count)."""


class ImageTooLargeError(UnsafeImageError):
    """Decoding this image alone would cost more memory than the console's
    whole decode budget (``IMAGE_MEMORY_BUDGET``)."""


class DecoderBusyError(UnsafeImageError):
    """Other requests hold the decode budget for longer than a request
    waits (``IMAGE_DECODE_WAIT``); trying again later may work."""


class DecodeBudget:
    """The memory that decoded images may take in this process at once, and
    how many decodes may run at once: a weighted semaphore. Each decode
    reserves its estimated cost in bytes (:func:`decode_cost`) before it
    decodes and gives it back when its result is encoded.

    One per console process (a gunicorn worker has its own): the budget
    bounds what concurrent previews add to the process's memory, whatever
    the images and however many reviewers click at once.

    Args:
        limit: bytes of decoded pixels (and their copies) held at once.
        decodes: decodes running at once (each also takes a core).
        wait: seconds a decode waits for room before it is refused.
    """

    def __init__(self, limit: int, decodes: int = 2, wait: float = 30.0) -> None:
        self.limit = int(limit)
        self.decodes = max(1, int(decodes))
        self.wait = float(wait)
        self._used = 0
        self._running = 0
        self._cond = threading.Condition()

    @classmethod
    def from_config(cls, config: Any) -> DecodeBudget:
        """From ``IMAGE_MEMORY_BUDGET`` (MiB), ``IMAGE_DECODES`` and
        ``IMAGE_DECODE_WAIT`` (seconds) of the console's settings."""
        return cls(
            limit=int(config.get("IMAGE_MEMORY_BUDGET") or DEFAULT_BUDGET_MIB) * 1024 * 1024,
            decodes=int(config.get("IMAGE_DECODES") or 2),
            wait=float(config.get("IMAGE_DECODE_WAIT") or 30),
        )

    @contextmanager
    def reserve(self, cost: int) -> Iterator[None]:
        """Hold ``cost`` bytes of the budget and one decode slot for the
        ``with`` block.

        Raises:
            ImageTooLargeError: ``cost`` exceeds the whole budget.
            DecoderBusyError: no room came within :attr:`wait` seconds.
        """
        if cost > self.limit:
            raise ImageTooLargeError(
                "the image would take more memory to decode than the console allows "
                f"({cost // 2**20} MiB of {self.limit // 2**20} MiB)"
            )
        deadline = time.monotonic() + self.wait
        with self._cond:
            while self._running >= self.decodes or self._used + cost > self.limit:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise DecoderBusyError("the console is busy decoding other large images")
                self._cond.wait(left)
            self._used += cost
            self._running += 1
        try:
            yield
        finally:
            with self._cond:
                self._used -= cost
                self._running -= 1
                self._cond.notify_all()

    @property
    def in_use(self) -> int:
        """Bytes reserved now (for tests and the bench)."""
        with self._cond:
            return self._used


#: Default decode budget, MiB: one 40-megapixel image decoded at full size
#: (160 MB of pixels, a converted copy and its encoded output) fits; four
#: at once do not, so they take turns (see bench/attachments.py).
DEFAULT_BUDGET_MIB = 384

#: The budget of code that runs outside a console request (CLI, tests);
#: the console's views use one made from the app's settings.
default_budget = DecodeBudget(DEFAULT_BUDGET_MIB * 1024 * 1024)


def _bytes_per_pixel(mode: str) -> int:
    """What Pillow holds per pixel of ``mode`` in memory: one byte for
    bilevel, grey and palette images, two for 16-bit grey, four for the
    rest (RGB is stored as 32-bit pixels)."""
    if mode in ("1", "L", "P"):
        return 1
    if mode.startswith("I;16"):
        return 2
    return 4


def decode_cost(
    width: int,
    height: int,
    mode: str,
    image_format: str,
    *,
    out_format: str | None,
    full: bool,
    turns: bool = False,
) -> int:
    """Bytes a decode of a ``width`` x ``height`` ``mode`` image costs here,
    at most (an upper bound, checked against measured peaks in
    bench/attachments.py): its decoded pixels; libheif's own planes for
    HEIF; the converted and turned copies :func:`_render` makes; the encoded
    output at its worst (noise does not compress).

    A preview converts at full size only a mode that cannot be reduced
    (palette, bilevel, 16-bit); otherwise it is reduced first and what it
    adds is small. ``out_format`` None: decoded only (inspect).
    """
    pixels = width * height
    size_in = _bytes_per_pixel(mode)
    size_out = 1 if mode == "L" else 4
    cost = pixels * size_in
    if image_format == "HEIF":
        cost += pixels * 4
    small = PREVIEW_SIDE * PREVIEW_SIDE * 4
    if not full:
        if mode not in _REDUCIBLE:
            cost += pixels * size_out
        return cost + small * 3
    if mode not in ("L", "RGB", "RGBA"):
        cost += pixels * size_out
    if turns:
        cost += pixels * size_out
    if out_format == "JPEG":
        cost += pixels * (1 if mode == "L" else 3) // 2
    elif out_format == "PNG":
        cost += pixels * size_out
    return cost


@contextmanager
def decoding(what: str) -> Iterator[None]:
    """Run Pillow on hostile bytes: any exception it raises becomes
    :class:`UnsafeImageError` (``what`` says why). Its decoders raise far
    more than OSError and ValueError on a damaged file: SyntaxError
    ("not a TIFF file" from a WebP's EXIF), struct.error, IndexError,
    EOFError, ZeroDivisionError … and each must end as "no preview", never
    as a server error."""
    try:
        yield
    except UnsafeImageError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise UnsafeImageError(what) from exc


#: Modes Image.reduce works on.
_REDUCIBLE = ("L", "LA", "RGB", "RGBA", "I", "F", "CMYK")


@dataclass(frozen=True)
class RedactedCopy:
    """A redacted file: its bytes, the file name extension and media type."""

    data: bytes
    extension: str
    media_type: str
