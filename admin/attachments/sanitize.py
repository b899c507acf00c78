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
import re
import threading
import time
import xml.etree.ElementTree as ET  # noqa: S405 (no DTD reaches it: see _xmp_fields)
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pillow_heif
from PIL import ExifTags, Image, ImageCms

# HEIC/HEIF (every iPhone photo) through libheif. Only the primary image is
# decoded: no thumbnails, depth maps or auxiliary images (less hostile
# input parsed, less memory).
pillow_heif.register_heif_opener(thumbnails=False, depth_images=False, aux_images=False)

#: Formats Pillow may decode here (no SVG, no PDF, no EPS: never parsed).
#: Each is recognised by its bytes, never by the name or type the reporter's
#: device gave it.
IMAGE_FORMATS = ("JPEG", "PNG", "GIF", "WEBP", "BMP", "TIFF", "HEIF")
MAX_IMAGE_BYTES = 40 * 1024 * 1024
MAX_PIXELS = 40_000_000
#: Longest side of the preview shown on the page.
PREVIEW_SIDE = 1600
#: Most entries of each kind (XMP properties, text chunks) listed for one file.
MAX_LISTED = 50


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
    #: owner's name (EXIF 2.3 CameraOwnerName), XMP creator and rights, joined.
    owner: str | None = None
    #: Every XMP property with a text value, ``(name, value)``, as found
    #: (``dc:creator``, ``exif:GPSLatitude`` …); None when there is no XMP.
    xmp: list[tuple[str, str]] | None = None
    #: The ICC colour profile's description and the device it names
    #: (``dmnd``/``dmdd`` tags, header manufacturer and model), as text.
    icc: str | None = None
    #: Whether the ICC profile names a device (a camera, phone or scanner
    #: model, beyond a standard colour space).
    icc_device: bool = False
    #: Readable text the file carries besides EXIF's fields above: PNG
    #: text chunks (tEXt, zTXt, iTXt), JPEG and GIF comments, EXIF
    #: descriptions and comments, ``(where, text)``.
    texts: list[tuple[str, str]] = field(default_factory=list)

    @property
    def reveals(self) -> list[str]:
        """Which identifying facts are present (for a warning)."""
        found = [
            name
            for name, value in (
                ("GPS", self.gps),
                ("device", self.device),
                ("time", self.taken),
                ("owner", self.owner),
                ("XMP metadata", self.xmp),
                ("a colour profile naming a device", self.icc_device),
            )
            if value
        ]
        if self.texts:
            found.append(f"readable text ({len(self.texts)})")
        return found


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
    """The image's header read (no pixels decoded yet), by its bytes."""
    if len(data) > MAX_IMAGE_BYTES:
        raise UnsafeImageError("the image is too large to preview")
    with _decoding("not an image this console previews"):
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
    with _open(data) as image, _decoding("the image cannot be decoded"):
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


#: Modes Image.reduce works on.
_REDUCIBLE = ("L", "LA", "RGB", "RGBA", "I", "F", "CMYK")


def _replace(old: Image.Image, new: Image.Image) -> Image.Image:
    """``new`` as the current frame; ``old`` closed at once (its pixels
    freed: the original's too, which ``_open``'s context closes again,
    harmlessly)."""
    old.close()
    return new


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


def inspect_image(data: bytes, *, budget: DecodeBudget | None = None) -> ImageFacts:
    """Read an image's size and metadata without showing it. The pixels
    are decoded too, as for the preview (within ``budget``), and dropped, so
    an image that cannot be previewed is found here, before it is offered.

    Raises:
        UnsafeImageError: not a previewable image, or over the budget.
    """
    facts: ImageFacts = _render(data, max_side=PREVIEW_SIDE, out_format=None, budget=budget, read=_facts)[2]
    return facts


def _facts(image: Image.Image) -> ImageFacts:
    """What a decoded image carries (see :class:`ImageFacts`)."""
    exif = image.getexif()
    base = {ExifTags.TAGS.get(k, str(k)): v for k, v in exif.items()}
    sub = {ExifTags.TAGS.get(k, str(k)): v for k, v in exif.get_ifd(ExifTags.IFD.Exif).items()}
    xmp = _xmp_fields(_xmp_packet(image))
    device = " ".join(str(base[k]).strip("\x00 ") for k in ("Make", "Model") if k in base) or None
    device = device or _xmp_join(xmp, ("tiff:Make", "tiff:Model"), " ")
    taken = sub.get("DateTimeOriginal") or base.get("DateTime") or _xmp_join(xmp, _XMP_TIME, "; ")
    names = [_exif_text(v) for v in (base.get(k) for k in _OWNER_TAGS) if v]
    names += [_exif_text(sub["CameraOwnerName"])] if sub.get("CameraOwnerName") else []
    names += [v for k, v in xmp or [] if k in _XMP_OWNER]
    owner = "; ".join(dict.fromkeys(n for n in names if n))[:300] or None
    software = str(base["Software"]).strip("\x00 ") if "Software" in base else None
    icc, icc_device = _icc_facts(image.info.get("icc_profile"))
    return ImageFacts(
        format=source_name(str(image.format)),
        width=image.width,
        height=image.height,
        gps=_gps(exif) or _xmp_gps(xmp),
        device=device,
        taken=str(taken).strip("\x00 ") if taken else None,
        software=software or _xmp_join(xmp, ("xmp:CreatorTool",), "; "),
        owner=owner,
        xmp=xmp,
        icc=icc,
        icc_device=icc_device,
        texts=_texts(image, exif)[:MAX_LISTED],
    )


def source_name(image_format: str) -> str:
    """The format's name for a reviewer (Pillow says "HEIF" for HEIC too)."""
    return "HEIC/HEIF" if image_format == "HEIF" else image_format


#: EXIF tags of IFD0 that name a person.
_OWNER_TAGS = ("Artist", "XPAuthor", "Copyright")


def _exif_text(value: Any) -> str:
    """An EXIF text value as str: ASCII fields arrive as str, Windows XP
    fields (XPAuthor) as UTF-16LE bytes."""
    if isinstance(value, bytes):
        return value.decode("utf-16-le", errors="replace").strip("\x00 ")
    return str(value).strip("\x00 ")


#: XMP namespaces shown with their usual prefix (others by local name).
_XMP_PREFIXES = {
    "http://purl.org/dc/elements/1.1/": "dc",
    "http://ns.adobe.com/xap/1.0/": "xmp",
    "http://ns.adobe.com/xap/1.0/rights/": "xmpRights",
    "http://ns.adobe.com/xap/1.0/mm/": "xmpMM",
    "http://ns.adobe.com/photoshop/1.0/": "photoshop",
    "http://ns.adobe.com/tiff/1.0/": "tiff",
    "http://ns.adobe.com/exif/1.0/": "exif",
    "http://cipa.jp/exif/1.0/": "exifEX",
    "http://ns.adobe.com/exif/1.0/aux/": "aux",
    "http://iptc.org/std/Iptc4xmpCore/1.0/xmlns/": "Iptc4xmpCore",
    "http://iptc.org/std/Iptc4xmpExt/2008-02-29/": "Iptc4xmpExt",
    "http://ns.adobe.com/pdf/1.3/": "pdf",
    "http://ns.adobe.com/xmp/1.0/DynamicMedia/": "xmpDM",
    "http://ns.google.com/photos/1.0/camera/": "GCamera",
    "http://ns.apple.com/": "apple",
}
_RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
#: XMP properties that name a person.
_XMP_OWNER = (
    "dc:creator",
    "dc:rights",
    "xmpRights:Owner",
    "photoshop:AuthorsPosition",
    "photoshop:Credit",
    "aux:OwnerName",
    "exifEX:CameraOwnerName",
    "pdf:Author",
)
_XMP_TIME = ("exif:DateTimeOriginal", "photoshop:DateCreated", "xmp:CreateDate")
#: Largest XMP packet read (larger ones are reported present, not read).
MAX_XMP_BYTES = 1024 * 1024


def _xmp_packet(image: Image.Image) -> bytes | None:
    """The XMP packet wherever this format keeps it: ``info["xmp"]`` (JPEG
    APP1, WebP, HEIF, TIFF), the PNG iTXt chunk ``XML:com.adobe.xmp``."""
    for key in ("xmp", "XML:com.adobe.xmp"):
        value = image.info.get(key)
        if value:
            return value.encode("utf-8", "replace") if isinstance(value, str) else bytes(value)
    return None


def _xmp_fields(packet: bytes | None) -> list[tuple[str, str]] | None:
    """Every XMP property with a text value, as ``(prefix:name, text)``:
    element text (list items joined) and attribute values. None without a
    packet; one ``("XMP", why)`` entry when it is present but not read.

    The packet is hostile XML: one that declares a DTD or entities (the
    "billion laughs" and external entities need one) is never parsed; the
    rest goes to ElementTree, which then has nothing to expand or fetch.
    """
    if packet is None:
        return None
    if len(packet) > MAX_XMP_BYTES:
        return [("XMP", "present (too large to read here)")]
    if re.search(rb"<!(DOCTYPE|ENTITY)", packet, re.IGNORECASE):
        return [("XMP", "present (not read: it declares a DTD)")]
    try:
        root = ET.fromstring(packet.strip(b"\x00 \r\n\t"))  # noqa: S314 (no DTD: checked above)
    except ET.ParseError:
        return [("XMP", "present (not well-formed)")]
    found: dict[str, list[str]] = {}
    for element in root.iter():
        for name, value in element.attrib.items():
            key = _xmp_name(name)
            if key and value.strip() and not name.startswith("{" + _RDF):
                found.setdefault(key, []).append(value.strip())
        key = _xmp_name(element.tag)
        if not key or key.startswith(("x:", "rdf:")) or element.tag.startswith("{" + _RDF):
            continue
        text = [t.strip() for t in element.itertext() if t.strip()]
        if text:
            found.setdefault(key, []).append("; ".join(text))
    return [(k, "; ".join(dict.fromkeys(v))[:300]) for k, v in list(found.items())[:MAX_LISTED]]


def _xmp_name(tag: object) -> str | None:
    """``{namespace}local`` as ``prefix:local`` (a known namespace) or
    ``local``; None for the packet's own wrapper elements."""
    if not isinstance(tag, str):
        return None  # a comment or processing instruction
    if tag.startswith("{"):
        namespace, _, local = tag[1:].partition("}")
        if namespace == "adobe:ns:meta/":
            return "x:" + local
        prefix = _XMP_PREFIXES.get(namespace)
        return f"{prefix}:{local}" if prefix else local
    return tag


def _xmp_join(xmp: list[tuple[str, str]] | None, keys: tuple[str, ...], sep: str) -> str | None:
    values = [v for k, v in xmp or [] for wanted in keys if k == wanted]
    return sep.join(values)[:300] or None


def _xmp_gps(xmp: list[tuple[str, str]] | None) -> str | None:
    """XMP's GPS position (``exif:GPSLatitude`` "43,39.6N" and its
    longitude, degrees and decimal minutes) as decimal degrees."""
    lat = _xmp_join(xmp, ("exif:GPSLatitude",), "")
    lon = _xmp_join(xmp, ("exif:GPSLongitude",), "")
    if not lat and not lon:
        return None
    try:
        return f"{_xmp_degrees(lat or ''):.5f}, {_xmp_degrees(lon or ''):.5f} (XMP)"
    except ValueError:
        return "present in XMP (unreadable)"


def _xmp_degrees(value: str) -> float:
    match = re.fullmatch(r"\s*(\d+),(\d+(?:\.\d+)?)(?:,(\d+(?:\.\d+)?))?\s*([NSEW])\s*", value)
    if not match:
        raise ValueError("not an XMP GPS coordinate")
    degrees, minutes, seconds, ref = match.groups()
    result = float(degrees) + float(minutes) / 60 + float(seconds or 0) / 3600
    return -result if ref in "SW" else result


#: Standard colour spaces: an ICC profile describing one of these names no
#: device. Anything else (a phone's or camera's own profile, a scanner's,
#: a monitor calibrated by its owner) can.
_STANDARD_ICC = re.compile(
    r"^(s?RGB|sRGB IEC61966-2[.,]1|Display P3|Adobe RGB|Generic|ProPhoto|Dot Gain|gray|grey)", re.I
)


#: Device descriptions of standard profiles (the sRGB profile most software
#: embeds names "IEC http://www.iec.ch" and "IEC 61966-2.1 Default RGB
#: colour space - sRGB"): no person's device.
_STANDARD_DEVICE = re.compile(r"\bIEC\b|colou?r space|\bsRGB\b|Display P3|Adobe RGB", re.IGNORECASE)


def _icc_facts(icc: Any) -> tuple[str | None, bool]:
    """An ICC profile's description and the device it names, as text, and
    whether it names a device: its ``dmnd``/``dmdd`` (device manufacturer
    and model descriptions) tags, unless they describe a standard colour
    space, or a description that is not a standard colour space; the
    header's manufacturer and model signatures are listed too.
    Read with LittleCMS (ImageCms); a profile it cannot read is "present
    (unreadable)"."""
    if not icc:
        return None, False
    try:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(bytes(icc))).profile
        description = (profile.profile_description or "").strip()
        named = [(profile.manufacturer or "").strip(), (profile.model or "").strip()]
        header = [_signature(profile.header_manufacturer), _signature(profile.header_model)]
    except Exception:  # noqa: BLE001 (LittleCMS on hostile bytes: any failure is "unreadable")
        return "present (unreadable)", False
    device = " ".join(dict.fromkeys(n for n in named if n))
    signatures = " ".join(h for h in header if h)
    parts = [description or "no description"]
    if device:
        parts.append(f"device: {device}")
    if signatures:
        parts.append(f"maker and model codes: {signatures}")
    # The maker and model codes of the header are listed, not warned about:
    # ordinary profiles carry them too ("IEC" "sRGB", "APPL").
    names_device = bool(device and not _STANDARD_DEVICE.search(device)) or bool(
        description and not _STANDARD_ICC.match(description)
    )
    return "; ".join(parts)[:300], names_device


def _signature(value: Any) -> str:
    """A four-character ICC signature as printable text ("" when zero)."""
    text = str(value or "").strip("\x00 ")
    return text if text.isprintable() else ""


#: EXIF text fields listed as readable text: IFD0, then the Exif IFD.
_EXIF_TEXT = ("ImageDescription", "XPTitle", "XPComment", "XPSubject", "XPKeywords", "DocumentName")
_EXIF_SUB_TEXT = ("UserComment", "BodySerialNumber", "ImageUniqueID", "LensSerialNumber")


def _texts(image: Image.Image, exif: Image.Exif) -> list[tuple[str, str]]:
    """Readable text the file carries besides the EXIF fields shown above:
    PNG text chunks (after the pixels are loaded, so those after the image
    data count too), JPEG COM segments, GIF comments, EXIF descriptions,
    comments and serial numbers."""
    found: list[tuple[str, str]] = []
    text_chunks = getattr(image, "text", None) if image.format == "PNG" else None
    for key, value in (text_chunks or {}).items():
        if key != "XML:com.adobe.xmp":
            found.append((f"PNG text: {key}", str(value)))
    for marker, payload in getattr(image, "applist", []) or []:
        if marker == "COM":
            found.append(("JPEG comment", bytes(payload).decode("utf-8", "replace")))
    if image.format not in ("JPEG", "PNG") and image.info.get("comment"):
        comment = image.info["comment"]
        found.append(
            ("comment", comment.decode("utf-8", "replace") if isinstance(comment, bytes) else str(comment))
        )
    base = {ExifTags.TAGS.get(k, str(k)): v for k, v in exif.items()}
    sub = {ExifTags.TAGS.get(k, str(k)): v for k, v in exif.get_ifd(ExifTags.IFD.Exif).items()}
    for names, values in ((_EXIF_TEXT, base), (_EXIF_SUB_TEXT, sub)):
        for name in names:
            value = values.get(name)
            text = _user_comment(value) if name == "UserComment" else _exif_text(value) if value else ""
            if text:
                found.append((f"EXIF {name}", text))
    return [(where, text.strip("\x00 ")[:300]) for where, text in found if text.strip("\x00 ")]


def _user_comment(value: Any) -> str:
    """EXIF UserComment: 8 bytes naming the character code, then the text."""
    if not isinstance(value, bytes):
        return str(value or "")
    code, text = value[:8], value[8:]
    if code.startswith(b"UNICODE"):
        return text.decode("utf-16-be" if text[:1] == b"\x00" else "utf-16-le", "replace")
    return text.decode("utf-8", "replace")


#: Pages of a PDF looked at for XMP metadata on the inspect page.
MAX_PAGES_LOOKED_AT = 1000


@dataclass(frozen=True)
class PdfFacts:
    """What a PDF carries besides its pages, as text for display: its page
    count, its document information (``/Info``: author, creator, producer,
    title, dates …), whether the catalog or a page has XMP metadata (its
    content is not parsed here; the redacted copy drops XMP wherever it
    hangs), and its active content (:attr:`active`)."""

    pages: int
    info: dict[str, str] = field(default_factory=dict)
    xmp: bool = False
    #: What can act or carry data beside the pages, as short descriptions:
    #: JavaScript, an action on opening, embedded files, annotations and
    #: links (with the addresses they open), form fields, an XFA form.
    active: list[str] = field(default_factory=list)

    @property
    def reveals(self) -> list[str]:
        """The entries that can name a person or a machine (for a warning)."""
        named = [
            k for k in ("Author", "Creator", "Producer", "Title", "Subject", "Keywords") if self.info.get(k)
        ]
        return named + (["XMP"] if self.xmp else [])


def inspect_pdf(data: bytes) -> PdfFacts:
    """Read a PDF's metadata and list its active content without rendering
    it (qpdf, through pikepdf, parses the hostile bytes in this process,
    bounded by the size limit).

    Raises:
        UnsafePdfError: too large, encrypted, or damaged (not readable as a
            PDF without repair).
    """
    with _pdf(data, "inspect") as pdf:
        # Values are text strings (names, dates); anything else shows as
        # pikepdf prints it, cut short.
        info = {str(key).lstrip("/")[:100]: str(value)[:300] for key, value in list(pdf.docinfo.items())[:50]}
        # XMP on the catalog or a page (where readers look); walking every
        # object of a large hostile PDF would take seconds per click, and
        # the redacted copy drops XMP wherever it hangs.
        pages = pdf.pages[:MAX_PAGES_LOOKED_AT]
        xmp = "/Metadata" in pdf.Root or any("/Metadata" in page.obj for page in pages)
        return PdfFacts(pages=len(pdf.pages), info=info, xmp=xmp, active=_active_content(pdf, pages))


def _active_content(pdf: Any, pages: list[Any]) -> list[str]:
    """What in the catalog and the first pages can act or carry files."""
    root = pdf.Root
    found: list[str] = []
    if "/OpenAction" in root:
        found.append("an action when the file is opened (OpenAction)")
    if "/AA" in root:
        found.append("actions on document events (AA)")
    names = root.get("/Names")
    if names is not None and "/JavaScript" in names:
        found.append("document JavaScript (Names)")
    if names is not None and "/EmbeddedFiles" in names or len(pdf.attachments):
        found.append(f"embedded files ({len(pdf.attachments)})")
    form = root.get("/AcroForm")
    if form is not None:
        fields = form.get("/Fields")
        found.append(f"form fields ({len(fields) if fields is not None else 0})")
        if "/XFA" in form:
            found.append("an XFA form")
    annotations = 0
    addresses: list[str] = []
    for page in pages:
        if "/AA" in page.obj:
            found.append("actions on opening a page (AA)")
        for annot in page.obj.get("/Annots") or []:
            annotations += 1
            action = annot.get("/A") if hasattr(annot, "get") else None
            if action is not None and hasattr(action, "get") and action.get("/URI") is not None:
                addresses.append(str(action.get("/URI"))[:200])
    if annotations:
        found.append(f"annotations or links ({annotations})")
    if addresses:
        found.append("links to " + ", ".join(dict.fromkeys(addresses[:10])))
    return list(dict.fromkeys(found))


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


class UnsafePdfError(ValueError):
    """Not a PDF this console will rewrite (damaged, encrypted, too large,
    or not cleaned completely)."""


#: What a cleaned PDF keeps: the catalog names its pages and nothing else
#: (no OpenAction, Names with JavaScript or embedded files, AcroForm or
#: XFA, Outlines, StructTreeRoot, Metadata, document-level AA); a page its
#: content, resources and boxes (no Annots, AA, Metadata, PieceInfo,
#: thumbnail, articles or transitions).
_CATALOG_KEYS = frozenset({"/Type", "/Pages"})
_PAGE_KEYS = frozenset(
    {
        "/Type",
        "/Parent",
        "/Resources",
        "/Contents",
        "/MediaBox",
        "/CropBox",
        "/BleedBox",
        "/TrimBox",
        "/ArtBox",
        "/Rotate",
        "/UserUnit",
        "/Group",
    }
)
_PAGES_KEYS = frozenset(
    {"/Type", "/Kids", "/Count", "/Parent", "/Resources", "/MediaBox", "/CropBox", "/Rotate"}
)
#: Entries dropped wherever they hang (form XObjects, resources, fonts):
#: scripts and actions, embedded and external files, annotations, forms,
#: metadata.
_DROP = frozenset(
    {
        "/AA",
        "/OpenAction",
        "/JS",
        "/JavaScript",
        "/EmbeddedFiles",
        "/EF",
        "/Annots",
        "/AcroForm",
        "/XFA",
        "/Metadata",
        "/PieceInfo",
        "/Names",
        "/OPI",
        "/Ref",
        # PDF 2.0 associated files: embedded files hung on any object.
        "/AF",
    }
)
#: Stream entries that fetch the stream's data from a file instead.
_EXTERNAL = frozenset({"/F", "/FFilter", "/FDecodeParms"})
#: Object types that never stay in a cleaned copy.
_FORBIDDEN_TYPES = frozenset({"/Filespec", "/EmbeddedFile", "/Annot", "/Action"})
#: What a cleaned copy is, for the reviewer who passes it on.
PDF_CLEANED = "cleaned"


def redact_pdf(data: bytes) -> RedactedCopy:
    """A cleaned copy of the PDF: its pages (content, fonts, images, boxes)
    and nothing that can act, carry files or name anyone beside them.

    Removed: JavaScript and every action (OpenAction, document, page and
    field AA, link and URI actions), embedded and attached files, all
    annotations (links, comments, attachments, widgets, media), form fields
    and XFA forms, outlines, the structure tree, document information and
    XMP wherever it hangs, external stream data. The pages are *not*
    flattened: their text and images are kept as they are (text hidden
    under a shape is still there). Written as a new file (earlier
    revisions of an incrementally updated PDF are not carried over) with a
    file identifier derived from the new content; then read back and
    checked for every removed kind, and refused if one remains.

    qpdf (through pikepdf) parses the hostile bytes in this process, like
    Pillow for images; the size limit bounds the work.

    Raises:
        UnsafePdfError: too large, encrypted, damaged, or not cleaned.
    """
    import pikepdf

    with _pdf(data, "rewrite") as pdf:
        if "/Info" in pdf.trailer:
            del pdf.trailer["/Info"]
        _keep_only(pdf.Root, _CATALOG_KEYS)
        for page in pdf.pages:
            _keep_only(page.obj, _PAGE_KEYS)
        for obj in pdf.objects:
            if isinstance(obj, pikepdf.Dictionary | pikepdf.Stream):
                _scrub(obj, depth=0)
        out = io.BytesIO()
        # Only what the catalog still reaches is written: the dropped
        # objects (scripts, files, annotations) are not in the new file.
        pdf.save(out, deterministic_id=True, fix_metadata_version=False)
    cleaned = out.getvalue()
    with _pdf(cleaned, "check") as copy:
        left = _left_over(copy)
    if left:
        raise UnsafePdfError(f"it could not be cleaned completely ({', '.join(left)} remained)")
    return RedactedCopy(cleaned, "pdf", "application/pdf")


#: Resolution of a flattened copy's pages, dots per inch.
FLATTEN_DPI = 150
#: Most pages a flattened copy renders (each takes a decode of its own).
MAX_FLATTEN_PAGES = 300
#: Most pixels one flattened page has (a page of several metres is drawn
#: at a lower resolution rather than refused).
MAX_FLATTEN_PIXELS = 12_000_000
#: What a flattened copy is, for the reviewer who passes it on.
PDF_FLATTENED = "flattened"


def flatten_pdf(data: bytes, *, budget: DecodeBudget | None = None) -> RedactedCopy:
    """A flattened copy of the PDF: each page drawn by PDFium (pypdfium2)
    at :data:`FLATTEN_DPI` into a JPEG, and a new PDF of those images, one
    per page at the page's size. Nothing but what the pages show survives:
    no text layer (text hidden under a shape is gone, and so is selectable
    text), no fonts, scripts, files, annotations (not drawn), form fields
    (not drawn) or metadata. The file is checked like a cleaned copy.

    The PDF is first opened with qpdf like :func:`redact_pdf` (encrypted
    and damaged files are refused for the same reasons); PDFium then
    parses it again to draw it, in this process, without its JavaScript or
    form engine. Each page is drawn within ``budget``.

    Raises:
        UnsafePdfError: too large, encrypted, damaged, too many pages, or
            PDFium cannot draw it.
        DecoderBusyError, ImageTooLargeError: over the decode budget.
    """
    import pikepdf
    import pypdfium2  # type: ignore[import-untyped]

    budget = budget or default_budget
    with _pdf(data, "flatten") as pdf:
        count = len(pdf.pages)
    if count > MAX_FLATTEN_PAGES:
        raise UnsafePdfError(f"it has too many pages to flatten ({count}; at most {MAX_FLATTEN_PAGES})")
    scale = FLATTEN_DPI / 72
    pages: list[tuple[bytes, int, int, float, float]] = []
    try:
        document = pypdfium2.PdfDocument(data)
    except Exception as exc:  # noqa: BLE001 (PDFium on hostile bytes)
        raise UnsafePdfError("the PDF cannot be drawn") from exc
    try:
        for index in range(len(document)):
            page = document[index]
            try:
                width_pt, height_pt = page.get_size()
                if page.get_rotation() in (90, 270):
                    width_pt, height_pt = height_pt, width_pt
                page_scale = min(scale, (MAX_FLATTEN_PIXELS / max(1.0, width_pt * height_pt)) ** 0.5)
                pixels = int(width_pt * page_scale + 1) * int(height_pt * page_scale + 1)
                with budget.reserve(pixels * 4 * 3):
                    bitmap = page.render(scale=page_scale, draw_annots=False, may_draw_forms=False)
                    image = bitmap.to_pil().convert("RGB")
                    out = io.BytesIO()
                    image.save(out, format="JPEG", quality=85)
                    pages.append((out.getvalue(), image.width, image.height, width_pt, height_pt))
                    image.close()
                    bitmap.close()
            finally:
                page.close()
    except UnsafeImageError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise UnsafePdfError("the PDF cannot be drawn") from exc
    finally:
        document.close()
    flat = pikepdf.new()
    for jpeg, width, height, width_pt, height_pt in pages:
        picture = pikepdf.Stream(flat, jpeg)
        picture.Type, picture.Subtype = pikepdf.Name.XObject, pikepdf.Name.Image
        picture.Width, picture.Height, picture.BitsPerComponent = width, height, 8
        picture.ColorSpace, picture.Filter = pikepdf.Name.DeviceRGB, pikepdf.Name.DCTDecode
        drawing = f"q {width_pt:.3f} 0 0 {height_pt:.3f} 0 0 cm /P Do Q".encode("ascii")
        flat.pages.append(
            pikepdf.Page(
                pikepdf.Dictionary(
                    Type=pikepdf.Name.Page,
                    MediaBox=pikepdf.Array([0, 0, width_pt, height_pt]),
                    Resources=pikepdf.Dictionary(XObject=pikepdf.Dictionary(P=picture)),
                    Contents=flat.make_stream(drawing),
                )
            )
        )
    out = io.BytesIO()
    flat.save(out, deterministic_id=True, fix_metadata_version=False)
    flattened = out.getvalue()
    with _pdf(flattened, "check") as copy:
        left = _left_over(copy)
    if left:  # pragma: no cover (a new file of images: nothing to leave)
        raise UnsafePdfError(f"it could not be flattened completely ({', '.join(left)} remained)")
    return RedactedCopy(flattened, "pdf", "application/pdf")


def _keep_only(obj: Any, keys: frozenset[str]) -> None:
    for key in list(obj.keys()):
        if key not in keys:
            del obj[key]


#: Deepest nesting of direct objects followed inside one object.
_MAX_DEPTH = 64


def _scrub(obj: Any, depth: int) -> None:
    """Drop :data:`_DROP` entries (and action ``/A`` entries, and a
    stream's external-file entries) from ``obj`` and the direct objects
    nested in it; indirect ones are scrubbed by the caller's walk over
    every object."""
    import pikepdf

    if depth > _MAX_DEPTH:
        raise UnsafePdfError("it nests objects too deeply")
    if isinstance(obj, pikepdf.Dictionary | pikepdf.Stream):
        if obj.get("/Type") == pikepdf.Name("/Pages"):
            _keep_only(obj, _PAGES_KEYS)
        for key in list(obj.keys()):
            value = obj[key]
            if key in _DROP or (key in _EXTERNAL and isinstance(obj, pikepdf.Stream)):
                del obj[key]
            elif key == "/A" and isinstance(value, pikepdf.Dictionary):
                del obj[key]  # an action (a link's, a field's)
            elif _nested(value):
                _scrub(value, depth + 1)
    elif isinstance(obj, pikepdf.Array):
        for item in obj:
            if _nested(item):
                _scrub(item, depth + 1)


def _nested(value: Any) -> bool:
    """Whether ``value`` is a dictionary or array held directly inside
    another object (pikepdf gives numbers and booleans as Python values)."""
    import pikepdf

    return isinstance(value, pikepdf.Dictionary | pikepdf.Array) and not value.is_indirect


def _left_over(pdf: Any) -> list[str]:
    """What a cleaned copy must not hold, if it still does: the removed
    entries and object types, anywhere in the file."""
    import pikepdf

    found: set[str] = set()
    if "/Info" in pdf.trailer:
        found.add("/Info")
    found.update(k for k in list(pdf.Root.keys()) if k not in _CATALOG_KEYS)

    def visit(obj: Any, depth: int) -> None:
        if depth > _MAX_DEPTH:
            found.add("deep nesting")
            return
        if isinstance(obj, pikepdf.Dictionary | pikepdf.Stream):
            found.update(k for k in list(obj.keys()) if k in _DROP)
            kind = obj.get("/Type")
            if kind is not None and str(kind) in _FORBIDDEN_TYPES:
                found.add(str(kind))
            if "/S" in obj and str(obj.get("/S")) in ("/JavaScript", "/URI", "/Launch", "/SubmitForm"):
                found.add(str(obj.get("/S")))
            for key in list(obj.keys()):
                value = obj[key]
                if _nested(value):
                    visit(value, depth + 1)
        elif isinstance(obj, pikepdf.Array):
            for item in obj:
                if _nested(item):
                    visit(item, depth + 1)

    for obj in pdf.objects:
        visit(obj, 0)
    return sorted(found)


@contextmanager
def _pdf(data: bytes, doing: str) -> Iterator[Any]:
    """A hostile PDF opened with pikepdf (qpdf) for ``doing`` (a verb for
    the message), within the size limit; any error qpdf raises on it, also
    while it is used, becomes :class:`UnsafePdfError`, with a reason a
    reviewer can act on: encrypted, or damaged. qpdf's recovery of a
    damaged file (a rebuilt cross-reference table) is refused: what it
    guessed is not what the reporter's reader showed."""
    import pikepdf

    if len(data) > MAX_IMAGE_BYTES:
        raise UnsafePdfError(f"the PDF is too large to {doing}")
    try:
        with pikepdf.open(io.BytesIO(data), attempt_recovery=False) as pdf:
            if pdf.is_encrypted:
                raise UnsafePdfError("the PDF is encrypted (protected by a password)")
            yield pdf
    except pikepdf.PasswordError as exc:
        raise UnsafePdfError("the PDF is encrypted (protected by a password)") from exc
    except UnsafePdfError:
        raise
    except Exception as exc:  # noqa: BLE001
        # qpdf on hostile bytes, and the walk over what it found (a page
        # tree that is not a tree, an array where a dictionary belongs):
        # any failure is "damaged", never a server error.
        raise UnsafePdfError("the PDF is damaged or not a PDF") from exc
