"""The committed browser bundle (static/js/intake.js) is exactly what the
lockfile and js/ build: a clean ``npm ci`` in a scratch copy, then
scripts/build-js.sh, must give the same bytes.

Runs where ``npm`` exists; in CI (``CI`` set) a missing ``npm`` is a failure,
not a skip.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.db_independent

ROOT = Path(__file__).resolve().parent.parent
BUNDLE = ROOT / "static" / "js" / "intake.js"


def _npm() -> str:
    npm = shutil.which("npm")
    if npm is None:
        if os.environ.get("CI"):
            pytest.fail("npm is missing in CI: scripts/ci-setup.sh installs it")
        pytest.skip("npm is not installed")
    return npm


def test_bundle_is_rebuilt_identically_from_the_lockfile(tmp_path: Path) -> None:
    npm = _npm()
    work = tmp_path / "build"
    (work / "scripts").mkdir(parents=True)
    for name in ("package.json", "package-lock.json"):
        shutil.copy2(ROOT / name, work / name)
    shutil.copytree(ROOT / "js", work / "js")
    shutil.copy2(ROOT / "scripts" / "build-js.sh", work / "scripts" / "build-js.sh")

    # npm ci: exactly the lockfile (it fails if package.json disagrees), with
    # integrity checks. No install scripts: esbuild's binary comes from its
    # platform package, and nothing else needs one.
    subprocess.run(
        [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--prefer-offline"],
        cwd=work,
        check=True,
        capture_output=True,
        timeout=300,
    )
    out = tmp_path / "intake.js"
    subprocess.run(["bash", "scripts/build-js.sh", str(out)], cwd=work, check=True, timeout=120)
    assert out.read_bytes() == BUNDLE.read_bytes(), (
        "static/js/intake.js differs from a clean build: run `npm ci && scripts/build-js.sh` and commit it"
    )


def test_lockfile_pins_the_hpke_packages() -> None:
    wanted = json.loads((ROOT / "package.json").read_text(encoding="utf-8"))["devDependencies"]
    packages = json.loads((ROOT / "package-lock.json").read_text(encoding="utf-8"))["packages"]
    for name in ("@hpke/core", "@hpke/hybridkem-x-wing", "esbuild", "hash-wasm"):
        entry = packages[f"node_modules/{name}"]
        assert wanted[name] == entry["version"]  # exact pins, no ranges
        assert entry["integrity"].startswith("sha512-")


def test_bundle_is_self_contained() -> None:
    text = BUNDLE.read_text(encoding="utf-8")
    # esbuild puts the licences in one comment at the end (--legal-comments=eof);
    # they may name a web page, the code may not.
    code, _, licences = text.partition("\n/*! Bundled license information:")
    assert "hash-wasm" in licences and "MIT" in licences
    # No other origin, no eval: CSP script-src 'self' without 'unsafe-eval'.
    assert "http://" not in code.replace("http://www.w3.org", "")
    assert "https://" not in code
    assert "eval(" not in code
    assert "new Function" not in code
    # WebAssembly only from bytes inside the bundle (hash-wasm's Argon2id,
    # pages with 'wasm-unsafe-eval'), never fetched: no streaming compile.
    assert "WebAssembly" in code
    assert "instantiateStreaming" not in code and "compileStreaming" not in code
