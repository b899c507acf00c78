"""The docs name the code as it is: every repository path the README and
``docs/`` write in backticks exists, and every name a glossary row gives in
brackets beside a Python module (`` `admin/keys/custody.py` (`UnlockedKeyring`) ``)
is defined in that module (or package). A move or a rename that forgets
the docs fails here, with the doc and the name."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.db_independent

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
#: The repository's top-level folders: a backticked token starting with
#: one of these is a path into this repository (``/etc/...``, ``DATA_DIR/...``,
#: URL paths and ``demo/``, which scripts/demo.sh writes, are not).
TOP = ("admin", "intake", "core", "tests", "bench", "scripts", "deploy", "docs", "js", "static", "migrations")
_TOP = "|".join(TOP)
PATH = re.compile(rf"`((?:{_TOP})/[A-Za-z0-9_./-]*)`")
#: `path.py` (`Name`) or `path/` (`Name`, `Other`): names said to live there.
OWNED = re.compile(rf"`((?:{_TOP})/[A-Za-z0-9_./-]*)` \(([^)]*)\)")
NAME = re.compile(r"`([A-Za-z_][A-Za-z0-9_]*)`")


def _paths() -> list[tuple[str, str]]:
    found = []
    for doc in DOCS:
        for match in PATH.finditer(doc.read_text(encoding="utf-8")):
            found.append((doc.name, match.group(1)))
    return found


def _definitions(path: Path) -> str:
    files = sorted(path.rglob("*.py")) if path.is_dir() else [path]
    return "\n".join(f.read_text(encoding="utf-8") for f in files)


def test_every_path_the_docs_name_exists() -> None:
    missing = sorted({f"{doc}: {path}" for doc, path in _paths() if not (ROOT / path.rstrip("/")).exists()})
    assert not missing, "the docs name paths that do not exist:\n" + "\n".join(missing)


def test_every_owner_the_docs_name_defines_the_name() -> None:
    missing = []
    for doc in DOCS:
        for match in OWNED.finditer(doc.read_text(encoding="utf-8")):
            path = ROOT / match.group(1).rstrip("/")
            if not path.exists() or not (path.is_dir() or path.suffix == ".py"):
                continue
            source = _definitions(path)
            for name in NAME.findall(match.group(2)):
                if path.is_dir() and (path / f"{name}.py").exists():
                    continue  # a module of the package
                defined = re.search(rf"^\s*(?:class|def|async def) {name}\b|^{name}\b\s*[:=]", source, re.M)
                if not defined:
                    missing.append(f"{doc.name}: {name} in {match.group(1)}")
    assert not missing, "the docs name definitions that are not there:\n" + "\n".join(sorted(set(missing)))
