"""Alarms: what only a seized or tampered intake would do, kept until a
coordinator acknowledges it (:mod:`.service`), and the alarms page
(:mod:`.views`)."""
