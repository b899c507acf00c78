"""One case: the decrypted report and its attachments."""

from .views import bp

__all__ = ["bp"]
