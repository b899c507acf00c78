"""Sync: pulling sealed envelopes from the intake into cases (:mod:`.run`),
the background job the console's page starts (:mod:`.job`), and the watch
that compares what the intake serves with the pinned roster and this
release (:mod:`.watch`, ``flask --app admin intake check``)."""
