"""The reviewer API: consoles pull the envelopes sealed to their keys
(``views``, the ``api`` blueprint), hand back replies sealed to reporters'
reply keys (``replies``) and file interview reports (``interview``), both
routes on the same blueprint; bearer tokens in ``tokens``."""
