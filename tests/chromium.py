"""Debian's Chromium, as every browser test and benchmark launches it:
headless, from the binary ``which chromium`` prints (``playwright install``
cannot download here), with the same flags."""

from __future__ import annotations

import os
import shutil

import pytest

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


def require_chromium() -> str:
    """The Chromium binary, for a browser test: missing, the test fails in
    CI (``scripts/ci-setup.sh`` installs it) and is skipped elsewhere."""
    path = chromium_path()
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is missing in CI: scripts/ci-setup.sh installs it")
        pytest.skip("Debian's chromium is not installed")
    return path
