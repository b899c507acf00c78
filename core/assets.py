"""Scripts and stylesheets under content-hashed names, with Subresource
Integrity, for both apps.

Every ``.js`` and ``.css`` file of a static folder gets a second name with
the first 16 hex digits of its SHA-256 before the suffix
(``js/intake.js`` -> ``js/intake.0123456789abcdef.js``). Pages link the
hashed name with an ``integrity`` attribute (W3C Subresource Integrity,
SHA-384), so:

- the hashed name is cached for a year (``immutable``): its bytes never
  change under that name;
- a page (always ``no-store``) names the release's hash and integrity, so
  a script a seized intake served once, even under the right name and
  cached for a year, does not run once the server is repaired: the browser
  refuses bytes that do not match the page's integrity;
- the plain name still answers, with ``Cache-Control: no-cache``, for
  anything that links it (never the apps' own pages).

The manifest is read once at start from the files on disk; a deployment
restarts the app with a new release. The console uses the same manifest of
its own copy of the release to check what an intake serves
(admin/sync/watch.py).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import cast

from flask import Flask, Response, send_from_directory, url_for

#: Files that get hashed names and integrity: what a page loads.
SUFFIXES = (".js", ".css")
#: Hex digits of SHA-256 in a hashed name (64 bits: no two releases collide).
HASH_DIGITS = 16
#: How long a hashed name may be cached: a year, never revalidated.
IMMUTABLE = "public, max-age=31536000, immutable"
#: Plain names: the browser asks again each time (and gets a 304).
REVALIDATE = "no-cache"


@dataclass(frozen=True)
class Asset:
    """One script or stylesheet: its plain name (relative, with ``/``), its
    hashed name, the SHA-256 of its bytes (hex) and its SRI value."""

    name: str
    hashed: str
    sha256: str
    integrity: str


def describe(name: str, data: bytes) -> Asset:
    """The :class:`Asset` of file ``name`` with content ``data``."""
    digest = hashlib.sha256(data).hexdigest()
    path = PurePosixPath(name)
    hashed = str(path.with_name(f"{path.stem}.{digest[:HASH_DIGITS]}{path.suffix}"))
    integrity = "sha384-" + base64.b64encode(hashlib.sha384(data).digest()).decode("ascii")
    return Asset(name=name, hashed=hashed, sha256=digest, integrity=integrity)


class AssetManifest:
    """The scripts and stylesheets of one static folder, by plain and by
    hashed name.

    Args:
        root: the static folder (read recursively, once).
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        found: dict[str, Asset] = {}
        for path in sorted(root.rglob("*")):
            if path.is_file() and path.suffix in SUFFIXES:
                name = path.relative_to(root).as_posix()
                found[name] = describe(name, path.read_bytes())
        self.by_name: Mapping[str, Asset] = found
        self.by_hashed: Mapping[str, Asset] = {a.hashed: a for a in found.values()}

    def __getitem__(self, name: str) -> Asset:
        """The asset of plain name ``name``.

        Raises:
            KeyError: no such script or stylesheet (a template typo: fails
                the page at once rather than load nothing).
        """
        return self.by_name[name]


def install(app: Flask, root: Path, endpoint: str) -> AssetManifest:
    """Serve ``root``'s scripts and stylesheets under hashed names through
    the static view ``endpoint`` (``static`` or ``auth.static``), and give
    templates ``asset_url(name)`` and ``asset_integrity(name)``.

    Returns:
        The manifest (also in ``app.extensions["assets"]``).
    """
    manifest = AssetManifest(root)
    original = app.view_functions[endpoint]

    def static(filename: str) -> Response:
        asset = manifest.by_hashed.get(filename)
        if asset is None:
            response = cast(Response, original(filename=filename))
            response.headers["Cache-Control"] = REVALIDATE
            return response
        response = send_from_directory(root, asset.name, conditional=True, etag=True)
        response.headers["Cache-Control"] = IMMUTABLE
        return response

    app.view_functions[endpoint] = static

    def asset_url(name: str) -> str:
        return url_for(endpoint, filename=manifest[name].hashed)

    def asset_integrity(name: str) -> str:
        return manifest[name].integrity

    app.jinja_env.globals["asset_url"] = asset_url
    app.jinja_env.globals["asset_integrity"] = asset_integrity
    app.extensions["assets"] = manifest
    return manifest
