"""Where the intake stores a report: envelopes with their recipients and
receipt records (:mod:`.envelopes`, ciphertext only, one transaction per
upload), their blobs on disk or in the database (:mod:`.blobs`), and the
tables (:mod:`.models`). No address, user agent or time finer than the day
is stored (docs/threat-model.md, invariants 1-3)."""
