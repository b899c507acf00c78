"""Benchmark: what the report form weighs over the wire, without and with
JavaScript, in every shipped language.

    /work/venv/bin/python bench/page_weight.py [--level 6]

Loads ``/<lang>/`` in headless Chromium (Debian's, ``executable_path``)
from the intake served on a loopback port (generated keys, a scratch data
folder), once with JavaScript off and once on, and records every response
the page itself asked for (Chromium's own ``/favicon.ico`` request is left
out). Each body is gzipped (``--level``, default 6, a common
``gzip_comp_level``; the intake itself leaves compression to nginx), and the
response headers are counted as sent (uncompressed, HTTP/1.1). Without
JavaScript a browser fetches no script, so that figure is HTML + CSS; with
JavaScript it adds ``page.js`` and the sealing bundle ``intake.js``.

Prints, per language and load, each resource's raw and gzipped size, the
total, and its ratio to the target (<= 30 kB without JavaScript, <= 70 kB
with; kB = 1000 bytes). Exits 1 if the heaviest language misses a target.
"""

from __future__ import annotations

import argparse
import gzip
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from playwright.sync_api import sync_playwright
from werkzeug.serving import WSGIRequestHandler, make_server

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import intake  # noqa: E402
from core.i18n import LANGUAGES  # noqa: E402
from tests.chromium import CHROMIUM_ARGS, chromium_path  # noqa: E402
from tests.helpers import write_key_file  # noqa: E402

ARGS = list(CHROMIUM_ARGS)
TARGETS = {False: 30_000, True: 70_000}


@dataclass
class Resource:
    """One response the page loaded."""

    path: str
    raw: int
    gzipped: int
    headers: int

    @property
    def transferred(self) -> int:
        return self.gzipped + self.headers


class _Quiet(WSGIRequestHandler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass


def _headers_size(status: int, headers: dict[str, str]) -> int:
    lines = [f"HTTP/1.1 {status} X"] + [f"{k}: {v}" for k, v in headers.items()]
    return len(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "replace"))


def measure(browser: Any, base: str, lang: str, javascript: bool, level: int) -> list[Resource]:
    context = browser.new_context(base_url=base, java_script_enabled=javascript)
    page = context.new_page()
    responses: list[Any] = []
    page.on("response", lambda response: responses.append(response))
    page.goto(f"/{lang}/", wait_until="load")
    if javascript:
        page.wait_for_selector("form[data-sealing=browser]", state="attached")
    resources = []
    for response in responses:
        path = response.url.removeprefix(base)
        if path == "/favicon.ico":
            continue
        body = response.body()
        resources.append(
            Resource(
                path=path,
                raw=len(body),
                gzipped=len(gzip.compress(body, compresslevel=level, mtime=0)),
                headers=_headers_size(response.status, response.headers),
            )
        )
    context.close()
    return resources


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--level", type=int, default=6, help="gzip level (default 6)")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tnr-weight-") as scratch:
        keys = Path(scratch) / "keys"
        write_key_file(keys, "org-a")
        write_key_file(keys, "org-b")
        app = intake.create_app({"DATA_DIR": str(Path(scratch) / "data"), "KEYS_DIR": str(keys)})
        server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_Quiet)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        base = f"http://127.0.0.1:{server.server_port}"
        worst = {False: 0, True: 0}
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=chromium_path(), headless=True, args=ARGS)
                print(f"report form, two organizations; gzip level {options.level}; kB = 1000 bytes")
                for lang in LANGUAGES:
                    for javascript in (False, True):
                        resources = measure(browser, base, lang, javascript, options.level)
                        total = sum(r.transferred for r in resources)
                        worst[javascript] = max(worst[javascript], total)
                        label = "with JS" if javascript else "no JS"
                        print(f"\n/{lang}/ {label}:")
                        for r in resources:
                            print(
                                f"  {r.path:<26} raw {r.raw:>7,} B  gzip {r.gzipped:>6,} B"
                                f"  + headers {r.headers:>5,} B"
                            )
                        target = TARGETS[javascript]
                        print(
                            f"  total {total / 1000:6.1f} kB  target <= {target / 1000:.0f} kB"
                            f"  ratio {total / target:.2f}"
                        )
                browser.close()
        finally:
            server.shutdown()
            app.extensions["intake.db"].engine.dispose()
    print()
    ok = True
    for javascript in (False, True):
        target = TARGETS[javascript]
        label = "with JavaScript   " if javascript else "without JavaScript"
        verdict = "ok" if worst[javascript] <= target else "OVER TARGET"
        print(
            f"heaviest language {label}: {worst[javascript] / 1000:5.1f} kB / {target / 1000:.0f} kB"
            f" = {worst[javascript] / target:.2f}  {verdict}"
        )
        ok = ok and worst[javascript] <= target
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
