"""Debian's Chromium, as every browser test and benchmark launches it:
headless, from the binary ``which chromium`` prints (``playwright install``
cannot download here), with the same flags."""

from __future__ import annotations

import shutil

#: The flags of every launch: no sandbox (containers), no GPU, no shared
#: memory file, and nothing that talks to the network on its own.
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)


def chromium_path() -> str | None:
    """The Chromium binary on ``PATH`` (Debian's ``chromium``), or None."""
    return shutil.which("chromium") or shutil.which("chromium-browser")
