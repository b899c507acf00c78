"""Benchmark: the console's memory while four reviewers preview a
decompression bomb of a PNG at once.

    .venv/bin/python bench/attachments.py [--previews 4] [--budget 384]

A 40-megapixel RGB PNG (8000 x 5000, black: about 120 kB on the wire,
160 MB once Pillow decodes it) is attached to a report served by the fake
intake of the tests; a console is made in a scratch folder, its key
unlocked, the report synced, a reviewer logged in; the console is served on
a loopback port (threaded, as in production). Then ``--previews`` requests
for ``preview.png`` are sent at once, and the console process's peak
resident memory over its resident memory before them is measured (Linux:
``VmHWM`` of /proc/self/status, reset through /proc/self/clear_refs; the
client threads hold only the small previews).

Target (docs/console.md, "Memory"): that peak stays under the decode
budget ``IMAGE_MEMORY_BUDGET`` (``--budget`` MiB, the default setting).
Before the budget, one preview cost about 470 MB and four at once about
1.9 GB. Prints the peak, the budget, their ratio (target <= 1.0) and the
seconds the previews took; exits 1 if the ratio is over 1. Numbers only,
never content.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
import zlib
from pathlib import Path
from typing import Any

import requests
from werkzeug.serving import make_server

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "admin"))

from admin import create_app  # noqa: E402
from admin.extensions import DB_EXTENSION  # noqa: E402
from admin.keys import custody  # noqa: E402
from core.envelope import AttachmentInput, RecipientPrivateKey  # noqa: E402
from tests.admin.admin_testlib import (  # noqa: E402
    CHEAP_ARGON2ID,
    PASSPHRASE,
    PASSWORD,
    RECIPIENT_ID,
    AuthActions,
    FakeIntake,
    sync_from,
    unlock,
)

MIB = 1024 * 1024


def bomb_png(width: int = 8000, height: int = 5000) -> bytes:
    """A black RGB PNG compressed row by row (never holding the pixels)."""

    def chunk(kind: bytes, payload: bytes) -> bytes:
        body = kind + payload
        return len(payload).to_bytes(4, "big") + body + zlib.crc32(body).to_bytes(4, "big")

    header = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 2, 0, 0, 0])
    compressor = zlib.compressobj(9)
    row = bytes(1 + width * 3)
    idat = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def _status(field: str) -> int:
    """A /proc/self/status field in bytes (``VmRSS``, ``VmHWM``)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {field} in /proc/self/status (Linux only)")


def _reset_peak() -> None:
    """Reset VmHWM to the current RSS (Linux 4.0+: write 5 to clear_refs)."""
    Path("/proc/self/clear_refs").write_text("5")


def run(previews: int, budget_mib: int) -> float:
    """Measure; returns the ratio of peak growth to the budget."""
    with tempfile.TemporaryDirectory(prefix="bench-attachments-") as scratch:
        data_dir = Path(scratch) / "data"
        app: Any = create_app(
            {
                "DATA_DIR": str(data_dir),
                "SECRET_KEY": "bench-only-secret",
                "ARGON2ID": CHEAP_ARGON2ID,
                "TESTING": True,
                "WTF_CSRF_ENABLED": False,
                "LOGIN_TIME_FLOOR": 0,
                "IMAGE_MEMORY_BUDGET": budget_mib,
                "IMAGE_DECODE_WAIT": 600,
            }
        )
        key = RecipientPrivateKey.generate()
        custody.store_private_key(
            key, PASSPHRASE, recipient_id=RECIPIENT_ID, data_dir=data_dir, argon2id=CHEAP_ARGON2ID
        )
        fake = FakeIntake(key)
        fake.start()
        app.config["INTAKE_URL"], app.config["INTAKE_TOKEN"] = fake.url, fake.token
        png = bomb_png()
        served = fake.add({"narrative": "bench"}, (AttachmentInput("small.png", "image/png", png),))
        unlock(app)
        sync_from(app, fake)
        auth = AuthActions(app, app.test_client())
        email = auth.create("reviewer")
        server = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        base = f"http://127.0.0.1:{server.port}"
        try:
            http = requests.Session()
            http.trust_env = False
            http.post(f"{base}/login", data={"email": email, "password": PASSWORD})
            http.post(f"{base}/login/totp", data={"code": auth.next_code(email)})
            url = f"{base}/cases/{served.envelope_id}/attachments/0/preview.png"
            statuses: list[int] = []

            def fetch() -> None:
                statuses.append(http.get(url, timeout=900).status_code)

            fetch()  # warm up: imports, template and decoder caches
            statuses.clear()
            del png
            before = _status("VmRSS")
            _reset_peak()
            started = time.perf_counter()
            threads = [threading.Thread(target=fetch) for _ in range(previews)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            seconds = time.perf_counter() - started
            peak = _status("VmHWM") - before
        finally:
            server.shutdown()
            server.server_close()
            fake.stop()
            app.extensions[DB_EXTENSION].engine.dispose()
    budget = budget_mib * MIB
    ratio = peak / budget
    print(f"previews at once:      {previews} of a 40-megapixel PNG ({len(bomb_png()) // 1000} kB)")
    print(f"answers:               {sorted(statuses)}")
    print(f"peak memory added:     {peak / MIB:.0f} MiB")
    print(f"decode budget:         {budget_mib} MiB")
    print(f"ratio peak / budget:   {ratio:.2f} (target <= 1.00)")
    print(f"time for all previews: {seconds:.1f} s")
    if statuses != [200] * previews:
        print("not every preview answered 200")
        return float("inf")
    return ratio


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--previews", type=int, default=4)
    parser.add_argument("--budget", type=int, default=384, help="IMAGE_MEMORY_BUDGET, MiB")
    args = parser.parse_args()
    sys.exit(0 if run(args.previews, args.budget) <= 1.0 else 1)


if __name__ == "__main__":
    main()
