"""The bare endpoint bench/load.py compares the intake with: Flask and
SQLAlchemy, no form library, no sealing, no templates. ``POST /submit``
parses the same multipart body the intake parses (Flask's own form
handling) and inserts a blob of ``BASELINE_BLOB_SIZE`` bytes, the size of
what the intake stores for the path measured (load.py measures it), then
answers 200. Same engine settings as the intake (``core.db.make_engine``:
SQLite WAL + full sync, PostgreSQL pool).

``BASELINE_PATH`` says which body arrives: ``sealed`` (the browser upload:
the ``header`` and ``body`` file parts are stored, as the intake stores
them) or ``form`` (the no-JavaScript post: the narrative, padded to the size
of the envelope the server would seal from it).

Run by load.py as ``gunicorn -c gunicorn.conf.py --pythonpath bench baseline:app``.
"""

from __future__ import annotations

import os

from flask import Flask, request
from sqlalchemy import Column, Integer, LargeBinary, MetaData, Table, insert

from core.db import make_engine

metadata = MetaData()
blobs = Table(
    "bench_blob",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("data", LargeBinary, nullable=False),
)

engine = make_engine(os.environ["BASELINE_DATABASE_URL"])
metadata.create_all(engine)
engine.dispose()  # the workers open their own connections after the fork
SIZE = int(os.environ.get("BASELINE_BLOB_SIZE", "4096"))
SEALED = os.environ.get("BASELINE_PATH", "form") == "sealed"

app = Flask("baseline")


@app.post("/submit")
def submit() -> tuple[str, int]:
    form, files = request.form, request.files
    if SEALED:
        data = b"".join(files[name].stream.read() for name in ("header", "body"))
    else:
        data = form.get("narrative", "").encode("utf-8")
    data = data.ljust(SIZE, b"\0")[:SIZE]
    with engine.begin() as conn:
        conn.execute(insert(blobs).values(data=data))
    return "ok", 200


@app.get("/healthz")
def healthz() -> str:
    return "ok"
