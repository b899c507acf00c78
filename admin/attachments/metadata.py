"""What an image gives away besides its pixels, read out for the reviewer:
EXIF GPS, device, time and owner; XMP; the device an ICC profile names;
PNG text chunks, JPEG and GIF comments (:class:`ImageFacts`)."""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET  # noqa: S405 (no DTD reaches it: see _xmp_fields)
from dataclasses import dataclass, field
from typing import Any

from PIL import ExifTags, Image, ImageCms

#: Most entries of each kind (XMP properties, text chunks) listed for one file.
MAX_LISTED = 50


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


def image_facts(image: Image.Image) -> ImageFacts:
    """What a decoded image carries (see :class:`ImageFacts`)."""
    exif = image.getexif()
    base = {ExifTags.TAGS.get(k, str(k)): v for k, v in exif.items()}
    sub = {ExifTags.TAGS.get(k, str(k)): v for k, v in exif.get_ifd(ExifTags.IFD.Exif).items()}
    xmp = _xmp_fields(_xmp_packet(image))
    device = " ".join(str(base[k]).strip("\x00 ") for k in ("Make", "Model") if k in base) or None
    device = device or _xmp_join(xmp, ("tiff:Make", "tiff:Model"), " ")
    taken = sub.get("DateTimeOriginal") or base.get("DateTime") or _xmp_join(xmp, _XMP_TIME, "; ")
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
        owner=_owner(base, sub, xmp),
        xmp=xmp,
        icc=icc,
        icc_device=icc_device,
        texts=_texts(image, exif)[:MAX_LISTED],
    )


def _owner(base: dict[str, Any], sub: dict[str, Any], xmp: list[tuple[str, str]] | None) -> str | None:
    """Whom the file names (see :attr:`ImageFacts.owner`), from the EXIF
    IFD0 tags ``base``, the Exif IFD tags ``sub`` and the XMP properties."""
    names = [_exif_text(v) for v in (base.get(k) for k in _OWNER_TAGS) if v]
    names += [_exif_text(sub["CameraOwnerName"])] if sub.get("CameraOwnerName") else []
    names += [v for k, v in xmp or [] if k in _XMP_OWNER]
    return "; ".join(dict.fromkeys(n for n in names if n))[:300] or None


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
