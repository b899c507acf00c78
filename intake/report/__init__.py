"""The reporter's pages: the form, the safety page and the receipt
(``views``), the upload of envelopes sealed in the browser (``upload``), and
coming back with the receipt to add information and read replies
(``followup``), the ALTCHA proof of work of the JavaScript path
(``proofofwork``). The report's
fields are defined once, in ``fields``."""

from . import cookies as _cookies  # noqa: F401  (registers its template global on bp)
from . import followup as _followup  # noqa: F401  (registers its routes on bp)
from . import proofofwork as _proofofwork  # noqa: F401  (registers its route on bp)
from . import upload as _upload  # noqa: F401  (registers its route on bp)
from .views import bp

__all__ = ["bp"]
