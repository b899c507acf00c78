"""The suite's PostgreSQL run: a fresh schema per test in the server that
``TNR_TEST_POSTGRES_URL`` names (scripts/test.sh sets it and
``TNR_TEST_DATABASE=postgres``; CI starts the server in scripts/ci-setup.sh).

On the SQLite run (the default) nothing here is used and every app keeps its
default SQLite file in its data folder.
"""

from __future__ import annotations

import os
import secrets
from urllib.parse import urlencode, urlsplit, urlunsplit

from sqlalchemy import Engine, create_engine, text

from core.db import normalize_url

POSTGRES_URL = os.environ.get("TNR_TEST_POSTGRES_URL") or None
ON_POSTGRES = os.environ.get("TNR_TEST_DATABASE", "sqlite") == "postgres"

_engine: Engine | None = None


def _admin_engine() -> Engine:
    global _engine
    if _engine is None:
        if POSTGRES_URL is None:
            raise RuntimeError("TNR_TEST_DATABASE=postgres needs TNR_TEST_POSTGRES_URL")
        _engine = create_engine(normalize_url(POSTGRES_URL), isolation_level="AUTOCOMMIT", pool_size=1)
    return _engine


def with_search_path(url: str, schema: str) -> str:
    """``url`` whose connections use ``schema`` (psycopg's ``options``)."""
    parts = urlsplit(normalize_url(url))
    query = "&".join(q for q in (parts.query, urlencode({"options": f"-csearch_path={schema}"})) if q)
    return urlunsplit(parts._replace(query=query))


def new_schema(label: str) -> tuple[str, str]:
    """Create an empty schema; return its name and a URL bound to it."""
    assert POSTGRES_URL is not None
    name = f"t_{label}_{secrets.token_hex(6)}"
    with _admin_engine().connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{name}"'))
    return name, with_search_path(POSTGRES_URL, name)


def drop_schema(name: str) -> None:
    """Drop a test schema and everything in it; a connection still holding
    a lock (a subprocess that did not stop) is ended first."""
    with _admin_engine().connect() as conn:
        conn.execute(text("SET lock_timeout = '5s'"))
        try:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
        except Exception:
            conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE pid <> pg_backend_pid() AND datname = current_database() "
                    "AND usename = current_user AND application_name = 'tnr'"
                )
            )
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))


def dispose() -> None:
    """Close the helper's own connection (end of the session)."""
    global _engine
    if _engine is not None:
        _engine.dispose()
        _engine = None
