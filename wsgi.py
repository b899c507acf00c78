"""WSGI entry points for gunicorn: ``gunicorn -c gunicorn.conf.py wsgi:intake``
on the public host, ``wsgi:admin`` on the console's machine (never both on one
host). Each variable is built only when gunicorn imports it."""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    if name == "intake":
        import intake as _intake

        return _intake.create_app()
    if name == "admin":
        import admin as _admin

        return _admin.create_app()
    raise AttributeError(name)
