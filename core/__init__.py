"""The shared core: what the public intake (``intake/``) and the reviewer
console (``admin/``) both use, and nothing either app owns.

- :mod:`core.envelope`: the envelope format (seal, open, keys, replies,
  the conversation proofs); imports no Flask.
- :mod:`core.schema`: the report's fields and codes.
- :mod:`core.db`, :mod:`core.web`, :mod:`core.logs`, :mod:`core.timing`,
  :mod:`core.i18n`, :mod:`core.settings`, :mod:`core.assets`,
  :mod:`core.uploads`, :mod:`core.limits`, :mod:`core.receipts`,
  :mod:`core.keyset`: database helpers, security headers, log scrubbing,
  response timing, languages, settings, static assets, in-memory uploads,
  size limits, receipts and the key set's names.

The two apps import the core and never each other (import-linter contracts
in pyproject.toml, checked by scripts/test.sh).
"""
