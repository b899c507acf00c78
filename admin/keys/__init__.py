"""The organization key: state, unlock, lock."""

from .views import bp

__all__ = ["bp"]
