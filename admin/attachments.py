"""Safe looks at untrusted images: metadata read out, pixels re-encoded.

An attachment came from anyone; it may be built to attack the reviewer's
browser or to carry the reporter's location without their knowing. So the
console never shows an original: an image is decoded by Pillow, its
metadata (GPS position, device, time) listed for the reviewer to see what
it gives away, and only a fresh PNG of its pixels, with no metadata at all,
is shown. Other types are downloaded only, never rendered (see
``admin/case/views.py``).

Pillow's decoders still parse the hostile bytes in this process; the size
and pixel limits below bound the work, not the decoders' bugs.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from PIL import ExifTags, Image, ImageOps

#: Formats Pillow may decode here (no SVG, no PDF, no EPS: never parsed).
IMAGE_FORMATS = ("JPEG", "PNG", "GIF", "WEBP", "BMP", "TIFF")
MAX_IMAGE_BYTES = 40 * 1024 * 1024
MAX_PIXELS = 40_000_000
#: Longest side of the preview shown on the page.
PREVIEW_SIDE = 1600


class UnsafeImageError(ValueError):
    """Not an image this console will decode (type, size or pixel count)."""


@dataclass(frozen=True)
class ImageFacts:
    """What the image carries besides its pixels, as text for display."""

    format: str
    width: int
    height: int
    gps: str | None = None
    device: str | None = None
    taken: str | None = None
    software: str | None = None
    #: Whom the file names: EXIF Artist, XPAuthor, Copyright, the camera
    #: owner's name (EXIF 2.3 CameraOwnerName), joined.
    owner: str | None = None
    other: dict[str, str] = field(default_factory=dict)

    @property
    def reveals(self) -> list[str]:
        """Which identifying facts are present (for a warning)."""
        return [
            name
            for name, value in (
                ("GPS", self.gps),
                ("device", self.device),
                ("time", self.taken),
                ("owner", self.owner),
            )
            if value
        ]


@contextmanager
def _decoding(what: str) -> Iterator[None]:
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


def _open(data: bytes) -> Image.Image:
    if len(data) > MAX_IMAGE_BYTES:
        raise UnsafeImageError("the image is too large to preview")
    with _decoding("not an image this console previews"):
        image = Image.open(io.BytesIO(data), formats=list(IMAGE_FORMATS))
    if image.width * image.height > MAX_PIXELS:
        raise UnsafeImageError("the image has too many pixels to preview")
    return image


def _ratio(value: Any) -> float:
    return float(value[0]) / float(value[1]) if isinstance(value, tuple) else float(value)


def _gps(exif: Image.Exif) -> str | None:
    info = exif.get_ifd(ExifTags.IFD.GPSInfo)
    if not info:
        return None
    try:
        lat = sum(_ratio(v) / 60**i for i, v in enumerate(info[ExifTags.GPS.GPSLatitude]))
        lon = sum(_ratio(v) / 60**i for i, v in enumerate(info[ExifTags.GPS.GPSLongitude]))
    except (KeyError, TypeError, ValueError, ZeroDivisionError):
        return "present (unreadable)"
    if info.get(ExifTags.GPS.GPSLatitudeRef) == "S":
        lat = -lat
    if info.get(ExifTags.GPS.GPSLongitudeRef) == "W":
        lon = -lon
    return f"{lat:.5f}, {lon:.5f}"


def inspect_image(data: bytes) -> ImageFacts:
    """Read an image's size and metadata without showing it. The pixels
    are decoded too (and dropped), so an image that cannot be previewed or
    redacted is found here, before either is offered.

    Raises:
        UnsafeImageError: not a previewable image.
    """
    with _open(data) as image, _decoding("the image cannot be decoded"):
        image.load()
        # As the preview and the redacted copy will: orientation from EXIF
        # (a damaged orientation entry fails here, not on those pages).
        ImageOps.exif_transpose(image).close()
        exif = image.getexif()
        base = {ExifTags.TAGS.get(k, str(k)): v for k, v in exif.items()}
        sub = {ExifTags.TAGS.get(k, str(k)): v for k, v in exif.get_ifd(ExifTags.IFD.Exif).items()}
        device = " ".join(str(base[k]).strip("\x00 ") for k in ("Make", "Model") if k in base) or None
        taken = sub.get("DateTimeOriginal") or base.get("DateTime")
        names = [_exif_text(v) for v in (base.get(k) for k in _OWNER_TAGS) if v]
        names += [_exif_text(sub["CameraOwnerName"])] if sub.get("CameraOwnerName") else []
        owner = "; ".join(dict.fromkeys(n for n in names if n))[:300] or None
        other = {
            str(k): str(v)[:200]
            for k, v in (image.info or {}).items()
            if k in ("comment", "Comment", "Author", "Description", "Software", "Title") and v
        }
        return ImageFacts(
            format=str(image.format),
            width=image.width,
            height=image.height,
            gps=_gps(exif),
            device=device,
            taken=str(taken).strip("\x00 ") if taken else None,
            software=str(base["Software"]).strip("\x00 ") if "Software" in base else None,
            owner=owner,
            other=other,
        )


#: EXIF tags of IFD0 that name a person.
_OWNER_TAGS = ("Artist", "XPAuthor", "Copyright")


def _exif_text(value: Any) -> str:
    """An EXIF text value as str: ASCII fields arrive as str, Windows XP
    fields (XPAuthor) as UTF-16LE bytes."""
    if isinstance(value, bytes):
        return value.decode("utf-16-le", errors="replace").strip("\x00 ")
    return str(value).strip("\x00 ")


#: Pages of a PDF looked at for XMP metadata on the inspect page.
MAX_PAGES_LOOKED_AT = 1000


@dataclass(frozen=True)
class PdfFacts:
    """What a PDF carries besides its pages, as text for display: its page
    count, its document information (``/Info``: author, creator, producer,
    title, dates …) and whether the catalog or a page has XMP metadata
    (its content is not parsed here; the redacted copy drops XMP wherever
    it hangs)."""

    pages: int
    info: dict[str, str] = field(default_factory=dict)
    xmp: bool = False

    @property
    def reveals(self) -> list[str]:
        """The entries that can name a person or a machine (for a warning)."""
        named = [
            k for k in ("Author", "Creator", "Producer", "Title", "Subject", "Keywords") if self.info.get(k)
        ]
        return named + (["XMP"] if self.xmp else [])


def inspect_pdf(data: bytes) -> PdfFacts:
    """Read a PDF's metadata without rendering it (qpdf, through pikepdf,
    parses the hostile bytes in this process, bounded by the size limit).

    Raises:
        UnsafePdfError: too large, encrypted, or not readable as a PDF.
    """
    with _pdf(data, "inspect") as pdf:
        # Values are text strings (names, dates); anything else shows as
        # pikepdf prints it, cut short.
        info = {str(key).lstrip("/")[:100]: str(value)[:300] for key, value in list(pdf.docinfo.items())[:50]}
        # XMP on the catalog or a page (where readers look); walking every
        # object of a large hostile PDF would take seconds per click, and
        # the redacted copy drops XMP wherever it hangs.
        xmp = "/Metadata" in pdf.Root or any(
            "/Metadata" in page.obj for page in pdf.pages[:MAX_PAGES_LOOKED_AT]
        )
        return PdfFacts(pages=len(pdf.pages), info=info, xmp=xmp)


def reencode_image(data: bytes, *, max_side: int | None = PREVIEW_SIDE) -> bytes:
    """A new PNG of the image's pixels only (EXIF orientation applied, then
    every piece of metadata dropped), shrunk to ``max_side`` if given.

    Raises:
        UnsafeImageError: not a previewable image.
    """
    with _open(data) as image, _decoding("the image cannot be decoded"):
        image.seek(0)  # first frame of an animation
        upright = ImageOps.exif_transpose(image)
        mode = "RGBA" if "A" in upright.getbands() or "transparency" in upright.info else "RGB"
        pixels = upright.convert(mode)
    if max_side:
        pixels.thumbnail((max_side, max_side))
    # A fresh image from the raw pixels: no info, no EXIF, no ICC, no text chunks.
    clean = Image.frombytes(pixels.mode, pixels.size, pixels.tobytes())
    out = io.BytesIO()
    clean.save(out, format="PNG", optimize=False)
    return out.getvalue()


# --------------------------------------------------------------------------
# Redacted copies (issue 5): what a reviewer may pass on (to a lawyer, the
# police) without the reporter's location, device or name in the metadata.
# Only metadata goes: what the pixels or the pages show is left as it is.


@dataclass(frozen=True)
class RedactedCopy:
    """A redacted file: its bytes, the file name extension and media type."""

    data: bytes
    extension: str
    media_type: str


def is_pdf(data: bytes) -> bool:
    """Whether ``data`` is a PDF by its bytes (``%PDF-`` within the first
    1024 bytes, where readers look for it), whatever type the reporter's
    device claimed."""
    return b"%PDF-" in data[:1024]


def redactable(data: bytes) -> str | None:
    """``"image"``, ``"pdf"`` or None: which redacted copy is offered. An
    image first: a file that is both (a polyglot with ``%PDF-`` in its
    first kilobyte) is re-encoded from its pixels, which leaves no PDF."""
    try:
        with _open(data):
            return "image"
    except UnsafeImageError:
        return "pdf" if is_pdf(data) else None


def redact_image(data: bytes) -> RedactedCopy:
    """The image's pixels at full size in a new file: a JPEG stays a JPEG
    (quality 92), anything else becomes a PNG. EXIF (GPS, device, owner),
    XMP, IPTC, ICC profile, comments and text chunks are all dropped, because
    the new image is built from raw pixels (see :func:`reencode_image`);
    orientation is applied first so the picture still stands upright.

    Raises:
        UnsafeImageError: not an image this console decodes.
    """
    with _open(data) as image:
        source_format = image.format
    if source_format != "JPEG":
        return RedactedCopy(reencode_image(data, max_side=None), "png", "image/png")
    with _open(data) as image, _decoding("the image cannot be decoded"):
        upright = ImageOps.exif_transpose(image).convert("RGB")
    clean = Image.frombytes("RGB", upright.size, upright.tobytes())
    out = io.BytesIO()
    clean.save(out, format="JPEG", quality=92)
    return RedactedCopy(out.getvalue(), "jpg", "image/jpeg")


class UnsafePdfError(ValueError):
    """Not a PDF this console will rewrite (damaged, encrypted, too large)."""


def redact_pdf(data: bytes) -> RedactedCopy:
    """The PDF with its document information (author, title, creator,
    producer, dates) and every XMP metadata stream removed, pages kept,
    written as a new file (earlier revisions, which keep old metadata in an
    incrementally updated PDF, are not carried over) with a file identifier
    derived from the new content, not the original's.

    qpdf (through pikepdf) parses the hostile bytes in this process, like
    Pillow for images; the size limit bounds the work.

    Raises:
        UnsafePdfError: too large, encrypted, or not readable as a PDF.
    """
    import pikepdf

    with _pdf(data, "rewrite") as pdf:
        if "/Info" in pdf.trailer:
            del pdf.trailer["/Info"]
        for obj in pdf.objects:
            # XMP can hang off the catalog, any page, image or font.
            if isinstance(obj, pikepdf.Dictionary | pikepdf.Stream):
                for key in ("/Metadata", "/PieceInfo"):
                    if key in obj:
                        del obj[key]
        out = io.BytesIO()
        pdf.save(out, deterministic_id=True, fix_metadata_version=False)
    return RedactedCopy(out.getvalue(), "pdf", "application/pdf")


@contextmanager
def _pdf(data: bytes, doing: str) -> Iterator[Any]:
    """A hostile PDF opened with pikepdf (qpdf) for ``doing`` (a verb for
    the message), within the size limit; any error qpdf raises on it, also
    while it is used, becomes :class:`UnsafePdfError`."""
    import pikepdf

    if len(data) > MAX_IMAGE_BYTES:
        raise UnsafePdfError(f"the PDF is too large to {doing}")
    try:
        with pikepdf.open(io.BytesIO(data)) as pdf:
            yield pdf
    except (pikepdf.PdfError, pikepdf.PasswordError, ValueError) as exc:
        raise UnsafePdfError("the PDF cannot be read") from exc
