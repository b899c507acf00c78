"""Redacted copies of attachments: images re-encoded without metadata, PDFs
without document information and XMP; other types not offered."""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import pikepdf
import pytest
from flask import Flask
from flask.testing import FlaskClient
from PIL import ExifTags, Image
from sqlalchemy import select

from admin.attachments import sanitize as attachments
from admin.extensions import DB_EXTENSION, KEYRING_EXTENSION
from admin.models import AuditEntry
from core.envelope import AttachmentInput
from tests.admin.admin_testlib import AuthActions, FakeIntake, sync_from, unlock

# Copies of /work/shared/cases/files (the photo carries GPS, device and owner;
# the letter's document information names a person).
FILES = Path(__file__).parent / "files"
PHOTO = (FILES / "photo_gps.jpg").read_bytes()
LETTER = (FILES / "letter.pdf").read_bytes()


def test_the_sample_files_carry_what_we_remove() -> None:
    # If the samples lost their metadata, the tests below would prove nothing.
    facts = attachments.inspect_image(PHOTO)
    assert facts.gps and facts.device and "Apple" in facts.device
    with pikepdf.open(io.BytesIO(LETTER)) as pdf:
        assert str(pdf.docinfo["/Author"]) == "Chen Wei-ming"


def test_redacted_image_has_no_gps_artist_or_make() -> None:
    copy = attachments.redact_image(PHOTO)
    assert (copy.extension, copy.media_type) == ("jpg", "image/jpeg")
    for needle in (b"Apple", b"iPhone", b"Lin Mei-hua", b"Exif", b"http://ns.adobe.com/xap"):
        assert needle not in copy.data, needle
    with Image.open(io.BytesIO(copy.data)) as image, Image.open(io.BytesIO(PHOTO)) as original:
        exif = image.getexif()
        assert ExifTags.Base.Make not in exif and ExifTags.Base.Artist not in exif
        assert not exif.get_ifd(ExifTags.IFD.GPSInfo)
        assert "exif" not in image.info and "icc_profile" not in image.info
        assert image.size == original.size  # full size, not a thumbnail
    facts = attachments.inspect_image(copy.data)
    assert facts.reveals == []


def test_redacted_png_stays_lossless_and_clean() -> None:
    image = Image.new("RGB", (8, 8), (1, 2, 3))
    out = io.BytesIO()
    image.save(out, format="PNG", pnginfo=_png_text("Author", "Someone Named"))
    copy = attachments.redact_image(out.getvalue())
    assert copy.extension == "png" and b"Someone Named" not in copy.data


def _png_text(key: str, value: str) -> object:
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text(key, value)
    return info


def test_redacted_pdf_has_no_author_and_keeps_its_pages() -> None:
    copy = attachments.redact_pdf(LETTER)
    assert copy.extension == "pdf"
    assert b"Chen Wei-ming" not in copy.data
    with pikepdf.open(io.BytesIO(copy.data)) as pdf, pikepdf.open(io.BytesIO(LETTER)) as original:
        assert "/Info" not in pdf.trailer and len(pdf.docinfo) == 0
        assert "/Metadata" not in pdf.Root
        assert len(pdf.pages) == len(original.pages)
        assert pdf.pages[0].Contents.read_bytes() == original.pages[0].Contents.read_bytes()


def test_redacted_pdf_drops_xmp() -> None:
    with pikepdf.open(io.BytesIO(LETTER)) as pdf:
        with pdf.open_metadata(set_pikepdf_as_editor=False) as meta:
            meta["dc:creator"] = ["Xmp Person"]
        out = io.BytesIO()
        pdf.save(out)
    with_xmp = out.getvalue()
    assert b"Xmp Person" in with_xmp
    assert b"Xmp Person" not in attachments.redact_pdf(with_xmp).data


def test_damaged_pdf_is_refused() -> None:
    with pytest.raises(attachments.UnsafePdfError):
        attachments.redact_pdf(b"%PDF-1.7\n garbage")


@pytest.fixture
def synced(console_app: Flask, fake_intake: FakeIntake) -> str:
    served = fake_intake.add(
        {"narrative": "x"},
        (
            AttachmentInput("IMG_0001.jpg", "image/jpeg", PHOTO),
            AttachmentInput("letter.pdf", "application/pdf", LETTER),
            AttachmentInput("evil.svg", "image/svg+xml", (FILES / "evil.svg").read_bytes()),
            AttachmentInput("notes.txt", "application/pdf", b"not a pdf at all"),
        ),
    )
    unlock(console_app)
    sync_from(console_app, fake_intake)
    return served.envelope_id


def test_download_redacted_copies(
    console_app: Flask, console_client: FlaskClient, auth: AuthActions, synced: str
) -> None:
    auth.login_as("reviewer")
    base = f"/cases/{synced}/attachments"
    page = console_client.get(f"{base}/0/inspect")
    assert b"Download a redacted copy" in page.data

    photo = console_client.get(f"{base}/0/redacted")
    assert photo.status_code == 200
    assert photo.mimetype == "application/octet-stream"
    assert photo.headers["Content-Disposition"].startswith('attachment; filename="IMG_0001-redacted.jpg"')
    assert photo.headers["Content-Security-Policy"].startswith("sandbox")
    assert photo.headers["X-Content-Type-Options"] == "nosniff"
    assert b"Apple" not in photo.data and b"Lin Mei-hua" not in photo.data
    assert attachments.inspect_image(photo.data).gps is None

    assert b"Download a redacted copy" in console_client.get(f"{base}/1/inspect").data
    letter = console_client.get(f"{base}/1/redacted")
    assert letter.status_code == 200
    assert 'filename="letter-redacted.pdf"' in letter.headers["Content-Disposition"]
    assert b"Chen Wei-ming" not in letter.data and letter.data.startswith(b"%PDF-")

    # SVG and a file that only claims to be a PDF: not offered, and refused.
    for position in (2, 3):
        assert b"Download a redacted copy" not in console_client.get(f"{base}/{position}/inspect").data
        assert console_client.get(f"{base}/{position}/redacted").status_code == 404

    with console_app.extensions[DB_EXTENSION].session() as session:
        details = list(
            session.scalars(select(AuditEntry.detail).where(AuditEntry.action == "attachment.redacted"))
        )
    assert details == ["attachment 0 image", "attachment 1 pdf"]


def test_inspect_shows_who_a_file_names_before_it_is_shared(
    console_app: Flask, console_client: FlaskClient, auth: AuthActions, synced: str
) -> None:
    """The reviewer sees what a file gives away: the photo's owner (EXIF
    Artist) besides its GPS and device, the letter's document information
    (its author), each with a warning, and the letter is never rendered."""
    auth.login_as("reviewer")
    base = f"/cases/{synced}/attachments"
    photo = console_client.get(f"{base}/0/inspect").get_data(as_text=True)
    assert "Lin Mei-hua" in photo.split('id="image-owner">', 1)[1].split("</dd>", 1)[0]
    assert "This image reveals: GPS, device, time, owner." in photo

    letter = console_client.get(f"{base}/1/inspect").get_data(as_text=True)
    metadata = letter.split('id="pdf-metadata">', 1)[1].split("</dl>", 1)[0]
    assert "<dt>Author</dt><dd>Chen Wei-ming</dd>" in metadata
    assert "<dt>Pages</dt><dd>1</dd>" in metadata
    assert "This PDF's metadata holds: Author, Creator, Title." in letter
    assert "a PDF is never rendered here" in letter

    # The redacted copy, inspected in turn, names nobody.
    facts = attachments.inspect_pdf(attachments.redact_pdf(LETTER).data)
    assert facts.reveals == [] and "Author" not in facts.info
    assert attachments.inspect_image(attachments.redact_image(PHOTO).data).owner is None
    # A file that only claims to be a PDF, and a damaged one.
    assert "What the PDF carries" not in console_client.get(f"{base}/3/inspect").get_data(as_text=True)
    with pytest.raises(attachments.UnsafePdfError):
        attachments.inspect_pdf(b"%PDF-1.7\n garbage")


def test_redacted_copy_needs_the_key(
    console_app: Flask, console_client: FlaskClient, auth: AuthActions, synced: str
) -> None:
    console_app.extensions[KEYRING_EXTENSION].lock()
    auth.login_as("reviewer")
    response = console_client.get(f"/cases/{synced}/attachments/0/redacted")
    assert response.status_code == 302


def _damaged_images() -> list[tuple[str, str, bytes]]:
    """Images Pillow opens but cannot fully decode: a WebP whose EXIF chunk
    is not TIFF (SyntaxError in Pillow)."""
    webp = io.BytesIO()
    Image.new("RGB", (4, 4), (9, 9, 9)).save(webp, "WEBP", exif=b"this is not a TIFF header at all")
    return [("broken.webp", "image/webp", webp.getvalue())]


def _jpeg_with_cut_orientation() -> bytes:
    """A JPEG whose EXIF orientation entry is cut: Pillow's exif_transpose
    fails on it (struct.error rewriting the EXIF), but its pixels decode and
    the orientation value reads."""
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation
    exif[0x010F], exif[0x0110] = "Make", "Model"
    jpeg = io.BytesIO()
    Image.new("RGB", (4, 2), (9, 9, 9)).save(jpeg, "JPEG", exif=exif.tobytes())
    data = bytearray(jpeg.getvalue())
    data[data.index(b"Exif\x00\x00") + 17] = 0
    return bytes(data)


def test_damaged_images_get_no_preview_and_no_server_error(
    console_app: Flask, console_client: FlaskClient, auth: AuthActions, fake_intake: FakeIntake
) -> None:
    """Pillow raises far more than OSError on damaged files: every page of
    an attachment answers "no preview" (415), never a 500, and no redacted
    copy is offered for what cannot be decoded. A JPEG whose EXIF is
    damaged but whose pixels decode is previewed, upright, and its redacted
    copy carries no EXIF at all."""
    files = _damaged_images()
    cut = ("cut.jpg", "image/jpeg", _jpeg_with_cut_orientation())
    served = fake_intake.add({"narrative": "x"}, tuple(AttachmentInput(*f) for f in [*files, cut]))
    unlock(console_app)
    sync_from(console_app, fake_intake)
    auth.login_as("reviewer")
    base = f"/cases/{served.envelope_id}/attachments"
    with warnings.catch_warnings():
        # Pillow warns about corrupt EXIF; in production a warning is not an
        # error, so neither is it here.
        warnings.simplefilter("ignore")
        for position in range(len(files)):
            page = console_client.get(f"{base}/{position}/inspect")
            assert page.status_code == 200
            text = page.get_data(as_text=True)
            assert "No preview: the image cannot be decoded" in text
            assert "Download a redacted copy" not in text
            assert console_client.get(f"{base}/{position}/preview.png").status_code == 415
            assert console_client.get(f"{base}/{position}/redacted").status_code == 415
            assert console_client.get(f"{base}/{position}").status_code == 200  # the original, as a download
        position = len(files)
        assert "Download a redacted copy" in console_client.get(f"{base}/{position}/inspect").get_data(
            as_text=True
        )
        preview = console_client.get(f"{base}/{position}/preview.png")
        assert preview.status_code == 200
        with Image.open(io.BytesIO(preview.data)) as image:
            assert image.size == (2, 4)  # orientation 6 applied
        redacted = console_client.get(f"{base}/{position}/redacted")
        assert redacted.status_code == 200 and b"Exif" not in redacted.data


def test_an_image_that_is_also_a_pdf_still_shows_what_it_reveals(
    console_app: Flask, console_client: FlaskClient, auth: AuthActions, fake_intake: FakeIntake
) -> None:
    """A photo carrying "%PDF-" in its first kilobyte (a JPEG comment) is a
    PDF to a PDF reader: inspect still shows the photo's GPS and owner,
    and the redacted copy is the re-encoded image."""
    comment = b"%PDF-1.4 not really"
    polyglot = PHOTO[:2] + b"\xff\xfe" + (len(comment) + 2).to_bytes(2, "big") + comment + PHOTO[2:]
    assert attachments.is_pdf(polyglot)
    served = fake_intake.add({"narrative": "x"}, (AttachmentInput("photo.jpg", "image/jpeg", polyglot),))
    unlock(console_app)
    sync_from(console_app, fake_intake)
    auth.login_as("reviewer")
    base = f"/cases/{served.envelope_id}/attachments/0"
    page = console_client.get(f"{base}/inspect").get_data(as_text=True)
    # The comment that makes it a PDF is readable text, counted as such.
    assert "This image reveals: GPS, device, time, owner, readable text (1)." in page
    redacted = console_client.get(f"{base}/redacted")
    assert redacted.status_code == 200 and "-redacted.jpg" in redacted.headers["Content-Disposition"]
    assert attachments.inspect_image(redacted.data).gps is None
