"""Benchmark: sealing a 50 MiB attachment in the browser bundle against raw
WebCrypto AES-256-GCM over the same bytes, in one headless Chromium page.

    /work/venv/bin/python bench/browser_seal.py [--size-mib 50] [--runs 5]

Prints the median times, the ratio seal / raw (target <= 1.3) and the peak
JS heap during sealing (V8 heap; ArrayBuffer backing stores are reported
separately where Chromium exposes them). Uses Debian's chromium
(``executable_path``) and serves the committed bundle from a loopback HTTP
server (WebCrypto needs a secure context). Generated data and keys only.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import http.server
import shutil
import statistics
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

from playwright.async_api import async_playwright

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.chromium import CHROMIUM_ARGS, chromium_path  # noqa: E402

ARGS = [*CHROMIUM_ARGS, "--enable-precise-memory-info"]
PAGE = b"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>bench</title>
<script src="/intake.js"></script></head><body></body></html>"""

SETUP_JS = """
async (size) => {
  const data = new Uint8Array(size);
  for (let i = 0; i < size; i += 65536) crypto.getRandomValues(data.subarray(i, Math.min(size, i + 65536)));
  window.benchBlob = new Blob([data]);
  window.benchKey = await crypto.subtle.importKey("raw", crypto.getRandomValues(new Uint8Array(32)),
    "AES-GCM", false, ["encrypt"]);
  window.benchPublicKey = await TNRIntake.publicKeyFromSeed(crypto.getRandomValues(new Uint8Array(32)));
}
"""

# Raw WebCrypto over the same bytes, as sealing has them: read from the Blob,
# then one AES-256-GCM call over all of it.
RAW_JS = """
async () => {
  const t0 = performance.now();
  const data = new Uint8Array(await window.benchBlob.arrayBuffer());
  const iv = new Uint8Array(12);
  const ct = await crypto.subtle.encrypt({ name: "AES-GCM", iv }, window.benchKey, data);
  const t1 = performance.now();
  return { ms: t1 - t0, bytes: ct.byteLength };
}
"""

# Raw WebCrypto in 64 KiB calls (the STREAM chunk size), for reference.
RAW_CHUNKED_JS = """
async () => {
  const t0 = performance.now();
  const data = new Uint8Array(await window.benchBlob.arrayBuffer());
  const chunk = 65536, parts = [];
  let next = 0;
  const n = Math.ceil(data.length / chunk);
  const worker = async () => {
    while (next < n) {
      const k = next++;
      const iv = new Uint8Array(12); new DataView(iv.buffer).setUint32(7, k);
      parts[k] = await crypto.subtle.encrypt({ name: "AES-GCM", iv }, window.benchKey,
        data.subarray(k * chunk, (k + 1) * chunk));
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  return { ms: performance.now() - t0, bytes: parts.reduce((s, p) => s + p.byteLength, 0) };
}
"""

SEAL_JS = """
async () => {
  const t0 = performance.now();
  const sealed = await TNRIntake.sealEnvelope({
    report: { narrative: "bench" },
    files: [{ name: "video.mp4", type: "video/mp4", data: window.benchBlob }],
    recipients: [{ publicKey: window.benchPublicKey }],
    day: "2025-01-01",
  });
  const ms = performance.now() - t0;
  return { ms, bytes: sealed.attachments[0].reduce((s, c) => s + c.length, 0) };
}
"""


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass


def _serve(directory: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    handler = functools.partial(_Quiet, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


async def _heap(cdp: Any) -> tuple[int, int]:
    usage = await cdp.send("Runtime.getHeapUsage")
    return int(usage["usedSize"]), int(usage.get("backingStorageSize", 0))


async def _timed_with_heap(page: Any, cdp: Any, script: str) -> tuple[dict[str, Any], int, int]:
    await cdp.send("HeapProfiler.collectGarbage")
    peak_heap, peak_backing = await _heap(cdp)
    task = asyncio.ensure_future(page.evaluate(script))
    while not task.done():
        heap, backing = await _heap(cdp)
        peak_heap, peak_backing = max(peak_heap, heap), max(peak_backing, backing)
        await asyncio.sleep(0.01)
    return task.result(), peak_heap, peak_backing


async def main(size_mib: int, runs: int) -> int:
    chromium = chromium_path()
    if chromium is None:
        print("chromium not found (apt-get install chromium)", file=sys.stderr)
        return 2
    size = size_mib * 1024 * 1024
    with tempfile.TemporaryDirectory() as tmp:
        site = Path(tmp)
        (site / "index.html").write_bytes(PAGE)
        shutil.copy2(ROOT / "static" / "js" / "intake.js", site / "intake.js")
        server, url = _serve(site)
        try:
            async with async_playwright() as p:
                browser = await p.chromium.launch(executable_path=chromium, headless=True, args=ARGS)
                page = await browser.new_page()
                await page.goto(url + "/index.html")
                cdp = await page.context.new_cdp_session(page)
                await page.evaluate(SETUP_JS, size)
                raw, chunked, sealed = [], [], []
                peak_heap = peak_backing = 0
                for i in range(runs + 1):  # the first round warms up
                    r = await page.evaluate(RAW_JS)
                    c = await page.evaluate(RAW_CHUNKED_JS)
                    s, heap, backing = await _timed_with_heap(page, cdp, SEAL_JS)
                    assert r["bytes"] == size + 16
                    assert s["bytes"] >= size + 16
                    if i:
                        raw.append(r["ms"])
                        chunked.append(c["ms"])
                        sealed.append(s["ms"])
                        peak_heap, peak_backing = max(peak_heap, heap), max(peak_backing, backing)
                version = browser.version
                await browser.close()
        finally:
            server.shutdown()
            server.server_close()
    raw_ms, chunked_ms, seal_ms = (statistics.median(x) for x in (raw, chunked, sealed))
    print(f"chromium {version}, {size_mib} MiB attachment, median of {runs} runs")
    print(f"raw WebCrypto AES-256-GCM, one call:      {raw_ms:8.1f} ms  ({size / raw_ms / 1e3:7.1f} MB/s)")
    rate = size / chunked_ms / 1e3
    print(f"raw WebCrypto AES-256-GCM, 64 KiB calls:  {chunked_ms:8.1f} ms  ({rate:7.1f} MB/s)")
    print(f"sealEnvelope (HPKE, SHA-256, STREAM):     {seal_ms:8.1f} ms  ({size / seal_ms / 1e3:7.1f} MB/s)")
    print(f"ratio seal / raw one call:   {seal_ms / raw_ms:.2f}x  (target <= 1.3x)")
    print(f"ratio seal / raw 64 KiB:     {seal_ms / chunked_ms:.2f}x")
    print(f"peak JS heap while sealing:  {peak_heap / 2**20:.1f} MiB (V8 heap)", end="")
    if peak_backing:
        print(f", ArrayBuffer backing stores {peak_backing / 2**20:.1f} MiB")
    else:
        print()
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mib", type=int, default=50)
    parser.add_argument("--runs", type=int, default=5)
    options = parser.parse_args()
    sys.exit(asyncio.run(main(options.size_mib, options.runs)))
