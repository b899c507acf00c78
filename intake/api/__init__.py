"""The reviewer API: consoles pull the envelopes sealed to their keys."""

from .views import bp

__all__ = ["bp"]
