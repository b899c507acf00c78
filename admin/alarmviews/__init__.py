"""The alarms page and the coordinator's acknowledgement (admin/alarms.py)."""

from .views import bp

__all__ = ["bp"]
