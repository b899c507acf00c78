"""Abuse control on the reporter's pages, shared by the report form and the
follow-up: the in-memory token buckets of submissions, follow-ups and
receipt guesses (``throttle``), the ALTCHA proof of work of the JavaScript
path (``proofofwork``, its challenge served by ``views``), and what one
report and the whole disk may take (``quota``). It imports neither
``intake.report`` nor ``intake.followup``."""
