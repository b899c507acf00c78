"""Database plumbing shared by the intake and the console: one SQLAlchemy 2
engine per app, a session per request, Alembic migrations run from code.

Each app has its own database and its own Alembic environment
(``migrations/intake``, ``migrations/admin``); this module holds only what
both need, not their models.
"""

from __future__ import annotations

import os
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from flask import Flask, current_app, g
from sqlalchemy import Engine, MetaData, create_engine, event
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

ROOT = Path(__file__).resolve().parent.parent

#: Constraint names Alembic can rely on, on SQLite and PostgreSQL alike.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def new_metadata() -> MetaData:
    """A MetaData with the project's naming convention."""
    return MetaData(naming_convention=NAMING_CONVENTION)


def normalize_url(url: str) -> str:
    """``url`` with PostgreSQL pointed at psycopg 3 (the driver the
    ``postgres`` extra installs): ``postgresql://`` and ``postgres://`` become
    ``postgresql+psycopg://``; other URLs are returned unchanged."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def make_engine(url: str) -> Engine:
    """An engine for ``url``.

    SQLite gets WAL, foreign keys, full sync and a busy timeout, so several
    gunicorn workers can share one file. PostgreSQL (psycopg 3) gets a
    pre-ping, so a restarted server costs one reconnect rather than one
    failed request per pooled connection, and a connect timeout, so a
    server that is down answers 503 quickly instead of hanging a worker.
    """
    url = normalize_url(url)
    kwargs: dict[str, Any] = {}
    if url.startswith("sqlite"):
        kwargs["connect_args"] = {"timeout": 30}
    elif url.startswith("postgresql"):
        kwargs["pool_pre_ping"] = True
        kwargs["connect_args"] = {"connect_timeout": 5, "application_name": "tnr"}
    engine = create_engine(url, **kwargs)
    if url.startswith("sqlite"):

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=FULL")
            cur.close()

    return engine


class Database:
    """An app's engine, session factory and migration environment.

    Args:
        url: SQLAlchemy URL.
        migrations: the Alembic script directory of this app.
        base: the app's declarative base (for tests that create tables).
    """

    def __init__(self, url: str, migrations: Path, base: type[DeclarativeBase]) -> None:
        self.url = normalize_url(url)
        self.engine = make_engine(self.url)
        # gunicorn builds the app (and runs migrations) in the master, then
        # forks workers: a pooled connection must never be shared across
        # processes (PostgreSQL's protocol state and SQLite's locks break).
        # Each child drops the inherited pool without closing the parent's
        # sockets, and opens its own connections.
        ref = weakref.ref(self)
        os.register_at_fork(after_in_child=lambda: _dispose_in_child(ref))
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        self.migrations = migrations
        self.base = base

    def alembic_config(self) -> AlembicConfig:
        """Alembic configuration bound to this database (no ini file)."""
        cfg = AlembicConfig()
        cfg.set_main_option("script_location", str(self.migrations))
        cfg.attributes["engine"] = self.engine
        cfg.attributes["target_metadata"] = self.base.metadata
        return cfg

    def upgrade(self, revision: str = "head") -> None:
        """Run migrations up to ``revision``."""
        command.upgrade(self.alembic_config(), revision)

    def downgrade(self, revision: str) -> None:
        """Run migrations down to ``revision`` (``"base"`` drops everything)."""
        command.downgrade(self.alembic_config(), revision)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session outside a request (CLI, sync): committed on success,
        rolled back on error."""
        with self.sessions() as session, session.begin():
            yield session

    def init_app(self, app: Flask, extension_name: str) -> None:
        """Register on ``app.extensions[extension_name]`` and close the
        request's session at teardown."""
        app.extensions[extension_name] = self

        @app.teardown_appcontext
        def _close(_exc: BaseException | None) -> None:
            session: Session | None = g.pop(f"_{extension_name}_session", None)
            if session is not None:
                session.close()


def _dispose_in_child(ref: weakref.ReferenceType[Database]) -> None:
    database = ref()
    if database is not None:
        database.engine.dispose(close=False)


def request_session(extension_name: str) -> Session:
    """The current app context's session of the database registered under
    ``extension_name`` (created on first use, closed at teardown)."""
    key = f"_{extension_name}_session"
    session: Session | None = g.get(key)
    if session is None:
        db: Database = current_app.extensions[extension_name]
        session = db.sessions()
        setattr(g, key, session)
    return session


def run_migrations(context: Any) -> None:
    """The body of both apps' Alembic ``env.py``: run the migrations on the
    engine and metadata that :meth:`Database.alembic_config` put in the
    config's attributes.

    On SQLite, batch mode rebuilds a table to change it (create a copy,
    copy the rows, drop the old one, rename the copy). With foreign keys
    on, that DROP deletes every row referring to the table first (ON
    DELETE CASCADE): an upgrade would empty the child tables. So foreign
    keys are off during the migration, checked with ``PRAGMA
    foreign_key_check`` before the commit, and on again after it
    (https://www.sqlite.org/lang_altertable.html, "Making Other Kinds Of
    Table Schema Changes").

    Raises:
        RuntimeError: on SQLite, the migration left foreign keys pointing
            at nothing (nothing is committed).
    """
    engine = context.config.attributes["engine"]
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            # Outside any transaction: SQLite ignores this pragma inside one.
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
        context.configure(
            connection=connection,
            target_metadata=context.config.attributes["target_metadata"],
            render_as_batch=sqlite,
        )
        try:
            with context.begin_transaction():
                context.run_migrations()
                if sqlite:
                    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                    if broken:
                        raise RuntimeError(f"the migration broke {len(broken)} foreign key references")
            connection.commit()
        finally:
            if sqlite:
                connection.rollback()
                connection.exec_driver_sql("PRAGMA foreign_keys=ON")
