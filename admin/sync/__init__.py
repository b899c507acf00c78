"""Sync: pulling sealed envelopes from the intake into cases, in parts: the
intake's reviewer API (:mod:`.client`, one request path; :mod:`.sockets`),
what a sync may cost (:mod:`.limits`), opening an API item into a case or
quarantine row (:mod:`.opening`, pure; follow-up proofs in
:mod:`.conversations`), storing rows and the cursor (:mod:`.storage`), and
the run with its threads and locks (:mod:`.run`); blobs are written in
admin/attachments/blobs.py. Also the background job the console's page
starts (:mod:`.job`), the commands (:mod:`.cli`), and the watch that
compares what the intake serves with the pinned roster and this release
(:mod:`.watch`, its HTML scanner :mod:`.pagescan`; ``flask --app admin
intake check``)."""
