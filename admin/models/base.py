"""The declarative base of the console's models, with the project's naming convention."""

from __future__ import annotations

from sqlalchemy.orm import DeclarativeBase

from core.db import new_metadata


class Base(DeclarativeBase):
    """Declarative base of the console, with the project's naming convention."""

    metadata = new_metadata()
