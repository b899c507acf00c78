"""The audit log page (coordinators and admins)."""

from .views import bp

__all__ = ["bp"]
