"""The bare endpoint bench/load.py compares the intake with: Flask and
SQLAlchemy, no form library, no sealing, no templates. ``POST /submit``
inserts a blob of ``BASELINE_BLOB_SIZE`` bytes (the size of a sealed intake
envelope, measured by load.py) and answers 200. Same engine settings as the
intake (``intake.db.make_engine``: SQLite WAL + full sync, PostgreSQL pool).

Run by load.py as ``gunicorn -c gunicorn.conf.py --pythonpath bench baseline:app``.
"""

from __future__ import annotations

import os

from flask import Flask
from sqlalchemy import Column, Integer, LargeBinary, MetaData, Table, insert

from intake.db import make_engine

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

app = Flask("baseline")


@app.post("/submit")
def submit() -> tuple[str, int]:
    from flask import request

    # Parse the same multipart body the intake parses (Flask's own form
    # handling), then store a blob as large as a sealed envelope.
    narrative = request.form.get("narrative", "")
    data = narrative.encode("utf-8").ljust(SIZE, b"\0")[:SIZE]
    with engine.begin() as conn:
        conn.execute(insert(blobs).values(data=data))
    return "ok", 200


@app.get("/healthz")
def healthz() -> str:
    return "ok"
