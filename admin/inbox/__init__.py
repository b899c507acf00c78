"""The inbox: the list of cases and the sync button."""

from .views import bp

__all__ = ["bp"]
