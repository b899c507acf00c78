"""What a public page of the intake loads and shows, as an HTML parser
finds it (:func:`scan_page`), for the watch (admin/sync/watch.py): its
scripts and stylesheets, anything else it loads, inline handlers, and the
organizations and keys the form offers."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urlsplit

#: Elements whose URL attribute makes the browser load something.
_LOADING = {
    "img": ("src", "srcset"),
    "iframe": ("src",),
    "frame": ("src",),
    "embed": ("src",),
    "object": ("data",),
    "source": ("src", "srcset"),
    "audio": ("src",),
    "video": ("src", "poster"),
    "track": ("src",),
    "input": ("src",),
    "form": ("action",),
    "button": ("formaction",),
    "base": ("href",),
}


@dataclass
class Page:
    """What a page loads and shows, as the HTML parser found it."""

    scripts: list[tuple[str | None, str | None, bool]] = field(default_factory=list)
    stylesheets: list[tuple[str, str | None]] = field(default_factory=list)
    loads: list[tuple[str, str]] = field(default_factory=list)
    handlers: list[str] = field(default_factory=list)
    #: (key id, public key, the organization the key is listed under).
    keys: list[tuple[str, str | None, str | None]] = field(default_factory=list)
    fingerprints: list[str] = field(default_factory=list)
    #: (recipient id, the name the form shows for it), in order.
    organizations: list[tuple[str, str]] = field(default_factory=list)


class _Scanner(HTMLParser):
    """Collects a :class:`Page` as the parser meets its tags."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.page = Page()
        self._in_script = False
        self._script_text: list[str] = []
        self._in_fingerprint = False
        self._fingerprint: list[str] = []
        self._recipient: str | None = None
        self._in_org = False
        self._org: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        self.page.handlers.extend(f"<{tag} {name}>" for name, _value in attrs if name.startswith("on"))
        if tag == "script":
            self._start_script(found)
        elif tag == "link":
            self._link(found)
        self.page.loads.extend(
            (f"<{tag} {attr}>", str(found[attr])) for attr in _LOADING.get(tag, ()) if found.get(attr)
        )
        self._keys(tag, found)

    def _start_script(self, found: Mapping[str, str | None]) -> None:
        self._in_script = True
        self._script_text = []
        self.page.scripts.append((found.get("src"), found.get("integrity"), False))

    def _link(self, found: Mapping[str, str | None]) -> None:
        rel = (found.get("rel") or "").lower().split()
        href = found.get("href") or ""
        if "stylesheet" in rel:
            self.page.stylesheets.append((href, found.get("integrity")))
        elif rel and not set(rel) <= {"alternate", "canonical"}:
            # preload, prefetch, icon, manifest, modulepreload ...: loads.
            self.page.loads.append((f"<link rel={' '.join(rel)}>", href))

    def _keys(self, tag: str, found: Mapping[str, str | None]) -> None:
        """The organizations and keys the form shows: a recipient's input,
        its name (``span.org``), a key's ``data-kid``, a fingerprint."""
        classes = (found.get("class") or "").split()
        if tag == "input" and found.get("name") == "recipients":
            self._recipient = found.get("value")
        if tag == "span" and "org" in classes:
            self._in_org = True
            self._org = []
        if "data-kid" in found:
            self.page.keys.append((str(found["data-kid"]), found.get("data-public-key"), self._recipient))
        if tag == "code" and "fingerprint" in classes:
            self._in_fingerprint = True
            self._fingerprint = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "script" and self._in_script:
            self._in_script = False
            if "".join(self._script_text).strip():
                src, integrity, _inline = self.page.scripts[-1]
                self.page.scripts[-1] = (src, integrity, True)
        elif tag == "span" and self._in_org:
            self._in_org = False
            self.page.organizations.append((self._recipient or "", " ".join("".join(self._org).split())))
        elif tag == "code" and self._in_fingerprint:
            self._in_fingerprint = False
            self.page.fingerprints.append(" ".join("".join(self._fingerprint).split()))

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self._script_text.append(data)
        if self._in_fingerprint:
            self._fingerprint.append(data)
        if self._in_org:
            self._org.append(data)


def scan_page(html: str) -> Page:
    """What a page loads (scripts, stylesheets, other resources), its inline
    scripts and handlers, and the keys it shows."""
    scanner = _Scanner()
    scanner.feed(html)
    scanner.close()
    return scanner.page


def elsewhere(url: str) -> bool:
    """Whether ``url`` leaves this origin (another host, or a scheme such
    as ``https:`` or ``javascript:``); ``data:`` stays (the CSP refuses it)."""
    text = url.strip()
    if text.startswith("//"):
        return True
    parts = urlsplit(text)
    if not parts.scheme:
        return bool(parts.netloc)
    return parts.scheme.lower() != "data"


def origin(url: str) -> str:
    parts = urlsplit(url.strip())
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme else parts.netloc or url[:60]
