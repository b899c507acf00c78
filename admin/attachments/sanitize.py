"""Safe looks at untrusted images and PDFs: metadata read out, pixels
re-encoded, active content removed.

An attachment came from anyone; it may be built to attack the reviewer's
browser or to carry the reporter's location without their knowing. So the
console never shows an original: an image is decoded by Pillow (HEIC/HEIF
photos through pillow-heif's libheif), what it gives away (EXIF GPS,
device, time and owner; XMP; the device an ICC profile names; PNG text
chunks and JPEG comments) listed for the reviewer to see, and only a fresh
PNG of its pixels, with no metadata at all, is shown. Other types are
downloaded only, never rendered (see ``admin/cases/views.py``).

Pillow's and libheif's decoders still parse the hostile bytes in this
process; the size and pixel limits below bound the work, not the decoders'
bugs. Decoded pixels are what cost memory (a 38 kB PNG can hold 40
megapixels, 160 MB once decoded): every decode first reserves its cost
from a :class:`DecodeBudget` shared by the process, and waits or is
refused rather than run the process out of memory (which would also
drop the unlocked organization key).
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import pillow_heif
from PIL import ExifTags, Image

from .decoding import (
    _REDUCIBLE,
    DEFAULT_BUDGET_MIB,
    MAX_IMAGE_BYTES,
    PREVIEW_SIDE,
    DecodeBudget,
    DecoderBusyError,
    ImageTooLargeError,
    RedactedCopy,
    UnsafeImageError,
    decode_cost,
    decoding,
    default_budget,
)
from .metadata import ImageFacts, image_facts, source_name
from .pdf import (
    PDF_CLEANED,
    PDF_FLATTENED,
    PdfFacts,
    UnsafePdfError,
    flatten_pdf,
    inspect_pdf,
    is_pdf,
    redact_pdf,
)

#: What the console uses of the attachment looks, under one name (the
#: views and tests say ``attachments.inspect_image``): the images here, the
#: decode budget in :mod:`.decoding`, the metadata in :mod:`.metadata`, the
#: PDFs in :mod:`.pdf`.
__all__ = [
    "DEFAULT_BUDGET_MIB",
    "IMAGE_FORMATS",
    "MAX_IMAGE_BYTES",
    "MAX_PIXELS",
    "PDF_CLEANED",
    "PDF_FLATTENED",
    "PREVIEW_SIDE",
    "DecodeBudget",
    "DecoderBusyError",
    "ImageFacts",
    "ImageTooLargeError",
    "PdfFacts",
    "RedactedCopy",
    "UnsafeImageError",
    "UnsafePdfError",
    "decode_cost",
    "default_budget",
    "flatten_pdf",
    "inspect_image",
    "inspect_pdf",
    "is_pdf",
    "redact_image",
    "redact_pdf",
    "redactable",
    "reencode_image",
    "source_name",
]

# HEIC/HEIF (every iPhone photo) through libheif. Only the primary image is
# decoded: no thumbnails, depth maps or auxiliary images (less hostile
# input parsed, less memory).
pillow_heif.register_heif_opener(thumbnails=False, depth_images=False, aux_images=False)

#: Formats Pillow may decode here (no SVG, no PDF, no EPS: never parsed).
#: Each is recognised by its bytes, never by the name or type the reporter's
#: device gave it.
IMAGE_FORMATS = ("JPEG", "PNG", "GIF", "WEBP", "BMP", "TIFF", "HEIF")
MAX_PIXELS = 40_000_000


def _open(data: bytes) -> Image.Image:
    """The image's header read (no pixels decoded yet), by its bytes."""
    if len(data) > MAX_IMAGE_BYTES:
        raise UnsafeImageError("the image is too large to preview")
    with decoding("not an image this console previews"):
        image = Image.open(io.BytesIO(data), formats=list(IMAGE_FORMATS))
    if image.width * image.height > MAX_PIXELS:
        image.close()
        raise UnsafeImageError("the image has too many pixels to preview")
    return image


#: EXIF orientation -> the transposition that stands the picture upright
#: (as ImageOps.exif_transpose, without its copy when nothing turns).
_UPRIGHT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def _render(
    data: bytes,
    *,
    max_side: int | None,
    out_format: str | None,
    budget: DecodeBudget | None,
    read: Callable[[Image.Image], Any] | None = None,
) -> tuple[bytes, str, Any]:
    """Decode the first frame within the budget, stand it upright, shrink
    it to ``max_side`` if given, and encode a new ``out_format`` file
    ("PNG", "JPEG" at quality 92, or None: nothing encoded) of its pixels
    only. ``read``, if given, is called with the decoded image before
    anything else is done with it (metadata that Pillow finds only after
    the pixels, such as PNG text chunks after the image data). Returns the
    bytes, the source format and what ``read`` returned.

    Memory: a JPEG preview is decoded at a reduced scale (draft mode);
    other previews are reduced by a whole factor right after decoding and
    the full frame dropped, so one full-size frame is held at a time; no
    copy is made when nothing turns or converts.

    Raises:
        UnsafeImageError: not a decodable image, or over the budget.
    """
    budget = budget or default_budget
    with _open(data) as image, decoding("the image cannot be decoded"):
        source_format = str(image.format)
        image.seek(0)  # first frame of an animation
        if max_side and source_format == "JPEG":
            image.draft(None, (max_side, max_side))
        orientation = _orientation(image)
        cost = decode_cost(
            image.width,
            image.height,
            image.mode,
            source_format,
            out_format=out_format,
            full=max_side is None,
            turns=orientation in _UPRIGHT,
        )
        with budget.reserve(cost):
            image.load()
            found = read(image) if read is not None else None
            frame: Image.Image = image
            try:
                alpha = "A" in frame.getbands() or "transparency" in frame.info
                mode = "RGBA" if alpha else ("L" if frame.mode == "L" else "RGB")
                if out_format == "JPEG":
                    mode = "L" if mode == "L" else "RGB"
                if max_side and (factor := max(frame.size) // max_side) > 1:
                    if frame.mode not in _REDUCIBLE:
                        frame = _replace(frame, frame.convert(mode))
                    frame = _replace(frame, frame.reduce(factor))
                if frame.mode != mode:
                    frame = _replace(frame, frame.convert(mode))
                if orientation in _UPRIGHT:
                    frame = _replace(frame, frame.transpose(_UPRIGHT[orientation]))
                if max_side:
                    frame.thumbnail((max_side, max_side))
                if out_format is None:
                    return b"", source_format, found
                # Pixels only: Pillow's encoders take EXIF, XMP, ICC,
                # comments and transparency from ``info`` (and from the save
                # call's arguments, which name none of them), so an empty
                # ``info`` leaves no metadata in the new file.
                frame.info = {}
                out = io.BytesIO()
                if out_format == "JPEG":
                    frame.save(out, format="JPEG", quality=92)
                else:
                    frame.save(out, format="PNG", optimize=False)
                return out.getvalue(), source_format, found
            finally:
                frame.close()


def _orientation(image: Image.Image) -> int | None:
    """The EXIF orientation, read without decoding the pixels. Pillow's
    ``getexif()`` on a PNG decodes the whole image first (an eXIf chunk may
    follow the image data), which would be a full decode outside the
    budget: a PNG's orientation comes only from an eXIf chunk before the
    image data, where the PNG specification puts it."""
    if image.format == "PNG":
        raw = image.info.get("exif")
        if not raw:
            return None
        exif = Image.Exif()
        exif.load(raw)
        value = exif.get(ExifTags.Base.Orientation)
    else:
        value = image.getexif().get(ExifTags.Base.Orientation)
    return value if isinstance(value, int) else None


def _replace(old: Image.Image, new: Image.Image) -> Image.Image:
    """``new`` as the current frame; ``old`` closed at once (its pixels
    freed: the original's too, which ``_open``'s context closes again,
    harmlessly)."""
    old.close()
    return new


def inspect_image(data: bytes, *, budget: DecodeBudget | None = None) -> ImageFacts:
    """Read an image's size and metadata without showing it. The pixels
    are decoded too, as for the preview (within ``budget``), and dropped, so
    an image that cannot be previewed is found here, before it is offered.

    Raises:
        UnsafeImageError: not a previewable image, or over the budget.
    """
    facts: ImageFacts = _render(
        data, max_side=PREVIEW_SIDE, out_format=None, budget=budget, read=image_facts
    )[2]
    return facts


def reencode_image(
    data: bytes, *, max_side: int | None = PREVIEW_SIDE, budget: DecodeBudget | None = None
) -> bytes:
    """A new PNG of the image's pixels only (EXIF orientation applied, then
    every piece of metadata dropped), shrunk to ``max_side`` if given,
    decoded within ``budget`` (the module's default when None).

    Raises:
        UnsafeImageError: not a previewable image; ImageTooLargeError or
            DecoderBusyError (subclasses) when over the budget.
    """
    return _render(data, max_side=max_side, out_format="PNG", budget=budget)[0]


# --------------------------------------------------------------------------
# Redacted copies: what a reviewer may pass on (to a lawyer, the
# police) without the reporter's location, device or name in the metadata.
# Only metadata goes: what the pixels or the pages show is left as it is.


def redactable(data: bytes) -> str | None:
    """``"image"``, ``"pdf"`` or None: which redacted copy is offered. An
    image first: a file that is both (a polyglot with ``%PDF-`` in its
    first kilobyte) is re-encoded from its pixels, which leaves no PDF."""
    try:
        with _open(data):
            return "image"
    except UnsafeImageError:
        return "pdf" if is_pdf(data) else None


def redact_image(data: bytes, *, budget: DecodeBudget | None = None) -> RedactedCopy:
    """The image's pixels at full size in a new file: a JPEG, or a HEIC/HEIF
    photo, becomes a JPEG (quality 92: a photo stays a photo any reader
    opens), anything else a PNG. EXIF (GPS, device, owner), XMP, IPTC, ICC
    profile, comments and text chunks are all dropped, because the new
    file is written from the pixels alone (see :func:`_render`);
    orientation is applied first so the picture still stands upright.

    Raises:
        UnsafeImageError: not an image this console decodes, or over the
            decode budget.
    """
    with _open(data) as image:
        source_format = image.format
    if source_format in ("JPEG", "HEIF"):
        jpeg = _render(data, max_side=None, out_format="JPEG", budget=budget)[0]
        return RedactedCopy(jpeg, "jpg", "image/jpeg")
    return RedactedCopy(_render(data, max_side=None, out_format="PNG", budget=budget)[0], "png", "image/png")
