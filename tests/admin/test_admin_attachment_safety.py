"""Hostile attachments against the console over real HTTP: PDFs with
scripts, actions, embedded files, links and forms; an iPhone photo (HEIC)
under a misleading name; images that give away more than EXIF; and a
decompression bomb of a PNG that must not exhaust the console's memory."""

from __future__ import annotations

import io
import json
import random
import re
import shutil
import subprocess
import threading
import zlib
from pathlib import Path
from typing import Any

import pikepdf
import pillow_heif
import pytest
import requests
from flask import Flask
from pikepdf import Array, Dictionary, Name, String
from PIL import ExifTags, Image, ImageChops, ImageCms, ImageStat, PngImagePlugin
from werkzeug.serving import make_server

from admin.attachments import sanitize as attachments
from admin.cases.views import DECODE_BUDGET_EXTENSION
from core.envelope import AttachmentInput
from tests.admin.admin_testlib import PASSWORD, AuthActions, FakeIntake, sync_from, unlock

# --------------------------------------------------------------------------
# The console over HTTP


@pytest.fixture
def console(console_url: str) -> str:
    """The console over real HTTP (conftest ``console_url``)."""
    return console_url


def http_login(base: str, auth: AuthActions, role: str = "reviewer") -> requests.Session:
    """A reviewer logged in over HTTP (password, then a TOTP code)."""
    email = auth.create(role)
    session = requests.Session()
    session.trust_env = False  # loopback only, whatever proxy the machine has
    first = session.post(f"{base}/login", data={"email": email, "password": PASSWORD}, allow_redirects=False)
    assert first.status_code == 302, first.status_code
    second = session.post(f"{base}/login/totp", data={"code": auth.next_code(email)}, allow_redirects=False)
    assert second.status_code == 302 and second.headers["Location"].endswith("/")
    return session


def synced_case(app: Flask, intake: FakeIntake, files: list[tuple[str, str, bytes]]) -> str:
    served = intake.add({"narrative": "x"}, tuple(AttachmentInput(*f) for f in files))
    unlock(app)
    sync_from(app, intake)
    return served.envelope_id


def assert_never_rendered(http: requests.Session, console: str, base: str, position: int, page: str) -> None:
    """Invariant 7 for one attachment: the inspect page embeds nothing of
    the original (no <embed>, <object>, <iframe>, and no <img> but the
    re-encoded preview), and the original is only ever a sandboxed
    download."""
    assert not re.search(r"<(embed|object|iframe|frame|video|audio)\b", page, re.IGNORECASE)
    for src in re.findall(r'<img[^>]*\ssrc="([^"]+)"', page):
        assert src.endswith("/preview.png"), src
    original = f"{base}/{position}"
    assert re.findall(rf'href="{re.escape(original)}"[^>]*>', page) == [f'href="{original}" download>']
    response = http.get(console + original)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/octet-stream"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Content-Security-Policy"].startswith("sandbox")


# --------------------------------------------------------------------------
# A hostile-PDF corpus

CANARY = "canary"


def _base_pdf() -> pikepdf.Pdf:
    pdf = pikepdf.new()
    pdf.add_blank_page(page_size=(200, 200))
    page = pdf.pages[0].obj
    page.Contents = pdf.make_stream(b"BT /F1 12 Tf 20 100 Td (Visible words) Tj ET")
    font = Dictionary(Type=Name.Font, Subtype=Name.Type1, BaseFont=Name.Helvetica)
    page.Resources = Dictionary(Font=Dictionary(F1=font))
    return pdf


def _saved(pdf: pikepdf.Pdf, **options: Any) -> bytes:
    out = io.BytesIO()
    pdf.save(out, **options)
    return out.getvalue()


def _js(pdf: pikepdf.Pdf, where: str) -> Any:
    return pdf.make_indirect(Dictionary(S=Name.JavaScript, JS=String(f"app.alert('{where}-{CANARY}')")))


def hostile_pdfs() -> dict[str, bytes]:
    """One PDF per attack the acceptance names, and one with all of them."""
    corpus: dict[str, bytes] = {}

    pdf = _base_pdf()
    pdf.Root.OpenAction = _js(pdf, "openaction")
    corpus["openaction-js"] = _saved(pdf)

    pdf = _base_pdf()
    pdf.Root.Names = Dictionary(JavaScript=Dictionary(Names=Array([String("init"), _js(pdf, "names")])))
    corpus["names-js"] = _saved(pdf)

    pdf = _base_pdf()
    pdf.attachments["reporter.txt"] = pikepdf.AttachedFileSpec(
        pdf, f"embedded-{CANARY}: a name and an address".encode(), mime_type="text/plain"
    )
    corpus["embedded-file"] = _saved(pdf)

    pdf = _base_pdf()
    page = pdf.pages[0].obj
    link = Dictionary(
        Type=Name.Annot,
        Subtype=Name.Link,
        Rect=Array([0, 0, 50, 50]),
        A=Dictionary(
            S=Name.URI, URI=String(f"https://tracker.example/uri-{CANARY}"), Next=_js(pdf, "link-next")
        ),
    )
    note = Dictionary(
        Type=Name.Annot, Subtype=Name.Text, Rect=Array([60, 60, 80, 80]), Contents=String(f"note-{CANARY}")
    )
    page.Annots = Array([pdf.make_indirect(link), pdf.make_indirect(note)])
    page.AA = Dictionary(O=_js(pdf, "page-aa"))
    corpus["annotations-uri"] = _saved(pdf)

    pdf = _base_pdf()
    page = pdf.pages[0].obj
    widget = pdf.make_indirect(
        Dictionary(
            Type=Name.Annot,
            Subtype=Name.Widget,
            FT=Name.Tx,
            T=String("name"),
            V=String(f"field-{CANARY}"),
            Rect=Array([10, 10, 150, 30]),
            P=page,
            AA=Dictionary(K=_js(pdf, "field-aa")),
        )
    )
    page.Annots = Array([widget])
    xfa = pdf.make_stream(f"<xdp:xdp xmlns:xdp='http://ns.adobe.com/xdp/'>xfa-{CANARY}</xdp:xdp>".encode())
    pdf.Root.AcroForm = Dictionary(Fields=Array([widget]), XFA=xfa)
    corpus["xfa-form"] = _saved(pdf)

    # Everything at once, and where a cleaner that only looks at the
    # catalog would miss it: a form XObject with XMP and an action, a
    # document-level AA, outlines with a JavaScript action, document
    # information and XMP on the catalog.
    pdf = _base_pdf()
    page = pdf.pages[0].obj
    form = pdf.make_stream(b"0 0 m 10 10 l S")
    form.Type, form.Subtype, form.BBox = Name.XObject, Name.Form, Array([0, 0, 10, 10])
    form.Metadata = pdf.make_stream(f"<x:xmpmeta>xobject-{CANARY}</x:xmpmeta>".encode())
    form.PieceInfo = Dictionary(App=Dictionary(Private=String(f"pieceinfo-{CANARY}")))
    page.Resources.XObject = Dictionary(X1=form)
    page.Contents = pdf.make_stream(page.Contents.read_bytes() + b" q /X1 Do Q")
    pdf.Root.OpenAction = _js(pdf, "all-openaction")
    pdf.Root.AA = Dictionary(WC=_js(pdf, "doc-aa"))
    pdf.Root.Names = Dictionary(JavaScript=Dictionary(Names=Array([String("a"), _js(pdf, "all-names")])))
    pdf.attachments["id.txt"] = pikepdf.AttachedFileSpec(pdf, f"all-embedded-{CANARY}".encode())
    item = pdf.make_indirect(Dictionary(Title=String(f"outline-{CANARY}"), A=_js(pdf, "outline")))
    pdf.Root.Outlines = pdf.make_indirect(Dictionary(Type=Name.Outlines, First=item, Last=item, Count=1))
    item.Parent = pdf.Root.Outlines
    page.Annots = Array(
        [
            pdf.make_indirect(
                Dictionary(
                    Type=Name.Annot,
                    Subtype=Name.Link,
                    Rect=Array([0, 0, 5, 5]),
                    A=Dictionary(S=Name.URI, URI=String(f"https://tracker.example/all-{CANARY}")),
                )
            )
        ]
    )
    with pdf.open_metadata(set_pikepdf_as_editor=False) as meta:
        meta["dc:creator"] = [f"xmp-{CANARY}"]
    pdf.docinfo["/Author"] = f"info-{CANARY}"
    corpus["everything"] = _saved(pdf)
    return corpus


def refused_pdfs() -> dict[str, tuple[bytes, str]]:
    """PDFs that get no redacted copy, with the reason the console gives."""
    encrypted = _saved(_base_pdf(), encryption=pikepdf.Encryption(owner="o-secret", user="u-secret"))
    owner_only = _saved(_base_pdf(), encryption=pikepdf.Encryption(owner="o-secret", user=""))
    good = _saved(_base_pdf())
    # Cross-reference table and trailer cut off: qpdf would have to rebuild
    # them (and guess); refused as damaged.
    truncated = good[: good.rindex(b"xref")]
    return {
        "encrypted": (encrypted, "the PDF is encrypted (protected by a password)"),
        "owner-password": (owner_only, "the PDF is encrypted (protected by a password)"),
        "malformed": (truncated, "the PDF is damaged or not a PDF"),
        "garbage": (b"%PDF-1.7\n" + b"\x00garbage" * 100, "the PDF is damaged or not a PDF"),
    }


FORBIDDEN_KEYS = {
    "/OpenAction",
    "/AA",
    "/JS",
    "/JavaScript",
    "/Names",
    "/EmbeddedFiles",
    "/EmbeddedFile",
    "/EF",
    "/Annots",
    "/AcroForm",
    "/XFA",
    "/Metadata",
    "/PieceInfo",
    "/Outlines",
    "/URI",
    "/AF",
}


def _stream_data(stream: pikepdf.Stream) -> bytes:
    """A stream's data decoded, or as stored when it does not decode (a
    damaged stream is copied as it is)."""
    try:
        return bytes(stream.read_bytes())
    except pikepdf.PdfError:  # also an image's JPEG data, which qpdf does not decode
        return bytes(stream.read_raw_bytes())


def pdf_leftovers(data: bytes, *, canaries: bool = True) -> list[str]:
    """Everything a redacted copy must not hold, read with pikepdf: every
    object, direct or indirect, every key, every string and stream
    (``canaries``: also the corpus's marked strings, wherever they are)."""
    found: list[str] = []
    with pikepdf.open(io.BytesIO(data)) as pdf:
        if "/Info" in pdf.trailer:
            found.append("trailer /Info")
        if len(pdf.attachments):
            found.append("attachments")
        found += [f"catalog {k}" for k in list(pdf.Root.keys()) if k not in ("/Type", "/Pages")]

        def walk(obj: Any, depth: int = 0) -> None:
            assert depth < 50
            if isinstance(obj, pikepdf.Dictionary | pikepdf.Stream):
                found.extend(k for k in list(obj.keys()) if k in FORBIDDEN_KEYS)
                if str(obj.get("/S", "")) in ("/JavaScript", "/URI", "/Launch", "/SubmitForm"):
                    found.append(str(obj.get("/S")))
                if str(obj.get("/Type", "")) in ("/Annot", "/Filespec", "/EmbeddedFile"):
                    found.append(str(obj.get("/Type")))
                if canaries and isinstance(obj, pikepdf.Stream) and CANARY.encode() in _stream_data(obj):
                    found.append("a canary in a stream")
                for key in list(obj.keys()):
                    value = obj[key]
                    if isinstance(value, pikepdf.Dictionary | pikepdf.Array) and not value.is_indirect:
                        walk(value, depth + 1)
                    elif canaries and isinstance(value, pikepdf.String) and CANARY in str(value):
                        found.append(f"a canary in {key}")
            elif isinstance(obj, pikepdf.Array):
                for item in obj:
                    if isinstance(item, pikepdf.Dictionary | pikepdf.Array) and not item.is_indirect:
                        walk(item, depth + 1)
                    elif canaries and isinstance(item, pikepdf.String) and CANARY in str(item):
                        found.append("a canary in an array")

        for obj in pdf.objects:
            walk(obj)
    return found


def assert_only_pictures(data: bytes) -> None:
    """A flattened copy: every page draws one JPEG and nothing else (no
    font, so no text layer)."""
    with pikepdf.open(io.BytesIO(data)) as pdf:
        for page in pdf.pages:
            assert set(page.Resources.keys()) == {"/XObject"}
            [picture] = page.Resources.XObject.values()
            assert picture.Subtype == Name.Image and picture.Filter == Name.DCTDecode
            assert page.Contents.read_bytes().startswith(b"q ") and b"Tf" not in page.Contents.read_bytes()
        assert not [
            o for o in pdf.objects if isinstance(o, pikepdf.Dictionary) and o.get("/Type") == Name.Font
        ]


def looks_alike(copy: bytes, original: bytes) -> bool:
    """Whether the copy's first page looks like the original's: drawn by
    PDFium at 72 dpi without annotations, their mean difference is under half
    the original's difference from a blank page of its size."""
    import pypdfium2  # type: ignore[import-untyped]

    def draw(data: bytes) -> Image.Image:
        document = pypdfium2.PdfDocument(data)
        try:
            return document[0].render(scale=1, draw_annots=False).to_pil().convert("L")
        finally:
            document.close()

    def difference(a: Image.Image, b: Image.Image) -> float:
        return float(ImageStat.Stat(ImageChops.difference(a, b)).mean[0])

    drawn, reference = draw(copy), draw(original)
    if drawn.size != reference.size:
        return False
    blank = Image.new("L", reference.size, 255)
    return difference(drawn, reference) < difference(blank, reference) / 2


def test_text_hidden_under_a_shape_stays_in_a_cleaned_copy_and_leaves_a_flattened_one() -> None:
    """What the two copies say they are: cleaning keeps the pages' text,
    including a name "redacted" by a black box drawn over it; flattening
    keeps only what the page shows."""
    pdf = _base_pdf()
    page = pdf.pages[0].obj
    page.Contents = pdf.make_stream(b"BT /F1 12 Tf 20 100 Td (Hidden Name) Tj ET 0 g 15 95 100 20 re f")
    hidden = _saved(pdf)
    cleaned = attachments.redact_pdf(hidden).data
    with pikepdf.open(io.BytesIO(cleaned)) as copy:
        assert b"(Hidden Name) Tj" in copy.pages[0].Contents.read_bytes()
    flattened = attachments.flatten_pdf(hidden).data
    assert_only_pictures(flattened)
    assert b"Hidden" not in flattened and looks_alike(flattened, hidden)


def test_what_hangs_inside_direct_objects_is_cleaned_too() -> None:
    """A dictionary or array written inside another object (the page's
    font, in its resources, in the page) is no object of its own in the
    file: the cleaner follows it, into arrays as into dictionaries."""
    pdf = _base_pdf()
    font = pdf.pages[0].obj.Resources.Font.F1
    assert not font.is_indirect
    font.PieceInfo = Dictionary(App=Dictionary(Private=String(f"nested-{CANARY}")))
    font.Extra = Array([Dictionary(JS=String(f"app.alert('array-{CANARY}')"))])
    hostile = _saved(pdf)
    assert {"a canary in /Private", "a canary in /JS"} <= set(pdf_leftovers(hostile))
    cleaned = attachments.redact_pdf(hostile).data
    assert pdf_leftovers(cleaned) == []
    with pikepdf.open(io.BytesIO(cleaned)) as copy:
        assert copy.pages[0].Resources.Font.F1.BaseFont == Name.Helvetica


def test_the_corpus_carries_what_it_claims() -> None:
    # If the corpus lost its attacks, the test below would prove nothing.
    corpus = hostile_pdfs()
    for name, data in corpus.items():
        assert pdf_leftovers(data), name
    everything = set(pdf_leftovers(corpus["everything"]))
    assert {"/JavaScript", "/URI", "/Annot", "/Filespec", "/EmbeddedFile", "trailer /Info"} <= everything
    assert {"catalog /AcroForm", "/XFA"} <= set(pdf_leftovers(corpus["xfa-form"]))


def test_damaged_hostile_pdfs_are_refused_or_cleaned_never_an_error() -> None:
    """Bytes of the corpus changed at random: each is either refused as a
    PDF the console will not rewrite, or holds nothing that acts or carries
    files. (Not the canaries: damage can rename a key, /PieceInfo into one
    no reader knows, and the cleaner keeps keys it does not know; see
    docs/console.md.)"""
    corpus = list(hostile_pdfs().values())
    rng = random.Random(13)  # noqa: S311 (reproducible damage, not a secret)
    for _ in range(120):
        data = bytearray(rng.choice(corpus))
        for _ in range(rng.randint(1, 6)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        try:
            attachments.inspect_pdf(bytes(data))
            copy = attachments.redact_pdf(bytes(data))
        except attachments.UnsafePdfError:
            continue
        assert pdf_leftovers(copy.data, canaries=False) == []


def test_hostile_pdfs_get_clean_copies_and_are_never_rendered(
    console_app: Flask, console: str, auth: AuthActions, fake_intake: FakeIntake
) -> None:
    """Each hostile PDF, sent under a harmless name: the inspect page lists
    its active content, never embeds it; the redacted copy, opened with
    pikepdf, holds no script, action, embedded file, annotation, form field,
    XFA, outline or metadata, and keeps its page. Encrypted and damaged
    PDFs are refused with the reason, never a 500."""
    corpus = hostile_pdfs()
    refused = refused_pdfs()
    files = [(f"{name}.txt", "text/plain", data) for name, data in corpus.items()]
    files += [(f"{name}.pdf", "application/pdf", data) for name, (data, _) in refused.items()]
    envelope_id = synced_case(console_app, fake_intake, files)
    http = http_login(console, auth)
    base = f"/cases/{envelope_id}/attachments"

    for position, (name, data) in enumerate(corpus.items()):
        page = http.get(f"{console}{base}/{position}/inspect")
        assert page.status_code == 200, name
        assert "This PDF holds active content or files" in page.text, name
        assert 'id="redacted-kind"' in page.text and "cleaned, not flattened" in page.text
        assert 'id="flattened-kind"' in page.text and "each page drawn as an image" in page.text
        assert_never_rendered(http, console, base, position, page.text)
        assert http.get(f"{console}{base}/{position}/preview.png").status_code == 415

        copy = http.get(f"{console}{base}/{position}/redacted")
        assert copy.status_code == 200, name
        assert copy.headers["Content-Type"] == "application/octet-stream"
        assert f'filename="{name}-redacted.pdf"' in copy.headers["Content-Disposition"]
        assert copy.headers["Content-Security-Policy"].startswith("sandbox")
        assert pdf_leftovers(copy.content) == [], name
        assert CANARY.encode() not in copy.content
        with pikepdf.open(io.BytesIO(copy.content)) as clean, pikepdf.open(io.BytesIO(data)) as original:
            assert len(clean.pages) == len(original.pages) == 1
            assert b"(Visible words) Tj" in clean.pages[0].Contents.read_bytes()

        flat = http.get(f"{console}{base}/{position}/redacted", params={"as": "flattened"})
        assert flat.status_code == 200, name
        assert f'filename="{name}-flattened.pdf"' in flat.headers["Content-Disposition"]
        assert flat.headers["Content-Security-Policy"].startswith("sandbox")
        assert pdf_leftovers(flat.content) == [], name
        assert_only_pictures(flat.content)
        assert looks_alike(flat.content, data), name

    everything = http.get(f"{console}{base}/{list(corpus).index('everything')}/inspect").text
    for listed in ("OpenAction", "document JavaScript", "embedded files (1)", "annotations or links (1)"):
        assert listed in everything
    assert "links to https://tracker.example/all-canary" in everything
    xfa = http.get(f"{console}{base}/{list(corpus).index('xfa-form')}/inspect").text
    assert "form fields (1)" in xfa and "an XFA form" in xfa

    for offset, (name, (_data, reason)) in enumerate(refused.items()):
        position = len(corpus) + offset
        page = http.get(f"{console}{base}/{position}/inspect")
        assert page.status_code == 200, name
        assert f"No preview: {reason}." in page.text, name
        assert "Download a redacted copy" not in page.text and "Download a flattened copy" not in page.text
        assert_never_rendered(http, console, base, position, page.text)
        copy = http.get(f"{console}{base}/{position}/redacted")
        assert copy.status_code == 415, name
        assert f"No redacted copy of this PDF: {reason}." in copy.text
        flat = http.get(f"{console}{base}/{position}/redacted", params={"as": "flattened"})
        assert flat.status_code == 415, name
        assert f"No redacted copy of this PDF: {reason}." in flat.text


# --------------------------------------------------------------------------
# HEIC/HEIF: an iPhone photo with GPS, sent under a misleading name


def heic_with_gps() -> bytes:
    """A HEIC photo made here with pillow-heif: EXIF GPS (45.5 N, 73.57 W),
    make and model, and XMP naming its author."""
    image = Image.new("RGB", (64, 48), (10, 120, 200))
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "Apple"
    exif[ExifTags.Base.Model] = "iPhone 15"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (45.0, 30.0, 0.0)
    gps[ExifTags.GPS.GPSLongitudeRef] = "W"
    gps[ExifTags.GPS.GPSLongitude] = (73.0, 34.0, 12.0)
    out = io.BytesIO()
    # pillow-heif's own writer: the test makes the photo without relying on
    # the console having registered the format with Pillow.
    pillow_heif.from_pillow(image).save(out, exif=exif.tobytes(), xmp=_xmp(creator="Heic Author"), quality=80)
    return out.getvalue()


def _xmp(creator: str, lat: str | None = None, lon: str | None = None) -> bytes:
    gps = f' exif:GPSLatitude="{lat}" exif:GPSLongitude="{lon}"' if lat and lon else ""
    return (
        '<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?>'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/"'
        f' xmlns:exif="http://ns.adobe.com/exif/1.0/"{gps}>'
        f"<dc:creator><rdf:Seq><rdf:li>{creator}</rdf:li></rdf:Seq></dc:creator>"
        '</rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end="w"?>'
    ).encode()


def jpeg_segments(data: bytes) -> list[tuple[int, bytes]]:
    """The marker segments of a JPEG before its image data, read byte by
    byte (a second reader, independent of Pillow): ``(marker, payload)``."""
    assert data[:2] == b"\xff\xd8"
    segments: list[tuple[int, bytes]] = []
    i = 2
    while i < len(data):
        assert data[i] == 0xFF
        marker = data[i + 1]
        length = int.from_bytes(data[i + 2 : i + 4], "big")
        segments.append((marker, data[i + 4 : i + 2 + length]))
        if marker == 0xDA:  # start of scan: image data follows
            break
        i += 2 + length
    return segments


def exiftool_groups(data: bytes, tmp_path: Path) -> set[str]:
    """Metadata groups exiftool finds in ``data`` (besides the file's own)."""
    path = tmp_path / "copy.bin"
    path.write_bytes(data)
    exiftool = shutil.which("exiftool")
    assert exiftool is not None
    output = subprocess.run(  # noqa: S603 (a fixed tool on a file this test wrote)
        [exiftool, "-j", "-G", "-a", "-u", str(path)], capture_output=True, check=True, timeout=60
    ).stdout
    return {key.split(":", 1)[0] for key in json.loads(output)[0] if ":" in key}


def test_heic_photo_is_found_by_its_bytes_and_its_copy_carries_nothing(
    console_app: Flask, console: str, auth: AuthActions, fake_intake: FakeIntake, tmp_path: Path
) -> None:
    """An iPhone photo (HEIC) sent as ``notes.txt``, text/plain: inspected
    as a photo, its GPS shown with the warning that the original still
    carries it, previewed as a clean PNG, and its redacted copy (a JPEG)
    has no EXIF, XMP, ICC or GPS, read with exiftool and byte by byte."""
    heic = heic_with_gps()
    envelope_id = synced_case(console_app, fake_intake, [("notes.txt", "text/plain", heic)])
    http = http_login(console, auth)
    base = f"/cases/{envelope_id}/attachments/0"

    page = http.get(f"{console}{base}/inspect")
    assert page.status_code == 200
    assert "HEIC/HEIF 64×48" in page.text
    assert '<dd id="image-gps">45.50000, -73.57000</dd>' in page.text
    assert (
        "This image reveals: GPS, device, owner, XMP metadata. The original file still carries all of it: "
        "share only the redacted copy" in page.text
    )
    assert "Apple iPhone 15" in page.text and "Heic Author" in page.text
    assert_never_rendered(http, console, f"/cases/{envelope_id}/attachments", 0, page.text)

    preview = http.get(f"{console}{base}/preview.png")
    assert preview.status_code == 200 and preview.headers["Content-Type"] == "image/png"
    with Image.open(io.BytesIO(preview.content)) as shown:
        assert shown.size == (64, 48) and not shown.getexif() and set(shown.info) <= {"dpi"}

    copy = http.get(f"{console}{base}/redacted")
    assert copy.status_code == 200
    assert 'filename="notes-redacted.jpg"' in copy.headers["Content-Disposition"]
    # Second reader: the JPEG's segments, byte by byte. Only JFIF (APP0),
    # tables, frame and scan headers: no APP1 (EXIF, XMP), APP2 (ICC),
    # APP13 (IPTC) or comment.
    markers = {marker for marker, _ in jpeg_segments(copy.content)}
    assert markers <= {0xE0, 0xDB, 0xC4, 0xC0, 0xC2, 0xDD, 0xDA}, sorted(hex(m) for m in markers)
    for needle in (b"Apple", b"iPhone", b"Heic Author", b"Exif", b"xmpmeta", b"ICC_PROFILE"):
        assert needle not in copy.content
    if shutil.which("exiftool"):  # installed by scripts/ci-setup.sh
        assert exiftool_groups(heic, tmp_path) >= {"EXIF", "XMP"}  # the reader sees them when there
        assert exiftool_groups(copy.content, tmp_path) <= {"ExifTool", "File", "JFIF", "Composite"}
    with Image.open(io.BytesIO(copy.content)) as clean:
        assert clean.format == "JPEG" and clean.size == (64, 48)
        assert not clean.getexif() and "icc_profile" not in clean.info and "xmp" not in clean.info


# --------------------------------------------------------------------------
# What a file gives away besides EXIF


def icc_naming_a_device(maker: str, model: str) -> bytes:
    """An sRGB ICC profile with ``dmnd``/``dmdd`` tags naming a device (as a
    phone's or scanner's own profile does), built from LittleCMS's sRGB by
    adding two multiLocalizedUnicode tags."""
    profile = bytes(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())
    count = int.from_bytes(profile[128:132], "big")
    table = [profile[132 + 12 * i : 144 + 12 * i] for i in range(count)]
    body_at = 132 + 12 * (count + 2)  # two more table entries
    shift = body_at - (132 + 12 * count)
    entries = [
        (entry[:4], int.from_bytes(entry[4:8], "big") + shift, int.from_bytes(entry[8:12], "big"))
        for entry in table
    ]
    data = bytearray(profile[132 + 12 * count :])
    for signature, text in ((b"dmnd", maker), (b"dmdd", model)):
        data += bytes((-(body_at + len(data))) % 4)
        encoded = text.encode("utf-16-be")
        tag = b"mluc" + bytes(4) + (1).to_bytes(4, "big") + (12).to_bytes(4, "big")
        tag += b"enUS" + len(encoded).to_bytes(4, "big") + (28).to_bytes(4, "big") + encoded
        entries.append((signature, body_at + len(data), len(tag)))
        data += tag
    out = bytearray(profile[:128]) + (count + 2).to_bytes(4, "big")
    for signature, offset, size in entries:
        out += signature + offset.to_bytes(4, "big") + size.to_bytes(4, "big")
    out += data
    out[0:4] = len(out).to_bytes(4, "big")
    out[84:100] = bytes(16)  # no profile id: it would no longer match
    return bytes(out)


def png_giving_away() -> bytes:
    """A PNG with text chunks (tEXt, zTXt, iTXt), XMP naming its author and
    a GPS position, and an ICC profile naming a scanner."""
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "Scanned at Lin Mei-hua's home")
    info.add_text("Author", "Chen Wei-ming", zip=True)
    info.add_itxt("Description", "給家人的信", lang="zh", tkey="說明")
    info.add_itxt("XML:com.adobe.xmp", _xmp(creator="Xmp Person", lat="43,39.6N", lon="79,23.4W").decode())
    out = io.BytesIO()
    Image.new("RGB", (32, 24), (5, 5, 5)).save(
        out, format="PNG", pnginfo=info, icc_profile=icc_naming_a_device("Canary Devices", "Scanner 9000")
    )
    return out.getvalue()


def jpeg_with_comments() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (16, 16), (90, 90, 90)).save(out, format="JPEG", comment=b"first comment: Lin Mei-hua")
    data = out.getvalue()
    second = b"second comment: a street name"
    return data[:2] + b"\xff\xfe" + (len(second) + 2).to_bytes(2, "big") + second + data[2:]


def test_inspect_lists_xmp_icc_device_text_chunks_and_comments(
    console_app: Flask, console: str, auth: AuthActions, fake_intake: FakeIntake
) -> None:
    """What a file gives away beyond EXIF is listed and counted in the
    warning as readable text; the redacted copies carry none of it."""
    envelope_id = synced_case(
        console_app,
        fake_intake,
        [("scan.png", "image/png", png_giving_away()), ("photo.jpg", "image/jpeg", jpeg_with_comments())],
    )
    http = http_login(console, auth)
    base = f"{console}/cases/{envelope_id}/attachments"

    png = http.get(f"{base}/0/inspect").text
    assert (
        "This image reveals: GPS, owner, XMP metadata, a colour profile naming a device, readable text (3)."
        in png
    )
    assert '<dd id="image-gps">43.66000, -79.39000 (XMP)</dd>' in png
    icc = png.split('<dd id="image-icc">', 1)[1].split("</dd>", 1)[0]
    assert "device: Canary Devices Scanner 9000" in icc
    xmp = png.split('<dl id="image-xmp">', 1)[1].split("</dl>", 1)[0]
    assert "<dt>dc:creator</dt><dd>Xmp Person</dd>" in xmp
    assert "<dt>exif:GPSLatitude</dt><dd>43,39.6N</dd>" in xmp
    texts = png.split('<dl id="image-texts">', 1)[1].split("</dl>", 1)[0]
    assert "Readable text in the file (3)" in png
    for listed in ("Scanned at Lin Mei-hua&#39;s home", "Chen Wei-ming", "給家人的信"):
        assert listed in texts

    jpeg = http.get(f"{base}/1/inspect").text
    assert "This image reveals: readable text (2)." in jpeg
    texts = jpeg.split('<dl id="image-texts">', 1)[1].split("</dl>", 1)[0]
    assert "first comment: Lin Mei-hua" in texts and "second comment: a street name" in texts

    for position, needles in (
        (0, (b"Mei-hua", b"Chen", b"Xmp Person", b"Canary Devices", b"iCCP", b"tEXt", b"zTXt", b"iTXt")),
        (1, (b"comment", b"Mei-hua")),
    ):
        copy = http.get(f"{base}/{position}/redacted")
        assert copy.status_code == 200
        for needle in needles:
            assert needle not in copy.content, needle
        assert attachments.inspect_image(copy.content).reveals == []


def test_the_common_srgb_profile_names_no_device() -> None:
    """The sRGB profile most software embeds describes a colour space, not
    a person's device: listed, not warned about."""
    out = io.BytesIO()
    srgb = icc_naming_a_device("IEC http://www.iec.ch", "IEC 61966-2.1 Default RGB colour space - sRGB")
    Image.new("RGB", (4, 4)).save(out, format="PNG", icc_profile=srgb)
    facts = attachments.inspect_image(out.getvalue())
    assert facts.icc is not None and "IEC 61966-2.1" in facts.icc
    assert not facts.icc_device and facts.reveals == []


def test_an_xmp_packet_with_a_dtd_is_not_parsed() -> None:
    """Billion laughs in XMP: reported present, never expanded."""
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><x:xmpmeta xmlns:x="adobe:ns:meta/">&b;</x:xmpmeta>'
    )
    info = PngImagePlugin.PngInfo()
    info.add_itxt("XML:com.adobe.xmp", bomb.decode())
    out = io.BytesIO()
    Image.new("L", (4, 4)).save(out, format="PNG", pnginfo=info)
    facts = attachments.inspect_image(out.getvalue())
    assert facts.xmp == [("XMP", "present (not read: it declares a DTD)")]
    assert "XMP metadata" in facts.reveals


# --------------------------------------------------------------------------
# Memory: a small PNG of 40 megapixels


def bomb_png(width: int = 8000, height: int = 5000) -> bytes:
    """A black RGB PNG of ``width`` x ``height`` (40 megapixels by default)
    that weighs about 120 kB, compressed row by row without ever holding
    the pixels."""

    def chunk(kind: bytes, payload: bytes) -> bytes:
        body = kind + payload
        return len(payload).to_bytes(4, "big") + body + zlib.crc32(body).to_bytes(4, "big")

    header = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 2, 0, 0, 0])
    compressor = zlib.compressobj(9)
    row = bytes(1 + width * 3)
    idat = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


class RecordingBudget(attachments.DecodeBudget):
    """A decode budget that remembers the most it ever held at once."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.peak = 0
        self.peak_running = 0

    def reserve(self, cost: int) -> Any:
        outer = super().reserve(cost)
        budget = self

        class _Recording:
            def __enter__(self) -> None:
                outer.__enter__()
                with budget._cond:
                    budget.peak = max(budget.peak, budget._used)
                    budget.peak_running = max(budget.peak_running, budget._running)

            def __exit__(self, *exc: object) -> None:
                outer.__exit__(*exc)

        return _Recording()


def test_a_40_megapixel_png_is_refused_over_the_budget_with_a_clear_message(
    make_console: Any, auth: AuthActions, intake_factory: Any
) -> None:
    """A budget smaller than one decode of the bomb: inspect says why there
    is no preview, the preview and the redacted copy answer 413 with a
    message; no 500, nothing decoded."""
    app = make_console(IMAGE_MEMORY_BUDGET=64)
    fake = intake_factory(app)
    envelope_id = synced_case(app, fake, [("small.png", "image/png", bomb_png())])
    with _served(app) as base:
        http = http_login(base, AuthActions(app, app.test_client()))
        url = f"{base}/cases/{envelope_id}/attachments/0"
        page = http.get(f"{url}/inspect")
        assert page.status_code == 200
        assert "No preview: the image would take more memory to decode than the console allows" in page.text
        assert "Download a redacted copy" not in page.text
        for path in ("preview.png", "redacted"):
            refused = http.get(f"{url}/{path}")
            assert refused.status_code == 413, path
            assert "too large to decode within the console&#39;s memory limit" in refused.text
        assert app.extensions[DECODE_BUDGET_EXTENSION].in_use == 0


def test_concurrent_previews_take_turns_within_the_budget(make_console: Any, intake_factory: Any) -> None:
    """Four previews of a large PNG at once over HTTP, with a budget that
    holds one decode: every one answers 200, and the budget never held more
    than its limit (one decode at a time). With no time to wait, a request
    meets "busy" (503, Retry-After) rather than a dead process."""
    app = make_console(IMAGE_MEMORY_BUDGET=64, IMAGE_DECODE_WAIT=60)
    fake = intake_factory(app)
    png = bomb_png(3000, 2000)  # 6 megapixels: 24 MB decoded, about 55 MB reserved for a preview
    envelope_id = synced_case(app, fake, [("a.png", "image/png", png)])
    budget = RecordingBudget(64 * 1024 * 1024, decodes=4, wait=60)
    app.extensions[DECODE_BUDGET_EXTENSION] = budget
    with _served(app) as base:
        http = http_login(base, AuthActions(app, app.test_client()))
        url = f"{base}/cases/{envelope_id}/attachments/0/preview.png"
        statuses: list[int] = []

        def fetch() -> None:
            statuses.append(http.get(url).status_code)

        threads = [threading.Thread(target=fetch) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        assert statuses == [200] * 4
        assert 0 < budget.peak <= budget.limit and budget.peak_running == 1
        assert budget.in_use == 0

        # The budget held by someone else and no time to wait: "busy".
        hurried = attachments.DecodeBudget(64 * 1024 * 1024, decodes=1, wait=0.2)
        app.extensions[DECODE_BUDGET_EXTENSION] = hurried
        with hurried.reserve(1):
            busy = http.get(url)
            page = http.get(url.replace("preview.png", "inspect"))
        assert busy.status_code == 503 and busy.headers["Retry-After"] == "60"
        assert "The console is busy decoding other large images. Try again in a minute." in busy.text
        assert page.status_code == 200
        assert "No preview yet: the console is busy decoding other large images." in page.text
        assert http.get(url).status_code == 200  # and once it is free, it works


class _served:
    """The app served on loopback for a ``with`` block."""

    def __init__(self, app: Flask) -> None:
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        return f"http://127.0.0.1:{self.server.port}"

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


def _png_with_orientation() -> bytes:
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6
    out = io.BytesIO()
    Image.new("RGB", (40, 20), (1, 2, 3)).save(out, format="PNG", exif=exif.tobytes())
    return out.getvalue()


def _recording_load(load: Any, budget: attachments.DecodeBudget, loads: list[int]) -> Any:
    """``load`` that first notes what the budget holds when pixels are about
    to be decoded (an image whose ``tile`` is still set, or HEIF's first
    load)."""

    def recording(self: Any) -> Any:
        if getattr(self, "tile", None) or self._im is None:
            loads.append(budget.in_use)
        return load(self)

    return recording


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(_png_with_orientation(), id="png-exif"),
        pytest.param(png_giving_away(), id="png-text"),
        pytest.param(jpeg_with_comments(), id="jpeg"),
        pytest.param(heic_with_gps(), id="heic"),
    ],
)
def test_every_decode_happens_inside_the_budget(data: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    """Pixels are decoded only while the budget is reserved: nothing on the
    way in (Pillow's getexif() on a PNG decodes the whole image, which once
    made four "budgeted" previews cost four full decodes at once)."""
    from PIL import ImageFile
    from pillow_heif.as_plugin import _LibHeifImageFile

    budget = attachments.DecodeBudget(64 * 1024 * 1024, decodes=1, wait=1)
    loads: list[int] = []
    for cls in (ImageFile.ImageFile, _LibHeifImageFile):
        monkeypatch.setattr(cls, "load", _recording_load(cls.load, budget, loads))
    attachments.inspect_image(data, budget=budget)
    attachments.reencode_image(data, budget=budget)
    attachments.redact_image(data, budget=budget)
    assert loads and all(held > 0 for held in loads), loads
    assert budget.in_use == 0
    with Image.open(io.BytesIO(attachments.reencode_image(_png_with_orientation()))) as upright:
        assert upright.size == (20, 40)  # the orientation is still applied
