"""Images are inspected and re-encoded before display; originals are never
shown inline; SHA-256 of the original for chain of custody."""

from __future__ import annotations

import hashlib
import io

import pytest
from flask import Flask
from flask.testing import FlaskClient
from PIL import ExifTags, Image

from admin.attachments import sanitize as attachments
from admin.extensions import KEYRING_EXTENSION
from core.envelope import AttachmentInput
from tests.admin.admin_testlib import AuthActions, FakeIntake, sync_from, unlock

SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'


def photo_with_metadata() -> bytes:
    image = Image.new("RGB", (64, 48), (200, 30, 30))
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "CanaryCam"
    exif[ExifTags.Base.Model] = "Model-7"
    exif[ExifTags.Base.Software] = "TrackerSoft 1.0"
    exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.DateTimeOriginal] = "2026:10:03 21:14:05"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (43.0, 39.0, 36.0)
    gps[ExifTags.GPS.GPSLongitudeRef] = "W"
    gps[ExifTags.GPS.GPSLongitude] = (79.0, 23.0, 24.0)
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif)
    return out.getvalue()


def test_inspect_reads_gps_device_and_time() -> None:
    facts = attachments.inspect_image(photo_with_metadata())
    assert facts.format == "JPEG" and (facts.width, facts.height) == (64, 48)
    assert facts.gps == "43.66000, -79.39000"
    assert facts.device == "CanaryCam Model-7"
    assert facts.taken == "2026:10:03 21:14:05"
    assert facts.reveals == ["GPS", "device", "time"]


def test_reencoded_image_has_no_metadata() -> None:
    png = attachments.reencode_image(photo_with_metadata())
    assert png.startswith(b"\x89PNG")
    for needle in (b"CanaryCam", b"TrackerSoft", b"2026:10:03", b"Exif"):
        assert needle not in png
    with Image.open(io.BytesIO(png)) as image:
        assert image.size == (64, 48)
        assert not image.getexif()
        assert set(image.info) <= {"dpi"}


@pytest.mark.parametrize("data", [SVG, b"%PDF-1.7 not an image", b""])
def test_non_images_are_not_decoded(data: bytes) -> None:
    with pytest.raises(attachments.UnsafeImageError):
        attachments.inspect_image(data)


def test_too_many_pixels_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(attachments, "MAX_PIXELS", 100)
    with pytest.raises(attachments.UnsafeImageError, match="pixels"):
        attachments.reencode_image(photo_with_metadata())


def test_inspect_page_and_preview(
    console_app: Flask, console_client: FlaskClient, auth: AuthActions, fake_intake: FakeIntake
) -> None:
    photo = photo_with_metadata()
    served = fake_intake.add(
        {"narrative": "x"},
        (AttachmentInput("IMG_1.jpg", "image/jpeg", photo), AttachmentInput("x.svg", "image/svg+xml", SVG)),
    )
    unlock(console_app)
    sync_from(console_app, fake_intake)
    auth.login_as("reviewer")
    base = f"/cases/{served.envelope_id}/attachments"
    page = console_client.get(f"{base}/0/inspect").get_data(as_text=True)
    assert "43.66000, -79.39000" in page and "CanaryCam Model-7" in page
    assert "This image reveals: GPS, device, time." in page
    assert hashlib.sha256(photo).hexdigest() in page
    assert f'src="{base}/0/preview.png"' in page
    assert f'src="{base}/0"' not in page  # the original is never an <img>

    preview = console_client.get(f"{base}/0/preview.png")
    assert preview.status_code == 200 and preview.mimetype == "image/png"
    assert b"CanaryCam" not in preview.data
    assert preview.headers["Content-Security-Policy"].startswith("sandbox")

    svg_page = console_client.get(f"{base}/1/inspect").get_data(as_text=True)
    assert "No preview" in svg_page and "<script>alert(1)</script>" not in svg_page
    assert console_client.get(f"{base}/1/preview.png").status_code == 415

    console_app.extensions[KEYRING_EXTENSION].lock()
    assert console_client.get(f"{base}/0/preview.png").status_code == 403
