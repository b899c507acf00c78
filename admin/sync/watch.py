"""The watch from the trusted side: compare what the intake serves to
reporters with the pinned roster and with this console's copy of the same
release (``flask --app admin intake check``, also after every sync).

It fetches, as a reporter's browser would (optionally through a SOCKS
proxy such as Tor, so it looks like one):

- ``/keys.json``, the key set the form offers (intake/keyset.py), compared
  with the pinned roster (admin/keys/roster.py): a key outside it, a key whose
  organization, names, dates or status differ, a revoked key, or a roster
  key the intake no longer offers;
- the public pages in every language (the form, the receipt check, the
  safety page): the Content-Security-Policy must be the release's; no
  inline script or event handler; every script and stylesheet must be one
  of the release's, under its content-hashed name, with the release's
  Subresource Integrity (core/assets.py); no resource from another
  origin, no form posting elsewhere; every key the page shows (``data-kid``,
  ``data-public-key``, the fingerprint) must be pinned, and the form must
  offer every active roster key;
- every script and stylesheet those pages load, compared byte for byte
  (SHA-256) with the files of this release (the bundle is reproducible:
  tests/test_bundle.py).

Each difference is one line naming what differs (a URL, a fingerprint, a
hash prefix); :func:`run_check` raises an alarm for each (kind
``intake.check``). What this cannot see: an intake that serves a different
page to one targeted reporter (by address, time, cookie or Tor circuit)
and the real one to everyone else, this check included
(docs/threat-model.md, "Seized intake").
"""

from __future__ import annotations

import base64
import hashlib
import http.cookiejar
import json
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
import urllib3
from sqlalchemy.orm import Session

from core.assets import AssetManifest
from core.db import ROOT, Database
from core.envelope import KeyFileError
from core.envelope.keys import b64encode, group_fingerprint
from core.i18n import LANGUAGES
from core.keyset import FORMAT as KEYSET_FORMAT
from core.keyset import PATH as KEYSET_PATH
from core.web import CSP, CSP_DIRECTIVES, build_csp

from ..alarms.service import Kind, raise_alarm
from ..audit import log as audit
from ..keys.roster import Pins, RosterEntry
from .pagescan import Page, elsewhere, origin, scan_page

#: The public pages fetched in every language (``{lang}``: its URL code).
PAGES = ("/{lang}/", "/{lang}/receipt", "/{lang}/safety")
#: The release's policies: the pages that seal in the browser add
#: ``'wasm-unsafe-eval'`` to ``script-src`` (core/web.py), nothing else.
ALLOWED_CSP = frozenset({CSP, build_csp(CSP_DIRECTIVES, {"script-src": ("'wasm-unsafe-eval'",)})})
#: Tor Browser's User-Agent: the check looks like a reporter's browser.
USER_AGENT = "Mozilla/5.0 (Windows NT 10.0; rv:128.0) Gecko/20100101 Firefox/128.0"
#: The most read of one answer: the pages and the bundle are far smaller.
MAX_BYTES = 8 * 1024 * 1024
#: Seconds one answer may take in all (the timeout bounds each wait only).
PAGE_DEADLINE = 120.0


class CheckError(Exception):
    """The check cannot run (settings, or a proxy without SOCKS support)."""


@dataclass
class CheckResult:
    """What a check found: one line per difference (each an alarm), what
    could not be fetched (network faults, 5xx: the check is incomplete, no
    alarm), and how many answers it compared."""

    differences: list[str] = field(default_factory=list)
    unreachable: list[str] = field(default_factory=list)
    fetched: int = 0

    @property
    def ok(self) -> bool:
        return not self.differences and not self.unreachable


@dataclass(frozen=True)
class _Answer:
    """A 200 answer, read within the cap."""

    headers: Mapping[str, str]
    body: bytes


@dataclass(frozen=True)
class _Expected:
    """The keys a page may show, by id, with their public key (base64), and
    the ones the form must offer."""

    keys: Mapping[str, str | None]
    offered: frozenset[str]


class IntakeWatch:
    """One check of an intake.

    Args:
        base_url: the address reporters use (``INTAKE_CHECK_URL``, else
            ``INTAKE_URL``).
        pins: the pinned roster and the keys held.
        manifest: this release's scripts and stylesheets (the console's
            copy of ``static/``).
        proxy: e.g. ``socks5h://127.0.0.1:9050`` (Tor): every request goes
            through it, names resolved by the proxy.
        timeout: seconds to connect and between bytes.
    """

    def __init__(
        self,
        base_url: str,
        pins: Pins,
        manifest: AssetManifest,
        *,
        proxy: str | None = None,
        timeout: float = 30.0,
        languages: Iterable[str] = tuple(LANGUAGES),
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.pins = pins
        self.manifest = manifest
        self.timeout = timeout
        self.languages = tuple(languages)
        self._http = requests.Session()
        # No cookies kept between pages, no token: a first visit each time.
        self._http.cookies.set_policy(_NoCookies())
        self._http.headers["User-Agent"] = USER_AGENT
        if proxy:
            self._http.proxies = {"http": proxy, "https": proxy}
        self.result = CheckResult()

    def close(self) -> None:
        self._http.close()

    def _differs(self, line: str) -> None:
        if line not in self.result.differences:
            self.result.differences.append(line)

    def _get(self, path: str) -> _Answer | None:
        """GET ``path`` (no redirect followed, at most :data:`MAX_BYTES`).
        None when it failed: a 200 that is not one, or an answer too large,
        is a difference; no answer at all (network, 5xx, 429) leaves the check
        incomplete without an alarm, since it says nothing of what the
        intake serves.

        Raises:
            CheckError: a SOCKS proxy without SOCKS support installed.
        """
        try:
            response = self._http.get(
                self.base_url + path, timeout=self.timeout, allow_redirects=False, stream=True
            )
        except requests.exceptions.InvalidSchema as exc:
            raise CheckError(
                "the proxy needs SOCKS support: pip install 'tnr-intake[tor]' (PySocks)"
            ) from exc
        except requests.RequestException as exc:
            self._unreachable(f"GET {path} failed ({exc.__class__.__name__})")
            return None
        deadline = time.monotonic() + PAGE_DEADLINE
        with response:
            body = bytearray()
            try:
                while piece := response.raw.read1(64 * 1024, decode_content=True):
                    body += piece
                    if len(body) > MAX_BYTES:
                        self._differs(f"GET {path} is larger than {MAX_BYTES} bytes")
                        return None
                    if time.monotonic() > deadline:
                        self._unreachable(f"GET {path} came too slowly (over {PAGE_DEADLINE:g} s)")
                        return None
            except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
                self._unreachable(f"GET {path} broke off ({exc.__class__.__name__})")
                return None
        self.result.fetched += 1
        if response.status_code >= 500 or response.status_code == 429:
            # Down, or throttling a busy moment: the check is incomplete.
            self._unreachable(f"GET {path} answered HTTP {response.status_code}")
            return None
        if response.status_code != 200:
            self._differs(f"GET {path} answered HTTP {response.status_code}")
            return None
        return _Answer(response.headers, bytes(body))

    def _unreachable(self, line: str) -> None:
        if line not in self.result.unreachable:
            self.result.unreachable.append(line)

    def run(self) -> CheckResult:
        """Fetch and compare everything; the differences are in the result.

        Raises:
            CheckError: a SOCKS proxy is set but PySocks is not installed.
        """
        expected = self._check_keyset()
        assets: dict[str, str] = {}
        for lang in self.languages:
            for template in PAGES:
                path = template.format(lang=lang)
                answer = self._get(path)
                if answer is not None:
                    self._check_page(path, answer, expected, assets, form=template == "/{lang}/")
        for url, name in sorted(assets.items()):
            answer = self._get(url)
            if answer is None:
                continue
            digest = hashlib.sha256(answer.body).hexdigest()
            if digest != self.manifest[name].sha256:
                self._differs(
                    f"the intake serves {url} with other bytes than this release "
                    f"(sha256 {digest[:16]}, release {self.manifest[name].sha256[:16]})"
                )
        return self.result

    # -- the key set ------------------------------------------------------

    def _pinned(self) -> dict[str, tuple[str, str | None, bool]]:
        """Key id -> (recipient id, base64 public key or None, offered)."""
        if self.pins.roster is None:
            return {k: (r, None, True) for k, r in self.pins.held.items()}
        return {
            e.key_id: (e.recipient_id, b64encode(e.public_key.raw), e.status == "active")
            for e in self.pins.roster.values()
        }

    def _check_keyset(self) -> _Expected:
        pinned = self._pinned()
        expected = _Expected(
            keys={k: v[1] for k, v in pinned.items()},
            offered=frozenset(k for k, v in pinned.items() if v[2]),
        )
        answer = self._get(KEYSET_PATH)
        if answer is None:
            return expected
        try:
            doc = json.loads(answer.body)
        except (ValueError, RecursionError):
            self._differs(f"{KEYSET_PATH} is not JSON")
            return expected
        keys = doc.get("keys") if isinstance(doc, dict) and doc.get("format") == KEYSET_FORMAT else None
        if not isinstance(keys, list) or not all(isinstance(k, dict) for k in keys):
            self._differs(f"{KEYSET_PATH} is not a {KEYSET_FORMAT} document")
            return expected
        served_active: set[str] = set()
        for item in keys:
            self._check_served_key(item, pinned, served_active)
        for key_id in sorted(expected.offered - served_active):
            self._differs(
                f"{KEYSET_PATH} does not offer key {group_fingerprint(key_id)} of {pinned[key_id][0]} "
                "(active in the pinned roster)"
            )
        return expected

    def _check_served_key(
        self, item: Mapping[str, Any], pinned: Mapping[str, tuple[str, str | None, bool]], active: set[str]
    ) -> None:
        key_id = str(item.get("key_id", ""))
        public = item.get("public_key")
        # The id is the public key's SHA-256: a served id is checked against
        # the served key, never taken on trust.
        try:
            real_id = hashlib.sha256(base64.b64decode(str(public), validate=True)).hexdigest()
        except ValueError:
            real_id = ""
        shown = group_fingerprint(real_id or key_id)
        recipient = item.get("recipient_id")
        if real_id != key_id:
            self._differs(f"{KEYSET_PATH} lists key {shown} of {recipient} under another key id")
            return
        if item.get("status") == "active":
            active.add(key_id)
        if key_id not in pinned:
            self._differs(
                f"{KEYSET_PATH} offers key {shown} of {recipient}, which is not in the pinned roster"
            )
            return
        want_recipient, _b64, offered = pinned[key_id]
        entry = (self.pins.roster or {}).get(key_id)
        what = []
        if recipient != want_recipient:
            what.append(f"organization {recipient} (roster: {want_recipient})")
        if entry is not None:
            names = item.get("name")
            if not isinstance(names, dict) or (names.get("en"), names.get("zh")) != (
                entry.name_en,
                entry.name_zh,
            ):
                what.append("names")
            if (
                item.get("expires") != entry.expires.isoformat()
                or item.get("created") != entry.created.isoformat()
            ):
                what.append("dates")
            if item.get("status") == "active" and not offered:
                what.append(f"offered to reporters (roster: {entry.status})")
        if what:
            self._differs(f"{KEYSET_PATH} key {shown} differs from the pinned roster: {', '.join(what)}")

    # -- pages ------------------------------------------------------------

    def _check_page(
        self,
        path: str,
        answer: _Answer,
        expected: _Expected,
        assets: dict[str, str],
        *,
        form: bool,
    ) -> None:
        csp = answer.headers.get("Content-Security-Policy", "")
        if csp not in ALLOWED_CSP:
            self._differs(f"{path}: its Content-Security-Policy differs from this release's")
        if answer.headers.get("Cache-Control") != "no-store":
            self._differs(f"{path}: not sent with Cache-Control: no-store")
        page = scan_page(answer.body.decode("utf-8", "replace"))
        for handler in page.handlers:
            self._differs(f"{path}: an inline event handler ({handler})")
        for src, integrity, inline in page.scripts:
            if inline or not src:
                self._differs(f"{path}: an inline script")
            if src:
                self._check_asset(path, "script", src, integrity, assets)
        for href, integrity in page.stylesheets:
            self._check_asset(path, "stylesheet", href, integrity, assets)
        for what, url in page.loads:
            if elsewhere(url):
                self._differs(f"{path}: {what} points to another origin ({origin(url)})")
        self._check_page_keys(path, page, expected, form=form)
        self._check_page_names(path, page)

    def _check_asset(
        self, path: str, what: str, url: str, integrity: str | None, assets: dict[str, str]
    ) -> None:
        if elsewhere(url):
            self._differs(f"{path}: loads a {what} from another origin ({origin(url)})")
            return
        local = urlsplit(url).path
        hashed = local.removeprefix("/static/") if local.startswith("/static/") else None
        asset = self.manifest.by_hashed.get(hashed) if hashed else None
        if asset is None:
            self._differs(f"{path}: loads {what} {local}, which is not in this release")
            return
        if integrity != asset.integrity:
            self._differs(f"{path}: loads {local} without this release's integrity")
        assets[local] = asset.name

    def _check_page_names(self, path: str, page: Page) -> None:
        """The name the form shows for each organization is the roster's
        (Chinese on the Chinese pages, English elsewhere, as the form does)."""
        if self.pins.roster is None:
            return
        names = _names(self.pins.roster)
        chinese = path.startswith("/zh")
        for recipient_id, shown in page.organizations:
            if recipient_id not in names:
                self._differs(
                    f"{path}: offers organization {recipient_id[:64]}, which is not in the pinned roster"
                )
                continue
            want = names[recipient_id][1 if chinese else 0]
            if shown != " ".join(want.split()):
                self._differs(f"{path}: names {recipient_id} otherwise than the pinned roster")

    def _check_page_keys(self, path: str, page: Page, expected: _Expected, *, form: bool) -> None:
        shown_ids = set()
        pinned = self._pinned()
        for key_id, public, listed_under in page.keys:
            shown_ids.add(key_id)
            fingerprint = group_fingerprint(key_id)
            if key_id not in expected.keys:
                self._differs(f"{path}: shows key {fingerprint}, which is not in the pinned roster")
                continue
            owner = pinned[key_id][0]
            if listed_under is not None and listed_under != owner:
                self._differs(f"{path}: shows key {fingerprint} of {owner} under {listed_under}")
            want = expected.keys[key_id]
            if public is not None and want is not None and public != want:
                self._differs(f"{path}: key {fingerprint} carries another public key than the roster's")
        pinned_prints = {group_fingerprint(k) for k in expected.keys}
        for printed in page.fingerprints:
            if printed not in pinned_prints:
                self._differs(f"{path}: shows fingerprint {printed}, which is not in the pinned roster")
        if form:
            for key_id in sorted(expected.offered - shown_ids):
                self._differs(f"{path}: the form does not offer key {group_fingerprint(key_id)}")


def _names(roster: Mapping[str, RosterEntry]) -> dict[str, tuple[str, str]]:
    """Recipient id -> (English name, Chinese name), from its active keys."""
    names: dict[str, tuple[str, str]] = {}
    for entry in roster.values():
        if entry.status == "active" or entry.recipient_id not in names:
            names[entry.recipient_id] = (entry.name_en, entry.name_zh)
    return names


class _NoCookies(http.cookiejar.DefaultCookiePolicy):
    """A cookie policy that keeps and sends nothing (each page is a first visit)."""

    def set_ok(self, cookie: http.cookiejar.Cookie, request: Any) -> bool:
        return False

    def return_ok(self, cookie: http.cookiejar.Cookie, request: Any) -> bool:
        return False


def check_settings(config: Mapping[str, Any]) -> tuple[str, str | None, float]:
    """The check's ``(url, proxy, timeout)`` from ``INTAKE_CHECK_URL`` (else
    ``INTAKE_URL``), ``INTAKE_CHECK_PROXY`` and ``INTAKE_TIMEOUT``.

    Raises:
        CheckError: no URL.
    """
    url = config.get("INTAKE_CHECK_URL") or config.get("INTAKE_URL")
    if not url:
        raise CheckError("set ADMIN_INTAKE_CHECK_URL (or ADMIN_INTAKE_URL) to check the intake")
    proxy = config.get("INTAKE_CHECK_PROXY") or None
    return str(url), str(proxy) if proxy else None, float(config.get("INTAKE_TIMEOUT", 30))


def run_check(
    session: Session,
    pins: Pins,
    manifest: AssetManifest,
    url: str,
    *,
    proxy: str | None = None,
    timeout: float = 30.0,
    actor: str = "cli",
    languages: Sequence[str] = tuple(LANGUAGES),
) -> CheckResult:
    """Check the intake at ``url`` and record the outcome in ``session``'s
    transaction (the caller commits): an alarm (``intake.check``) per
    difference, and an audit entry ``intake.check`` with the counts.

    Raises:
        CheckError: the check cannot run (nothing is recorded).
    """
    watch = IntakeWatch(url, pins, manifest, proxy=proxy, timeout=timeout, languages=languages)
    try:
        result = watch.run()
    finally:
        watch.close()
    for line in result.differences:
        raise_alarm(session, Kind.INTAKE_CHECK, f"intake check: {line}")
    audit.record(
        session,
        actor,
        audit.Action.INTAKE_CHECK,
        None,
        f"fetched={result.fetched} differences={len(result.differences)} "
        f"unreachable={len(result.unreachable)}",
    )
    return result


def check_now(
    config: Mapping[str, Any], database: Database, data_dir: Path, *, actor: str = "cli"
) -> tuple[list[str], str | None]:
    """Run the check with the app's settings (:func:`check_settings`)
    against this release's ``static/`` and record its alarms and audit
    entry (committed here).

    Returns:
        The differences (each now an alarm), and why the check could not
        run or fetch everything (no alarm for that), else None.
    """
    try:
        url, proxy, timeout = check_settings(config)
        with database.session() as session:
            pins = Pins.load(session, data_dir)
            result = run_check(
                session, pins, AssetManifest(ROOT / "static"), url, proxy=proxy, timeout=timeout, actor=actor
            )
    except (CheckError, KeyFileError) as exc:
        return [], str(exc)
    incomplete = (
        f"the intake could not be checked in full: {'; '.join(result.unreachable[:3])}"
        if result.unreachable
        else None
    )
    return result.differences, incomplete
