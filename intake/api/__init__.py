"""The reviewer API: consoles pull the envelopes sealed to their keys, hand
back replies sealed to reporters' reply keys, and file interview reports."""

from . import (
    interview,  # noqa: F401 - registers POST /api/v1/envelopes on bp
    replies,  # noqa: F401 - registers POST /api/v1/envelopes/<id>/replies on bp
)
from .views import bp

__all__ = ["bp"]
