"""The reporter's pages: the form and the receipt (``views``), and the
upload of envelopes sealed in the browser (``upload``)."""

from . import upload as _upload  # noqa: F401  (registers its route on bp)
from .views import bp

__all__ = ["bp"]
