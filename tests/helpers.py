"""Helpers shared by the test modules (keys are always generated here, never
the demo key)."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

from core.envelope import PublicKeyFile, RecipientPrivateKey


def write_key_file(
    directory: Path,
    recipient_id: str = "test-org",
    *,
    key: RecipientPrivateKey | None = None,
    expires: date | None = None,
    retired: bool = False,
    filename: str | None = None,
) -> RecipientPrivateKey:
    """Generate (or use) a key and write its public key file; return the
    private key."""
    key = key or RecipientPrivateKey.generate()
    today = date.today()
    record = PublicKeyFile(
        recipient_id=recipient_id,
        name_en=f"{recipient_id} (test)",
        name_zh=f"{recipient_id}（測試）",
        public_key=key.public_key,
        created=today,
        expires=expires or today + timedelta(days=365),
        retired=retired,
    )
    directory.mkdir(parents=True, exist_ok=True)
    (directory / (filename or f"{recipient_id}-{key.key_id[:8]}.json")).write_text(
        record.to_json(), encoding="utf-8"
    )
    return key


def scan_for(root: Path, needles: list[bytes]) -> list[str]:
    """Every file under ``root`` whose bytes contain one of ``needles``
    (returns paths and which needle index, never the content)."""
    hits = []
    for path in root.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            for i, needle in enumerate(needles):
                if needle in data:
                    hits.append(f"{path} (needle {i})")
    return hits


def multipart(fields: dict[str, object]) -> tuple[bytes, str]:
    """Encode a multipart/form-data body in memory (the test client would
    otherwise spool large bodies to a temporary file of its own). Values are
    strings or ``(bytes, filename, content_type)`` tuples, or lists of them."""
    import io

    from werkzeug.datastructures import FileStorage, MultiDict
    from werkzeug.test import encode_multipart

    data: MultiDict[str, object] = MultiDict()
    for name, value in fields.items():
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, tuple):
                content, filename, content_type = item
                data.add(name, FileStorage(io.BytesIO(content), filename=filename, content_type=content_type))
            else:
                data.add(name, item)
    boundary, body = encode_multipart(data)
    return body, f"multipart/form-data; boundary={boundary}"


def database_bytes(app: object) -> bytes:
    """Every byte an intake or console app's database holds, for canary
    searches on either database: the SQLite file (and its WAL) as it lies on
    disk, or on PostgreSQL every value of every table, raw for binary
    columns and UTF-8 text (and UTF-16) for the others."""
    extensions = app.extensions  # type: ignore[attr-defined]
    db = extensions.get("intake.db") or extensions["admin_db"]
    return engine_bytes(db.engine)


def url_bytes(url: str) -> bytes:
    """:func:`database_bytes` of the database at ``url``."""
    from core.db import make_engine

    engine = make_engine(url)
    try:
        return engine_bytes(engine)
    finally:
        engine.dispose()


def engine_bytes(engine: object) -> bytes:
    """See :func:`database_bytes`."""
    from sqlalchemy import Engine, MetaData, select

    assert isinstance(engine, Engine)
    if engine.dialect.name == "sqlite":
        engine.dispose()
        path = Path(str(engine.url.database))
        return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*") if p.is_file())
    metadata = MetaData()
    metadata.reflect(engine)
    out = bytearray()
    with engine.connect() as conn:
        for table in metadata.sorted_tables:
            for row in conn.execute(select(table)):
                for value in row:
                    if isinstance(value, bytes | bytearray | memoryview):
                        out += bytes(value)
                    elif value is not None:
                        out += str(value).encode("utf-8") + str(value).encode("utf-16-le")
    return bytes(out)


def solved_altcha(client: Any, lang: str = "en") -> str:
    """An ALTCHA payload for the intake behind ``client``: a challenge from
    ``GET /<lang>/challenge`` solved here with the ``altcha`` package's own
    solver, as js/proofofwork.js does in a browser."""
    import altcha

    response = client.get(f"/{lang}/challenge")
    assert response.status_code == 200, response.status_code
    challenge = altcha.Challenge.from_dict(response.get_json())
    solution = altcha.solve_challenge(challenge)
    assert solution is not None
    return str(altcha.Payload(challenge, solution).to_base64())


def asset_tag(app: Any, name: str) -> str:
    """The tag a page of ``app`` loads script or stylesheet ``name`` with:
    its content-hashed URL and its Subresource Integrity (core/assets.py)."""
    asset = app.extensions["assets"][name]
    prefix = "/static/"
    if name.endswith(".css"):
        return f'<link rel="stylesheet" href="{prefix}{asset.hashed}" integrity="{asset.integrity}">'
    return f'<script src="{prefix}{asset.hashed}" integrity="{asset.integrity}" defer>'
