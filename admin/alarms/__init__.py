"""The alarms page and the coordinator's acknowledgement (admin/alarms/service.py)."""

from .views import bp

__all__ = ["bp"]
