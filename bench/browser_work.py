"""Benchmark: what the reporter's browser pays besides sealing, in one
headless Chromium page on the real intake (loopback, default settings):

1. the ALTCHA proof of work (``TNRIntake.solveAltcha``: fetch a challenge,
   solve it with altcha's solver; intake/abuse/proofofwork.py defaults);
2. the reply key (``TNRIntake.replySeed``: Argon2id, m = 19 MiB, t = 2, in
   hash-wasm's WebAssembly) and, for comparison, the same derivation in
   Python (cryptography / OpenSSL) on this machine.

    /work/venv/bin/python bench/browser_work.py [--runs 7]

Prints medians and each as a ratio of its budget: the proof of work should
take at most 2 s (it runs while the reporter writes, and Send waits for it
only if it has not finished), the reply key at most 1 s (Send and the
receipt check wait for it). Generated keys only; no report content.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

from playwright.sync_api import sync_playwright
from werkzeug.serving import make_server

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import intake  # noqa: E402
from core.envelope.replykey import reply_seed  # noqa: E402
from core.receipts import new_receipt  # noqa: E402
from tests.chromium import CHROMIUM_ARGS, chromium_path  # noqa: E402
from tests.helpers import write_key_file  # noqa: E402

ARGS = list(CHROMIUM_ARGS)
POW_BUDGET_S = 2.0
REPLY_KEY_BUDGET_S = 1.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="tnr-work-"))
    write_key_file(work / "keys", "bench-org")
    app = intake.create_app({"DATA_DIR": str(work / "data"), "KEYS_DIR": str(work / "keys")})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}"
    chromium = chromium_path()
    if chromium is None:
        raise SystemExit("Debian's chromium is needed (apt install chromium)")
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, headless=True, args=ARGS)
            page = browser.new_page()
            page.goto(f"{url}/en/")
            page.wait_for_function("typeof TNRIntake === 'object'")
            pow_ms = [
                float(
                    page.evaluate(
                        """async () => { const t = performance.now();
                           await TNRIntake.solveAltcha('/en/challenge');
                           return performance.now() - t; }"""
                    )
                )
                for _ in range(args.runs)
            ]
            receipts = [new_receipt() for _ in range(args.runs)]
            key_ms = [
                float(
                    page.evaluate(
                        """async (r) => { const t = performance.now();
                           await TNRIntake.replySeed(r); return performance.now() - t; }""",
                        receipt,
                    )
                )
                for receipt in receipts
            ]
            browser.close()
    finally:
        server.shutdown()
        server.server_close()
        app.extensions["intake.db"].engine.dispose()
        shutil.rmtree(work, ignore_errors=True)
    python_ms = []
    for receipt in receipts:
        started = time.perf_counter()
        reply_seed(receipt)
        python_ms.append((time.perf_counter() - started) * 1000)
    pow_median, key_median = statistics.median(pow_ms), statistics.median(key_ms)
    print(
        f"proof of work (fetch + solve): median {pow_median:7.1f} ms, max {max(pow_ms):7.1f} ms, "
        f"ratio to the {POW_BUDGET_S:.0f} s budget {pow_median / 1000 / POW_BUDGET_S:.2f}"
    )
    print(
        f"reply key, browser (Argon2id WASM): median {key_median:7.1f} ms, "
        f"ratio to the {REPLY_KEY_BUDGET_S:.0f} s budget {key_median / 1000 / REPLY_KEY_BUDGET_S:.2f}"
    )
    print(
        f"reply key, Python (OpenSSL): median {statistics.median(python_ms):7.1f} ms "
        f"(browser / Python {key_median / statistics.median(python_ms):.1f} x)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
