"""One case: the decrypted report and its attachments."""

from . import actions  # noqa: F401  (registers the case page's POST routes on bp)
from .views import bp

__all__ = ["bp"]
