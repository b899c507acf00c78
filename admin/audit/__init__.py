"""The hash-chained audit log (:mod:`.log`) and its page for coordinators
and admins (:mod:`.views`)."""
