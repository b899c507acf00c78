"""Safe looks at untrusted PDFs: metadata and active content listed
(:func:`inspect_pdf`), a cleaned copy with only the pages
(:func:`redact_pdf`), a flattened copy of page images (:func:`flatten_pdf`).
qpdf (through pikepdf) and PDFium parse the hostile bytes in this process,
bounded by the size limit and the decode budget."""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from .decoding import MAX_IMAGE_BYTES, DecodeBudget, RedactedCopy, UnsafeImageError, default_budget

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
    found = _catalog_content(pdf) + _page_content(pages)
    return list(dict.fromkeys(found))


def _catalog_content(pdf: Any) -> list[str]:
    """What the document catalog holds that can act or carry files."""
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
    return found


def _page_content(pages: list[Any]) -> list[str]:
    """What ``pages`` hold that can act or open an address: page actions,
    annotations and the links among them."""
    found: list[str] = []
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
    return found


def is_pdf(data: bytes) -> bool:
    """Whether ``data`` is a PDF by its bytes (``%PDF-`` within the first
    1024 bytes, where readers look for it), whatever type the reporter's
    device claimed."""
    return b"%PDF-" in data[:1024]


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
    # What was dropped is gone from ``obj``: only what stays is followed.
    for value in _nested_in(obj):
        _scrub(value, depth + 1)


def _nested_in(obj: Any) -> list[Any]:
    """The dictionaries and arrays held directly inside ``obj`` (a
    dictionary's or stream's values, an array's items), in order: the
    objects a walk over ``obj`` follows. Indirect objects are left to the
    walk over every object, and pikepdf gives numbers and booleans as
    Python values; anything but a dictionary, stream or array holds none."""
    import pikepdf

    if isinstance(obj, pikepdf.Dictionary | pikepdf.Stream):
        values = [obj[key] for key in list(obj.keys())]
    elif isinstance(obj, pikepdf.Array):
        values = list(obj)
    else:
        return []
    return [v for v in values if isinstance(v, pikepdf.Dictionary | pikepdf.Array) and not v.is_indirect]


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
        for value in _nested_in(obj):
            visit(value, depth + 1)

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
